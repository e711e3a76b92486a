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

/// A long-running service the runtime can start and stop.
public protocol RunnableService: AnyObject {
    /// Called on the loop before it runs (dial out, arm timers).
    func start()
    /// Called on SIGTERM/SIGINT: say goodbye on every link, close listeners.
    func shutdown()
    /// The machine-readable "ready" line scripts and tests wait for.
    var readyLine: String { get }
}

extension RunnableService {
    public func start() {}
}

/// Why a service could not start (the executable exits with status 2).
public struct ServiceStartFailed: Error {}

extension ServiceRuntime {
    /// The whole life of a service process: logging, the loop, the service, signals, the ready
    /// line on stdout, then the loop until SIGTERM/SIGINT.
    public static func run<S: RunnableService>(label: String, logLevel: String?, make: (EventLoop, Logger) throws -> S) throws {
        // Before any thread starts (the service's media and query threads are made in `make`):
        // threads inherit the blocked mask, so SIGTERM reaches the loop's signalfd — a clean
        // stop with Goodbye on every link — and never kills the process in another thread.
        CPosix_block_shutdown_signals()
        bootstrapLogging(level: logLevel)
        let logger = Logger(label: label)
        let loop = try EventLoop()
        let service: S
        do {
            service = try make(loop, logger)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ServiceStartFailed()
        }
        try installShutdownHandler(loop: loop, logger: logger) { sig in
            logger.notice("signal \(sig): stopping")
            service.shutdown()
            loop.stop()
        }
        service.start()
        print(service.readyLine)
        fflushStdout()
        loop.run()
    }
}
