/// Whether a channel loop's thread runs at real-time priority (SCHED_FIFO), decided from its
/// ticks (`media.realtime_priority`; docs/operations.md, "Channel loops").
///
/// A real-time loop is run the moment its 20-ms timer fires, whatever else wants the core: on a
/// machine shared with other work (here, the load generator) a tick's p99 lateness at 2,000 echo
/// calls went from 9 ms to 0.1 ms (docs/benchmarks.md). The danger is the other side: a
/// real-time thread that never sleeps leaves its core to nothing else — the CT-Server's own SIP
/// and link threads would starve behind it, held up only by the kernel's real-time throttle
/// (5 % of each second). So a loop that stays saturated for `overloadTicks` ticks in a row (each
/// tick's work at least `busyFraction` of the tick, or ticks missed) steps down to ordinary
/// scheduling, and goes back up only after `recoveryNanoseconds` in which every tick was calm
/// (work under `calmFraction` of the tick, none missed). Overload then degrades the media, as
/// it would without real-time priority, instead of the signalling.
///
/// A plain value: the loop reports each tick and performs the action returned (the system call),
/// then reports its result with `applied(_:)`. Time is the loop's monotonic clock, passed in.
public struct LoopPriority: Equatable, Sendable {
    public enum State: Equatable, Sendable {
        /// Not asked for (`media.realtime_priority: 0`).
        case off
        /// Asked for; the loop has not started yet (or a promotion is in flight).
        case pending
        case realtime
        /// The kernel said no (no CAP_SYS_NICE, RLIMIT_RTPRIO too low): not tried again.
        case refused(errno: Int32)
        /// Saturated: ordinary scheduling since `since` (ns), until calm again.
        case demoted(since: UInt64)
    }

    public enum Action: Equatable, Sendable {
        case none
        /// Make the loop's thread SCHED_FIFO at this priority, then call `applied`.
        case promote(priority: Int32)
        /// Back to SCHED_OTHER.
        case demote
    }

    public static let overloadTicks = 25
    public static let busyFraction = 0.9
    public static let calmFraction = 0.5
    public static let recoveryNanoseconds: UInt64 = 10_000_000_000

    public let priority: Int32
    public private(set) var state: State
    /// Times the loop stepped down from real-time for overload.
    public private(set) var demotions = 0
    private var busyRun = 0
    private var calmSince: UInt64?

    /// - Parameter priority: SCHED_FIFO priority, 1…99; 0 asks for ordinary scheduling.
    public init(priority: Int32) {
        self.priority = priority
        state = priority > 0 ? .pending : .off
    }

    /// On the loop's thread, before its first tick.
    public mutating func start() -> Action {
        state == .pending ? .promote(priority: priority) : .none
    }

    /// The promotion's result: 0, or the errno the kernel gave.
    public mutating func applied(_ result: Int32) {
        busyRun = 0
        calmSince = nil
        state = result == 0 ? .realtime : .refused(errno: result)
    }

    /// One tick: its work (ns), the tick's length (ns), the timer expirations it covered (more
    /// than one: ticks were missed) and the time now.
    public mutating func tick(work: UInt64, period: UInt64, expirations: Int, now: UInt64) -> Action {
        switch state {
        case .realtime:
            let busy = expirations > 1 || Double(work) >= Double(period) * Self.busyFraction
            busyRun = busy ? busyRun + 1 : 0
            guard busyRun >= Self.overloadTicks else { return .none }
            busyRun = 0
            calmSince = nil
            demotions += 1
            state = .demoted(since: now)
            return .demote
        case .demoted:
            let calm = expirations <= 1 && Double(work) < Double(period) * Self.calmFraction
            guard calm else { calmSince = nil; return .none }
            let since = calmSince ?? now
            calmSince = since
            guard now &- since >= Self.recoveryNanoseconds else { return .none }
            state = .pending
            return .promote(priority: priority)
        case .off, .pending, .refused:
            return .none
        }
    }

    /// For the report and metrics: `fifo`, `normal` (off, refused or stepped down).
    public var isRealtime: Bool { state == .realtime }

    public var description: String {
        switch state {
        case .off: return "normal"
        case .pending: return "pending"
        case .realtime: return "fifo/\(priority)"
        case .refused(let e): return "normal(refused errno=\(e))"
        case .demoted: return "normal(overloaded)"
        }
    }
}
