import Foundation

/// WAV prompts and recordings. Prompts must be 8 kHz mono: 16-bit PCM, µ-law or A-law
/// (anything else is refused with what to do about it). Recordings are 8 kHz 16-bit PCM,
/// mono or stereo.
public enum WAVError: Error, CustomStringConvertible, Equatable {
    case unreadable(String, String)
    case notWAV(String)
    case unsupported(String, String)

    public var description: String {
        switch self {
        case .unreadable(let p, let why): return "\(p): cannot read (\(why))"
        case .notWAV(let p): return "\(p): not a RIFF/WAVE file"
        case .unsupported(let p, let what): return "\(p): \(what); convert it with: sox IN -r 8000 -c 1 -b 16 OUT.wav"
        }
    }
}

public enum WAVFile {
    /// Reads a prompt as 8 kHz 16-bit linear samples.
    public static func readPrompt(path: String) throws -> [Int16] {
        guard let data = FileManager.default.contents(atPath: path) else { throw WAVError.unreadable(path, "no such file or not readable") }
        return try decode([UInt8](data), name: path)
    }

    public struct Format: Equatable, Sendable {
        public var encoding: UInt16, channels: UInt16, rate: UInt32, bits: UInt16
    }

    /// Parses the RIFF chunks; returns the format and the data chunk's range.
    public static func parse(_ b: [UInt8], name: String) throws -> (Format, Range<Int>) {
        func u32(_ o: Int) -> UInt32 { UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24 }
        func u16(_ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
        guard b.count >= 12, b[0..<4].elementsEqual("RIFF".utf8), b[8..<12].elementsEqual("WAVE".utf8) else { throw WAVError.notWAV(name) }
        var o = 12
        var format: Format?
        while o + 8 <= b.count {
            let id = String(decoding: b[o..<o + 4], as: UTF8.self)
            let size = Int(u32(o + 4))
            let body = o + 8
            if id == "fmt " {
                guard size >= 16, body + 16 <= b.count else { throw WAVError.notWAV(name) }
                var enc = u16(body)
                if enc == 0xFFFE, size >= 40 { enc = u16(body + 24) }   // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID's first word
                format = Format(encoding: enc, channels: u16(body + 2), rate: u32(body + 4), bits: u16(body + 14))
            } else if id == "data" {
                guard let f = format else { throw WAVError.notWAV(name) }
                // A recording cut off before its header was patched says 0 or too much: use what is there.
                let end = size == 0 || body + size > b.count ? b.count : body + size
                return (f, body..<end)
            }
            o = body + size + (size & 1)
        }
        throw WAVError.notWAV(name)
    }

    /// Decodes to 8 kHz mono linear: stereo is mixed down, other rates are resampled (speexdsp).
    public static func decode(_ b: [UInt8], name: String) throws -> [Int16] {
        let (f, range) = try parse(b, name: name)
        guard (1...2).contains(f.channels) else { throw WAVError.unsupported(name, "\(f.channels) channels (mono or stereo is required)") }
        guard (4000...192_000).contains(f.rate) else { throw WAVError.unsupported(name, "\(f.rate) Hz") }
        var pcm: [Int16]
        switch (f.encoding, f.bits) {
        case (1, 16):
            pcm = [Int16](repeating: 0, count: range.count / 2)
            for i in 0..<pcm.count { pcm[i] = Int16(bitPattern: UInt16(b[range.lowerBound + 2 * i]) | UInt16(b[range.lowerBound + 2 * i + 1]) << 8) }
        case (1, 8):
            pcm = b[range].map { Int16((Int($0) - 128) << 8) }
        case (7, 8):
            pcm = b[range].map { G711.decode($0, .ulaw) }
        case (6, 8):
            pcm = b[range].map { G711.decode($0, .alaw) }
        default:
            throw WAVError.unsupported(name, "encoding \(f.encoding) with \(f.bits) bits (PCM, µ-law or A-law is required)")
        }
        if f.channels == 2 {
            pcm = stride(from: 0, to: pcm.count - 1, by: 2).map { Int16((Int(pcm[$0]) + Int(pcm[$0 + 1])) / 2) }
        }
        if f.rate != 8000 {
            guard let r = Resampler.convert(pcm, from: Int(f.rate), to: 8000) else { throw WAVError.unsupported(name, "\(f.rate) Hz could not be resampled") }
            pcm = r
        }
        return pcm
    }

    /// A 44-byte PCM header for `dataBytes` of audio.
    public static func header(channels: Int, dataBytes: Int) -> [UInt8] {
        var h: [UInt8] = []
        func u32(_ v: Int) { h += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)] }
        func u16(_ v: Int) { h += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        h += Array("RIFF".utf8); u32(36 + dataBytes); h += Array("WAVE".utf8)
        h += Array("fmt ".utf8); u32(16); u16(1); u16(channels); u32(8000); u32(8000 * 2 * channels); u16(2 * channels); u16(16)
        h += Array("data".utf8); u32(dataBytes)
        return h
    }

    public static func write(path: String, samples: [Int16]) throws {
        var bytes = header(channels: 1, dataBytes: samples.count * 2)
        bytes.reserveCapacity(bytes.count + samples.count * 2)
        for s in samples { bytes.append(UInt8(UInt16(bitPattern: s) & 0xFF)); bytes.append(UInt8(UInt16(bitPattern: s) >> 8)) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}

/// A WAV file being recorded: samples are buffered and written about once a second, and the
/// header's sizes are patched on every write, so the file on disk is always a valid WAV
/// however the call ends (even if the process dies, it holds everything up to the last write).
/// With an `io` queue (the channel loop's recordings) the file is created, written and closed
/// on that queue: the real-time thread only fills memory, and never waits on the disk (page
/// cache write-back throttling stalled it for tens of milliseconds at 16 MB/s). Without one
/// (tests, tools) every step happens at once and a failure to create the file is thrown.
public final class WAVWriter {
    public let path: String
    public let channels: Int
    private let sink: WAVSink
    private let io: DispatchQueue?
    private var pending: [UInt8] = []
    public private(set) var frames = 0

    public init(path: String, channels: Int, io: DispatchQueue? = nil) throws {
        self.path = path
        self.channels = channels
        self.io = io
        sink = WAVSink(path: path, channels: channels)
        if let io { io.async { [sink] in try? sink.open() } } else { try sink.open() }
        pending.reserveCapacity(8000 * 2 * channels + 64)
    }

    public var durationMs: Int { frames / 8 }

    /// Appends mono samples, or interleaved stereo (left, right, left, …).
    public func append(_ p: UnsafePointer<Int16>, count: Int) {
        #if _endian(little)
        // WAV is little-endian, like the host: the samples' bytes are copied as they are.
        pending.append(contentsOf: UnsafeRawBufferPointer(start: p, count: count * 2))
        #else
        for i in 0..<count {
            let v = UInt16(bitPattern: p[i])
            pending.append(UInt8(v & 0xFF))
            pending.append(UInt8(v >> 8))
        }
        #endif
        frames += count / channels
        if pending.count >= 8000 * 2 * channels { flush() }
    }

    public func flush() {
        guard !pending.isEmpty else { return }
        let chunk = pending
        pending = []
        pending.reserveCapacity(8000 * 2 * channels + 64)
        if let io { io.async { [sink] in sink.write(chunk) } } else { sink.write(chunk) }
    }

    public func close() {
        flush()
        if let io { io.async { [sink] in sink.close() } } else { sink.close() }
    }
}

/// The file behind a WAVWriter; used by one thread at a time (the writer's, or its io queue).
final class WAVSink: @unchecked Sendable {
    let path: String
    let channels: Int
    private var fd: Int32 = -1
    private var dataBytes = 0

    init(path: String, channels: Int) {
        self.path = path
        self.channels = channels
    }

    func open() throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        fd = Foundation.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw WAVError.unreadable(path, String(cString: strerror(errno))) }
        let h = WAVFile.header(channels: channels, dataBytes: 0)
        _ = h.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
    }

    func write(_ chunk: [UInt8]) {
        guard fd >= 0 else { return }
        _ = chunk.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(44 + dataBytes)) }
        dataBytes += chunk.count
        let h = WAVFile.header(channels: channels, dataBytes: dataBytes)
        _ = h.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    func close() {
        guard fd >= 0 else { return }
        Foundation.close(fd)
        fd = -1
    }
}
