import Foundation
import Protocol

/// One call's recording, as a value type: events in, actions out. The file is the caller's
/// channel at the CT-Server — left what the caller says, right what it hears (the agent, a
/// second agent after a transfer, a three-way conference, music on hold during a
/// consultation) — so one recording follows the call through transfers and consultations.
/// Stopped and started again, a call has numbered segments (`CALL.wav`, `CALL-2.wav`, …),
/// ordered by their start.
///
/// idle → recording ⇄ paused → stopping → idle (a next segment may start)
///
/// Who may do what: anyone allowed to touch the call may start a recording and pause or resume
/// one (card numbers); an agent may not stop a recording that policy or a supervisor started.
struct CallRecording: Equatable {
    enum State: Equatable { case idle, recording, paused, stopping }

    /// Who asks: the policy, or an operator with a role.
    enum Actor: Equatable {
        case policy
        case agent(String)
        case supervisor(String)
        var name: String {
            switch self {
            case .policy: return "policy"
            case .agent(let c), .supervisor(let c): return c
            }
        }
    }

    enum Event: Equatable {
        case start(by: Actor, maxMs: Int, stereo: Bool)
        case pause(by: Actor), resume(by: Actor), stop(by: Actor)
        /// The CT-Server closed the file `path` (RecordDone).
        case closed(path: String)
    }

    enum Action: Equatable {
        /// RecordChannel on the caller's channel, named `name` under the recording folder.
        case record(name: String, stereo: Bool, maxMs: Int, startedBy: String)
        case control(RecordingControl.Action)
        case refuse(String)
    }

    let channel: String
    let callID: UUID
    /// The folder of the call's files (YYYY/MM/DD, local date of the call's first recording).
    let folder: String
    private(set) var state: State = .idle
    private(set) var segment = 0
    private(set) var startedBy: Actor?
    private(set) var path: String?

    init(channel: String, callID: UUID, day: Date, timeZone: TimeZone = .current) {
        self.channel = channel
        self.callID = callID
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = timeZone
        let c = cal.dateComponents([.year, .month, .day], from: day)
        folder = String(format: "%04d/%02d/%02d", c.year ?? 1970, c.month ?? 1, c.day ?? 1)
    }

    var isRecording: Bool { state == .recording || state == .paused }

    mutating func handle(_ e: Event) -> [Action] {
        switch (state, e) {
        case (.idle, .start(let by, let maxMs, let stereo)):
            segment += 1
            let name = "\(folder)/\(callID.uuidString.lowercased())\(segment > 1 ? "-\(segment)" : "")"
            path = name + ".wav"
            startedBy = by
            state = .recording
            return [.record(name: name, stereo: stereo, maxMs: maxMs, startedBy: by.name)]
        case (_, .start):
            return [.refuse(state == .stopping ? "the call's recording is stopping" : "the call is being recorded already")]
        case (.recording, .pause):
            state = .paused
            return [.control(.pause)]
        case (.paused, .resume):
            state = .recording
            return [.control(.resume)]
        case (.recording, .stop(let by)), (.paused, .stop(let by)):
            if case .agent = by {
                switch startedBy {
                case .policy?: return [.refuse("the recording is by policy: an agent may pause it, not stop it")]
                case .supervisor(let s)?: return [.refuse("supervisor \(s) started this recording: only a supervisor stops it")]
                default: break
                }
            }
            state = .stopping
            return [.control(.stop)]
        case (_, .closed(let p)):
            // The file ended (stopped, the call's end, the time limit): a new segment may start.
            if let path, p.hasSuffix(path) { state = .idle }
            return []
        case (.paused, .pause): return [.refuse("the recording is paused already")]
        case (.recording, .resume): return [.refuse("the recording is not paused")]
        case (_, .pause), (_, .resume), (_, .stop):
            return [.refuse("the call is not being recorded")]
        }
    }
}
