import Foundation
import Logging
import Protocol

/// Parallel forking: a call to a user with several registered contacts (a desk phone and a
/// softphone) sends one INVITE to each, all offering the channel's one RTP port. Provisional
/// responses of any of them ring the channel; the first 2xx wins — its INVITE becomes the
/// channel's, the others are CANCELled, and a 2xx that crosses the CANCEL is ACKed and ended
/// with BYE. When every INVITE failed, the channel fails with the best final response
/// (RFC 3261 §16.7: a 6xx, else busy, else the lowest class). Each INVITE has its own Call-ID:
/// we are a B2BUA placing parallel calls, not a proxy.
extension ChannelManager {
    func sendForkedInvites(_ ch: SIPChannel, to contacts: [(SIPURI, SIPPeer)]) {
        guard let endpoint else { return }
        for (target, peer) in contacts {
            guard let invite = buildInvite(ch, target: target, peer: peer, authorization: nil) else { continue }
            let i = ch.forks.count
            let sent = endpoint.sendRequest(invite, to: peer, onResponse: { [weak self] r in
                self?.forkResponse(ch, i, r)
            }, onTimeout: { [weak self, weak ch] in
                guard let self, let ch else { return }
                self.forkEnded(ch, i, final: nil)
            })
            ch.forks.append(SIPChannel.Fork(invite: sent, peer: peer, target: target))
            if let c = sent.callID { byCallID[c] = ch.id }
        }
        if let first = ch.forks.first {
            ch.sentInvite = first.invite
            ch.peer = first.peer
            ch.target = first.target
        }
    }

    private func forkResponse(_ ch: SIPChannel, _ i: Int, _ r: SIPMessage) {
        guard let code = r.statusCode, ch.forks.indices.contains(i) else { return }
        if let winner = ch.forkWinner {
            if winner == i {
                outboundResponse(ch, r)   // a retransmitted 2xx: ACKed again
            } else if (200..<300).contains(code) {
                endLateFork(ch.forks[i], r)
            }
            return
        }
        switch code {
        case 100..<200:
            // Early media from several phones cannot all be heard: rings only.
            applyUAC(ch, ch.machine.response(OutboundResponse(code: code, hasBody: false), canAnswerChallenge: false, canFollowRedirect: false), nil)
        case 200..<300:
            ch.forkWinner = i
            ch.forks[i].done = true
            ch.sentInvite = ch.forks[i].invite
            ch.peer = ch.forks[i].peer
            ch.target = ch.forks[i].target
            for j in ch.forks.indices where j != i && !ch.forks[j].done {
                sendCancel(invite: ch.forks[j].invite, to: ch.forks[j].peer)
            }
            logger.info("channel \(ch.id): answered at \(ch.peer) (of \(ch.forks.count) contacts)")
            outboundResponse(ch, r)
        default:
            forkEnded(ch, i, final: r)
        }
    }

    /// One INVITE failed (or timed out, `final` nil); when it was the last, the channel fails
    /// with the best of the final responses.
    private func forkEnded(_ ch: SIPChannel, _ i: Int, final: SIPMessage?) {
        guard ch.forkWinner == nil, ch.forks.indices.contains(i), !ch.forks[i].done else { return }
        ch.forks[i].done = true
        ch.forks[i].final = final
        guard ch.forks.allSatisfy(\.done) else { return }
        let finals = ch.forks.enumerated().compactMap { f -> (Int, SIPMessage, Int)? in
            guard let r = f.element.final, let code = r.statusCode else { return nil }
            return (f.offset, r, code)
        }
        guard let best = Self.bestFinal(finals.map { ($0.0, $0.2) }), let (index, response, _) = finals.first(where: { $0.0 == best }) else {
            applyUAC(ch, ch.machine.response(.failure(code: 408, cause: .recoveryOnTimerExpiry, text: "no response")), nil)
            return
        }
        ch.sentInvite = ch.forks[index].invite
        ch.peer = ch.forks[index].peer
        ch.target = ch.forks[index].target
        let code = response.statusCode ?? 500
        applyUAC(ch, ch.machine.response(OutboundResponse(code: code, hasBody: !response.body.isEmpty), canAnswerChallenge: false, canFollowRedirect: false), response)
    }

    /// The final response a forked call reports (RFC 3261 §16.7 step 6, simplified for a
    /// B2BUA): any 6xx; else a busy (486, 600 is a 6xx); else the lowest status.
    static func bestFinal(_ finals: [(index: Int, code: Int)]) -> Int? {
        if let g = finals.first(where: { $0.code >= 600 }) { return g.index }
        if let b = finals.first(where: { $0.code == 486 }) { return b.index }
        return finals.min { $0.code < $1.code }?.index
    }

    /// A contact that answered after another had won: ACK its 2xx, then BYE.
    private func endLateFork(_ fork: SIPChannel.Fork, _ r: SIPMessage) {
        guard let endpoint, var dialog = SIPDialog(uacFor: fork.invite, response: r, peer: fork.peer) else { return }
        endpoint.sendStateless(dialog.ack(for: fork.invite), to: fork.peer)
        let bye = dialog.makeRequest("BYE")
        endpoint.sendRequest(bye, to: dialog.peer, onResponse: { _ in }, onTimeout: {})
        logger.info("contact \(fork.peer) answered after another: ACK and BYE")
    }
}
