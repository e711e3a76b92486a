import Foundation
import Logging
import Protocol

/// Runs flows on the calls the CT-Server offers: picks the flow from the mapping table,
/// answers, and turns each FlowRun action into a CT-Server command and each completion event
/// back into the run. One small object per call; no threads.
final class FlowCalls {
    final class Call {
        let channelID: String
        var run: FlowRun
        let conn: Connection
        /// Handed over to this Flow-Server for a queue: it is not handed on again.
        var handedOver = false
        init(channelID: String, run: FlowRun, conn: Connection) {
            self.channelID = channelID
            self.run = run
            self.conn = conn
        }
    }

    let library: FlowLibrary
    let recorder: CallRecorder
    let logger: Logger
    let loop: EventLoop
    /// Customer look-up off the loop (nil: no database; look-ups find nobody).
    var lookup: ((_ phone: String?, _ account: String?, _ done: @escaping ([String: String]?) -> Void) -> Void)?
    private(set) var calls: [String: Call] = [:]
    var callCount: Int { calls.count }
    private(set) var started = 0
    /// Stores a scheduled call (the schedule node): to, due (Unix seconds), flow, variables,
    /// who asked; calls back with whether it was stored.
    var schedule: ((String, Double, String, [String: String], String, @escaping (Bool) -> Void) -> Void)?
    /// The ACD (queue, callback and transfer-to-agent nodes).
    var distributor: CallDistributor?
    /// Calls' recordings (a flow's `recording:` policy).
    var recordings: CallRecordings?
    /// Channels an originate node dialled to bridge to a caller → that caller's call.
    private var bridgedOut: [String: Call] = [:]

    init(library: FlowLibrary, recorder: CallRecorder, loop: EventLoop, logger: Logger) {
        self.library = library
        self.recorder = recorder
        self.loop = loop
        self.logger = logger
    }

    /// What a call's conditions see: its numbers, the clock and the holiday calendar.
    private func environment(caller: String, called: String) -> FlowRun.Environment {
        FlowRun.Environment(caller: caller, called: called, holidays: library.mapping.holidays)
    }

    /// The flow the mapping table gives a call, with its current version.
    private func mappedFlow(_ e: ChannelEvent, _ env: FlowRun.Environment) -> (name: String, def: FlowDefinition, version: Int)? {
        guard let name = library.mapping.flow(caller: e.caller, called: e.called, line: e.line.isEmpty ? "sip" : e.line, environment: env),
              let (def, version) = library.flow(named: name) else { return nil }
        return (name, def, version)
    }

    /// An offered call: answer it into its flow, or return false when no flow maps it.
    func offered(_ e: ChannelEvent, conn: Connection) -> Bool {
        let env = environment(caller: e.caller, called: e.called)
        guard let (name, def, version) = mappedFlow(e, env) else { return false }
        calls[e.channelID] = Call(channelID: e.channelID, run: FlowRun(flow: def, version: version, environment: env), conn: conn)
        recorder.flowStarted(e.channelID, flow: name, version: version)
        conn.request(AnswerChannel(channelID: e.channelID), expecting: ChannelCommandResult.self) { [weak self] r in
            if case .failure(let err) = r {
                self?.logger.warning("channel \(e.channelID): answer failed: \(err)")
                self?.calls.removeValue(forKey: e.channelID)
            }
        }
        logger.info("channel \(e.channelID): \(e.caller) → \(e.called) runs flow \(name) v\(version)")
        return true
    }

    /// The CT-Server link is gone: the flows stop (their channels are the CT-Server's now).
    func linkLost() -> Int {
        let n = calls.count
        calls = [:]
        bridgedOut = [:]
        return n
    }

    func channelEvent(_ e: ChannelEvent) {
        if let caller = bridgedOut[e.channelID] {
            outboundLegEvent(caller, e)
            return
        }
        guard let call = calls[e.channelID] else { return }
        switch e.kind {
        case .established:
            started += 1
            if e.direction == .outbound { recorder.outbound(e.channelID, caller: e.caller, called: e.called, at: Double(e.timestampMs) / 1000) }
            recordings?.flowStarted(e.channelID, link: CTLink(call.conn), policy: library.flow(named: call.run.flowName)?.0.recording)
            perform(call, call.run.start())
        case .transferred:
            perform(call, call.run.handle(.transferred(ok: true)))
        case .transferFailed:
            perform(call, call.run.handle(.transferred(ok: false)))
        case .cleared, .failed:
            recorder.flowSteps(e.channelID, call.run.trace)
            // A survey flow's collect node keeps the caller's key in `csat` (docs/flows.md).
            if let v = call.run.variables["csat"], let score = Int(v) { recorder.csat(e.channelID, score) }
            calls.removeValue(forKey: e.channelID)
            for (leg, c) in bridgedOut where c === call {
                bridgedOut.removeValue(forKey: leg)
                request(call, HangupChannel(channelID: leg, cause: "caller hung up")) {}
            }
        default:
            break
        }
    }

    func mediaEvent(_ m: MediaEventMessage) {
        guard let call = calls[m.channelID] else { return }
        switch m.kind {
        case .playDone: perform(call, call.run.handle(.playDone(tag: m.tag, reason: m.reason)))
        case .digitsCollected: perform(call, call.run.handle(.digitsCollected(tag: m.tag, digits: m.digits, reason: m.reason)))
        case .recordDone: perform(call, call.run.handle(.recordDone(tag: m.tag, path: m.path, reason: m.reason)))
        case .bridgeEnded, .failed, .talkingStarted, .talkingStopped: break
        }
    }

    /// A leg an originate node dialled for this caller.
    private func outboundLegEvent(_ call: Call, _ e: ChannelEvent) {
        switch e.kind {
        case .established:
            request(call, StopMedia(channelID: call.channelID, what: .playAndCollect)) {}
            request(call, BridgeChannels(channelID: call.channelID, otherChannelID: e.channelID)) {}
            recorder.event(call.channelID, kind: "originate-answered", detail: ["to": e.called, "channel": e.channelID], at: Double(e.timestampMs) / 1000)
            perform(call, call.run.handle(.originated(ok: true)))
        case .failed:
            bridgedOut.removeValue(forKey: e.channelID)
            perform(call, call.run.handle(.originated(ok: false)))
        case .cleared:
            bridgedOut.removeValue(forKey: e.channelID)
            guard calls[call.channelID] === call else { return }
            request(call, UnbridgeChannel(channelID: call.channelID)) {}
            perform(call, call.run.handle(.farEndCleared))
        default:
            break
        }
    }

    /// The call waits in this server's ACD. Its safe point (the queue node and its variables) is
    /// kept at the CT-Server, so that if this Flow-Server dies the one that adopts the call puts
    /// it straight back in the queue; it is cleared when the call leaves the queue for the flow.
    private func enqueueHere(_ call: Call, _ q: FlowNode.Queue, variables: [String: String]) {
        guard let distributor else { return }
        let id = call.channelID
        let env = call.run.environment
        request(call, ChannelData(channelID: id, data: safePoint(call, queue: q.queue, variables: variables))) {}
        func clear() { request(call, ChannelData(channelID: id, data: [:])) {} }
        distributor.enqueue(channelID: id, conn: CTLink(call.conn), caller: env.caller, called: env.called, node: q, variables: variables,
                            onOutcome: { [weak self] outcome in
                                guard let self, self.calls[id] === call else { return }
                                clear()
                                self.perform(call, call.run.handle(.queueOutcome(outcome)))
                            },
                            onFlow: { [weak self] name in
                                clear()
                                self?.restart(call, flow: name)
                            },
                            onHandOver: { [weak self] server in self?.handOver(call, to: server, queue: q.queue, variables: variables) })
    }

    private func safePoint(_ call: Call, queue: String, variables: [String: String]) -> [String: String] {
        var data: [String: String] = ["handover": "queue", "flow": call.run.flowName, "version": String(call.run.flowVersion),
                                      "node": call.run.current, "queue": queue, "queued_ms": String(Int(Date().timeIntervalSince1970 * 1000))]
        for (k, v) in variables { data["var.\(k)"] = v }
        return data
    }

    /// The queue's agents are logged in on another Flow-Server: the call goes there, to resume
    /// at this queue node (its variables travel with it). If the hand-over fails, it queues here.
    private func handOver(_ call: Call, to server: String, queue: String, variables: [String: String]) {
        let id = call.channelID
        let data = safePoint(call, queue: queue, variables: variables)
        logger.info("channel \(id): no agent here for \(queue); handing over to \(server)")
        call.conn.request(HandOverChannel(channelID: id, flowServer: server, data: data), expecting: ChannelCommandResult.self) { [weak self] r in
            guard let self, self.calls[id] === call else { return }
            switch r {
            case .success:
                self.recorder.flowSteps(id, call.run.trace)
                _ = self.recorder.handedOver(id)
                self.calls.removeValue(forKey: id)
            case .failure(let e):
                self.logger.warning("channel \(id): hand-over to \(server) failed (\(e.reason)); queueing here")
                guard case .queue(let q)? = self.library.flow(named: call.run.flowName)?.0.nodes[call.run.current]?.kind else { return }
                enqueueHere(call, q, variables: variables)
            }
        }
    }

    /// A channel this Flow-Server now owns (ChannelEvent Adopted): a call handed over for a
    /// queue resumes at its queue node; a bridged pair is kept together until one side hangs up;
    /// an inbound call in IVR starts its flow again; anything else (an agent's phone still
    /// ringing for a lost server) is hung up.
    func adopted(_ e: ChannelEvent, conn: Connection) {
        let env = environment(caller: e.caller, called: e.called)
        if !e.bridgedWith.isEmpty {
            distributor?.pairAdopted(e.channelID, e.bridgedWith, conn: CTLink(conn))
            logger.notice("channel \(e.channelID): adopted, bridged with \(e.bridgedWith); it talks on")
            return
        }
        if e.data["handover"] == "queue", let name = e.data["flow"], let node = e.data["node"], let (def, version) = library.flow(named: name) {
            var vars: [String: String] = [:]
            for (k, v) in e.data where k.hasPrefix("var.") { vars[String(k.dropFirst(4))] = v }
            let call = Call(channelID: e.channelID, run: FlowRun(flow: def, version: version, environment: env, carried: vars), conn: conn)
            call.handedOver = true
            calls[e.channelID] = call
            logger.info("channel \(e.channelID): adopted from \(e.data["from"] ?? "?") into \(name)/\(node)")
            perform(call, call.run.resume(at: node))
            return
        }
        if e.direction == .inbound, e.data["state"] != "offered", let (name, def, version) = mappedFlow(e, env) {
            let call = Call(channelID: e.channelID, run: FlowRun(flow: def, version: version, environment: env), conn: conn)
            calls[e.channelID] = call
            recorder.flowStarted(e.channelID, flow: name, version: version)
            logger.notice("channel \(e.channelID): adopted in IVR; flow \(name) starts again")
            request(call, StopMedia(channelID: e.channelID, what: .playAndCollect)) {}
            perform(call, call.run.start())
            return
        }
        logger.notice("channel \(e.channelID): adopted with nothing to do; hung up")
        conn.request(HangupChannel(channelID: e.channelID, cause: "flow-server lost"), expecting: ChannelCommandResult.self) { _ in }
    }

    /// Places a call that runs `flow` once answered (a scheduled call): the number through the
    /// outbound routes, or as it is (an extension) when no route takes it. Returns the channel.
    func placeCall(to number: String, callerID: String, flow: String, variables: [String: String], conn: Connection,
                   done: @escaping (Result<String, ProtocolError>) -> Void) {
        guard let (def, version) = library.flow(named: flow) else { done(.failure(ProtocolError(.badMessage, "no flow \(flow)"))); return }
        var dial = OutboundRoutes.Resolved(number: number, trunk: "", callerID: callerID, route: "")
        if let routes = distributor?.settings.routes, case .success(let r) = routes.resolve(number, callerID: callerID) { dial = r }
        conn.request(Originate(destination: dial.number, callerID: dial.callerID, timeoutMs: 45_000, trunk: dial.trunk), expecting: ChannelCommandResult.self) { [weak self] r in
            guard let self else { return }
            switch r {
            case .success(let res):
                let env = self.environment(caller: callerID, called: number)
                self.calls[res.channelID] = Call(channelID: res.channelID, run: FlowRun(flow: def, version: version, environment: env, carried: variables), conn: conn)
                done(.success(res.channelID))
            case .failure(let e):
                done(.failure(e))
            }
        }
    }

    /// Starts another flow on a call (an agent transferred it to a flow), keeping its variables.
    func restart(_ call: Call, flow name: String) {
        guard calls[call.channelID] === call, let (def, version) = library.flow(named: name) else {
            logger.warning("channel \(call.channelID): no flow \(name) to transfer to")
            request(call, HangupChannel(channelID: call.channelID, cause: "no flow \(name)")) {}
            return
        }
        recorder.flowSteps(call.channelID, call.run.trace)
        call.run = FlowRun(flow: def, version: version, environment: call.run.environment, carried: call.run.variables)
        recorder.event(call.channelID, kind: "flow-start", detail: ["flow": name, "version": String(version)], at: Date().timeIntervalSince1970)
        perform(call, call.run.start())
    }

    private func perform(_ call: Call, _ actions: [FlowRun.Action]) {
        let id = call.channelID
        for a in actions {
            switch a {
            case .play(let items, let bargeIn, let tag):
                request(call, PlayMedia(channelID: id, items: items, bargeIn: bargeIn, tag: tag)) { [weak self] in
                    self?.perform(call, call.run.handle(.playDone(tag: tag, reason: "failed")))
                }
            case .collect(let min, let max, let terminators, let first, let inter, let tag):
                request(call, CollectDigits(channelID: id, minDigits: UInt8(clamping: min), maxDigits: UInt8(clamping: max), firstDigitTimeoutMs: UInt32(first),
                                            interDigitTimeoutMs: UInt32(inter), terminators: terminators, tag: tag, afterPlay: true)) { [weak self] in
                    self?.perform(call, call.run.handle(.digitsCollected(tag: tag, digits: "", reason: "failed")))
                }
            case .record(let name, let maxMs, let silenceMs, let terminators, let beep, let tag):
                request(call, RecordChannel(channelID: id, name: "flows/\(name)", maxMs: UInt32(maxMs), silenceMs: UInt32(silenceMs),
                                            terminators: terminators, beep: beep, tag: tag)) { [weak self] in
                    self?.perform(call, call.run.handle(.recordDone(tag: tag, path: "", reason: "failed")))
                }
            case .lookup(let phone, let account):
                guard let lookup else {
                    perform(call, call.run.handle(.lookedUp(nil)))
                    continue
                }
                lookup(phone, account) { [weak self] fields in
                    self?.loop.execute {
                        guard let self, self.calls[id] === call else { return }
                        self.perform(call, call.run.handle(.lookedUp(fields)))
                    }
                }
            case .transfer(let target):
                let uri = target.hasPrefix("sip:") ? target : "sip:\(target)@\(call.conn.remoteAddress.split(separator: ":").first ?? "127.0.0.1")"
                request(call, TransferChannel(channelID: id, target: uri)) { [weak self] in
                    self?.perform(call, call.run.handle(.transferred(ok: false)))
                }
            case .loadFlow(let name):
                let found = library.flow(named: name)
                perform(call, call.run.handle(.flowLoaded(found?.0, version: found?.1 ?? 0)))
            case .hangup(let cause):
                request(call, HangupChannel(channelID: id, cause: cause)) {}
            case .enqueue(let q, let variables):
                guard let distributor else {
                    perform(call, call.run.handle(.queueOutcome(.noAgents)))
                    continue
                }
                if !call.handedOver, let server = distributor.remoteServer(for: q.queue) {
                    handOver(call, to: server, queue: q.queue, variables: variables)
                    continue
                }
                self.enqueueHere(call, q, variables: variables)
            case .schedule(let to, let due, let flow, let variables):
                guard let schedule else { perform(call, call.run.handle(.scheduled(ok: false))); continue }
                recorder.event(id, kind: "call-scheduled", detail: ["to": to, "flow": flow, "due": String(Int(due))], at: Date().timeIntervalSince1970)
                schedule(to, due, flow, variables, "flow:\(call.run.flowName)") { [weak self] ok in
                    guard let self, self.calls[id] === call else { return }
                    self.perform(call, call.run.handle(.scheduled(ok: ok)))
                }
            case .callback(let queue, let number, let priority, let variables):
                let ok = distributor?.registerCallback(conn: CTLink(call.conn), queue: queue, number: number, called: call.run.environment.called,
                                                       priority: priority, variables: variables) ?? false
                recorder.event(id, kind: "callback-requested", detail: ["queue": queue, "number": number, "ok": ok ? "yes" : "no"], at: Date().timeIntervalSince1970)
                perform(call, call.run.handle(.callbackRegistered(ok: ok)))
            case .originate(let o, let to, let callerID):
                // A node naming its trunk dials through it; otherwise the outbound route table decides.
                var dial = OutboundRoutes.Resolved(number: to, trunk: o.trunk ?? "", callerID: callerID, route: "")
                if o.trunk == nil, let routes = distributor?.settings.routes {
                    switch routes.resolve(to, callerID: callerID) {
                    case .success(let r): dial = r
                    case .failure(let why):
                        logger.info("channel \(id): originate to \(to) refused: \(why)")
                        perform(call, call.run.handle(.originated(ok: false)))
                        continue
                    }
                }
                call.conn.request(Originate(destination: dial.number, callerID: dial.callerID, timeoutMs: UInt32(o.timeoutMs), trunk: dial.trunk),
                                  expecting: ChannelCommandResult.self) { [weak self] r in
                    guard let self, self.calls[id] === call else { return }
                    switch r {
                    case .success(let res):
                        if o.bridge {
                            self.bridgedOut[res.channelID] = call
                        } else {
                            if let f = o.flow, let (def, version) = self.library.flow(named: f) {
                                let env = self.environment(caller: callerID, called: to)
                                self.calls[res.channelID] = Call(channelID: res.channelID, run: FlowRun(flow: def, version: version, environment: env,
                                                                                                       carried: call.run.variables), conn: call.conn)
                            }
                            self.perform(call, call.run.handle(.originated(ok: true)))
                        }
                    case .failure(let e):
                        self.logger.info("channel \(id): originate to \(to) refused: \(e.reason)")
                        self.perform(call, call.run.handle(.originated(ok: false)))
                    }
                }
            }
        }
    }

    private func request<M: WireMessage>(_ call: Call, _ m: M, onFailure: @escaping () -> Void) {
        call.conn.request(m, expecting: ChannelCommandResult.self) { [weak self] r in
            if case .failure(let e) = r {
                self?.logger.warning("channel \(call.channelID): \(M.self) failed: \(e)")
                onFailure()
            }
        }
    }
}
