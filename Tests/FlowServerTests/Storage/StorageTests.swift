import Foundation
import Logging
import Testing
import TestSupport
@testable import FlowServerKit
import Protocol

/// Storage against a real PostgreSQL (a private cluster per test): migrations, every writer,
/// and the spool.
@Suite(.serialized) struct StorageTests {
    @Test func migrationsFromEmptyAndTheirGuards() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        let db = try PostgresConnection(url: pg.url)
        let migrator = try Migrator.bundled()
        #expect(migrator.migrations.first?.version == 1)
        #expect(try migrator.migrate(db) == migrator.migrations.map(\.version))
        #expect(try migrator.migrate(db) == [], "a second start applies nothing")
        let tables = try pg.query("select string_agg(tablename, ',' order by tablename) from pg_tables where schemaname = 'public'")
        for t in ["calls", "call_events", "call_legs", "customers", "users", "skills", "queues", "flows", "flow_versions", "mapping_tables",
                  "agent_states", "queue_events", "recordings", "schema_migrations"] {
            #expect(tables.split(separator: ",").contains(Substring(t)), "table \(t) in \(tables)")
        }
        // A shipped migration edited afterwards is refused.
        var edited = migrator.migrations
        edited[0] = .init(version: 1, name: edited[0].name, sql: edited[0].sql + "\n-- edited")
        #expect(throws: Migrator.MigrationError.self) { try Migrator(migrations: edited).migrate(db) }
        // A database migrated with migration 002 as it was before its comment changed starts as before.
        _ = try pg.query("update schema_migrations set checksum = 'e79e163bc9b24523' where version = 2")
        #expect(try migrator.migrate(db) == [], "a comment-only edit of 002 is not an edit")
        // Two Flow-Servers migrating at once: the advisory lock serialises them.
        let pg2 = try PostgresConnection(url: pg.url)
        try pg2.execute("SELECT pg_advisory_lock($1::bigint)", [Migrator.lockKey])
        let done = Box(false)
        let t = Thread { _ = try? migrator.migrate(try! PostgresConnection(url: pg.url)); done.value = true }
        t.start()
        Thread.sleep(forTimeInterval: 0.5)
        #expect(!done.value, "waits for the lock")
        try pg2.execute("SELECT pg_advisory_unlock($1::bigint)", [Migrator.lockKey])
        #expect(TestSupport.waitUntil(10) { done.value })
    }

    @Test func listenNotify() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        let a = try PostgresConnection(url: pg.url), b = try PostgresConnection(url: pg.url)
        try a.listen("flow_published")
        try b.execute("SELECT pg_notify($1, $2)", ["flow_published", "hotline v4"])
        var got: [(channel: String, payload: String)] = []
        #expect(TestSupport.waitUntil(5) { got += a.waitForNotification(ms: 100); return !got.isEmpty })
        #expect(got.first?.channel == "flow_published" && got.first?.payload == "hotline v4")
        #expect(throws: PostgresError.self) { try a.listen("x; drop table calls") }
    }

    @Test func parametersAreNeverSQL() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        let db = try PostgresConnection(url: pg.url)
        try Migrator.bundled().migrate(db)
        let evil = "x'); DROP TABLE calls; --"
        try db.execute("INSERT INTO skills (name, description) VALUES ($1, $2)", [evil, "quote ' and \\ backslash"])
        let r = try db.execute("SELECT description FROM skills WHERE name = $1", [evil])
        #expect(r.value(0, "description") == "quote ' and \\ backslash")
        #expect(try pg.query("select count(*) from calls") == "0", "calls still exists")
        do {
            try db.execute("INSERT INTO skills (name) VALUES ($1)", [evil])
            Issue.record("duplicate accepted")
        } catch let e as PostgresError {
            #expect(e.sqlState == "23505" && !e.isConnectionError)
        }
    }

    static func sampleCall(_ i: Int, at t: Double) -> CallRecord {
        var c = CallRecord(channelID: "ch-\(i)", flowServer: "flow-1", direction: "inbound", caller: "1380000\(i)", called: "4000",
                           arrivedAt: t, endedAt: t + 120, disposition: "answered")
        c.answeredAt = t + 1
        c.flow = "hotline"
        c.flowVersion = 3
        c.queue = "sales"
        c.queuedAt = t + 20
        c.offeredAt = t + 25
        c.agent = "A100"
        c.agentAnsweredAt = t + 30
        c.endedBy = "caller"
        c.holdSeconds = 10
        c.wrapupSeconds = 15
        c.transfers = 1
        c.recording = "/rec/\(i).wav"
        c.legs = [.init(leg: 1, channelID: "ch-\(i)", party: c.caller, role: "caller", startedAt: t, answeredAt: t + 1, endedAt: t + 120, cause: "caller hung up"),
                  .init(leg: 2, channelID: "ch-a\(i)", party: "A100", role: "agent", startedAt: t + 25, answeredAt: t + 30, endedAt: t + 120)]
        c.events = [.init(at: t, kind: "arrived"), .init(at: t + 1, kind: "flow-node", detail: ["node": "welcome", "flow": "hotline"]),
                    .init(at: t + 20, kind: "queued", detail: ["queue": "sales"]), .init(at: t + 120, kind: "ended", detail: ["by": "caller"])]
        return c
    }

    @Test func everyWriterRoundTrips() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        try Migrator.bundled().migrate(try PostgresConnection(url: pg.url))
        let dir = TestSupport.temporaryDirectory("spool")
        defer { try? FileManager.default.removeItem(at: dir) }
        let w = try RecordWriter(databaseURL: pg.url, spoolDirectory: dir, logger: TestSupport.logger)
        w.start()
        defer { w.stop() }
        let t0 = 1_795_000_000.25
        let call = Self.sampleCall(1, at: t0)
        w.submit(.call(call))
        w.submit(.recording(RecordingRecord(path: "/rec/1.wav", callID: call.callID, channelID: "ch-1", startedAt: t0 + 30, durationMs: 90_000, reason: "hangup")))
        w.submit(.agentState(AgentStateRecord(agent: "A100", state: "not-ready", reason: "lunch", startedAt: t0, endedAt: t0 + 600)))
        w.submit(.queueEvent(QueueEventRecord(queue: "sales", callID: call.callID, kind: "entered", at: t0 + 20, detail: ["priority": "5"])))
        w.submit(.queueEvent(QueueEventRecord(queue: "sales", callID: call.callID, kind: "answered", at: t0 + 30, detail: ["agent": "A100"])))
        #expect(w.waitUntilWritten(timeout: 20), "\(w.currentStatus)")
        let row = try pg.query("""
            select caller||'|'||called||'|'||disposition||'|'||queue||'|'||agent||'|'||flow||'|'||flow_version||'|'||transfers||'|'||
                   extract(epoch from arrived_at)::numeric(20,2)||'|'||extract(epoch from agent_answered_at - queued_at)::int||'|'||hold_seconds
            from calls where call_id = '\(call.callID.uuidString)'
            """)
        #expect(row == "13800001|4000|answered|sales|A100|hotline|3|1|1795000000.25|10|10", "\(row)")
        #expect(try pg.query("select string_agg(role||':'||party, ',' order by leg) from call_legs") == "caller:13800001,agent:A100")
        #expect(try pg.query("select string_agg(kind, ',' order by seq) from call_events") == "arrived,flow-node,queued,ended")
        #expect(try pg.query("select detail->>'node' from call_events where kind = 'flow-node'") == "welcome")
        #expect(try pg.query("select duration_ms||reason from recordings") == "90000hangup")
        #expect(try pg.query("select state||':'||reason||':'||extract(epoch from ended_at - started_at)::int from agent_states") == "not-ready:lunch:600")
        #expect(try pg.query("select string_agg(kind||'/'||coalesce(detail->>'priority', detail->>'agent'), ',' order by at) from queue_events where call_id = '\(call.callID.uuidString)'")
                == "entered/5,answered/A100")
        // The agent's wrap-up, known after the record was written, lands on it.
        w.submit(.wrapUp(WrapUpRecord(callID: call.callID, agent: "A100", seconds: 12.5)))
        #expect(w.waitUntilWritten(timeout: 20))
        #expect(try pg.query("select wrapup_seconds from calls where call_id = '\(call.callID.uuidString)'") == "12.5")
        // The same record again (a replay) is not doubled.
        w.submit(.call(call))
        #expect(w.waitUntilWritten(timeout: 20))
        #expect(try pg.query("select count(*) from calls") == "1")
        #expect(try pg.query("select count(*) from call_events") == "4")
        // Campaign attempts (a DNC refusal also in dnc_refusals) and a disposition; replayed, nothing doubles.
        let answered = CampaignAttemptRecord(campaign: "spring", numberID: 0, number: "13800000001", attempt: 1, outcome: "answered", detail: "", agent: "A100", at: t0)
        let refused = CampaignAttemptRecord(campaign: "spring", numberID: 1, number: "13800000002", attempt: 0, outcome: "dnc", detail: "do-not-call", agent: nil, at: t0)
        for _ in 0..<2 {
            w.submit(.campaignAttempt(answered))
            w.submit(.campaignAttempt(refused))
        }
        w.submit(.campaignDisposition(CampaignDispositionRecord(campaign: "spring", numberID: 0, attempt: 1, agent: "A100", code: "sale", note: "renewed")))
        #expect(w.waitUntilWritten(timeout: 20))
        #expect(try pg.query("select string_agg(outcome||':'||coalesce(agent,'-')||':'||coalesce(disposition,'-'), ',' order by number_id) from campaign_attempts")
                == "answered:A100:sale,dnc:-:-")
        #expect(try pg.query("select count(*)||' '||min(number) from dnc_refusals") == "1 13800000002")
    }

    @Test func spoolSurvivesATornTailAndKeepsOrder() throws {
        let dir = TestSupport.temporaryDirectory("spool")
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            let s = try Spool(directory: dir)
            try s.append([Array("one".utf8), Array("two".utf8)])
            s.seal()
            try s.append([Array("three".utf8)])
            s.seal()
        }
        // A crash mid-write: half a record at the end of the newest segment.
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(files.count == 2)
        let last = dir.appendingPathComponent(files[1])
        let h = try FileHandle(forWritingTo: last)
        h.seekToEndOfFile()
        h.write(Data(Array("HSR1".utf8) + [0, 0, 0, 40, 1, 2, 3, 4, 9, 9]))
        h.closeFile()
        let s = try Spool(directory: dir)
        #expect(s.warnings.count == 1 && s.warnings[0].contains("torn"), "\(s.warnings)")
        let first = try #require(try s.oldest())
        #expect(first.records.map { String(decoding: $0, as: UTF8.self) } == ["one", "two"])
        s.remove(first.segment)
        let second = try #require(try s.oldest())
        #expect(second.records.map { String(decoding: $0, as: UTF8.self) } == ["three"])
        s.remove(second.segment)
        #expect(s.isEmpty)
        // A flipped bit in a body: that record and what follows are dropped with a warning.
        try s.append([Array("four".utf8), Array("five".utf8)])
        s.seal()
        let f = dir.appendingPathComponent(try FileManager.default.contentsOfDirectory(atPath: dir.path)[0])
        var bytes = try [UInt8](Data(contentsOf: f))
        bytes[bytes.count - 3] ^= 0x40
        try Data(bytes).write(to: f)
        let s2 = try Spool(directory: dir)
        #expect(s2.warnings.first?.contains("checksum") == true, "\(s2.warnings)")
        #expect(try s2.oldest()?.records.map { String(decoding: $0, as: UTF8.self) } == ["four"])
    }

    /// PostgreSQL stopped while records arrive: they wait in the spool and are written once,
    /// in full, when it returns.
    @Test func databaseOutageSpoolsAndReplays() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        try Migrator.bundled().migrate(try PostgresConnection(url: pg.url))
        let dir = TestSupport.temporaryDirectory("spool")
        defer { try? FileManager.default.removeItem(at: dir) }
        let w = try RecordWriter(databaseURL: pg.url, spoolDirectory: dir, logger: TestSupport.logger)
        w.start()
        defer { w.stop() }
        let t0 = Date().timeIntervalSince1970
        for i in 0..<50 { w.submit(.call(Self.sampleCall(i, at: t0 + Double(i)))) }
        #expect(w.waitUntilWritten(timeout: 20))
        pg.pause()
        for i in 50..<150 { w.submit(.call(Self.sampleCall(i, at: t0 + Double(i)))) }
        #expect(TestSupport.waitUntil(10) { w.currentStatus.pendingSegments > 0 && !w.currentStatus.databaseUp }, "\(w.currentStatus)")
        try pg.start()
        #expect(w.waitUntilWritten(timeout: 30), "\(w.currentStatus)")
        #expect(try pg.query("select count(*), count(distinct call_id) from calls") == "150|150")
        #expect(try pg.query("select count(*) from call_events") == "600")
    }
}

@Suite(.serialized) struct CustomerTests {
    @Test func lookUpCreateEditAndHistory() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        let db = try PostgresConnection(url: pg.url)
        try Migrator.bundled().migrate(db)
        var c = try CustomerStore.save(Customer(account: "ACC-1001", name: "王小明", phones: ["+86 138-0000-1111", "010 6666 8888"],
                                                fields: ["vip": "gold", "city": "北京"]), db)
        #expect(c.id != nil && c.phones == ["+8613800001111", "01066668888"])
        #expect(try CustomerStore.find(phone: "+86 13800001111", db).map(\.id) == [c.id])
        #expect(try CustomerStore.find(phone: "01066668888", db).first?.fields["city"] == "北京")
        #expect(try CustomerStore.find(account: "ACC-1001", db)?.name == "王小明")
        #expect(try CustomerStore.find(phone: "999", db).isEmpty)
        c.fields["vip"] = "platinum"
        c.phones.append("13900002222")
        c = try CustomerStore.save(c, db)
        #expect(try CustomerStore.get(id: c.id!, db)?.fields == ["vip": "platinum", "city": "北京"])
        #expect(try CustomerStore.find(phone: "13900002222", db).count == 1)
        // A duplicate account is refused (unique), with its SQLSTATE.
        #expect(throws: PostgresError.self) { try CustomerStore.save(Customer(account: "ACC-1001", name: "x", phones: []), db) }
        // History: calls from any of the customer's numbers, newest first.
        let t = 1_795_000_000.0
        let dir = TestSupport.temporaryDirectory("spool")
        defer { try? FileManager.default.removeItem(at: dir) }
        let w = try RecordWriter(databaseURL: pg.url, spoolDirectory: dir, logger: TestSupport.logger)
        w.start()
        defer { w.stop() }
        for (i, from) in ["+8613800001111", "13900002222", "555"].enumerated() {
            w.submit(.call(CallRecord(channelID: "h\(i)", flowServer: "f", direction: "inbound", caller: from, called: "4000",
                                      arrivedAt: t + Double(i) * 60, endedAt: t + Double(i) * 60 + 30, disposition: "self-service")))
        }
        #expect(w.waitUntilWritten(timeout: 20))
        let h = try CustomerStore.history(of: c, db)
        #expect(h.map(\.caller) == ["13900002222", "+8613800001111"])
        #expect(h.first?.durationSeconds == 30)
    }
}

@Suite struct PasswordTests {
    @Test func pbkdf2MatchesTheReferenceVectorAndHashesVerify() {
        // PBKDF2-HMAC-SHA256("password", "salt", 4096, 32) — the published test vector.
        #expect(Crypto.hex(Crypto.pbkdf2SHA256(password: "password", salt: Array("salt".utf8), iterations: 4096))
                == "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a")
        let h = PasswordHash.make("correct horse", iterations: 10_000)
        #expect(h.hasPrefix("pbkdf2-sha256$10000$") && !h.contains("correct"))
        #expect(PasswordHash.verify("correct horse", against: h))
        #expect(!PasswordHash.verify("correct horsE", against: h))
        #expect(!PasswordHash.verify("x", against: "garbage"))
        #expect(!PasswordHash.verify("x", against: "pbkdf2-sha256$10$00$00"), "absurd iteration counts are refused")
        #expect(PasswordHash.make("same", iterations: 10_000) != PasswordHash.make("same", iterations: 10_000), "salted")
    }
}

@Suite(.serialized) struct OperatorTests {
    @Test func operatorsWithRolesSkillsAndHashedPasswords() throws {
        let pg = try PrivatePostgres()
        defer { pg.stop() }
        let db = try PostgresConnection(url: pg.url)
        try Migrator.bundled().migrate(db)
        let agent = Operator(workCode: "A100", name: "张伟", roles: ["agent"], skills: ["mandarin": 9, "billing": 6], queues: ["sales", "support"], sipExtension: "1001")
        try UserStore.create(agent, password: "s3cret-pass", db, iterations: 10_000)
        #expect(try pg.query("select count(*) from users where password_hash like '%s3cret%'") == "0", "never stored in clear")
        let ok = try #require(try UserStore.authenticate(workCode: "A100", password: "s3cret-pass", db))
        #expect(ok.roles == ["agent"] && ok.skills == ["mandarin": 9, "billing": 6] && ok.queues == ["sales", "support"] && ok.sipExtension == "1001" && ok.name == "张伟")
        #expect(try UserStore.authenticate(workCode: "A100", password: "wrong-pass", db) == nil)
        #expect(try UserStore.authenticate(workCode: "nobody", password: "s3cret-pass", db) == nil)
        #expect(throws: PostgresError.self) { try UserStore.create(agent, password: "another-pass", db, iterations: 10_000) }   // duplicate work code
        #expect(throws: PostgresError.self) { try UserStore.create(Operator(workCode: "X1", name: "x", roles: ["janitor"]), password: "long-enough", db, iterations: 10_000) }
        #expect(throws: UserStore.UserError.self) { try UserStore.create(Operator(workCode: "X2", name: "x", roles: ["agent"], skills: ["a": 11]), password: "long-enough", db) }
        #expect(throws: UserStore.UserError.self) { try UserStore.create(Operator(workCode: "X3", name: "x", roles: ["agent"]), password: "short", db) }
        try UserStore.setPassword(workCode: "A100", password: "new-pass-123", db)
        #expect(try UserStore.authenticate(workCode: "A100", password: "new-pass-123", db) != nil)
        #expect(try UserStore.authenticate(workCode: "A100", password: "s3cret-pass", db) == nil)
    }
}

@Suite struct PostgresErrorTextTests {
    /// libpq's multi-line messages become one line (the log is one line per event).
    @Test func oneLine() {
        #expect(PostgresError(message: "could not connect to server\n\tIs the server running?\n", sqlState: "").message
                == "could not connect to server | Is the server running?")
    }
}
