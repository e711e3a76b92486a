/// A mix of channels: a two-party bridge or a conference, plus any monitor taps. Mixing is
/// N-1 (nobody hears themselves): one sum of the speakers, from which each hearer's own voice
/// is subtracted; whispers are added to their one target only. O(members) per frame.
final class MixGroup {
    let id: String
    /// A bridge comes apart when fewer than two of its speaking members are left.
    let isBridge: Bool
    var members: [MediaChannel] = []
    private var sum = [Int32](repeating: 0, count: JitterBuffer.frameSamples)

    init(id: String, isBridge: Bool) {
        self.id = id
        self.isBridge = isBridge
    }

    var speakingMembers: Int { members.filter { $0.role.speaks }.count }

    /// Scales a frame by a linear ramp up (fade in) or down (fade out).
    static func ramp(_ f: inout [Int16], up: Bool) {
        let n = f.count
        f.withUnsafeMutableBufferPointer { p in
            for i in 0..<n {
                let g = up ? i : n - 1 - i
                p[i] = Int16(Int32(p[i]) * Int32(g) / Int32(n))
            }
        }
    }

    /// A frame louder than this mean square (RMS ≈ 400, about −38 dBFS) is speech.
    static let speechEnergy: Int64 = 400 * 400

    /// Conference members whose voice activity changed this frame: (member, talking now).
    /// Bridges do not report it.
    func voiceActivity() -> [(String, Bool)] {
        guard !isBridge else { return [] }
        var changes: [(String, Bool)] = []
        let n = JitterBuffer.frameSamples
        for m in members where m.role.whisperTo == nil {
            var energy: Int64 = 0
            if m.hasInput { m.input.withUnsafeBufferPointer { inp in for i in 0..<n { energy += Int64(inp[i]) * Int64(inp[i]) } } }
            if energy / Int64(n) > Self.speechEnergy {
                m.loudFrames += 1
                m.quietFrames = 0
                if !m.talking, m.loudFrames >= 3 { m.talking = true; changes.append((m.id, true)) }
            } else {
                m.quietFrames += 1
                m.loudFrames = 0
                if m.talking, m.quietFrames >= 25 { m.talking = false; changes.append((m.id, false)) }
            }
        }
        return changes
    }

    func mix() {
        let n = JitterBuffer.frameSamples
        for m in members where m.fade != 0 && m.hasInput { Self.ramp(&m.input, up: m.fade > 0) }
        sum.withUnsafeMutableBufferPointer { s in
            s.update(repeating: 0)
            for m in members where m.role.speaks && m.hasInput {
                m.input.withUnsafeBufferPointer { inp in for i in 0..<n { s[i] += Int32(inp[i]) } }
            }
            for m in members where m.role.hears {
                m.output.withUnsafeMutableBufferPointer { out in
                    let own = m.role.speaks && m.hasInput
                    m.input.withUnsafeBufferPointer { inp in
                        for i in 0..<n {
                            var v = s[i]
                            if own { v -= Int32(inp[i]) }
                            out[i] = Int16(clamping: v)
                        }
                    }
                }
                m.hasOutput = true
            }
            for m in members where m.fade != 0 && m.hasOutput { Self.ramp(&m.output, up: m.fade > 0) }
            for w in members where w.role.whisperTo != nil && w.hasInput {
                guard let target = members.first(where: { $0.id == w.role.whisperTo }) else { continue }
                target.output.withUnsafeMutableBufferPointer { out in
                    w.input.withUnsafeBufferPointer { inp in
                        for i in 0..<n { out[i] = Int16(clamping: Int32(out[i]) + Int32(inp[i])) }
                    }
                }
                target.hasOutput = true
            }
        }
    }
}
