import Foundation
import Testing
import TestSupport
@testable import Protocol

@Suite struct EventLoopTests {
    @Test func timersFireInDeadlineOrderAndCancelledOnesDoNot() throws {
        let lt = try LoopThread()
        let fired = Box<[Int]>([])
        try lt.sync {
            let l = lt.loop
            l.schedule(afterMilliseconds: 30) { fired.mutate { $0.append(3) } }
            l.schedule(afterMilliseconds: 10) { fired.mutate { $0.append(1) } }
            let cancelled = l.schedule(afterMilliseconds: 20) { fired.mutate { $0.append(2) } }
            l.cancel(cancelled)
            l.schedule(afterMilliseconds: 0) { fired.mutate { $0.append(0) } }
        }
        #expect(TestSupport.waitUntil { fired.value.count == 3 })
        usleep(50_000)
        #expect(fired.value == [0, 1, 3])
        lt.stop()
    }

    /// Many threads hand work to the loop through `execute`; every item runs exactly once, on the loop.
    @Test func executeFromManyThreads() throws {
        let lt = try LoopThread()
        let count = Box(0)
        let offLoop = Box(0)
        let threads = 8, per = 2000
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<per {
                lt.loop.execute {
                    if !lt.loop.isInLoop { offLoop.mutate { $0 += 1 } }
                    count.mutate { $0 += 1 }
                }
            }
        }
        #expect(TestSupport.waitUntil { count.value == threads * per })
        #expect(offLoop.value == 0)
        lt.stop()
    }
}
