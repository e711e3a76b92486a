import Foundation

/// Call-progress tones, generated (never stored): a cadence of on/off periods with one or two
/// frequencies. Defaults follow ITU-T E.180 / the North American plan.
public struct ToneSpec: Hashable, Sendable {
    public var frequencies: [Double]
    /// Alternating on/off durations in ms; empty = continuous.
    public var cadence: [Int]
    public var level: Double

    public init(frequencies: [Double], cadence: [Int], level: Double = 0.25) {
        self.frequencies = frequencies
        self.cadence = cadence
        self.level = level
    }

    public static let ringback = ToneSpec(frequencies: [440, 480], cadence: [2000, 4000])
    public static let busy = ToneSpec(frequencies: [480, 620], cadence: [500, 500])
    public static let beep = ToneSpec(frequencies: [1000], cadence: [])
    public static let dialTone = ToneSpec(frequencies: [350, 440], cadence: [])

    /// DTMF (Q.23) for a digit.
    public static func dtmf(_ d: Character) -> ToneSpec? {
        let rows: [Double] = [697, 770, 852, 941], cols: [Double] = [1209, 1336, 1477, 1633]
        let keys: [Character] = ["1", "2", "3", "A", "4", "5", "6", "B", "7", "8", "9", "C", "*", "0", "#", "D"]
        guard let i = keys.firstIndex(of: Character(d.uppercased())) else { return nil }
        return ToneSpec(frequencies: [rows[i / 4], cols[i % 4]], cadence: [], level: 0.2)
    }

    public static func named(_ name: String) -> ToneSpec? {
        switch name.lowercased() {
        case "ringback", "ring": return .ringback
        case "busy": return .busy
        case "beep": return .beep
        case "dial", "dialtone": return .dialTone
        default:
            if name.lowercased().hasPrefix("dtmf:"), let c = name.dropFirst(5).first { return dtmf(c) }
            return nil
        }
    }

    /// Renders `samples` of the tone at position `t` (samples since the tone started). The
    /// signal comes from a one-second table computed once per tone (every whole-hertz
    /// frequency repeats within 8000 samples at 8 kHz): music-on-hold and ringback for hundreds
    /// of callers cost a copy per frame, not two sines per sample.
    public func render(into out: UnsafeMutablePointer<Int16>, count: Int, at t: Int) {
        let table = ToneTables.table(for: self)
        let period = cadence.reduce(0, +) * 8
        table.withUnsafeBufferPointer { tb in
            let len = tb.count
            for i in 0..<count {
                let n = t + i
                if period > 0 {
                    var pos = n % period
                    var idx = 0
                    while pos >= cadence[idx] * 8 { pos -= cadence[idx] * 8; idx += 1 }
                    if idx % 2 == 1 { out[i] = 0; continue }
                }
                out[i] = tb[n % len]
            }
        }
    }

    /// The tone's continuous signal from sample 0: one second (8000 samples) when every
    /// frequency is a whole number of hertz, else ten seconds (a click every ten seconds).
    func signal() -> [Int16] {
        let whole = frequencies.allSatisfy { $0 == $0.rounded() }
        var out = [Int16](repeating: 0, count: whole ? 8000 : 80_000)
        for n in 0..<out.count {
            var v = 0.0
            for f in frequencies { v += sin(2 * Double.pi * f * Double(n) / 8000) }
            out[n] = Int16(max(-32767, min(32767, v * level * 32767 / Double(max(1, frequencies.count)))))
        }
        return out
    }

    /// Generates a finite tone (e.g. a DTMF digit for tests and read-back).
    public func samples(ms: Int) -> [Int16] {
        var out = [Int16](repeating: 0, count: ms * 8)
        out.withUnsafeMutableBufferPointer { render(into: $0.baseAddress!, count: $0.count, at: 0) }
        return out
    }
}

/// The tables of the tones in use, computed on first use and kept (a handful of tones).
enum ToneTables {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var tables: [ToneSpec: [Int16]] = [:]

    static func table(for spec: ToneSpec) -> [Int16] {
        lock.lock()
        defer { lock.unlock() }
        if let t = tables[spec] { return t }
        let t = spec.signal()
        if tables.count < 256 { tables[spec] = t }
        return t
    }
}
