/// What a channel plays: a list of items (prompts, tones, silence), optionally looped, stopped
/// early by DTMF when barge-in is on. A value type fed one 20 ms frame at a time.
public struct Player: Sendable {
    public enum Item: Sendable {
        case samples(PromptAudio)
        case tone(ToneSpec, ms: Int)   // ms <= 0: until stopped
        case silence(ms: Int)
    }

    public enum Outcome: String, Sendable { case finished, bargedIn = "barge-in", stopped, failed }

    public let items: [Item]
    public let loop: Bool
    public let bargeIn: Bool
    public let tag: UInt32
    private var index = 0
    private var position = 0

    public init(items: [Item], loop: Bool = false, bargeIn: Bool = false, tag: UInt32 = 0) {
        self.items = items
        self.loop = loop
        self.bargeIn = bargeIn
        self.tag = tag
    }

    public var isDone: Bool { index >= items.count && !(loop && !items.isEmpty) }

    /// Renders the next frame into `out` (160 samples). Returns true while something is playing.
    public mutating func render(into out: UnsafeMutablePointer<Int16>, count: Int) -> Bool {
        var filled = 0
        while filled < count {
            if index >= items.count {
                if loop && !items.isEmpty { index = 0; position = 0 } else { break }
            }
            let want = count - filled
            switch items[index] {
            case .samples(let audio):
                let n = min(want, audio.samples.count - position)
                if n > 0 {
                    audio.samples.withUnsafeBufferPointer { (out + filled).update(from: $0.baseAddress! + position, count: n) }
                }
                filled += max(0, n)
                position += max(0, n)
                if position >= audio.samples.count { index += 1; position = 0 }
            case .tone(let spec, let ms):
                let remaining = ms > 0 ? ms * 8 - position : want
                let n = min(want, remaining)
                spec.render(into: out + filled, count: n, at: position)
                filled += n
                position += n
                if ms > 0 && position >= ms * 8 { index += 1; position = 0 }
            case .silence(let ms):
                let n = min(want, ms * 8 - position)
                (out + filled).update(repeating: 0, count: max(0, n))
                filled += max(0, n)
                position += max(0, n)
                if position >= ms * 8 { index += 1; position = 0 }
            }
            if items.allSatisfy({ if case .samples(let a) = $0 { return a.samples.isEmpty }; return false }) { break }
        }
        if filled < count { (out + filled).update(repeating: 0, count: count - filled) }
        return filled > 0
    }
}

/// Decoded prompt audio, shared between every channel that plays it.
public final class PromptAudio: @unchecked Sendable {
    public let name: String
    public let samples: [Int16]
    public init(name: String, samples: [Int16]) {
        self.name = name
        self.samples = samples
    }
    public var durationMs: Int { samples.count / 8 }
}
