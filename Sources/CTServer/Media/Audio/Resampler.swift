import CSpeexDSP

/// Sample-rate conversion through speexdsp (prompt import at any rate).
public enum Resampler {
    public static func convert(_ input: [Int16], from inRate: Int, to outRate: Int, quality: Int32 = 5) -> [Int16]? {
        if inRate == outRate { return input }
        var err: Int32 = 0
        guard let st = speex_resampler_init(1, UInt32(inRate), UInt32(outRate), quality, &err), err == 0 else { return nil }
        defer { speex_resampler_destroy(st) }
        var out = [Int16](repeating: 0, count: input.count * outRate / inRate + 64)
        var produced = 0
        var consumed = 0
        input.withUnsafeBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o in
                while consumed < inp.count {
                    var inLen = UInt32(inp.count - consumed)
                    var outLen = UInt32(o.count - produced)
                    if outLen == 0 { break }
                    speex_resampler_process_int(st, 0, inp.baseAddress! + consumed, &inLen, o.baseAddress! + produced, &outLen)
                    if inLen == 0 && outLen == 0 { break }
                    consumed += Int(inLen)
                    produced += Int(outLen)
                }
            }
        }
        return Array(out[0..<produced])
    }
}
