import Yams

/// Strict configuration: the keys a `Decodable` configuration type knows, found by letting it
/// decode from a decoder that records every key it asks for (no list kept by hand), and a check
/// of a YAML text against them — an unknown key is an error with its line and the nearest known
/// key. (`sip.listne` used to bind the default address without a word.)
public enum ConfigKeys {
    /// Known keys by path ("" the top, "sip", "sip.trunks[]", …).
    public static func schema<T: Decodable>(of type: T.Type) -> [String: Set<String>] {
        let recorder = Recorder()
        _ = try? T(from: SchemaDecoder(path: "", recorder: recorder))
        return recorder.keys
    }

    public struct UnknownKey: Error, CustomStringConvertible, Equatable {
        public var line: Int
        public var key: String
        public var path: String
        public var suggestion: String?
        public var description: String {
            "line \(line): unknown setting \(path.isEmpty ? key : "\(path).\(key)")" + (suggestion.map { " (did you mean \($0)?)" } ?? "")
        }
    }

    /// Throws the first unknown key of `text` for `T`.
    public static func check<T: Decodable>(_ text: String, as type: T.Type) throws {
        guard let root = try Yams.compose(yaml: text) else { return }
        let schema = schema(of: type)
        try walk(root, path: "", schema: schema)
    }

    static func walk(_ node: Node, path: String, schema: [String: Set<String>]) throws {
        switch node {
        case .mapping(let m):
            guard let known = schema[path] else { return }   // a free-form map (no keyed type behind it)
            for (k, v) in m {
                guard let key = k.string else { continue }
                guard known.contains(key) else {
                    throw UnknownKey(line: (k.mark?.line ?? 0), key: key, path: path, suggestion: nearest(key, known))
                }
                try walk(v, path: path.isEmpty ? key : "\(path).\(key)", schema: schema)
            }
        case .sequence(let s):
            for v in s { try walk(v, path: path + "[]", schema: schema) }
        default:
            break
        }
    }

    /// The known key closest to `key` (edit distance at most 3), if any.
    static func nearest(_ key: String, _ known: Set<String>) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var prev = Array(0...b.count)
            for i in 1...max(1, a.count) where !a.isEmpty {
                var cur = [i] + Array(repeating: 0, count: b.count)
                for j in 1...max(1, b.count) where !b.isEmpty {
                    cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                }
                prev = cur
            }
            return a.isEmpty ? b.count : (b.isEmpty ? a.count : prev[b.count])
        }
        let scored = known.map { ($0, distance(Array(key), Array($0))) }.filter { $0.1 <= 3 }
        return scored.min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
    }

    final class Recorder {
        var keys: [String: Set<String>] = [:]
        func add(_ path: String, _ key: String) { keys[path, default: []].insert(key) }
    }

    /// A decoder that answers nothing and writes down every key asked for.
    struct SchemaDecoder: Decoder {
        let path: String
        let recorder: Recorder
        var codingPath: [CodingKey] = []
        var userInfo: [CodingUserInfoKey: Any] = [:]
        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            // (A map with free keys — a Dictionary — never asks for a key: its path stays unknown,
            // and any key is let through there.)
            return KeyedDecodingContainer(Keyed<Key>(path: path, recorder: recorder))
        }
        func unkeyedContainer() throws -> UnkeyedDecodingContainer { Unkeyed(path: path + "[]", recorder: recorder) }
        func singleValueContainer() throws -> SingleValueDecodingContainer { Single(path: path, recorder: recorder) }
    }

    /// Scalars answer a placeholder, so that a type's decoding goes on past its required fields
    /// and every key after them is seen too.
    struct Single: SingleValueDecodingContainer {
        let path: String
        let recorder: Recorder
        var codingPath: [CodingKey] = []
        func decodeNil() -> Bool { false }
        func decode(_ type: Bool.Type) throws -> Bool { false }
        func decode(_ type: String.Type) throws -> String { "" }
        func decode(_ type: Double.Type) throws -> Double { 0 }
        func decode(_ type: Float.Type) throws -> Float { 0 }
        func decode(_ type: Int.Type) throws -> Int { 0 }
        func decode(_ type: Int8.Type) throws -> Int8 { 0 }
        func decode(_ type: Int16.Type) throws -> Int16 { 0 }
        func decode(_ type: Int32.Type) throws -> Int32 { 0 }
        func decode(_ type: Int64.Type) throws -> Int64 { 0 }
        func decode(_ type: UInt.Type) throws -> UInt { 0 }
        func decode(_ type: UInt8.Type) throws -> UInt8 { 0 }
        func decode(_ type: UInt16.Type) throws -> UInt16 { 0 }
        func decode(_ type: UInt32.Type) throws -> UInt32 { 0 }
        func decode(_ type: UInt64.Type) throws -> UInt64 { 0 }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: SchemaDecoder(path: path, recorder: recorder)) }
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let path: String
        let recorder: Recorder
        var codingPath: [CodingKey] = []
        var allKeys: [Key] { [] }
        func contains(_ key: Key) -> Bool { recorder.add(path, key.stringValue); return false }
        func decodeNil(forKey key: Key) throws -> Bool { recorder.add(path, key.stringValue); return true }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            recorder.add(path, key.stringValue)
            let sub = path.isEmpty ? key.stringValue : "\(path).\(key.stringValue)"
            return try T(from: SchemaDecoder(path: sub, recorder: recorder))
        }
        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            recorder.add(path, key.stringValue)
            let sub = path.isEmpty ? key.stringValue : "\(path).\(key.stringValue)"
            _ = try? T(from: SchemaDecoder(path: sub, recorder: recorder))
            return nil
        }
        func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: Key) throws -> KeyedDecodingContainer<N> {
            recorder.add(path, key.stringValue)
            return KeyedDecodingContainer(Keyed<N>(path: path.isEmpty ? key.stringValue : "\(path).\(key.stringValue)", recorder: recorder))
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
            recorder.add(path, key.stringValue)
            return Unkeyed(path: (path.isEmpty ? key.stringValue : "\(path).\(key.stringValue)") + "[]", recorder: recorder)
        }
        func superDecoder() throws -> Decoder { SchemaDecoder(path: path, recorder: recorder) }
        func superDecoder(forKey key: Key) throws -> Decoder { SchemaDecoder(path: path, recorder: recorder) }
    }

    /// Decodes one element (to learn its keys), then reports its end.
    struct Unkeyed: UnkeyedDecodingContainer {
        let path: String
        let recorder: Recorder
        var codingPath: [CodingKey] = []
        var count: Int? { 0 }
        var isAtEnd: Bool { currentIndex > 0 }
        var currentIndex = 0
        mutating func decodeNil() throws -> Bool { currentIndex += 1; return true }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            currentIndex += 1
            return try T(from: SchemaDecoder(path: path, recorder: recorder))
        }
        mutating func nestedContainer<N: CodingKey>(keyedBy type: N.Type) throws -> KeyedDecodingContainer<N> {
            currentIndex += 1
            return KeyedDecodingContainer(Keyed<N>(path: path, recorder: recorder))
        }
        mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer { currentIndex += 1; return Unkeyed(path: path + "[]", recorder: recorder) }
        mutating func superDecoder() throws -> Decoder { SchemaDecoder(path: path, recorder: recorder) }
    }
}
