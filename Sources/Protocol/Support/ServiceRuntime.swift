import CPosix
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Process plumbing shared by the three executables: logging set-up and SIGTERM/SIGINT
/// turned into an orderly shutdown on the event loop (through a signalfd, so no code runs in
/// a signal handler).
public enum ServiceRuntime {
    /// Logs to stderr as `time level label: message key=value…`.
    public static func bootstrapLogging(level: String?) {
        let parsed = level.flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = parsed
            return h
        }
    }

    /// Blocks the shutdown signals in this thread (threads started later inherit the mask)
    /// and calls `onSignal` on the loop when one arrives.
    public static func installShutdownHandler(loop: EventLoop, logger: Logger, onSignal: @escaping (Int32) -> Void) throws {
        let fd = CPosix_signalfd_for_shutdown()
        guard fd >= 0 else { throw SystemError(errno: CPosix_errno(), function: "signalfd") }
        let h = SignalHandler(fd: fd, onSignal: onSignal)
        try loop.register(fd: fd, interest: .read, handler: h)
        retained.append(h)
    }

    nonisolated(unsafe) private static var retained: [SignalHandler] = []
}

private final class SignalHandler: EventLoopHandler {
    let fd: Int32
    let onSignal: (Int32) -> Void
    init(fd: Int32, onSignal: @escaping (Int32) -> Void) {
        self.fd = fd
        self.onSignal = onSignal
    }
    func handleEvents(_ events: UInt32) {
        while true {
            let s = CPosix_signalfd_read(fd)
            if s < 0 { return }
            onSignal(s)
        }
    }
}

/// Formats seconds as `1d02:03:04` / `02:03:04`.
public func formatUptime(_ seconds: UInt64) -> String {
    let d = seconds / 86400, h = (seconds % 86400) / 3600, m = (seconds % 3600) / 60, s = seconds % 60
    let hms = String(format: "%02d:%02d:%02d", h, m, s)
    return d > 0 ? "\(d)d\(hms)" : hms
}

/// Flushes stdout (ready lines must reach a pipe before the loop blocks).
public func fflushStdout() { fflush(stdout) }
