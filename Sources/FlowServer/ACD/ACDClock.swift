import Foundation
import Protocol

/// A timer handed out by an `ACDClock`.
struct ACDTimer: Hashable { let id: UInt64 }

/// Where the ACD gets the time and its timers (ring, wrap-up, disconnect grace, maximum wait,
/// announcements, routing passes): the Flow-Server's event loop in production, a
/// `VirtualClock` in tests, so that they run on virtual time — deterministic, and as fast as
/// the code allows.
protocol ACDClock: AnyObject {
    /// Seconds since 1970.
    var now: Double { get }
    @discardableResult func schedule(after seconds: Double, _ fire: @escaping () -> Void) -> ACDTimer
    func cancel(_ timer: ACDTimer)
}

/// The Flow-Server's loop as the ACD's clock (wall time, loop timers).
final class LoopClock: ACDClock {
    let loop: EventLoop
    private var timers: [UInt64: TimerID] = [:]
    private var next: UInt64 = 0
    init(loop: EventLoop) { self.loop = loop }
    var now: Double { Date().timeIntervalSince1970 }
    func schedule(after seconds: Double, _ fire: @escaping () -> Void) -> ACDTimer {
        next += 1
        let id = next
        timers[id] = loop.schedule(afterMilliseconds: max(0, Int((seconds * 1000).rounded()))) { [weak self] in
            self?.timers.removeValue(forKey: id)
            fire()
        }
        return ACDTimer(id: id)
    }
    func cancel(_ timer: ACDTimer) {
        if let t = timers.removeValue(forKey: timer.id) { loop.cancel(t) }
    }
}

/// Virtual time: timers fire, in order of their deadline (then of scheduling), only when the
/// test advances the clock.
final class VirtualClock: ACDClock {
    private(set) var now: Double
    private var timers: [(deadline: Double, seq: UInt64, fire: () -> Void)] = []
    private var next: UInt64 = 0
    private var cancelled: Set<UInt64> = []
    init(now: Double = 1_800_000_000) { self.now = now }
    func schedule(after seconds: Double, _ fire: @escaping () -> Void) -> ACDTimer {
        next += 1
        timers.append((now + max(0, seconds), next, fire))
        return ACDTimer(id: next)
    }
    func cancel(_ timer: ACDTimer) { cancelled.insert(timer.id) }
    /// Moves time forward by `seconds`, firing every timer that falls due on the way (timers
    /// scheduled by those fire too if they fall due in the interval).
    func advance(by seconds: Double) {
        let end = now + seconds
        while let i = timers.indices.filter({ timers[$0].deadline <= end })
                .min(by: { (timers[$0].deadline, timers[$0].seq) < (timers[$1].deadline, timers[$1].seq) }) {
            let t = timers.remove(at: i)
            now = max(now, t.deadline)
            if cancelled.remove(t.seq) == nil { t.fire() }
        }
        now = end
    }
}
