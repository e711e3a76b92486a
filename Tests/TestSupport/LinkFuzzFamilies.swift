import Protocol

/// The request families each link accepts after its handshake, as fuzz seeds (docs/protocol.md
/// §10–16). Seeds never name an address: a mutated destination must not become traffic to
/// anywhere but loopback.
public enum LinkFuzzFamilies {
    static func body<M: WireMessage>(_ m: M) -> [UInt8] { m.encodedBody() }

    /// App-Operate → Flow-Server: topology, login, every agent and supervisor action, customers,
    /// statistics, flow administration.
    public static var appLink: [LinkFuzzer.Family] {
        var families: [LinkFuzzer.Family] = [
            .init(name: "app/topology", type: TopologyRequest.messageType) { _ in [body(TopologyRequest())] },
            // Another work code than the session's: failed logins must not lock the fuzzer's operator out.
            .init(name: "app/login", type: OperatorLogin.messageType) { _ in
                [body(OperatorLogin(workCode: "8999", password: "not-the-password", sipExtension: "1001", mode: "console")),
                 body(OperatorLogin(workCode: "8999", password: "x", mode: "phone", attach: true))]
            },
            .init(name: "app/customer-lookup", type: CustomerLookup.messageType) { _ in
                [body(CustomerLookup(phone: "13800000000")), body(CustomerLookup(account: "A-1")), body(CustomerLookup(id: 42))]
            },
            .init(name: "app/customer-save", type: CustomerSave.messageType) { _ in
                [body(CustomerSave(customer: CustomerMessage(id: 0, account: "F-1", name: "Fuzz", phones: ["5550001"], fields: ["note": "fuzz"]))),
                 body(CustomerSave(customer: CustomerMessage(id: 7, name: "Seven", phones: [])))]
            },
            .init(name: "app/customer-history", type: CustomerHistory.messageType) { _ in
                [body(CustomerHistory(id: 42, limit: 10)), body(CustomerHistory(id: 1, limit: 0))]
            },
            .init(name: "app/statistics", type: StatisticsRequest.messageType) { _ in
                [body(StatisticsRequest(fromMs: 1_700_000_000_000, toMs: 1_700_086_400_000, interval: "hour", grouping: "queue")),
                 body(StatisticsRequest(fromMs: 0, toMs: 1, interval: "day", grouping: "agent", utcOffsetSeconds: -18_000))]
            },
            .init(name: "app/flow-admin", type: FlowAdminRequest.messageType) { _ in
                [body(FlowAdminRequest(action: "list")),
                 body(FlowAdminRequest(action: "show", name: "fuzz", format: "dot")),
                 body(FlowAdminRequest(action: "validate", name: "fuzz", source: "flow: fuzz\nstart: a\nnodes:\n  a:\n    type: hangup\n")),
                 body(FlowAdminRequest(action: "publish", name: "fuzz", source: "flow: fuzz\nstart: a\nnodes:\n  a:\n    type: hangup\n")),
                 body(FlowAdminRequest(action: "rollback", name: "fuzz", version: 1)),
                 body(FlowAdminRequest(action: "validate", kind: "mapping", source: "mappings:\n  - called: \"1\"\n    flow: fuzz\n"))]
            },
            .init(name: "app/recordings", type: RecordingRequest.messageType) { _ in
                [body(RecordingRequest(action: "find", fromMs: 1_700_000_000_000, toMs: 1_700_086_400_000, agent: "1001", caller: "5550001", queue: "sales")),
                 body(RecordingRequest(action: "download", id: 1, offset: 0)), body(RecordingRequest(action: "download", id: 1, offset: 1 << 40)),
                 body(RecordingRequest(action: "play", id: 1, sipExtension: "1001")), body(RecordingRequest(action: "delete", id: 999_999)),
                 body(RecordingRequest(action: "score", id: 1, score: 50, comment: "fuzz")), body(RecordingRequest(action: "report")),
                 body(RecordingRequest(action: "purge"))]
            },
            .init(name: "app/supervise", type: SupervisorCommand.messageType) { _ in
                SupervisorCommand.Action.allCases.map { body(SupervisorCommand(action: $0, agent: "1001", sipExtension: "1003", reason: "fuzz")) }
                    + [body(SupervisorCommand(action: .intercept, agent: "no-such-agent", supervisor: "someone-else"))]
            },
            .init(name: "app/board", type: BoardRequest.messageType) { _ in [body(BoardRequest(watch: true)), body(BoardRequest(watch: false))] },
            .init(name: "app/admin", type: AdminRequest.messageType) { _ in
                [body(AdminRequest(action: "operator-list")),
                 body(AdminRequest(action: "operator-add", arguments: ["work_code": "fz1", "roles": "agent", "skills": "sales:3", "queues": "sales"], password: "fuzz-password")),
                 // (No edit, disable or passwd seeds: a mutated work code could name a real operator of the stack under test.)
                 body(AdminRequest(action: "operator-list", arguments: ["work_code": "fz1"]))]
            },
            .init(name: "app/campaign", type: CampaignRequest.messageType) { _ in
                [body(CampaignRequest(action: "create", arguments: ["name": "fuzz", "mode": "predictive", "queue": "sales", "caller_id": "4000", "window": "09:00-21:00",
                                                                   "timezone": "UTC", "abandon_cap": "0.03", "retries": "busy=2/600"])),
                 body(CampaignRequest(action: "import", arguments: ["name": "fuzz"], csv: "number,name\n13800000001,A\n")),
                 body(CampaignRequest(action: "list")), body(CampaignRequest(action: "report", arguments: ["name": "fuzz"])),
                 body(CampaignRequest(action: "pause", arguments: ["name": "fuzz"])), body(CampaignRequest(action: "dnc-list")),
                 body(CampaignRequest(action: "dnc-add", arguments: ["number": "13800000009"])),
                 body(CampaignRequest(action: "schedule-add", arguments: ["number": "1002", "flow": "fuzz", "in_seconds": "3600"])),
                 body(CampaignRequest(action: "schedule-list")), body(CampaignRequest(action: "schedule-cancel", arguments: ["id": "1"]))]
            },
        ]
        let arguments: [String: String] = ["reason": "break", "queue": "sales", "to": "1999", "agent": "1001", "mode": "listen",
                                           "password": "lock", "extension": "1001", "node": "a", "flow": "fuzz", "do": "pause", "max_minutes": "5"]
        for action in ["ready", "not-ready", "logout", "answer", "reject", "hangup", "hold", "retrieve", "transfer", "consult", "complete",
                       "cancel", "conference", "call", "return", "status", "queue", "board", "force-logout", "force-not-ready", "monitor", "stop-monitor",
                       "record", "intercept", "force-release", "force-ready", "conf-open", "conf-add", "conf-floor", "conf-roster", "conf-hand",
                       "campaign-next", "campaign-dial", "campaign-skip", "campaign-disposition"] {
            families.append(.init(name: "app/agent:\(action)", type: AgentCommand.messageType) { _ in
                [body(AgentCommand(action: action)), body(AgentCommand(action: action, arguments: arguments))]
            })
        }
        return families
    }

    /// Flow-Server → CT-Server: call and media control, aimed at the live channels the CT-Server
    /// offered (ids from its ChannelEvents) and at ids that do not exist.
    public static var flowLink: [LinkFuzzer.Family] {
        func ids(_ live: [String]) -> [String] { (live.suffix(2) + ["ch-none"]) }
        return [
            .init(name: "flow/topology", type: TopologyRequest.messageType) { _ in [body(TopologyRequest())] },
            .init(name: "flow/answer", type: AnswerChannel.messageType) { l in ids(l).map { body(AnswerChannel(channelID: $0)) } },
            .init(name: "flow/reject", type: RejectChannel.messageType) { l in ids(l).map { body(RejectChannel(channelID: $0, sipCode: 486, reason: "busy")) } },
            .init(name: "flow/hangup", type: HangupChannel.messageType) { l in ids(l).map { body(HangupChannel(channelID: $0, cause: "fuzz")) } },
            .init(name: "flow/originate", type: Originate.messageType) { _ in
                [body(Originate(destination: "1999", callerID: "100", timeoutMs: 500)), body(Originate(destination: "5551234", callerID: "", timeoutMs: 500, trunk: "none"))]
            },
            .init(name: "flow/redirect", type: RedirectChannel.messageType) { l in ids(l).map { body(RedirectChannel(channelID: $0, target: "1999")) } },
            .init(name: "flow/transfer", type: TransferChannel.messageType) { l in ids(l).map { body(TransferChannel(channelID: $0, target: "1999")) } },
            .init(name: "flow/hand-over", type: HandOverChannel.messageType) { l in ids(l).map { body(HandOverChannel(channelID: $0, flowServer: "nobody", data: ["k": "v"])) } },
            .init(name: "flow/channel-data", type: ChannelData.messageType) { l in ids(l).map { body(ChannelData(channelID: $0, data: ["k": "v"])) } },
            .init(name: "flow/play", type: PlayMedia.messageType) { l in ids(l).map { body(PlayMedia(channelID: $0, items: ["tone:beep:200", "silence:100", "file:none", "recording:2026/12/03/none.wav"], tag: 7)) } },
            .init(name: "flow/stop-media", type: StopMedia.messageType) { l in ids(l).map { body(StopMedia(channelID: $0, what: .all)) } },
            .init(name: "flow/collect", type: CollectDigits.messageType) { l in ids(l).map { body(CollectDigits(channelID: $0, minDigits: 1, maxDigits: 4)) } },
            .init(name: "flow/record", type: RecordChannel.messageType) { l in
                ids(l).map { body(RecordChannel(channelID: $0, name: "fuzz", maxMs: 500)) }
                    + ids(l).map { body(RecordChannel(channelID: $0, name: "2026/12/03/fuzz", stereo: true, maxMs: 500, startedBy: "policy", callID: "c")) }
            },
            .init(name: "flow/recording-control", type: RecordingControl.messageType) { l in
                ids(l).map { body(RecordingControl(channelID: $0, action: .pause)) } + ids(l).map { body(RecordingControl(channelID: $0, action: .stop)) }
            },
            .init(name: "flow/bridge", type: BridgeChannels.messageType) { l in [body(BridgeChannels(channelID: ids(l)[0], otherChannelID: ids(l).last!))] },
            .init(name: "flow/unbridge", type: UnbridgeChannel.messageType) { l in ids(l).map { body(UnbridgeChannel(channelID: $0)) } },
            .init(name: "flow/conference-join", type: ConferenceJoin.messageType) { l in ids(l).map { body(ConferenceJoin(channelID: $0, conference: "fuzz")) } },
            .init(name: "flow/conference-leave", type: ConferenceLeave.messageType) { l in ids(l).map { body(ConferenceLeave(channelID: $0)) } },
            .init(name: "flow/monitor", type: MonitorChannel.messageType) { l in [body(MonitorChannel(channelID: ids(l)[0], targetChannelID: ids(l).last!, mode: .whisper))] },
            .init(name: "flow/send-dtmf", type: SendDTMF.messageType) { l in ids(l).map { body(SendDTMF(channelID: $0, digits: "123#")) } },
        ]
    }
}
