import Protocol

/// The call machine's vocabulary: its phases, the events it takes and the actions it returns.
extension ACDCall {
    /// What kind of call the ACD handles.
    enum Kind: Equatable {
        /// A caller from a flow's queue node.
        case inbound
        /// A call-back request: the agent who takes it is rung first, then `number`.
        case callback(number: String)
        /// An agent's own call (internal or external): the agent's phone first, then `destination`.
        case agentCall(destination: String, route: DialRoute)
    }

    /// How a destination is dialled: a registered phone (an agent's extension) as it is, or a
    /// number through the outbound route table (trunk and caller ID).
    enum DialRoute: Equatable { case phone, number }

    /// An agent being offered the call: its phone's channel once the CT-Server dialled it.
    struct Offer: Equatable {
        var leg: String?
        /// The CT-Server is dialling the agent's phone (console answer): not again.
        var dialling = false
    }

    /// A consultation: the caller is held while the agent talks to `target`.
    struct Consult: Equatable {
        var target: String
        /// The consulted agent (nil: an outside number).
        var agent: String?
        var leg: String?
        var connected = false
    }

    /// The agent on the call and what the call looks like from there.
    struct Talk: Equatable {
        var agent: String
        var leg: String?
        var held = false
        var consult: Consult?
        var conference: String?
        /// Callback and agent calls: the outside party's leg while it rings (the caller once answered).
        var dialling: String?
        var dialPending = false
        /// A supervisor taking the call over (intercept): its phone while it rings.
        var intercept: Intercept?
    }

    /// A supervisor's intercept in progress: `leg` is the supervisor's phone once dialled.
    struct Intercept: Equatable {
        var supervisor: String
        var leg: String?
    }

    enum Phase: Equatable {
        case waiting
        case offered([String: Offer])
        case connected(Talk)
        /// Blind transfer to a number: the caller hears ringback until `leg` answers.
        case transferringOut(target: String, leg: String?)
        /// The caller talks to an outside party (after a transfer out); either hanging up ends both.
        case external(leg: String)
        /// A supervisor took the call from the agent (intercept): the caller talks to the
        /// supervisor's `leg`; either hanging up ends both.
        case intercepted(supervisor: String, leg: String)
        case ended(Ending)

        var name: String {
            switch self {
            case .waiting: return "waiting"
            case .offered: return "offered"
            case .connected(let t):
                if t.conference != nil { return "conferenced" }
                if t.consult != nil { return "consulting" }
                return t.held ? "held" : "connected"
            case .transferringOut: return "transferring"
            case .external: return "external"
            case .intercepted: return "intercepted"
            case .ended: return "ended"
            }
        }
    }

    /// How the call left the ACD.
    enum Ending: Equatable {
        case callerLeft, agentHungUp, toFlow, handedOver, transferredOut, failed
        /// A supervisor cleared it (force-release), or hung up after taking it (intercept).
        case released
    }

    /// Why an offer went back to the queue (from the agent's state machine).
    typealias RequeueReason = AgentStateMachine.RequeueReason

    /// The role of a channel the call owns.
    enum Role: Equatable { case caller, offer(String), agent(String), consult, outside, supervisor(String) }

    enum Event: Equatable {
        /// Into (or back into) the queue; `open` and `staffed` are the queue's state now.
        case enqueue(open: Bool, staffed: Bool)
        case maxWaitExpired
        case handOver(server: String)
        /// The ACD chose `agent`; `dial` rings its phone (false: the agent answers in App-Operate).
        case offer(agent: String, dial: Bool, autoAnswer: Bool)
        case answerInConsole(agent: String)
        case agentDialled(agent: String, leg: String)
        case agentDialFailed(agent: String, reason: String)
        /// Take the offer back from `agent` (ring no answer, reject): its phone is hung up and
        /// its state machine told.
        case withdraw(agent: String, reason: RequeueReason)
        /// The agent's machine sent the call back (its `requeue` action).
        case requeued(agent: String, reason: RequeueReason)
        case answered(leg: String)
        case held(leg: String), retrieved(leg: String)
        case cleared(leg: String, cause: ChannelEvent.Cause, text: String, failed: Bool)
        /// The agent's phone transferred the call itself (REFER): the caller talks to `to`
        /// (the CT-Server dialled `target` and bridged them); the agent's leg is released.
        case phoneTransferred(leg: String, to: String, target: String)
        case outsideDialled(leg: String)
        case outsideDialFailed(reason: String)
        // Agent operations (checked by the runner for permission; the machine checks the state).
        case hold, retrieve, hangup
        case transfer(Transfer)
        case consult(target: String, agent: String?, destination: String, autoAnswer: Bool)
        case consultDialled(leg: String)
        case consultDialFailed(reason: String)
        case complete, cancelConsult, conference
        case returnToFlow(node: String?, variables: [String: String])
        /// The CT-Server link is gone: the call ends here (its channels are the CT-Server's now).
        case linkLost
        // Supervisors' actions (the runner checks the role; the machine checks the state).
        /// Take the caller from the agent: `leg` is the supervisor's connected phone (it was
        /// monitoring), or nil to ring `destination` with auto-answer first.
        case intercept(supervisor: String, leg: String?, destination: String)
        case interceptDialled(leg: String)
        case interceptDialFailed(reason: String)
        /// Clear the call (caller, agent and any party it has), with the supervisor's reason.
        case forceRelease(supervisor: String, reason: String)
        // The agent-hosted conference (ACDCall+Conference.swift).
        case openConference(room: String)
        /// The host hands the conference to `agent`, a party connected on `leg`.
        case handConference(agent: String, leg: String)
    }

    enum Transfer: Equatable {
        case queue(String)
        case flow(String)
        case number(String)
    }

    /// What the call's runner has to do.
    enum Action: Equatable {
        // Channel commands (to the CT-Server).
        case hangup(String, cause: String)
        case bridge(String, String)
        case unbridge(String)
        case play(String, items: [String])
        case stopMedia(String)
        case conferenceJoin(String, room: String)
        case dialAgent(agent: String, autoAnswer: Bool)
        case dialOutside(destination: String, route: DialRoute, callerID: String)
        case dialConsult(destination: String, route: DialRoute, autoAnswer: Bool, callerID: String)
        /// Ring a supervisor's phone with auto-answer (intercept).
        case dialSupervisor(destination: String, supervisor: String)
        case safePoint([String: String])
        // The routing engine.
        case enqueue, dequeue
        /// Call timers (max wait, announcements) stop: the caller left the queue.
        case stopTimers
        // Agents.
        case agent(String, AgentStateMachine.Event)
        case notify(String, kind: String, fields: [String: String])
        /// An agent's handling of the call ended (for the average handle time).
        case handled(agent: String)
        // Records.
        case queueEvent(kind: String, detail: [String: String])
        case record(RecordNote)
        // Where the call goes when it leaves the ACD.
        case toFlow(FlowRun.QueueOutcome)
        case toNamedFlow(String)
        case toServer(String)
        case count(Counter)
    }

    enum Counter: Equatable { case offered, answered, abandoned, rona, rejected }

    /// What goes into the caller's call record (CallRecorder).
    enum RecordNote: Equatable {
        case queued(queue: String)
        case offered(agent: String)
        case agentAnswered(agent: String, leg: String)
        case agentLegEnded(leg: String, cause: String)
        case endedBy(String)
        case hold(Bool)
        case transferred(to: String, by: String)
        case event(kind: String, detail: [String: String])
        case outbound(channel: String, caller: String, called: String)
        /// A supervisor's phone took the call (intercept): a leg of the record, role supervisor.
        case supervisorAnswered(supervisor: String, leg: String)
    }
}
