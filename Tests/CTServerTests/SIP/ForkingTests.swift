import Testing
@testable import CTServerKit

/// The final response a forked call reports when every contact failed.
@Suite struct ForkingTests {
    @Test func bestFinalResponse() {
        #expect(ChannelManager.bestFinal([(0, 480), (1, 486)]) == 1, "busy over unavailable")
        #expect(ChannelManager.bestFinal([(0, 486), (1, 603)]) == 1, "a 6xx wins")
        #expect(ChannelManager.bestFinal([(0, 487), (1, 480)]) == 1, "the lowest otherwise")
        #expect(ChannelManager.bestFinal([(0, 408)]) == 0)
        #expect(ChannelManager.bestFinal([]) == nil)
    }
}
