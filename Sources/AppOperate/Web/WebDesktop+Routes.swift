import AppOperateKit
import Foundation
import Hummingbird
import HummingbirdWebSocket
import HTTPTypes
import Metrics
import Protocol

/// The desktop's routes: pages (role-checked), the JSON API (CSRF-checked on every state
/// change; the Flow-Server checks every role again) and the WebSocket of events.
extension WebDesktop {
    static let pages: [String: (file: String, roles: Set<String>)] = [
        "/agent": ("agent.html", ["agent"]),
        "/supervisor": ("supervisor.html", ["supervisor", "admin"]),
        "/admin": ("admin.html", ["admin"]),
    ]

    static func home(_ s: WebSession) -> String {
        s.roles.contains("agent") ? "/agent" : s.roles.contains("supervisor") ? "/supervisor" : s.roles.contains("admin") ? "/admin" : "/login"
    }

    func routes(_ router: Router<BasicWebSocketRequestContext>) {
        router.get("/") { [self] request, _ -> Response in
            Response(status: .seeOther, headers: [.location: session(request).map(Self.home) ?? "/login"])
        }
        router.get("/login") { [self] _, _ in assets.response("login.html") }
        for (path, page) in Self.pages {
            router.get(RouterPath(path)) { [self] request, _ -> Response in
                guard let s = session(request) else { return Response(status: .seeOther, headers: [.location: "/login"]) }
                guard s.has(anyOf: page.roles) else {
                    logger.notice("web: \(s.code) (\(s.roles.sorted().joined(separator: ","))) refused \(path)")
                    var r = assets.response("forbidden.html")
                    r.status = .forbidden
                    return r
                }
                return assets.response(page.file)
            }
        }
        router.get("/static/:file") { [self] _, context -> Response in
            guard let f = context.parameters.get("file"), !f.hasSuffix(".html") else { return Response(status: .notFound) }
            return assets.response(f)
        }
        router.get("/healthz") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n"))) }
        loginRoutes(router)
        apiRoutes(router)
        webSocketRoute(router)
    }

    // MARK: login

    func loginRoutes(_ router: Router<BasicWebSocketRequestContext>) {
        // The login form's CSRF token: a cookie the page echoes in a header (double submit).
        router.get("/api/login-token") { [self] _, _ -> Response in
            let t = WebSecurity.token()
            var r = Self.json(["token": t])
            r.setCookie(Cookie(name: Self.loginCookie, value: t, maxAge: 3600, path: "/", secure: secure, httpOnly: true, sameSite: .strict))
            return r
        }
        router.post("/api/login") { [self] request, _ -> Response in
            guard let cookie = request.cookies[Self.loginCookie]?.value, let header = request.headers[Self.csrfHeader], WebSecurity.same(cookie, header) else {
                return Self.json(["error": "missing or wrong CSRF token"], status: .forbidden)
            }
            let b = try await Self.body(request)
            let code = (b["code"] as? String ?? "").trimmingCharacters(in: .whitespaces)
            let password = b["password"] as? String ?? ""
            guard !code.isEmpty, !password.isEmpty else { return Self.json(["error": "work code and password, please"], status: .badRequest) }
            if let wait = sessions.lockedOut(code) {
                Counter(label: "hotline_web_logins_total", dimensions: [("result", "locked")]).increment()
                var r = Self.json(["error": "too many failed logins for \(code): try again in \(wait / 60 + 1) minutes"], status: .tooManyRequests)
                r.headers[.retryAfter] = String(wait)
                return r
            }
            let link: OperatorLink
            do {
                link = try await OperatorLink.open(options.flow, loop: links.loop, logger: logger)
            } catch {
                return Self.json(["error": "the Flow-Server does not answer: \(error)"], status: .serviceUnavailable)
            }
            let login = OperatorLogin(workCode: code, password: password, sipExtension: b["extension"] as? String ?? "",
                                      mode: (b["mode"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "console", attach: b["attach"] as? Bool ?? false)
            do {
                let reply = try await link.request(login, expecting: OperatorSession.self, timeoutMs: 15_000)
                let s = WebSession(code: reply.workCode, name: reply.name, roles: reply.roles, state: reply.state, link: link)
                sessions.succeeded(code)
                wire(s)
                sessions.add(s)
                Counter(label: "hotline_web_logins_total", dimensions: [("result", "ok")]).increment()
                logger.info("web: \(s.code) logged in (\(s.roles.sorted().joined(separator: ",")))")
                var r = Self.json(["home": Self.home(s), "code": s.code, "name": s.name, "roles": s.roles.sorted()])
                r.setCookie(Cookie(name: Self.sessionCookie, value: s.id, path: "/", secure: secure, httpOnly: true, sameSite: .strict))
                r.setCookie(Cookie(name: Self.loginCookie, value: "", maxAge: 0, path: "/", secure: secure, httpOnly: true, sameSite: .strict))
                return r
            } catch let e as ProtocolError {
                link.close()
                if e.code == .authenticationFailed {
                    sessions.failed(code)
                    Counter(label: "hotline_web_logins_total", dimensions: [("result", "refused")]).increment()
                    logger.notice("web: login refused for \(code)")
                }
                return Self.refusal(e)
            }
        }
        router.post("/api/logout") { [self] request, _ -> Response in
            let s = try checkedSession(request)
            if s.roles.contains("agent") { _ = try? await s.link.request(AgentCommand(action: "logout"), expecting: AgentReply.self, timeoutMs: 5000) }
            sessions.remove(s, why: "logged out")
            var r = Self.json(["home": "/login"])
            r.setCookie(Cookie(name: Self.sessionCookie, value: "", maxAge: 0, path: "/", secure: secure, httpOnly: true, sameSite: .strict))
            return r
        }
    }

    /// Events from the session's link become JSON for its WebSockets.
    func wire(_ s: WebSession) {
        let cache = boardText
        s.link.onEvent { [weak s] frame in
            guard let s else { return }
            let arrived = Date().timeIntervalSince1970
            switch frame.type {
            case AgentEventMessage.messageType:
                guard let e = try? AgentEventMessage.decode(frame.body) else { return }
                s.setState(e.state)
                s.push(WebJSON.string(["type": "agent", "kind": e.kind, "state": e.state, "fields": e.fields, "at_ms": Int(arrived * 1000)]))
                Self.agentEvents.increment()
            case BoardPush.messageType:
                // Every supervisor's link carries the same pushes: decoded and written once.
                guard let text = cache.text(for: frame.body) else { return }
                s.push(text + ",\"at_ms\":\(Int(arrived * 1000))}")
                Self.boardEvents.increment()
            default:
                break
            }
        }
        s.link.onClose { [weak self, weak s] why in
            guard let self, let s else { return }
            self.logger.notice("web: \(s.code)'s link to the Flow-Server closed: \(why)")
            self.sessions.remove(s, why: "the link to the Flow-Server closed: \(why)")
        }
    }

    // MARK: API

    func apiRoutes(_ router: Router<BasicWebSocketRequestContext>) {
        router.get("/api/session") { [self] request, _ -> Response in
            guard let s = session(request) else { return Self.json(["error": "log in first"], status: .unauthorized) }
            return Self.json(["code": s.code, "name": s.name, "roles": s.roles.sorted(), "state": s.agentState, "csrf": s.csrf, "home": Self.home(s)])
        }
        router.post("/api/agent") { [self] request, _ -> Response in
            let s = try checkedSession(request)
            let b = try await Self.body(request)
            guard let action = b["action"] as? String, !action.isEmpty else { return Self.json(["error": "action missing"], status: .badRequest) }
            return await call(s, AgentCommand(action: action, arguments: Self.strings(b["args"])), AgentReply.self) { r in
                s.setState(r.state)
                return WebJSON.reply(r)
            }
        }
        router.post("/api/supervise") { [self] request, _ -> Response in
            let s = try checkedSession(request)
            guard s.has(anyOf: ["supervisor", "admin"]) else { return Self.json(["error": "permission denied: supervisors only"], status: .forbidden) }
            let b = Self.strings(try await Self.body(request))
            guard let action = b["action"].flatMap(SupervisorCommand.Action.init(word:)), let agent = b["agent"], !agent.isEmpty else {
                return Self.json(["error": "action (\(SupervisorCommand.Action.allCases.map(\.word).joined(separator: ", "))) and agent, please"], status: .badRequest)
            }
            let m = SupervisorCommand(action: action, agent: agent, sipExtension: b["extension"] ?? "", reason: b["reason"] ?? "")
            return await call(s, m, AgentReply.self) { WebJSON.reply($0) }
        }
        router.get("/api/board") { [self] request, _ -> Response in
            guard let s = session(request) else { return Self.json(["error": "log in first"], status: .unauthorized) }
            return await call(s, BoardRequest(watch: false), BoardView.self) { WebJSON.board($0) }
        }
        router.get("/api/customer") { [self] request, _ -> Response in
            guard let s = session(request) else { return Self.json(["error": "log in first"], status: .unauthorized) }
            let q = request.uri.queryParameters
            let m = CustomerLookup(phone: q.get("phone") ?? "", account: q.get("account") ?? "", id: q.get("id").flatMap { UInt64($0) } ?? 0)
            return await call(s, m, CustomerList.self) { ["customers": $0.customers.map(WebJSON.customer)] }
        }
        router.post("/api/customer") { [self] request, _ -> Response in
            let s = try checkedSession(request)
            let b = try await Self.body(request)
            let c = CustomerMessage(id: (b["id"] as? NSNumber)?.uint64Value ?? UInt64(b["id"] as? String ?? "") ?? 0,
                                    account: b["account"] as? String ?? "", name: b["name"] as? String ?? "",
                                    phones: (b["phones"] as? [String]) ?? [], fields: Self.strings(b["fields"]))
            return await call(s, CustomerSave(customer: c), CustomerList.self) { ["customers": $0.customers.map(WebJSON.customer)] }
        }
        router.post("/api/admin") { [self] request, _ -> Response in
            let s = try checkedSession(request)
            guard s.has(anyOf: ["admin"]) else { return Self.json(["error": "permission denied: admins only"], status: .forbidden) }
            let b = try await Self.body(request)
            guard let action = b["action"] as? String else { return Self.json(["error": "action missing"], status: .badRequest) }
            let m = AdminRequest(action: action, arguments: Self.strings(b["arguments"]), password: b["password"] as? String ?? "")
            return await call(s, m, AdminReply.self, timeoutMs: 60_000) { WebJSON.table(summary: $0.summary, columns: $0.columns, rows: $0.rows) }
        }
        router.post("/api/flow") { [self] request, _ -> Response in
            let s = try checkedSession(request)
            guard s.has(anyOf: ["admin", "supervisor"]) else { return Self.json(["error": "permission denied"], status: .forbidden) }
            let b = Self.strings(try await Self.body(request))
            let m = FlowAdminRequest(action: b["action"] ?? "list", kind: b["kind"] ?? "flow", name: b["name"] ?? "",
                                     version: UInt32(b["version"] ?? "") ?? 0, source: b["source"] ?? "", format: b["format"] ?? "text")
            return await call(s, m, FlowAdminResult.self, timeoutMs: 60_000) { ["text": $0.text, "version": $0.version] }
        }
        router.get("/api/report") { [self] request, _ -> Response in
            guard let s = session(request) else { return Self.json(["error": "log in first"], status: .unauthorized) }
            let q = request.uri.queryParameters
            let offset = Int64(TimeZone.current.secondsFromGMT())
            let days = max(1, min(31, Int(q.get("days") ?? "1") ?? 1))
            let now = Date().timeIntervalSince1970
            let midnight = ((now + Double(offset)) / 86_400).rounded(.down) * 86_400 - Double(offset)
            let from = midnight - Double(days - 1) * 86_400
            let m = StatisticsRequest(fromMs: UInt64(from * 1000), toMs: UInt64((midnight + 86_400) * 1000), interval: q.get("interval") ?? "hour",
                                      grouping: q.get("by") ?? "queue", utcOffsetSeconds: offset)
            return await call(s, m, StatisticsReport.self, timeoutMs: 60_000) { r in
                ["rows": r.rows.map { x -> [String: Any] in
                    ["start_ms": x.startMs, "key": x.key, "offered": x.offered, "answered": x.answered, "abandoned": x.abandoned,
                     "service_level": x.serviceLevel, "asa_seconds": x.asaSeconds, "aht_seconds": x.ahtSeconds, "abandon_rate": x.abandonRate]
                }]
            }
        }
    }

    // MARK: WebSocket

    func webSocketRoute(_ router: Router<BasicWebSocketRequestContext>) {
        router.ws("/ws", shouldUpgrade: { [self] request, _ in
            // Same-origin pages only (a cross-site page cannot ride the cookie), logged in.
            if let origin = request.headers[.origin], let host = request.head.authority,
               URL(string: origin)?.host.map({ host.hasPrefix($0) }) != true {
                logger.notice("web: WebSocket from origin \(origin) refused")
                return .dontUpgrade
            }
            return session(request) == nil ? .dontUpgrade : .upgrade([:])
        }, onUpgrade: { [self] inbound, outbound, context in
            guard let s = session(context.request) else { return }
            let (id, stream) = s.attach()
            sessions.updateGauges()
            defer {
                s.detach(id)
                sessions.updateGauges()
            }
            // Supervisors get the board: the whole of it now, then its changes.
            if s.has(anyOf: ["supervisor", "admin"]) {
                if s.startWatchingBoard() {
                    if let v = try? await s.link.request(BoardRequest(watch: true), expecting: BoardView.self) { s.push(WebJSON.string(WebJSON.board(v))) }
                } else if let v = try? await s.link.request(BoardRequest(watch: false), expecting: BoardView.self) {
                    s.push(WebJSON.string(WebJSON.board(v)))
                }
            }
            try await outbound.write(.text(WebJSON.string(["type": "hello", "code": s.code, "state": s.agentState])))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await text in stream {
                        try await outbound.write(.text(text))
                        if let at = Self.arrival(text) {
                            Self.eventDelay.recordNanoseconds(Int64(max(0, Date().timeIntervalSince1970 * 1000 - at) * 1_000_000))
                        }
                    }
                }
                group.addTask {
                    // The page sends nothing we need; reading tells us when it goes away.
                    for try await _ in inbound {}
                    s.detach(id)
                }
                try await group.next()
                group.cancelAll()
            }
        })
    }

    // Made once (after the metrics bootstrap: statics are initialised at first use).
    static let eventDelay = Metrics.Timer(label: "hotline_web_event_delay_seconds")
    static let boardEvents = Counter(label: "hotline_web_events_total", dimensions: [("kind", "board")])
    static let agentEvents = Counter(label: "hotline_web_events_total", dimensions: [("kind", "agent")])

    /// The `at_ms` of an event (when App-Operate received it), without parsing the JSON.
    static func arrival(_ text: String) -> Double? {
        guard let r = text.range(of: "\"at_ms\":") else { return nil }
        return Double(text[r.upperBound...].prefix { $0.isNumber })
    }
}
