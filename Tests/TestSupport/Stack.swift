import Foundation

/// Why a server the test needed did not come up (with its output).
public struct StartFailed: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// A CT-Server started for one test: SIP and the Flow-Server link on ephemeral ports, SIP user
/// 1001 (password pw-1001-secret) plus `extraSIP` (YAML under `sip:`, two spaces in), an RTP
/// range from the one port allocator, its files in a folder of its own (recordings under
/// `dir/recordings` unless `top` has a media block). Every end-to-end suite
/// starts its CT-Server through this.
public final class CTServerUnderTest {
    public static let environment = ["HOTLINE_FLOW_LINK_SECRET": "e2e-flow-link-secret"]
    public let process: ChildProcess
    public let sip: Int
    public let link: Int
    public let dir: URL

    public init(extraSIP: String = "", digestOrder: String = "[MD5]", top: String = "", name: String = "ct-sip", linkPort: Int = 0) throws {
        dir = TestSupport.temporaryDirectory("hotline-ct")
        let rtp = TestPorts.block(100)
        let cfg = dir.appendingPathComponent("ct.yaml")
        try """
        name: \(name)
        sip:
          listen: 127.0.0.1:0
          digest_algorithms: \(digestOrder)
          rtp_port_min: \(rtp)
          rtp_port_max: \(rtp + 99)
          users:
            - user: "1001"
              password: "pw-1001-secret"
        \(extraSIP)
        \(top.contains("media:") ? "" : "media:\n  recording_directory: \(dir.appendingPathComponent("recordings").path)")
        flow_link:
          listen: 127.0.0.1:\(linkPort)
        \(top)
        """.write(to: cfg, atomically: true, encoding: .utf8)
        process = try ChildProcess("ct-server", ["--config", cfg.path], environment: Self.environment)
        guard let line = process.waitForLine(containing: " sip="),
              let sipField = line.split(separator: " ").first(where: { $0.hasPrefix("sip=") }),
              let sip = Int(sipField.split(separator: ":").last ?? ""),
              let linkField = line.split(separator: " ").first(where: { $0.hasPrefix("flow_link=") }),
              let link = Int(linkField.split(separator: ":").last ?? "") else {
            _ = process.stop()
            throw StartFailed(description: "ct-server did not start: \(process.outputText)")
        }
        self.sip = sip
        self.link = link
    }

    public func stop() {
        _ = process.stop()
        try? FileManager.default.removeItem(at: dir)
    }
}

/// A Flow-Server started for one test, attached to the CT-Server at `ct` (link port), with
/// its App-Operate link on an ephemeral port; with `database` its records go there through a
/// spool of its own, with `flows` it runs the flows of that folder.
public final class FlowServerUnderTest {
    public static let environment = ["HOTLINE_FLOW_LINK_SECRET": "e2e-flow-link-secret", "HOTLINE_APP_LINK_SECRET": "e2e-app-secret"]
    public let process: ChildProcess
    /// The App-Operate link's address (host:port).
    public let app: String
    public var appPort: Int { Int(app.split(separator: ":").last ?? "") ?? 0 }

    public init(name: String, ct: Int, database: String? = nil, spool: URL? = nil, flows: URL? = nil, _ extra: [String] = [],
                environment: [String: String] = FlowServerUnderTest.environment) throws {
        var args = ["--name", name, "--ct", "127.0.0.1:\(ct)", "--listen", "127.0.0.1:0"]
        if let database { args += ["--database-url", database] }
        if let spool { args += ["--spool", spool.path] }
        if let flows { args += ["--flows", flows.path] }
        process = try ChildProcess("flow-server", args + extra, environment: environment)
        guard let line = process.waitForLine(containing: "listening app_link="),
              let field = line.split(separator: " ").first(where: { $0.hasPrefix("app_link=") }) else {
            _ = process.stop()
            throw StartFailed(description: "flow-server \(name) did not start: \(process.outputText)")
        }
        app = String(field.dropFirst("app_link=".count))
    }

    @discardableResult
    public func stop() -> Int32 { process.stop() }
}
