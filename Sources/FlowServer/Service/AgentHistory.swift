import Foundation
import Protocol

/// `calls-today` (AgentCommand, agent role): the calls the agent took part in since local midnight
/// (its own and those it transferred on), newest first, with the agent's own talk time — what the agent desktop lists (docs/protocol.md §16).
extension FlowService {
    func callsToday(_ m: AgentCommand, _ conn: Connection, _ frame: Frame) {
        guard operators.require(["agent"], conn, frame, what: "calls-today"), let code = operators.loggedIn(conn)?.workCode else { return }
        let offset = Int(m.arguments["utc_offset_seconds"] ?? "") ?? TimeZone.current.secondsFromGMT()
        let now = Date().timeIntervalSince1970
        let midnight = ((now + Double(offset)) / 86_400).rounded(.down) * 86_400 - Double(offset)
        database(conn, frame) { db in
            let r = try db.execute("""
                SELECT c.call_id, c.direction, c.caller, c.called, coalesce(c.queue, '') AS queue,
                       CASE WHEN c.agent IS DISTINCT FROM $1 THEN 'transferred to ' || coalesce(c.agent, c.disposition) ELSE c.disposition END AS disposition,
                       extract(epoch FROM c.arrived_at) AS arrived,
                       coalesce((SELECT sum(extract(epoch FROM coalesce(l.ended_at, c.ended_at) - l.answered_at)) FROM call_legs l
                                 WHERE l.call_id = c.call_id AND l.role = 'agent' AND l.party = $1 AND l.answered_at IS NOT NULL), 0) AS talk
                FROM calls c
                WHERE c.arrived_at >= to_timestamp($2::double precision)
                  AND (c.agent = $1 OR EXISTS (SELECT 1 FROM call_legs l WHERE l.call_id = c.call_id AND l.role = 'agent' AND l.party = $1))
                ORDER BY c.arrived_at DESC LIMIT 200
                """, [code, String(midnight)])
            let rows: [[String: String]] = (0..<r.count).map { i in
                ["call_id": r.value(i, "call_id") ?? "", "direction": r.value(i, "direction") ?? "", "caller": r.value(i, "caller") ?? "",
                 "called": r.value(i, "called") ?? "", "queue": r.value(i, "queue") ?? "", "disposition": r.value(i, "disposition") ?? "",
                 "arrived": r.value(i, "arrived") ?? "", "talk_seconds": String(Int((Double(r.value(i, "talk") ?? "0") ?? 0).rounded()))]
            }
            return AgentReply(state: "", text: "\(rows.count) calls today", rows: rows)
        }
    }
}
