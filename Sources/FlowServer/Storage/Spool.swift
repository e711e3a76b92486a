import CZlib
import Foundation
import Protocol

/// The local append-only spool that records pass through on their way to PostgreSQL.
///
/// Segments are files `NNNNNNNNNN.spool` in one folder, replayed oldest first. A record is
/// `"HSR1"` · u32 length · u32 CRC-32 of the body · body (zlib-compressed JSON), big-endian;
/// each append is fsync'd before it returns. On open, a segment whose tail is torn (a crash
/// mid-write) or corrupt is truncated at its last good record, with a warning.
public final class Spool {
    public let directory: URL
    private var segments: [Int] = []
    private var current: (number: Int, fd: Int32, size: Int)?
    public let maximumSegmentBytes: Int
    public private(set) var warnings: [String] = []
    static let magic: [UInt8] = Array("HSR1".utf8)

    public init(directory: URL, maximumSegmentBytes: Int = 4 << 20) throws {
        self.directory = directory
        self.maximumSegmentBytes = maximumSegmentBytes
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        segments = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".spool") }.compactMap { Int($0.dropLast(6)) }.sorted()
        for s in segments { try repair(s) }
        // Empty segments (a crash right after creating one) are removed.
        for s in segments where (try? FileManager.default.attributesOfItem(atPath: path(s))[.size] as? Int) == 0 {
            unlink(path(s))
            segments.removeAll { $0 == s }
        }
    }

    deinit { if let c = current { close(c.fd) } }

    func path(_ n: Int) -> String { directory.appendingPathComponent(String(format: "%010d.spool", n)).path }

    public var isEmpty: Bool { segments.isEmpty }
    public var segmentCount: Int { segments.count }

    /// Appends records durably (fsync) to the current segment.
    public func append(_ payloads: [[UInt8]]) throws {
        guard !payloads.isEmpty else { return }
        if current == nil || current!.size >= maximumSegmentBytes { try openNewSegment() }
        var bytes: [UInt8] = []
        for p in payloads {
            let body = try Deflate.compress(p)
            let crc = body.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
            bytes += Self.magic
            bytes += withUnsafeBytes(of: UInt32(body.count).bigEndian, Array.init)
            bytes += withUnsafeBytes(of: crc.bigEndian, Array.init)
            bytes += body
        }
        guard let c = current else { return }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(c.fd, $0.baseAddress! + off, $0.count - off) }
            guard n > 0 else { throw SpoolError("write \(path(c.number)): \(String(cString: strerror(errno)))") }
            off += n
        }
        guard fsync(c.fd) == 0 else { throw SpoolError("fsync \(path(c.number)): \(String(cString: strerror(errno)))") }
        current!.size += bytes.count
    }

    private func openNewSegment() throws {
        if let c = current { close(c.fd) }
        let n = (segments.last ?? 0) + 1
        let fd = open(path(n), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpoolError("create \(path(n)): \(String(cString: strerror(errno)))") }
        let dfd = open(directory.path, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
        segments.append(n)
        current = (n, fd, 0)
    }

    /// Closes the segment being written so it can be replayed; new appends start a new one.
    public func seal() {
        if let c = current { close(c.fd); current = nil }
    }

    /// The oldest sealed segment and its records.
    public func oldest() throws -> (segment: Int, records: [[UInt8]])? {
        guard let s = segments.first, s != current?.number else { return nil }
        let (records, _) = try read(s)
        return (s, records)
    }

    /// Deletes a segment once its records are safely stored.
    public func remove(_ segment: Int) {
        unlink(path(segment))
        segments.removeAll { $0 == segment }
    }

    /// Reads every good record; returns them and the offset after the last good one.
    func read(_ n: Int) throws -> ([[UInt8]], Int, String?) {
        guard let data = FileManager.default.contents(atPath: path(n)) else { return ([], 0, nil) }
        let b = [UInt8](data)
        var out: [[UInt8]] = []
        var o = 0
        while o < b.count {
            guard o + 12 <= b.count else { return (out, o, "torn header at byte \(o)") }
            guard Array(b[o..<o + 4]) == Self.magic else { return (out, o, "bad magic at byte \(o)") }
            let len = Int(UInt32(b[o + 4]) << 24 | UInt32(b[o + 5]) << 16 | UInt32(b[o + 6]) << 8 | UInt32(b[o + 7]))
            let crc = UInt32(b[o + 8]) << 24 | UInt32(b[o + 9]) << 16 | UInt32(b[o + 10]) << 8 | UInt32(b[o + 11])
            guard len <= 64 << 20, o + 12 + len <= b.count else { return (out, o, "torn record at byte \(o)") }
            let body = b[(o + 12)..<(o + 12 + len)]
            let actual = body.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
            guard actual == crc, let plain = try? Inflate.decompress(body, limit: 64 << 20) else { return (out, o, "checksum mismatch at byte \(o)") }
            out.append(plain)
            o += 12 + len
        }
        return (out, o, nil)
    }

    private func read(_ n: Int) throws -> ([[UInt8]], Int) {
        let (r, o, _) = try read(n) as ([[UInt8]], Int, String?)
        return (r, o)
    }

    /// Truncates a damaged segment at its last good record.
    private func repair(_ n: Int) throws {
        let (records, good, problem) = try read(n) as ([[UInt8]], Int, String?)
        guard let problem else { return }
        truncate(path(n), off_t(good))
        warnings.append("spool segment \(path(n)): \(problem); truncated after \(records.count) good records (\(good) bytes)")
    }
}

public struct SpoolError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
