import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started by a test, stopped by pid when the test ends (even on failure).
public final class ChildProcess {
    public let process = Process()
    public let output = Pipe()
    private let lines = Box<[String]>([])
    private var partial = Box<[UInt8]>([])
    public let name: String

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        name = executable
        let url = executable.hasPrefix("/") ? URL(fileURLWithPath: executable) : TestSupport.binDirectory.appendingPathComponent(executable)
        process.executableURL = url
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = output
        process.standardError = output
        let lines = self.lines
        let partial = Box<[UInt8]>([])
        output.fileHandleForReading.readabilityHandler = { h in
            // read(2) rather than availableData, which traps on EAGAIN (a child that inherited
            // the pipe may have made it non-blocking).
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(h.fileDescriptor, $0.baseAddress, $0.count) }
            if n == 0 { h.readabilityHandler = nil; return }
            guard n > 0 else { return }
            let data = chunk[0..<n]
            // Whole lines only: a line split across two reads is joined before it is stored.
            partial.mutate { $0.append(contentsOf: data) }
            var complete: [String] = []
            partial.mutate { buf in
                while let nl = buf.firstIndex(of: 10) {
                    complete.append(String(decoding: buf[..<nl], as: UTF8.self))
                    buf.removeFirst(nl + 1)
                }
            }
            if !complete.isEmpty { lines.mutate { $0.append(contentsOf: complete) } }
        }
        self.partial = partial
        try process.run()
    }

    public var outputLines: [String] { lines.value + (partial.value.isEmpty ? [] : [String(decoding: partial.value, as: UTF8.self)]) }
    public var outputText: String { outputLines.joined(separator: "\n") }

    /// Waits for a line containing `text` and returns it.
    public func waitForLine(containing text: String, seconds: Double = 20) -> String? {
        var found: String?
        TestSupport.waitUntil(seconds) {
            found = outputLines.first { $0.contains(text) }
            return found != nil || !process.isRunning
        }
        return found ?? outputLines.first { $0.contains(text) }
    }

    public var isRunning: Bool { process.isRunning }

    public func signal(_ sig: Int32) { if process.isRunning { kill(process.processIdentifier, sig) } }

    /// SIGTERM, then SIGKILL after `grace` seconds. Returns the exit status.
    @discardableResult
    public func stop(grace: Double = 5) -> Int32 {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            if !TestSupport.waitUntil(grace, { !process.isRunning }) { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        usleep(150_000)  // let the reader take the last lines
        output.fileHandleForReading.readabilityHandler = nil
        return process.terminationStatus
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    /// Runs a command to completion (bounded) and returns its status and combined output.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           seconds: Double = 60) throws -> (status: Int32, output: String) {
        let p = try ChildProcess(executable, arguments, environment: environment)
        if !TestSupport.waitUntil(seconds, { !p.isRunning }) { p.stop(grace: 1) }
        p.process.waitUntilExit()
        // Let the reader drain; never block on EOF (a grandchild may still hold the pipe).
        usleep(150_000)
        p.output.fileHandleForReading.readabilityHandler = nil
        return (p.process.terminationStatus, p.outputText)
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
