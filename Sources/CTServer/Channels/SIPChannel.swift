import Foundation
import Logging
import Protocol

/// One SIP leg anchored at the CT-Server.
public final class SIPChannel {
    public enum Purpose: Sendable { case echoTest, playbackTest, readbackTest, flow, outbound }

    public let id: String
    public let caller: String
    public let called: String
    public let purpose: Purpose
    public let createdAt: UInt64
    var machine: ChannelStateMachine
    /// Inbound: the INVITE server transaction.
    let invite: ServerTransactionHandle?
    /// Outbound: the INVITE as sent (with our Via), for CANCEL and the dialog.
    var sentInvite: SIPMessage?
    var peer: SIPPeer
    var offer: SessionDescription?
    var dialog: SIPDialog?
    var answer: SIPMessage?
    var negotiated: NegotiatedAudio?
    /// The channel's RTP port while the channel loop owns its socket.
    var mediaPort: Int?
    /// The bridge or conference the channel is in (its mix in the channel loop).
    var mixID: String?
    var answerTimer: TimerID?
    var ringTimer: TimerID?
    /// The Q.850 cause to report when it is not the SIP status's (our ring timer ran out).
    var clearCause: ChannelEvent.Cause?
    /// Originated with a request that the phone answer by itself.
    var autoAnswer = false
    /// A supervisor's tap (listen, whisper, barge) in another channel's bridge: not a party to it.
    var monitoring = false
    var rtpPacketsIn = 0
    /// The channel loop's figures, read when the media is released.
    var mediaStats: MediaChannelStats?
    /// Headers added to our final response (Contact of a redirect).
    var finalHeaders: [SIPHeader] = []
    var transferTarget: String?
    /// Outbound leg placed for a phone's REFER: who referred, and who is being transferred.
    var referral: (referrer: String, transferee: String)?
    /// A phone's REFER completed: the channel the other party is bridged to now, and the
    /// Refer-To destination (ChannelEvent Transferred, fields 11 and 13 `target`).
    var transferredTo: (channel: String, destination: String)?
    /// Replaced by an attended transfer REFERred on this channel (its Transferred says `replaced`).
    var replacedBy: String?
    /// The channel this one was last bridged to (a held call is still the phone's call to transfer).
    var lastBridgePartner: String?
    /// Outbound: 3xx responses followed so far.
    var redirects = 0
    /// Outbound: challenges answered so far (trunk credentials).
    var authAttempts = 0
    /// The line: the trunk the call came in on or goes out through, or "sip" for phones.
    public var line = "sip"
    /// The owner's safe point (ChannelData), handed to whoever adopts the channel.
    public var ownerData: [String: String] = [:]
    /// Outbound: the Request-URI dialled.
    var target: SIPURI?
    /// Outbound to a user with several contacts: one INVITE each, rung in parallel (empty: one
    /// INVITE, `sentInvite`). Once one answers it is `sentInvite`/`peer`/`target` too.
    var forks: [Fork] = []
    var forkWinner: Int?
    var wasHeld = false
    var transferTimer: TimerID?
    /// The Flow-Server connection that controls this channel (nil for the echo test).
    public var owner: UInt64?

    init(id: String, purpose: Purpose, caller: String, called: String, invite: ServerTransactionHandle?, peer: SIPPeer, timers: SIPTimerValues, now: UInt64) {
        self.id = id
        self.purpose = purpose
        self.caller = caller
        self.called = called
        self.invite = invite
        self.peer = peer
        machine = ChannelStateMachine(t1: timers.t1, t2: timers.t2)
        if purpose == .outbound { machine.farEnd = "called party" }
        createdAt = now
    }

    /// One INVITE of a forked outbound leg, and how it ended.
    struct Fork {
        var invite: SIPMessage
        var peer: SIPPeer
        var target: SIPURI
        /// Its final response (nil until then, or when it timed out).
        var final: SIPMessage?
        var done = false
    }

    public var state: ChannelStateMachine.State { machine.state }
    var callID: String? { invite?.request.callID ?? sentInvite?.callID }
}
