import Foundation
import Testing
import TestSupport

/// The web desktop end to end: `app-operate serve` in front of a real call center (PostgreSQL,
/// CT-Server, Flow-Server, baresip phones, a SIPp caller) and three real headless Chromium
/// browsers driven by selenium (Fixtures/web/desktop.py): an agent, a supervisor's live
/// wallboard, an administrator. Screenshots of each page land in docs/screenshots when
/// HOTLINE_UPDATE_SCREENSHOTS=1, else in the test's folder.
@Suite(.serialized) struct WebDesktopTests {
    let edge = SIPEdgeTests()

    /// `app-operate serve` on a free port: the process and its base URL.
    static func serve(_ c: AgentTests.Center, _ extra: [String] = []) throws -> (ChildProcess, String) {
        let p = try ChildProcess("app-operate", ["serve", "--connect", c.app, "--listen", "127.0.0.1:0", "--log-level", "info"] + extra, environment: c.env)
        guard let line = p.waitForLine(containing: "app-operate web listening"),
              let url = line.split(separator: " ").first(where: { $0.hasPrefix("http") }) else {
            throw StartFailed(description: "app-operate serve did not start: \(p.outputText)")
        }
        return (p, String(url))
    }

    @Test func agentSupervisorAndAdminInRealBrowsers() throws {
        let c = try AgentTests.Center(edge: edge, queues: "queues:\n  sales: {service_level_seconds: 20}\nwrap_up_seconds: 1\n", phones: ["1002", "1003"])
        defer { c.stop() }
        _ = try c.phone("1001", answers: true, audio: try AgentTests.toneWAV(c.dir, 600))
        _ = try c.phone("1002", answers: true, audio: try AgentTests.toneWAV(c.dir, 700))
        let customer = try c.appOperate("1001", ["customer", "add", "--name", "Grace Hopper", "--phone", "13900001111", "--field", "tier=gold"])
        #expect(customer.status == 0, "\(customer.output)")
        // Agent 1002 logged in (its console), not ready until the transfer.
        let second = try ChildProcess("app-operate", ["agent", "watch", "--connect", c.app, "--code", "1002"],
                                      environment: c.env.merging(["HOTLINE_OPERATOR_PASSWORD": "secret-1002"]) { $1 })
        defer { _ = second.stop() }
        #expect(second.waitForLine(containing: "\"state\"") != nil, "\(second.outputText)")
        try "secret-2001".write(to: c.dir.appendingPathComponent("pw-2001-web"), atomically: true, encoding: .utf8)
        let (web, base) = try Self.serve(c)
        defer { _ = web.stop() }

        let control = c.dir.appendingPathComponent("web-control")
        try FileManager.default.createDirectory(at: control, withIntermediateDirectories: true)
        let shots = ProcessInfo.processInfo.environment["HOTLINE_UPDATE_SCREENSHOTS"] == "1"
            ? TestSupport.packageRoot.appendingPathComponent("docs/screenshots") : c.dir.appendingPathComponent("screenshots")
        let pydeps = ProcessInfo.processInfo.environment["HOTLINE_PYDEPS"] ?? TestSupport.packageRoot.appendingPathComponent(".build/pydeps").path
        let script = SIPEdgeTests.fixtures.appendingPathComponent("web/desktop.py").path
        let browser = try ChildProcess("/usr/bin/env", ["PYTHONPATH=\(pydeps)", "python3", "-u", script, base, control.path, shots.path])
        defer { _ = browser.stop() }
        func done(_ step: String) throws { try "".write(to: control.appendingPathComponent(step), atomically: true, encoding: .utf8) }

        // The caller: SIPp with a number the customer record has, through the sample flow.
        #expect(browser.waitForLine(containing: "STEP call", seconds: 90) != nil, "\(browser.outputText)")
        let text = try String(contentsOf: SIPEdgeTests.fixtures.appendingPathComponent("sipp/uac_talk_until_bye.xml"), encoding: .utf8)
            .replacingOccurrences(of: "@AUDIO@", with: try AgentTests.tone(c.dir, 440).path)
            .replacingOccurrences(of: "sip:caller[call_number]@", with: "sip:13900001111@")
        let scenario = c.dir.appendingPathComponent("web-caller.xml")
        try text.write(to: scenario, atomically: true, encoding: .utf8)
        let caller = try SIPp.start("127.0.0.1:\(c.sip)", scenario: scenario, ["-s", "4000", "-m", "1", "-d", "100", "-timeout", "90", "-timeout_error"])
        defer { _ = caller.stop() }
        try done("call")

        #expect(browser.waitForLine(containing: "STEP second-agent-ready", seconds: 120) != nil, "\(browser.outputText)\n\(c.flow.outputText.suffix(2000))")
        let ready = try c.appOperate("1002", ["agent", "ready"])
        #expect(ready.status == 0, "\(ready.output)")
        try done("second-agent-ready")

        #expect(browser.waitForLine(containing: "STEP transferred", seconds: 60) != nil, "\(browser.outputText)\n\(c.flow.outputText.suffix(2000))")
        #expect(second.waitForLine(containing: "13900001111", seconds: 20) != nil, "1002 has the caller: \(second.outputText)")
        #expect(c.flow.waitForLine(containing: "1002", seconds: 5) != nil)
        Thread.sleep(forTimeInterval: 1)
        let hang = try c.appOperate("1002", ["agent", "hangup"])
        #expect(hang.status == 0, "\(hang.output)")
        try done("transferred")

        let exit = browser.wait(seconds: 180)
        #expect(exit == 0, "browser checks:\n\(browser.outputText)\n--- app-operate serve:\n\(web.outputText.suffix(3000))")
        #expect(browser.outputText.contains("\"failed\": []"), "\(browser.outputText)")
        #expect(try c.pg.query("select count(*) from calls where agent = '1002' and caller = '13900001111'") == "1", "the call ended with 1002")
        #expect(try c.pg.query("select count(*) from customers where name = 'Grace Hopper' and fields->>'notes' = 'asked about the invoice'") == "1",
                "the note saved from the desktop")
        for page in ["login", "supervisor", "agent-pop", "agent", "forbidden", "admin", "admin-flow-graph"] {
            #expect(FileManager.default.fileExists(atPath: shots.appendingPathComponent("\(page).png").path), "screenshot \(page)")
        }
    }

    /// HTTPS with a configured certificate: the pages and the API over TLS (verified against the
    /// test CA), the session cookie marked Secure, HSTS; five wrong passwords lock the work code
    /// (429 with Retry-After) even for the right one.
    @Test func httpsWithACertificateAndTheLoginLockout() throws {
        let c = try AgentTests.Center(edge: edge, queues: "queues:\n  sales: {}\n")
        defer { c.stop() }
        let pki = try TestPKI(names: ["web"])
        defer { pki.remove() }
        let (web, base) = try Self.serve(c, ["--certificate", pki.cert("web"), "--private-key", pki.key("web")])
        defer { _ = web.stop() }
        #expect(base.hasPrefix("https://127.0.0.1:"), "\(base)")
        let jar = c.dir.appendingPathComponent("cookies")
        func curl(_ args: [String]) throws -> String {
            try ChildProcess.run("/usr/bin/curl", ["-s", "--cacert", pki.caCert, "-c", jar.path, "-b", jar.path, "-D", "-"] + args, seconds: 20).output
        }
        let page = try curl([base + "login"])
        #expect(page.contains("HTTP/1.1 200") && page.contains("Strict-Transport-Security"), "\(page.prefix(600))")
        func token() throws -> String {
            let j = try curl([base + "api/login-token"])
            return j.split(separator: "\"").drop { $0 != "token" }.dropFirst(2).first.map(String.init) ?? ""
        }
        var t = try token()
        #expect(t.count == 64)
        func login(_ code: String, _ password: String) throws -> String {
            try curl(["-H", "X-CSRF-Token: \(t)", "-H", "Content-Type: application/json",
                      "--data", "{\"code\":\"\(code)\",\"password\":\"\(password)\"}", base + "api/login"])
        }
        let ok = try login("2001", "secret-2001")
        #expect(ok.contains("HTTP/1.1 200") && ok.lowercased().contains("set-cookie: hotline_session=") && ok.contains("Secure"), "\(ok)")
        t = try token()   // the login token is spent by a successful login
        for _ in 0..<5 { #expect(try login("1001", "wrong-password").contains("HTTP/1.1 401")) }
        let locked = try login("1001", "secret-1001")
        #expect(locked.contains("HTTP/1.1 429") && locked.lowercased().contains("retry-after"), "locked out: \(locked)")
        let plain = try ChildProcess.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", base.replacingOccurrences(of: "https", with: "http") + "login"], seconds: 10)
        #expect(plain.output != "200", "no plain HTTP on the HTTPS port")
    }
}
