/// Limits every YAML text (configuration, flows, queues, mapping tables) is held to before a
/// parser sees it: the parsers build nodes recursively, so a file of thousands of nested `[`
/// would overflow the stack and stop the server. Refused above `maxBytes` or `maxDepth`
/// (nesting by indentation, `- ` entries and `[`/`{` collections together), with the line.
public enum YAMLLimits {
    public static let maxBytes = 1 << 20
    public static let maxDepth = 64

    public struct Violation: Error, CustomStringConvertible, Equatable {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public static func check(_ text: String, maxBytes: Int = maxBytes, maxDepth: Int = maxDepth) throws {
        if text.utf8.count > maxBytes {
            throw Violation(line: 1, message: "the text is \(text.utf8.count) bytes; at most \(maxBytes) are accepted")
        }
        var indents: [Int] = []   // the open block levels' indentation
        var flow = 0              // open [ and {
        var lineNo = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            let line = Array(raw.utf8)
            var i = 0
            while i < line.count, line[i] == UInt8(ascii: " ") { i += 1 }
            let blank = i >= line.count || line[i] == UInt8(ascii: "#") || line[i] == UInt8(ascii: "\r")
            if !blank && flow == 0 {
                while let last = indents.last, last >= i { indents.removeLast() }
                indents.append(i)
            }
            // "- - - x": each dash opens a level.
            var dashes = 0
            var j = i
            while j + 1 < line.count, line[j] == UInt8(ascii: "-"), line[j + 1] == UInt8(ascii: " ") {
                dashes += 1
                j += 2
                while j < line.count, line[j] == UInt8(ascii: " ") { j += 1 }
            }
            // Flow collections, outside quotes and comments.
            var quote: UInt8?
            var k = j
            var deepest = flow
            while k < line.count {
                let c = line[k]
                if let q = quote {
                    if c == q { quote = nil } else if c == UInt8(ascii: "\\"), q == UInt8(ascii: "\"") { k += 1 }
                } else if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                    quote = c
                } else if c == UInt8(ascii: "#"), k == 0 || line[k - 1] == UInt8(ascii: " ") {
                    break
                } else if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                    flow += 1
                    deepest = max(deepest, flow)
                } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                    flow = max(0, flow - 1)
                }
                k += 1
            }
            let depth = indents.count + dashes + deepest
            if depth > maxDepth {
                throw Violation(line: lineNo, message: "nested \(depth) levels deep; at most \(maxDepth) are accepted")
            }
        }
    }
}
