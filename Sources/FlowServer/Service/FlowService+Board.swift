import Foundation
import Protocol

/// The live wallboard on this Flow-Server: its part goes to the other Flow-Servers through the
/// CT-Server, theirs comes back, App-Operates watching get the changes (docs/protocol.md §18).
extension FlowService {
    /// Connects the publisher to the CT link and the records, and starts its timers and seeding.
    func startBoard() {
        board.broadcast = { [weak self] u in
            guard let c = self?.ctLink.connection, c.isEstablished else { return }
            c.sendEvent(PeerBroadcast(u))
        }
        board.start()
        seedBoard(firstTime: true)
    }

    /// Records as they are written: finished calls and wrap-ups go on the board.
    func boardRecord(_ r: StoredRecord) {
        switch r {
        case .call(let c):
            board.callWritten(c)
            countCall(c)
        case .wrapUp(let w): board.wrapUpWritten(w)
        default: break
        }
    }

    /// A PeerBroadcast from another Flow-Server (through the CT-Server).
    func peerBroadcast(_ frame: Frame) {
        guard let m = try? PeerBroadcast.decode(frame.body) else {
            logger.warning("undecodable PeerBroadcast from the ct-server")
            return
        }
        if m.innerType == QueueSettingsChanged.messageType, let q = try? QueueSettingsChanged.decode(m.body) {
            queueSettingsChanged(q, from: m.peer)
            return
        }
        guard m.innerType == BoardUpdate.messageType else { return }
        do {
            board.peerUpdate(try BoardUpdate.decode(m.body))
        } catch {
            logger.warning("board update from \(m.peer) refused: \(error)")
        }
    }

    /// BoardRequest: the whole board now; with watch, its changes are pushed from now on.
    func boardRequest(_ m: BoardRequest, _ conn: Connection, _ frame: Frame) {
        guard operators.require(["supervisor", "admin"], conn, frame, what: "the wallboard") else { return }
        if m.watch { board.watch(conn) } else { board.unwatch(conn) }
        conn.respond(to: frame, with: board.fullView(for: conn))
    }

    /// Today's calls and agent periods from the database: at start, then every minute (a call
    /// another server finished before this one heard of it, an adopter's record, a late wrap-up).
    func seedBoard(firstTime: Bool) {
        if let url = databaseURL {
            let now = Date().timeIntervalSince1970
            let from = Wallboard.midnight(now, board.board.utcOffset)
            queries.async { [weak self] in
                guard let self else { return }
                let r = self.withQueryConnection(url) { db in try Statistics.load(db, from: from, to: from + 86_400) }
                self.loop.execute {
                    switch r {
                    case .success(let (calls, periods)):
                        self.board.seed(calls: calls, periods: periods, loadedAt: now, firstTime: firstTime)
                        if firstTime { self.logger.info("board: \(calls.count) calls of today loaded") }
                    case .failure(let e):
                        self.logger.warning("board: today's calls not loaded: \(e)")
                    }
                }
            }
        }
        _ = loop.schedule(afterMilliseconds: 60_000) { [weak self] in self?.seedBoard(firstTime: false) }
    }
}

/// Lets the records reach the board as they are submitted (the board is made after the recorder).
final class RecordTap {
    var tap: ((StoredRecord) -> Void)?
}
