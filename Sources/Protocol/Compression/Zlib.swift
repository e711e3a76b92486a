import CZlib

/// zlib (RFC 1950) compression of frame bodies, spools and exports.
public enum Deflate {
    public static func compress(_ input: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        var stream = z_stream()
        guard CZlib_deflateInit(&stream, level) == Z_OK else {
            throw ProtocolError(.internalError, "deflateInit failed")
        }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(input.count)))
        var out = [UInt8](repeating: 0, count: bound)
        let rc: Int32 = input.withUnsafeBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { outp in
                stream.next_in = UnsafeMutablePointer(mutating: inp.baseAddress)
                stream.avail_in = uInt(inp.count)
                stream.next_out = outp.baseAddress
                stream.avail_out = uInt(outp.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard rc == Z_STREAM_END else { throw ProtocolError(.internalError, "deflate failed (\(rc))") }
        out.removeLast(bound - Int(stream.total_out))
        return out
    }
}

/// Bounded decompression: output beyond `limit` bytes is an error, never an allocation, so a
/// small frame that inflates to gigabytes (a zip bomb) only closes its connection.
public enum Inflate {
    public static func decompress(_ input: ArraySlice<UInt8>, limit: Int) throws -> [UInt8] {
        var stream = z_stream()
        guard CZlib_inflateInit(&stream) == Z_OK else {
            throw ProtocolError(.internalError, "inflateInit failed")
        }
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        let chunkSize = 16 * 1024
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        let input = Array(input)
        return try input.withUnsafeBufferPointer { inp -> [UInt8] in
            stream.next_in = UnsafeMutablePointer(mutating: inp.baseAddress)
            stream.avail_in = uInt(inp.count)
            while true {
                let (rc, produced): (Int32, Int) = chunk.withUnsafeMutableBufferPointer { c in
                    stream.next_out = c.baseAddress
                    stream.avail_out = uInt(chunkSize)
                    let rc = inflate(&stream, Z_NO_FLUSH)
                    return (rc, chunkSize - Int(stream.avail_out))
                }
                if out.count + produced > limit {
                    throw ProtocolError(.decompressionFailed, "compressed body inflates past the limit of \(limit) bytes")
                }
                out.append(contentsOf: chunk[0..<produced])
                switch rc {
                case Z_STREAM_END:
                    guard stream.avail_in == 0 else {
                        throw ProtocolError(.decompressionFailed, "bytes after the end of the zlib stream")
                    }
                    return out
                case Z_OK:
                    continue
                case Z_BUF_ERROR where produced == 0:
                    throw ProtocolError(.decompressionFailed, "truncated zlib stream")
                case Z_BUF_ERROR:
                    continue
                default:
                    throw ProtocolError(.decompressionFailed, "corrupt zlib stream (\(rc))")
                }
            }
        }
    }
}
