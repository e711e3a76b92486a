import CSpanDSP

/// In-band DTMF (tones in the audio, from trunks that do not send RFC 4733) through
/// spandsp's Q.24 receiver. One per channel that asks for it; fed 8 kHz linear frames.
public final class InbandDTMFDetector {
    private let state: OpaquePointer
    private var buffer = [CChar](repeating: 0, count: 32)

    public init?() {
        guard let s = dtmf_rx_init(nil, nil, nil) else { return nil }
        state = s
    }

    deinit { dtmf_rx_free(state) }

    /// Feeds samples; returns the digits recognised so far (usually zero or one).
    public func feed(_ samples: UnsafePointer<Int16>, count: Int) -> String {
        _ = dtmf_rx(state, samples, Int32(count))
        let n = buffer.withUnsafeMutableBufferPointer { dtmf_rx_get(state, $0.baseAddress, Int32($0.count - 1)) }
        guard n > 0 else { return "" }
        return String(decoding: buffer[0..<Int(n)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
