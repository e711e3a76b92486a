import Foundation
import Logging
import Testing
@testable import CTServerKit
#if canImport(Glibc)
import Glibc
#endif

/// The channel loops' real-time priority (`LoopPriority`): the decisions on virtual ticks, then
/// real loop threads checked in /proc.
@Suite struct LoopPriorityTests {
    let period: UInt64 = 20_000_000

    /// Feeds `count` ticks of `work` ns from `start` (ns), 20 ms apart; returns the actions.
    private func run(_ p: inout LoopPriority, ticks count: Int, work: UInt64, expirations: Int = 1, from start: inout UInt64) -> [LoopPriority.Action] {
        var out: [LoopPriority.Action] = []
        for _ in 0..<count {
            start += period * UInt64(expirations)
            let a = p.tick(work: work, period: period, expirations: expirations, now: start)
            if a != .none { out.append(a) }
            if case .promote = a { p.applied(0) }
        }
        return out
    }

    @Test func offAsksForNothing() {
        var p = LoopPriority(priority: 0)
        #expect(p.start() == .none)
        var t: UInt64 = 0
        #expect(run(&p, ticks: 100, work: 25_000_000, expirations: 2, from: &t).isEmpty)
        #expect(p.state == .off && !p.isRealtime && p.description == "normal")
    }

    @Test func startsRealtimeOrRecordsTheRefusal() {
        var p = LoopPriority(priority: 10)
        #expect(p.state == .pending)
        #expect(p.start() == .promote(priority: 10))
        p.applied(0)
        #expect(p.isRealtime && p.description == "fifo/10")

        var q = LoopPriority(priority: 10)
        _ = q.start()
        q.applied(EPERM)
        #expect(q.state == .refused(errno: EPERM) && !q.isRealtime)
        // Refused is final: no retry however the ticks go.
        var t: UInt64 = 0
        #expect(run(&q, ticks: 2_000, work: 1_000_000, from: &t).isEmpty)
        #expect(run(&q, ticks: 100, work: 30_000_000, expirations: 2, from: &t).isEmpty)
        #expect(q.description == "normal(refused errno=\(EPERM))")
    }

    @Test func busySpellsShorterThanTheLimitKeepRealtime() {
        var p = LoopPriority(priority: 10)
        _ = p.start(); p.applied(0)
        var t: UInt64 = 0
        // 24 saturated ticks, one ordinary one, 24 more: never 25 in a row.
        for _ in 0..<10 {
            #expect(run(&p, ticks: LoopPriority.overloadTicks - 1, work: 19_000_000, from: &t).isEmpty)
            #expect(run(&p, ticks: 1, work: 5_000_000, from: &t).isEmpty)
        }
        #expect(p.isRealtime && p.demotions == 0)
    }

    @Test func saturationStepsDownThenCalmStepsBackUp() {
        var p = LoopPriority(priority: 20)
        _ = p.start(); p.applied(0)
        var t: UInt64 = 0
        // Work of 90 % of the tick counts as saturated; 25 in a row step down, exactly once.
        #expect(run(&p, ticks: LoopPriority.overloadTicks - 1, work: 18_000_000, from: &t).isEmpty)
        #expect(run(&p, ticks: 1, work: 18_000_000, from: &t) == [.demote])
        #expect(p.demotions == 1 && p.description == "normal(overloaded)")
        #expect(run(&p, ticks: 500, work: 30_000_000, expirations: 2, from: &t).isEmpty)
        // Calm for just under 10 s, one busy tick: the wait starts again.
        let calmTicks = Int(LoopPriority.recoveryNanoseconds / period)
        #expect(run(&p, ticks: calmTicks - 1, work: 2_000_000, from: &t).isEmpty)
        #expect(run(&p, ticks: 1, work: 12_000_000, from: &t).isEmpty)
        #expect(run(&p, ticks: calmTicks, work: 2_000_000, from: &t).isEmpty)
        // One more calm tick makes 10 s since the first of the run: back to real time.
        #expect(run(&p, ticks: 1, work: 2_000_000, from: &t) == [.promote(priority: 20)])
        #expect(p.isRealtime)
        // Missed ticks alone are saturation too.
        #expect(run(&p, ticks: LoopPriority.overloadTicks, work: 1_000_000, expirations: 3, from: &t) == [.demote])
        #expect(p.demotions == 2)
    }

    @Test func aFailedComebackIsARefusal() {
        var p = LoopPriority(priority: 10)
        _ = p.start(); p.applied(0)
        var t: UInt64 = 0
        _ = run(&p, ticks: LoopPriority.overloadTicks, work: 20_000_000, from: &t)
        var actions: [LoopPriority.Action] = []
        for _ in 0...Int(LoopPriority.recoveryNanoseconds / period) {
            t += period
            let a = p.tick(work: 1_000_000, period: period, expirations: 1, now: t)
            if a != .none { actions.append(a) }
        }
        #expect(actions == [.promote(priority: 10)])
        p.applied(EPERM)   // e.g. RLIMIT_RTPRIO lowered meanwhile
        #expect(p.state == .refused(errno: EPERM))
    }

    /// The scheduling policy and real-time priority of one of this process's threads, from
    /// /proc/self/task/TID/stat (fields 41 and 40).
    static func scheduling(of tid: Int32) -> (policy: Int, priority: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state).
        guard fields.count > 38, let prio = Int(fields[37]), let policy = Int(fields[38]) else { return nil }
        return (policy, prio)
    }

    /// Real loops: what they report is what the kernel shows for their threads. As root the
    /// kernel grants SCHED_FIFO, so there it must be real time.
    @Test func realLoopThreadsAreScheduledAsReported() throws {
        let engine = try MediaEngine(logger: Logger(label: "test"), loops: 2, realtimePriority: 10)
        let plain = try MediaEngine(logger: Logger(label: "test"), loops: 1, realtimePriority: 0)
        engine.start(); plain.start()
        defer { engine.stop(); plain.stop() }
        // The figures are published every 50 ticks (1 s).
        let deadline = Date().addingTimeInterval(10)
        while engine.loopStats.contains(where: { $0.ticks == 0 }) || plain.loopStats[0].ticks == 0, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        for (i, loop) in engine.loops.enumerated() {
            let tid = try #require(loop.kernelThreadID)
            let s = try #require(Self.scheduling(of: tid))
            let reported = engine.loopStats[i]
            if geteuid() == 0 {
                #expect(s.policy == Int(SCHED_FIFO) && s.priority == 10)
            }
            if reported.realtimeLoops == 1 {
                #expect(reported.scheduling == "fifo/10")
                #expect(s.policy == Int(SCHED_FIFO) && s.priority == 10)
            } else {
                #expect(reported.scheduling.hasPrefix("normal(refused errno="))
                #expect(s.policy == Int(SCHED_OTHER) && s.priority == 0)
            }
        }
        let tid = try #require(plain.loops[0].kernelThreadID)
        let s = try #require(Self.scheduling(of: tid))
        #expect(s.policy == Int(SCHED_OTHER) && s.priority == 0)
        #expect(plain.loopStats[0].scheduling == "normal" && plain.loopStats[0].realtimeLoops == 0)
        #expect(engine.tickStats.scheduling.split(separator: ",").count == 2)
    }
}
