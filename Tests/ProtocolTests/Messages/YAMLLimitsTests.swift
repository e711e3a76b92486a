import Testing
@testable import Protocol

@Suite struct YAMLLimitsTests {
    @Test func ordinaryFilesPass() throws {
        try YAMLLimits.check("""
            name: greet
            nodes:
              menu:
                play: ["tts:en:hello", "tone:440"]
                choices: {"1": a, "2": {next: b}}
              list:
                - - a
                  - b
            """)
    }

    @Test func deepNestingIsRefusedWithItsLine() {
        #expect(throws: YAMLLimits.Violation(line: 2, message: "nested 5001 levels deep; at most 64 are accepted")) {
            try YAMLLimits.check("a: 1\nb: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000))
        }
        let blocks = (0..<80).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n")
        #expect(throws: YAMLLimits.Violation.self) { try YAMLLimits.check(blocks) }
        #expect(throws: YAMLLimits.Violation.self) { try YAMLLimits.check(String(repeating: "- ", count: 100) + "x") }
        // Brackets inside quotes and comments do not count.
        #expect(throws: Never.self) { try YAMLLimits.check("a: \"" + String(repeating: "[", count: 500) + "\"  # " + String(repeating: "{", count: 500)) }
    }

    @Test func oversizeIsRefused() {
        #expect(throws: YAMLLimits.Violation.self) { try YAMLLimits.check(String(repeating: "a: 1\n", count: 300_000)) }
    }
}
