/// An agent's state (seed 人工座席系统), as a value type: events in,
/// actions out, every transition explicit.
///
/// logged out → not ready ⇄ ready → reserved → ringing → talking ⇄ held → wrap-up → ready;
/// not-ready carries a reason and an optional lock password that must be given to become
/// ready again; ring-no-answer (RONA) makes the agent not ready and sends the call to the
/// next agent; logout is refused while on a call; a lost App-Operate connection starts a grace
/// period (the call, if any, goes on), then logs the agent out. A supervisor may force an
/// agent ready (even locked), not ready or logged out; forced on a call, not ready and logout
/// wait for the call to end (not ready after its wrap-up, logout at once).
///
/// "Reserved" and "ringing" always carry their call, and every way out of them (answer, reject,
/// ring timeout, the caller leaving, the connection lost) is handled, so an agent cannot be
/// left reserved without a call — the stuck-agent bug of other engines is impossible here by
/// construction (see the randomized test).
public struct AgentStateMachine: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case loggedOut
        case notReady(reason: String, locked: Bool)
        case ready(since: Double)
        case reserved(call: String)
        case ringing(call: String)
        case talking(call: String)
        case held(call: String)
        case wrapUp(until: Double)

        public var name: String {
            switch self {
            case .loggedOut: return "logged-out"
            case .notReady: return "not-ready"
            case .ready: return "ready"
            case .reserved: return "reserved"
            case .ringing: return "ringing"
            case .talking: return "talking"
            case .held: return "held"
            case .wrapUp: return "wrap-up"
            }
        }

        public var call: String? {
            switch self {
            case .reserved(let c), .ringing(let c), .talking(let c), .held(let c): return c
            default: return nil
            }
        }
    }

    public enum Event: Sendable, Equatable {
        case login
        case logout
        case ready(password: String?)
        case notReady(reason: String, lockPassword: String?)
        /// The ACD picked this agent for a call.
        case reserve(call: String)
        /// The agent places a call (internal, external, or a callback's second leg): from ready
        /// or not ready, it goes the same way as an offered call (reserved → ringing → talking).
        case outbound(call: String)
        /// The agent's phone is ringing.
        case ringing(call: String)
        case answered(call: String)
        case rejected(call: String)
        case ringTimeout(call: String)
        /// The phone could not be dialled (not registered): not ready for that reason, not RONA.
        case phoneUnreachable(call: String)
        case hold
        case retrieve
        /// The call ended (either side hung up, or it was transferred away).
        case callEnded(call: String)
        case wrapUpEnded
        case connectionLost
        case connectionRestored
        case graceExpired
        /// A supervisor's force-ready: from not ready (locked or not) or wrap-up.
        case forceReady
        /// A supervisor's force-not-ready: at once, or when the call in hand ends (after its wrap-up).
        case forceNotReady(reason: String)
        /// A supervisor's force-logout: at once, or when the call in hand ends.
        case forceLogout
    }

    /// Why an offered call goes back to its queue.
    public enum RequeueReason: Sendable, Equatable {
        case rejected, ringNoAnswer, agentDisconnected
        /// The agent's phone could not be called at all (not registered, no route): not a RONA.
        case phoneUnreachable

        /// For records and agents' screens.
        public var text: String {
            switch self {
            case .rejected: return "rejected by the agent"
            case .ringNoAnswer: return "ring no answer"
            case .agentDisconnected: return "agent disconnected"
            case .phoneUnreachable: return "phone unreachable"
            }
        }
    }

    public enum Action: Sendable, Equatable {
        /// The call goes back to its queue (reject, RONA, reservation undone).
        case requeue(call: String, reason: RequeueReason)
        case startRingTimer(call: String)
        case startWrapUpTimer(seconds: Double)
        case startGraceTimer
        /// A state period ended: write it (AgentStateRecord).
        case record(state: String, reason: String?, from: Double, to: Double)
        case refuse(String)
        /// The agent is logged out by a forced logout: the runner ends its session.
        case sessionEnded
        /// A forced state waits for the call in hand to end.
        case deferred(String)
    }

    public private(set) var state: State = .loggedOut
    public private(set) var since: Double = 0
    public private(set) var disconnected = false
    private var lockPassword: String?
    public var wrapUpSeconds: Double
    public private(set) var callsHandled = 0
    /// A forced logout or not-ready waiting for the call in hand to end.
    public private(set) var pendingLogout = false
    public private(set) var pendingNotReady: String?

    public init(wrapUpSeconds: Double = 10) {
        self.wrapUpSeconds = wrapUpSeconds
    }

    /// Every state change goes through here: a forced logout waiting for the call takes effect
    /// as soon as no call is in hand; a forced not-ready replaces the next ready.
    private mutating func go(_ next: State, at now: Double, reason: String? = nil) -> [Action] {
        var s = next
        var extra: [Action] = []
        if pendingLogout, s.call == nil {
            pendingLogout = false
            s = .loggedOut
            extra = [.sessionEnded]
        }
        if let why = pendingNotReady {
            switch s {
            case .ready: s = .notReady(reason: why, locked: false); pendingNotReady = nil
            case .notReady, .loggedOut: pendingNotReady = nil
            default: break
            }
        }
        if s == .loggedOut { lockPassword = nil }
        var r: String?
        if case .notReady(let why, _) = state { r = why }
        let wasLoggedOut = state == .loggedOut
        let rec = Action.record(state: state.name, reason: r, from: since, to: now)
        state = s
        since = now
        return (wasLoggedOut ? [] : [rec]) + extra
    }

    public mutating func handle(_ e: Event, now: Double) -> [Action] {
        switch (state, e) {
        case (.loggedOut, .login):
            disconnected = false
            return go(.notReady(reason: "login", locked: false), at: now)
        case (_, .login):
            return [.refuse("already logged in")]
        case (.notReady, .logout), (.ready, .logout), (.wrapUp, .logout):
            lockPassword = nil
            return go(.loggedOut, at: now)
        case (.loggedOut, .logout):
            return []
        case (_, .logout):
            return [.refuse("cannot log out while on a call")]
        case (.notReady(_, let locked), .ready(let password)):
            if locked, password != lockPassword { return [.refuse("wrong lock password")] }
            lockPassword = nil
            return go(.ready(since: now), at: now)
        case (.wrapUp, .ready):
            return go(.ready(since: now), at: now)
        case (.ready, .ready):
            return []
        case (.ready, .notReady(let reason, let pw)), (.notReady, .notReady(let reason, let pw)), (.wrapUp, .notReady(let reason, let pw)):
            lockPassword = pw
            return go(.notReady(reason: reason, locked: pw != nil), at: now)
        case (.ready, .reserve(let call)):
            return go(.reserved(call: call), at: now)
        case (.ready, .outbound(let call)), (.notReady, .outbound(let call)), (.wrapUp, .outbound(let call)):
            return go(.reserved(call: call), at: now)
        case (.reserved(let c), .ringing(let call)) where c == call:
            return go(.ringing(call: call), at: now) + [.startRingTimer(call: call)]
        case (.reserved(let c), .answered(let call)) where c == call, (.ringing(let c), .answered(let call)) where c == call:
            callsHandled += 1
            return go(.talking(call: call), at: now)
        case (.reserved(let c), .rejected(let call)) where c == call, (.ringing(let c), .rejected(let call)) where c == call:
            return go(.ready(since: now), at: now) + [.requeue(call: call, reason: .rejected)]
        case (.ringing(let c), .ringTimeout(let call)) where c == call, (.reserved(let c), .ringTimeout(let call)) where c == call:
            // RONA: the agent is away; not ready, and the call goes to the next agent.
            return go(.notReady(reason: "ring no answer", locked: false), at: now) + [.requeue(call: call, reason: .ringNoAnswer)]
        case (.reserved(let c), .phoneUnreachable(let call)) where c == call, (.ringing(let c), .phoneUnreachable(let call)) where c == call:
            return go(.notReady(reason: "phone unreachable", locked: false), at: now) + [.requeue(call: call, reason: .phoneUnreachable)]
        case (.reserved(let c), .callEnded(let call)) where c == call, (.ringing(let c), .callEnded(let call)) where c == call:
            // The caller left before the agent answered.
            return go(disconnected ? .notReady(reason: "disconnected", locked: false) : .ready(since: now), at: now)
        case (.talking, .hold):
            return go(.held(call: state.call!), at: now)
        case (.held, .retrieve):
            return go(.talking(call: state.call!), at: now)
        case (.talking(let c), .callEnded(let call)) where c == call, (.held(let c), .callEnded(let call)) where c == call:
            if pendingLogout { return go(.loggedOut, at: now) }
            if disconnected { return go(.notReady(reason: "disconnected", locked: false), at: now) + [.startGraceTimer] }
            return go(.wrapUp(until: now + wrapUpSeconds), at: now) + [.startWrapUpTimer(seconds: wrapUpSeconds)]
        case (.wrapUp, .wrapUpEnded):
            return go(.ready(since: now), at: now)
        case (.loggedOut, .connectionLost):
            return []
        case (_, .connectionLost):
            disconnected = true
            switch state {
            case .reserved(let call):
                // Not yet ringing: give the call to someone else at once.
                return go(.notReady(reason: "disconnected", locked: false), at: now) + [.requeue(call: call, reason: .agentDisconnected), .startGraceTimer]
            case .talking, .held, .ringing:
                return [.startGraceTimer]   // the call goes on; ringing ends by answer, reject or timeout
            default:
                return go(.notReady(reason: "disconnected", locked: false), at: now) + [.startGraceTimer]
            }
        case (_, .connectionRestored):
            disconnected = false
            return []
        case (_, .graceExpired):
            guard disconnected else { return [] }
            switch state {
            case .notReady, .ready, .wrapUp: return go(.loggedOut, at: now)
            default: return [.startGraceTimer]   // still on a call: wait for it to end
            }

        // Supervisors.
        case (.notReady, .forceReady), (.wrapUp, .forceReady):
            lockPassword = nil
            pendingNotReady = nil
            return go(.ready(since: now), at: now)
        case (.ready, .forceReady):
            return []
        case (.loggedOut, .forceReady), (.loggedOut, .forceNotReady), (.loggedOut, .forceLogout):
            return [.refuse("not logged in")]
        case (_, .forceReady):
            return [.refuse("\(state.name): on a call")]
        case (.ready, .forceNotReady(let reason)), (.notReady, .forceNotReady(let reason)), (.wrapUp, .forceNotReady(let reason)):
            lockPassword = nil
            return go(.notReady(reason: reason, locked: false), at: now)
        case (_, .forceNotReady(let reason)):
            pendingNotReady = reason
            return [.deferred("not ready (\(reason)) when the call ends")]
        case (.ready, .forceLogout), (.notReady, .forceLogout), (.wrapUp, .forceLogout):
            pendingNotReady = nil
            return go(.loggedOut, at: now) + [.sessionEnded]
        case (_, .forceLogout):
            pendingLogout = true
            return [.deferred("logged out when the call ends")]

        default:
            return [.refuse("\(state.name): cannot \(e)")]
        }
    }

}

