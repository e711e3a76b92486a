/// An adaptive jitter buffer for 20 ms frames of decoded audio (160 samples at 8 kHz).
///
/// Packets are slotted by sequence number; playout starts once `target` frames are buffered.
/// `target` follows the RFC 3550 interarrival-jitter estimate (about three times the jitter,
/// 2 to 10 frames). A missing frame while later ones wait is lost: the previous frame is
/// repeated at half level once (loss concealment), then silence. An empty buffer is an
/// underrun and playout re-primes. Late packets (behind the playout point) are dropped.
/// Storage is allocated once; `put` and `get` allocate nothing.
public struct JitterBuffer: Sendable {
    public static let frameSamples = 160
    public let capacity: Int
    private var storage: [Int16]
    private var slotSeq: [Int32]
    /// Slots holding a sequence number that carried no audio (an RFC 4733 key event): played
    /// as silence, never counted as lost.
    private var slotSilent: [Bool]
    private var lastFrame: [Int16]
    private var playSeq: UInt16 = 0
    private var started = false
    private var primed = false
    private var lostRun = 0
    private var lastTransit: Int64?
    private var lastSSRC: UInt32?
    public private(set) var buffered = 0
    public private(set) var target = 2
    /// RFC 3550 §6.4.1 interarrival jitter, in timestamp units (1/8000 s).
    public private(set) var jitter: Double = 0

    public struct Stats: Sendable, Equatable {
        public var received = 0, late = 0, lost = 0, concealed = 0, underruns = 0, discarded = 0, resets = 0
    }
    public private(set) var stats = Stats()

    public init(capacity: Int = 32) {
        self.capacity = capacity
        storage = [Int16](repeating: 0, count: capacity * Self.frameSamples)
        slotSeq = [Int32](repeating: -1, count: capacity)
        slotSilent = [Bool](repeating: false, count: capacity)
        lastFrame = [Int16](repeating: 0, count: Self.frameSamples)
    }

    public mutating func reset() {
        for i in 0..<capacity { slotSeq[i] = -1 }
        buffered = 0
        started = false
        primed = false
        lastTransit = nil
        stats.resets += 1
    }

    /// A packet of the stream that carried no audio (a key event): its sequence number plays as
    /// silence instead of counting as a lost frame.
    public mutating func putSilent(sequence seq: UInt16, timestamp: UInt32, ssrc: UInt32, arrival: Int64) {
        var zero: Int16 = 0
        put(sequence: seq, timestamp: timestamp, ssrc: ssrc, arrival: arrival, samples: &zero, count: 0, silent: true)
    }

    /// Adds a frame. `arrival` is the arrival time in timestamp units (8 kHz clock).
    public mutating func put(sequence seq: UInt16, timestamp: UInt32, ssrc: UInt32, arrival: Int64,
                             samples: UnsafePointer<Int16>, count: Int, silent: Bool = false) {
        if let s = lastSSRC, s != ssrc { reset() }
        lastSSRC = ssrc
        if !started {
            started = true
            playSeq = seq
        }
        let delta = Int(Int16(bitPattern: seq &- playSeq))
        if delta < 0 {
            stats.late += 1
            return
        }
        if delta >= capacity {
            if delta >= 3 * capacity {
                reset()
                started = true
                playSeq = seq
            } else {
                // Too far ahead: let the oldest frames go.
                while Int(Int16(bitPattern: seq &- playSeq)) >= capacity { dropHead() }
            }
        }
        let slot = Int(seq) % capacity
        if slotSeq[slot] == Int32(seq) { return }   // duplicate
        if slotSeq[slot] < 0 { buffered += 1 }
        slotSeq[slot] = Int32(seq)
        slotSilent[slot] = silent
        if silent { return }   // an event's timestamp is its start: no jitter sample
        let n = min(count, Self.frameSamples)
        storage.withUnsafeMutableBufferPointer { s in
            let base = s.baseAddress! + slot * Self.frameSamples
            base.update(from: samples, count: n)
            if n < Self.frameSamples { (base + n).update(repeating: 0, count: Self.frameSamples - n) }
        }
        stats.received += 1
        let transit = arrival - Int64(timestamp)
        if let last = lastTransit {
            let d = Double(abs(transit - last))
            jitter += (d - jitter) / 16
        }
        lastTransit = transit
        target = min(10, max(2, Int((jitter * 3 / Double(Self.frameSamples)).rounded(.up)) + 1))
        if !primed && buffered >= target { primed = true }
    }

    private mutating func dropHead() {
        let slot = Int(playSeq) % capacity
        if slotSeq[slot] == Int32(playSeq) {
            slotSeq[slot] = -1
            buffered -= 1
            stats.discarded += 1
        }
        playSeq &+= 1
    }

    /// Takes the next 20 ms frame into `out`; false means there is nothing to play (silence).
    public mutating func get(into out: UnsafeMutablePointer<Int16>) -> Bool {
        guard primed else { return false }
        let slot = Int(playSeq) % capacity
        if slotSeq[slot] == Int32(playSeq), slotSilent[slot] {
            slotSeq[slot] = -1
            buffered -= 1
            playSeq &+= 1
            lostRun = 0
            return false
        }
        if slotSeq[slot] == Int32(playSeq) {
            storage.withUnsafeBufferPointer { s in out.update(from: s.baseAddress! + slot * Self.frameSamples, count: Self.frameSamples) }
            lastFrame.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: out, count: Self.frameSamples) }
            slotSeq[slot] = -1
            buffered -= 1
            playSeq &+= 1
            lostRun = 0
            // Running too deep (the jitter calmed down): drop one frame to cut latency.
            if buffered > target + 2 { dropHead() }
            return true
        }
        if buffered > 0 {
            stats.lost += 1
            playSeq &+= 1
            lostRun += 1
            if lostRun == 1 {
                stats.concealed += 1
                lastFrame.withUnsafeBufferPointer { l in
                    for i in 0..<Self.frameSamples { out[i] = l[i] >> 1 }
                }
                return true
            }
            return false
        }
        stats.underruns += 1
        primed = false
        return false
    }
}
