import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started by a test, stopped by pid when the test ends (even on failure).
///
/// Spawned with posix_spawn and reaped with waitpid(WNOHANG) here, not with Foundation's
/// Process: with many children started from parallel tests, Process sometimes never noticed
/// an exit (the child stayed a zombie and waitUntilExit hung the suite).
public final class ChildProcess {
    public let name: String
    public let pid: pid_t
    private let lines = Box<[String]>([])
    private let partial = Box<[UInt8]>([])
    private let state = Box<(running: Bool, status: Int32)>((true, 0))
    private let readerDone = Box<Bool>(false)
    private let stopReading = Box<Bool>(false)

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        name = executable
        let path = executable.hasPrefix("/") ? executable : TestSupport.binDirectory.appendingPathComponent(executable).path
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw POSIXError(.EMFILE) }
        let (readFD, writeFD) = (fds[0], fds[1])
        _ = fcntl(readFD, F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeFD, 1)
        posix_spawn_file_actions_adddup2(&actions, writeFD, 2)
        posix_spawn_file_actions_addclose(&actions, writeFD)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        // Started as a shell would start it: no signal blocked, every signal's default action
        // (the test process's threads may block some, and a child would inherit that mask).
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, &attr, argv, envp)
        close(writeFD)
        guard rc == 0 else {
            close(readFD)
            throw NSError(domain: "ChildProcess", code: Int(rc), userInfo: [NSLocalizedDescriptionKey: "cannot start \(path): \(String(cString: strerror(rc)))"])
        }
        pid = child
        let lines = self.lines, partial = self.partial, done = self.readerDone, stop = self.stopReading
        let reader = Thread {
            var chunk = [UInt8](repeating: 0, count: 65536)
            var pfd = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
            while !stop.value {
                // poll with a timeout: a grandchild may keep the pipe open after the child exits.
                if poll(&pfd, 1, 100) <= 0 { continue }
                let n = chunk.withUnsafeMutableBytes { Glibc.read(readFD, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                partial.mutate { $0.append(contentsOf: chunk[0..<n]) }
                var complete: [String] = []
                partial.mutate { buf in
                    while let nl = buf.firstIndex(of: 10) {
                        complete.append(String(decoding: buf[..<nl], as: UTF8.self))
                        buf.removeFirst(nl + 1)
                    }
                }
                if !complete.isEmpty { lines.mutate { $0.append(contentsOf: complete) } }
            }
            close(readFD)
            done.value = true
        }
        reader.start()
    }

    public var outputLines: [String] { lines.value + (partial.value.isEmpty ? [] : [String(decoding: partial.value, as: UTF8.self)]) }
    public var outputText: String { outputLines.joined(separator: "\n") }

    /// Waits for a complete line (ended by its newline) containing `text` and returns it. A line
    /// still being written is not matched: it may end in the middle of the field a caller parses.
    public func waitForLine(containing text: String, seconds: Double = 20) -> String? {
        var found: String?
        TestSupport.waitUntil(seconds) {
            found = lines.value.first { $0.contains(text) }
            return found != nil || !isRunning
        }
        return found ?? lines.value.first { $0.contains(text) }
    }

    private func reap(blocking: Bool) {
        guard state.value.running else { return }
        var status: Int32 = 0
        let r = waitpid(pid, &status, blocking ? 0 : WNOHANG)
        guard r == pid else { return }
        // Exit code, or the signal's number when killed (as Foundation's Process reports it).
        let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : status & 0x7F
        state.value = (false, code)
    }

    public var isRunning: Bool {
        reap(blocking: false)
        return state.value.running
    }

    public var terminationStatus: Int32 {
        reap(blocking: false)
        return state.value.status
    }

    public func signal(_ sig: Int32) { if isRunning { kill(pid, sig) } }

    /// Waits (bounded) for the process to exit by itself; its status, or nil if it is still running.
    public func wait(seconds: Double) -> Int32? {
        guard TestSupport.waitUntil(seconds, { !isRunning }) else { return nil }
        return terminationStatus
    }

    /// SIGTERM, then SIGKILL after `grace` seconds. Returns the exit status.
    @discardableResult
    public func stop(grace: Double = 5) -> Int32 {
        if isRunning {
            kill(pid, SIGTERM)
            if !TestSupport.waitUntil(grace, { !isRunning }) { kill(pid, SIGKILL) }
        }
        reap(blocking: true)
        // Let the reader take the last lines, then let it go.
        TestSupport.waitUntil(0.5) { readerDone.value }
        stopReading.value = true
        return state.value.status
    }

    deinit {
        if state.value.running {
            kill(pid, SIGKILL)
            reap(blocking: true)
        }
        stopReading.value = true
    }

    /// Runs a command to completion (bounded) and returns its status and combined output.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           seconds: Double = 60) throws -> (status: Int32, output: String) {
        let p = try ChildProcess(executable, arguments, environment: environment)
        if !TestSupport.waitUntil(seconds, { !p.isRunning }) { p.stop(grace: 1) }
        let status = p.stop(grace: 0)
        return (status, p.outputText)
    }
}

/// A throwaway CA and certificates made with the openssl command, for TLS tests.
public struct TestPKI {
    public let directory: URL
    public var caCert: String { directory.appendingPathComponent("ca.pem").path }
    public func cert(_ name: String) -> String { directory.appendingPathComponent("\(name).pem").path }
    public func key(_ name: String) -> String { directory.appendingPathComponent("\(name).key").path }

    /// Creates a CA and, for each name, a key and a certificate signed by it for
    /// DNS:localhost and IP:127.0.0.1. `otherCA` names a second, untrusted CA's certificates.
    public init(names: [String], caName: String = "ca") throws {
        directory = TestSupport.temporaryDirectory("hotline-pki")
        let d = directory.path
        func sh(_ cmd: String) throws {
            let r = try ChildProcess.run("/bin/sh", ["-c", cmd])
            guard r.status == 0 else { throw PKIError(message: "\(cmd): \(r.output)") }
        }
        try sh("cd \(d) && openssl req -x509 -newkey rsa:2048 -nodes -keyout \(caName).key -out \(caName).pem -days 2 -subj /CN=hotline-test-\(caName) 2>&1")
        for n in names {
            try sh("""
            cd \(d) && openssl req -newkey rsa:2048 -nodes -keyout \(n).key -out \(n).csr -subj /CN=\(n) 2>&1 && \
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > \(n).ext && \
            openssl x509 -req -in \(n).csr -CA \(caName).pem -CAkey \(caName).key -CAcreateserial -out \(n).pem -days 2 -extfile \(n).ext 2>&1
            """)
        }
    }

    public func remove() { try? FileManager.default.removeItem(at: directory) }
}

public struct PKIError: Error { public let message: String }

/// A private PostgreSQL cluster for one test (deploy/lib/pg.sh: Unix socket only, no TCP),
/// stopped and removed with `stop()`.
public final class PrivatePostgres {
    public let directory: URL
    public let url: String
    static var script: String { TestSupport.packageRoot.appendingPathComponent("deploy/lib/pg.sh").path }

    public init() throws {
        // Short path: Unix socket paths are limited to 107 bytes.
        directory = URL(fileURLWithPath: "/tmp/hpg-\(getpid())-\(UUID().uuidString.prefix(8))")
        let r = try ChildProcess.run("/bin/bash", [Self.script, "start", directory.path], seconds: 120)
        guard r.status == 0, let line = r.output.split(separator: "\n").last(where: { $0.hasPrefix("postgresql://") }) else {
            throw NSError(domain: "PrivatePostgres", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: "pg.sh start failed: \(r.output)"])
        }
        url = String(line)
    }

    /// Stops the server (the data stays, so `start()` brings the same database back).
    public func pause() { _ = try? ChildProcess.run("/bin/bash", [Self.script, "stop", directory.path], seconds: 60) }

    public func start() throws {
        let r = try ChildProcess.run("/bin/bash", [Self.script, "start", directory.path], seconds: 120)
        guard r.status == 0 else { throw NSError(domain: "PrivatePostgres", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: r.output]) }
    }

    /// psql -tA -c SQL: the rows, one per line.
    public func query(_ sql: String) throws -> String {
        let r = try ChildProcess.run("/bin/bash", [Self.script, "psql", directory.path, "-v", "ON_ERROR_STOP=1", "-tAc", sql], seconds: 60)
        guard r.status == 0 else { throw NSError(domain: "PrivatePostgres", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: r.output]) }
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func stop() {
        pause()
        try? FileManager.default.removeItem(at: directory)
    }
}

extension PrivatePostgres {
    /// Creates an operator with `flow-server operator add` and returns the environment that
    /// logs `app-operate` in as it (HOTLINE_OPERATOR_CODE / HOTLINE_OPERATOR_PASSWORD).
    public func addOperator(_ code: String, roles: [String], password: String = "operator-secret-1") throws -> [String: String] {
        let file = TestSupport.temporaryDirectory("operator").appendingPathComponent("pw")
        try password.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let r = try ChildProcess.run("flow-server", ["operator", "add", code, "--database-url", url, "--password-file", file.path, "--if-missing"]
                                     + roles.flatMap { ["--role", $0] }, seconds: 60)
        guard r.status == 0 else { throw POSIXError(.EINVAL) }
        return ["HOTLINE_OPERATOR_CODE": code, "HOTLINE_OPERATOR_PASSWORD": password]
    }
}
