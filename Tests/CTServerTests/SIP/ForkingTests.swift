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

/// Refer-To with embedded headers (attended transfer).
@Suite struct ReferToTests {
    @Test func embeddedReplacesIsDecoded() {
        let (uri, h) = ChannelManager.splitEmbeddedHeaders("sip:1003@127.0.0.1:5060?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2&Other=x")
        #expect(uri == "sip:1003@127.0.0.1:5060")
        #expect(h["replaces"] == "abc@host;to-tag=1;from-tag=2" && h["other"] == "x")
        #expect(ChannelManager.splitEmbeddedHeaders("sip:1003@h").1.isEmpty)
    }
}
