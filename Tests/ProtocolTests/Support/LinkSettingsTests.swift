import Foundation
import Testing
@testable import Protocol

/// Where a link's `secret_file` is looked for, and what a missing one says.
@Suite struct LinkSettingsTests {
    @Test func relativeSecretFileIsFoundBesideTheConfig() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hl-secret-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("secrets"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "a-secret-of-enough-bytes\n".write(to: dir.appendingPathComponent("secrets/app-link"), atomically: true, encoding: .utf8)
        var link = LinkSettings()
        link.secretFile = "secrets/app-link"
        link.configDirectory = dir.path
        #expect(try link.resolvedSecret(environmentVariable: "HOTLINE_TEST_UNSET_SECRET") == Array("a-secret-of-enough-bytes".utf8))
        link.configDirectory = nil
        do {
            _ = try link.resolvedSecret(environmentVariable: "HOTLINE_TEST_UNSET_SECRET")
            Issue.record("a missing secret file was accepted")
        } catch let e as ConfigError {
            #expect(e.description.contains("cannot read secret_file secrets/app-link") && e.description.contains("HOTLINE_TEST_UNSET_SECRET"), "\(e)")
        }
    }
}
