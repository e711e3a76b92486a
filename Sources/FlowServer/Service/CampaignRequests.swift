import Foundation
import Protocol

/// Outbound campaigns from App-Operate (CampaignRequest, docs/protocol.md §19; supervisor or
/// admin): create, import a call list, start / pause / resume / stop, list, report, and the
/// do-not-call lists. A campaign runs on the Flow-Server that started it (`campaigns.owner`),
/// and again there after a restart.
extension FlowService {
    static let campaignColumns = ["name", "mode", "queue", "state", "numbers", "done", "attempts", "answered", "abandoned", "abandon_rate", "dnc_refused"]

    func campaignRequest(_ m: CampaignRequest, _ conn: Connection, _ frame: Frame) {
        let args = m.arguments
        let name = args["name"] ?? ""
        let fail = { (why: String) -> Void in _ = conn.respond(to: frame, error: ProtocolError(.badMessage, why)) }
        let needsName: Set<String> = ["create", "import", "start", "pause", "resume", "stop", "report"]
        if needsName.contains(m.action) {
            guard (1...64).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                fail("\(m.action) needs name= (letters, digits, - and _, at most 64)")
                return
            }
        }
        switch m.action {
        case "create":
            guard let mode = Pacer.Mode(rawValue: args["mode"] ?? "progressive") else { fail("mode is preview, progressive or predictive"); return }
            guard let queue = args["queue"], !queue.isEmpty else { fail("create needs queue= (the agents' queue)"); return }
            guard let callerID = args["caller_id"], CallList.normalise(callerID) != nil else { fail("create needs caller_id= (a number)"); return }
            var window = (540, 1260)
            if let w = args["window"] {
                guard let parsed = Self.window(w) else { fail("window is HH:MM-HH:MM, e.g. 09:00-21:00"); return }
                window = parsed
            }
            let zone = args["timezone"] ?? TimeZone.current.identifier
            guard TimeZone(identifier: zone) != nil else { fail("unknown time zone \(zone)"); return }
            let cap = Double(args["abandon_cap"] ?? "0.03") ?? -1
            guard cap > 0, cap <= 0.1 else { fail("abandon_cap is a fraction above 0 and at most 0.1 (default 0.03)"); return }
            let message = args["message"] ?? "tts:en:Sorry, we called you and nobody is free to talk now. We will call again."
            var retries = Campaign.Settings(name: "", mode: mode, callerID: "", queue: "").retries
            if let text = args["retries"] {
                guard let parsed = Self.retries(text) else { fail("retries is OUTCOME=ATTEMPTS/SECONDS,… (busy, no-answer, failed, abandoned), e.g. busy=3/600,no-answer=2/3600"); return }
                retries = parsed
            }
            let retriesJSON = Self.retriesJSON(retries)
            database(conn, frame) { db in
                try db.execute("""
                    INSERT INTO campaigns (name, mode, queue, caller_id, window_start, window_end, timezone, abandon_cap, message, retries)
                    VALUES ($1, $2, $3, $4, $5::integer, $6::integer, $7, $8::float8, $9, $10::jsonb)
                    """, [name, mode.rawValue, queue, callerID, String(window.0), String(window.1), zone, String(cap), message, retriesJSON])
                return CampaignReply(summary: "campaign \(name) created (\(mode.rawValue), queue \(queue)); import its call list next")
            }
        case "import":
            let list: [CallListEntry]
            switch CallList.parse(m.csv) {
            case .success(let l): list = l
            case .failure(let refusal):
                fail("call list refused, nothing imported:\n" + refusal.errors.map(\.description).joined(separator: "\n"))
                return
            }
            database(conn, frame) { db in
                try db.transaction {
                    let c = try db.execute("SELECT state, (SELECT count(*) FROM campaign_numbers WHERE campaign = $1) AS n FROM campaigns WHERE name = $1 FOR UPDATE", [name])
                    guard c.count == 1 else { throw PostgresError(message: "no campaign \(name)", sqlState: "P0002") }
                    guard c.value(0, "n") == "0" else { throw PostgresError(message: "campaign \(name) has its call list already", sqlState: "P0002") }
                    try db.executeBatch(prepared: "campaign_number", """
                        INSERT INTO campaign_numbers (campaign, id, line, number, timezone, fields) VALUES ($1, $2::integer, $3::integer, $4, $5, $6::jsonb)
                        """, list.enumerated().map { i, e in
                            let fields = (try? JSONSerialization.data(withJSONObject: e.fields, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                            return [name, String(i), String(e.line), e.number, e.timezone, fields]
                        })
                }
                return CampaignReply(summary: "\(list.count) numbers imported into \(name)")
            }
        case "start":
            guard campaigns.campaign(name) == nil else {
                if let why = campaigns.control(name, .resume) { fail(why) } else { conn.respond(to: frame, with: CampaignReply(summary: "campaign \(name) running")) }
                return
            }
            loadCampaign(name) { [weak self] r in
                guard let self else { return }
                switch r {
                case .failure(let e): fail("\(e)")
                case .success(let (campaign, message)):
                    guard campaign.state == .created || campaign.state == .paused || campaign.state == .running else {
                        fail("campaign \(name) is \(campaign.state.rawValue)")
                        return
                    }
                    self.campaigns.add(name, campaign, message: message)
                    if campaign.state != .running, let why = self.campaigns.control(name, campaign.state == .created ? .start : .resume) { fail(why); return }
                    self.campaigns.persistState(name)
                    conn.respond(to: frame, with: CampaignReply(summary: "campaign \(name) running (\(campaign.records.count) numbers)"))
                }
            }
        case "pause", "resume", "stop":
            let e: Campaign.Event = m.action == "pause" ? .pause : m.action == "resume" ? .resume : .stop
            if let why = campaigns.control(name, e) { fail(why); return }
            conn.respond(to: frame, with: CampaignReply(summary: "campaign \(name) \(campaigns.campaign(name)?.state.rawValue ?? m.action)"))
        case "list", "report":
            database(conn, frame) { db in
                let rows = try db.execute("""
                    SELECT c.name, c.mode, c.queue, c.state,
                           (SELECT count(*) FROM campaign_numbers n WHERE n.campaign = c.name) AS numbers,
                           (SELECT count(*) FROM campaign_numbers n WHERE n.campaign = c.name AND n.done) AS done,
                           (SELECT count(*) FROM campaign_attempts a WHERE a.campaign = c.name AND a.outcome <> 'dnc') AS attempts,
                           (SELECT count(*) FROM campaign_attempts a WHERE a.campaign = c.name AND a.outcome = 'answered') AS answered,
                           (SELECT count(*) FROM campaign_attempts a WHERE a.campaign = c.name AND a.outcome = 'abandoned') AS abandoned,
                           (SELECT count(*) FROM dnc_refusals r WHERE r.campaign = c.name) AS dnc_refused
                    FROM campaigns c WHERE ($1 = '' OR c.name = $1) ORDER BY c.name
                    """, [m.action == "report" ? name : ""])
                var out: [[String]] = []
                for i in 0..<rows.count {
                    let answered = Double(rows.value(i, "answered") ?? "0") ?? 0, abandoned = Double(rows.value(i, "abandoned") ?? "0") ?? 0
                    let rate = answered + abandoned > 0 ? abandoned / (answered + abandoned) : 0
                    out.append(["name", "mode", "queue", "state", "numbers", "done", "attempts", "answered", "abandoned"].map { rows.value(i, $0) ?? "" }
                               + [String(format: "%.4f", rate), rows.value(i, "dnc_refused") ?? "0"])
                }
                if m.action == "report" {
                    guard let row = out.first else { throw PostgresError(message: "no campaign \(name)", sqlState: "P0002") }
                    let outcomes = try db.execute("SELECT outcome, count(*) AS n FROM campaign_attempts WHERE campaign = $1 GROUP BY outcome ORDER BY outcome", [name])
                    let byOutcome = (0..<outcomes.count).map { "\(outcomes.value($0, "outcome") ?? "")=\(outcomes.value($0, "n") ?? "0")" }.joined(separator: " ")
                    let agents = try Self.campaignAgents(db, name)
                    return CampaignReply(summary: "campaign \(name) (\(row[3])): attempts=\(row[6]) connects=\(row[7]) abandon_rate=\(row[9]) "
                                         + (byOutcome.isEmpty ? "no attempts yet" : byOutcome),
                                         columns: ["agent", "calls", "talk_seconds", "wait_seconds", "idle_seconds", "talk_share", "wait_share", "idle_share"], rows: agents)
                }
                return CampaignReply(summary: "\(out.count) campaigns", columns: Self.campaignColumns, rows: out)
            }
        case "dnc-add", "dnc-remove":
            guard let number = args["number"].flatMap(CallList.normalise) else { fail("\(m.action) needs number= (a phone number)"); return }
            let scope = name
            if m.action == "dnc-add" { campaigns.dnc[scope, default: []].insert(number) } else { campaigns.dnc[scope]?.remove(number) }
            database(conn, frame) { db in
                if m.action == "dnc-add" {
                    try db.execute("INSERT INTO dnc (number, campaign, reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", [number, scope, args["reason"] ?? ""])
                } else {
                    try db.execute("DELETE FROM dnc WHERE number = $1 AND campaign = $2", [number, scope])
                }
                // Again on the loop after any reload read before this change (same serial queue, same order).
                self.loop.execute {
                    if m.action == "dnc-add" { self.campaigns.dnc[scope, default: []].insert(number) } else { self.campaigns.dnc[scope]?.remove(number) }
                }
                return CampaignReply(summary: "\(number) \(m.action == "dnc-add" ? "added to" : "removed from") the \(scope.isEmpty ? "global" : scope) do-not-call list")
            }
        case "dnc-list":
            database(conn, frame) { db in
                let r = try db.execute("SELECT number, campaign, reason, to_char(added_at, 'YYYY-MM-DD HH24:MI') AS added FROM dnc ORDER BY campaign, number LIMIT 10000")
                return CampaignReply(summary: "\(r.count) numbers", columns: ["number", "campaign", "reason", "added"],
                                     rows: (0..<r.count).map { i in ["number", "campaign", "reason", "added"].map { r.value(i, $0) ?? "" } })
            }
        default:
            fail("unknown action \(m.action): create, import, start, pause, resume, stop, list, report, dnc-add, dnc-remove, dnc-list")
        }
    }

    /// Per agent who took the campaign's calls: calls, talk, and its ready (waiting) and
    /// not-ready (idle) time while the campaign dialled (its first to its last attempt), with shares.
    static func campaignAgents(_ db: PostgresConnection, _ name: String) throws -> [[String]] {
        let r = try db.execute("""
            WITH span AS (SELECT min(at) AS s, max(at) AS e FROM campaign_attempts WHERE campaign = $1),
                 talk AS (
                   SELECT c.agent, count(*) AS calls, sum(extract(epoch from c.ended_at - c.agent_answered_at)) AS talk
                   FROM calls c JOIN call_events ev ON ev.call_id = c.call_id AND ev.kind = 'campaign' AND ev.detail->>'campaign' = $1
                   WHERE c.agent IS NOT NULL AND c.agent_answered_at IS NOT NULL GROUP BY c.agent),
                 states AS (
                   SELECT a.agent,
                          sum(CASE WHEN a.state = 'ready' THEN greatest(0, extract(epoch from least(coalesce(a.ended_at, now()), span.e) - greatest(a.started_at, span.s))) ELSE 0 END) AS wait,
                          sum(CASE WHEN a.state = 'not-ready' THEN greatest(0, extract(epoch from least(coalesce(a.ended_at, now()), span.e) - greatest(a.started_at, span.s))) ELSE 0 END) AS idle
                   FROM agent_states a, span WHERE a.agent IN (SELECT agent FROM talk) AND a.started_at < span.e AND coalesce(a.ended_at, now()) > span.s
                   GROUP BY a.agent)
            SELECT t.agent, t.calls, t.talk, coalesce(s.wait, 0) AS wait, coalesce(s.idle, 0) AS idle FROM talk t LEFT JOIN states s USING (agent) ORDER BY t.agent
            """, [name])
        return (0..<r.count).map { i in
            let talk = r.double(i, "talk") ?? 0, wait = r.double(i, "wait") ?? 0, idle = r.double(i, "idle") ?? 0
            let total = max(1e-9, talk + wait + idle)
            return [r.value(i, "agent") ?? "", r.value(i, "calls") ?? "0", String(format: "%.1f", talk), String(format: "%.1f", wait), String(format: "%.1f", idle),
                    String(format: "%.3f", talk / total), String(format: "%.3f", wait / total), String(format: "%.3f", idle / total)]
        }
    }

    /// `busy=3/600,no-answer=2/3600`: the retry rules by outcome.
    static func retries(_ s: String) -> [Campaign.Outcome: Campaign.Retry]? {
        var out: [Campaign.Outcome: Campaign.Retry] = [:]
        for part in s.split(separator: ",") {
            let kv = part.split(separator: "=")
            guard kv.count == 2, let o = Campaign.Outcome(rawValue: String(kv[0]).trimmingCharacters(in: .whitespaces)),
                  [.busy, .noAnswer, .failed, .abandoned].contains(o) else { return nil }
            let nm = kv[1].split(separator: "/")
            guard nm.count == 2, let n = Int(nm[0]), (1...20).contains(n), let secs = Double(nm[1]), secs >= 5, secs <= 7 * 86_400 else { return nil }
            out[o] = Campaign.Retry(maxAttempts: n, afterSeconds: secs)
        }
        return out
    }

    static func retriesJSON(_ r: [Campaign.Outcome: Campaign.Retry]) -> String {
        "{" + r.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\"\($0.key.rawValue)\": [\($0.value.maxAttempts), \(Int($0.value.afterSeconds))]" }.joined(separator: ", ") + "}"
    }

    static func window(_ s: String) -> (Int, Int)? {
        let parts = s.split(separator: "-")
        func minute(_ t: Substring) -> Int? {
            let hm = t.split(separator: ":")
            guard hm.count == 2, let h = Int(hm[0]), let m = Int(hm[1]), (0...24).contains(h), (0...59).contains(m), h * 60 + m <= 1440 else { return nil }
            return h * 60 + m
        }
        guard parts.count == 2, let a = minute(parts[0]), let b = minute(parts[1]), a < b else { return nil }
        return (a, b)
    }

    /// A campaign and its numbers from the database, off the loop.
    func loadCampaign(_ name: String, _ done: @escaping (Result<(Campaign, String), Error>) -> Void) {
        guard let url = databaseURL else { done(.failure(PostgresError(message: "no database configured", sqlState: "P0002"))); return }
        queries.async { [weak self] in
            guard let self else { return }
            let r = self.withQueryConnection(url) { db -> (Campaign, String) in
                let c = try db.execute("SELECT * FROM campaigns WHERE name = $1", [name])
                guard c.count == 1, let mode = Pacer.Mode(rawValue: c.value(0, "mode") ?? "") else { throw PostgresError(message: "no campaign \(name)", sqlState: "P0002") }
                var s = Campaign.Settings(name: name, mode: mode, callerID: c.value(0, "caller_id") ?? "", queue: c.value(0, "queue") ?? "")
                s.windowStart = Int(c.value(0, "window_start") ?? "") ?? 540
                s.windowEnd = Int(c.value(0, "window_end") ?? "") ?? 1260
                s.timezone = c.value(0, "timezone") ?? TimeZone.current.identifier
                s.abandonCap = c.double(0, "abandon_cap") ?? 0.03
                if let json = c.value(0, "retries"), let obj = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: [Double]] {
                    var rules: [Campaign.Outcome: Campaign.Retry] = [:]
                    for (k, v) in obj where v.count == 2 { if let o = Campaign.Outcome(rawValue: k) { rules[o] = Campaign.Retry(maxAttempts: Int(v[0]), afterSeconds: v[1]) } }
                    s.retries = rules
                }
                let n = try db.execute("SELECT * FROM campaign_numbers WHERE campaign = $1 ORDER BY id", [name])
                guard n.count > 0 else { throw PostgresError(message: "campaign \(name) has no call list: import one first", sqlState: "P0002") }
                let records: [Campaign.Record] = (0..<n.count).map { i in
                    let fields = (n.value(i, "fields").flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }) ?? [:]
                    return Campaign.Record(id: i, entry: CallListEntry(line: Int(n.value(i, "line") ?? "") ?? 0, number: n.value(i, "number") ?? "",
                                                                       timezone: n.value(i, "timezone"), fields: fields),
                                           attempts: Int(n.value(i, "attempts") ?? "") ?? 0, nextAt: n.double(i, "next_at") ?? 0, done: n.value(i, "done") == "t",
                                           ringing: false, lastOutcome: n.value(i, "last_outcome").flatMap(Campaign.Outcome.init(rawValue:)))
                }
                let state = Campaign.State(rawValue: c.value(0, "state") ?? "") ?? .created
                return (Campaign(settings: s, records: records, state: state), c.value(0, "message") ?? "")
            }
            self.loop.execute { done(r) }
        }
    }

    /// At start: the do-not-call lists, and the campaigns this server was running.
    func startCampaigns() {
        let writer = records
        campaigns.submit = { writer?.submit($0) }
        guard let url = databaseURL else { return }
        campaigns.store = { [weak self] work in
            self?.queries.async {
                guard let self else { return }
                if case .failure(let e) = self.withQueryConnection(url, work) { self.logger.warning("campaigns: not written to the database: \(e)") }
            }
        }
        reloadDNC()
        let me = name
        queries.async { [weak self] in
            guard let self else { return }
            let r = self.withQueryConnection(url) { db in
                try db.execute("SELECT name FROM campaigns WHERE owner = $1 AND state IN ('running', 'paused')", [me])
            }
            guard case .success(let rows) = r else { return }
            let names = (0..<rows.count).compactMap { rows.value($0, "name") }
            self.loop.execute {
                for n in names {
                    self.loadCampaign(n) { r in
                        if case .success(let (c, message)) = r {
                            self.campaigns.add(n, c, message: message)
                            self.logger.notice("campaign \(n): resumed after a restart (\(c.state.rawValue))")
                        }
                    }
                }
            }
        }
    }

    /// The do-not-call lists from the database (every 10 s: other servers add to them too).
    func reloadDNC() {
        guard let url = databaseURL else { return }
        queries.async { [weak self] in
            guard let self else { return }
            let r = self.withQueryConnection(url) { db in try db.execute("SELECT number, campaign FROM dnc") }
            self.loop.execute {
                if case .success(let rows) = r {
                    var lists: [String: Set<String>] = [:]
                    for i in 0..<rows.count { lists[rows.value(i, "campaign") ?? "", default: []].insert(rows.value(i, "number") ?? "") }
                    self.campaigns.dnc = lists
                }
                _ = self.loop.schedule(afterMilliseconds: 10_000) { [weak self] in self?.reloadDNC() }
            }
        }
    }
}

extension FlowService {
    /// An agent's preview commands (AgentCommand `campaign-next campaign=NAME`,
    /// `campaign-dial campaign=NAME record=N`, `campaign-skip campaign=NAME record=N reason=…`).
    func campaignAgentCommand(_ m: AgentCommand, _ conn: Connection, _ frame: Frame) {
        guard operators.require(["agent"], conn, frame, what: m.action), let op = operators.loggedIn(conn) else { return }
        let name = m.arguments["campaign"] ?? ""
        let state = distributor.agents[op.workCode]?.machine.state.name ?? ""
        let fail = { (why: String) -> Void in _ = conn.respond(to: frame, error: ProtocolError(.badMessage, why)) }
        switch m.action {
        case "campaign-next":
            switch campaigns.nextPreview(name, agent: op.workCode) {
            case .failure(let e): fail(e.message)
            case .success(let p):
                var fields = ["campaign": name, "record": String(p.record), "number": p.number]
                for (k, v) in p.fields { fields["customer.\(k)"] = v }
                conn.respond(to: frame, with: AgentReply(state: state, text: "preview \(p.number): campaign-dial or campaign-skip record=\(p.record)", fields: fields))
            }
        case "campaign-disposition":
            if let why = campaigns.disposition(agent: op.workCode, code: m.arguments["code"] ?? "", note: m.arguments["note"] ?? "") { fail(why); return }
            conn.respond(to: frame, with: AgentReply(state: state, text: "disposition \(m.arguments["code"] ?? "") noted"))
        case "campaign-dial", "campaign-skip":
            guard let record = m.arguments["record"].flatMap(Int.init) else { fail("\(m.action) needs record=N"); return }
            let why = m.action == "campaign-dial"
                ? campaigns.previewDial(name, agent: op.workCode, record: record)
                : campaigns.previewSkip(name, agent: op.workCode, record: record, reason: m.arguments["reason"] ?? "")
            if let why { fail(why); return }
            conn.respond(to: frame, with: AgentReply(state: state, text: m.action == "campaign-dial" ? "dialling; your phone rings when it answers" : "skipped"))
        default:
            fail("unknown action \(m.action)")
        }
    }
}
