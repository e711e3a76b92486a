import Foundation
import Protocol

/// What the CT-Server does with a call's recording once it is closed, off the channel loop:
/// sums the file (size, SHA-256) and writes its catalogue sidecar beside it (`NAME.wav.json`),
/// so a recording whose RecordDone reached no Flow-Server (none attached at that moment) can
/// still be catalogued from the shared recording folder (`flow-server recordings-import`).
enum RecordingFiles {
    static let queue = DispatchQueue(label: "hotline.recordings", qos: .utility)

    /// "START-END,START-END" in ms from the recording's start.
    static func pauses(_ r: RecordingResult) -> String { r.pauses.map { "\($0.startMs)-\($0.endMs)" }.joined(separator: ",") }

    static func summarize(_ r: RecordingResult, channelID: String, caller: String, called: String) -> MediaEventMessage.Recording {
        let summed = Crypto.sha256(file: r.path)
        let s = MediaEventMessage.Recording(sizeBytes: summed?.size ?? 0, sha256: summed?.hex ?? "", channels: UInt8(clamping: r.channels),
                                            startedAtMs: r.startedAtMs, pauses: pauses(r), startedBy: r.startedBy, callID: r.callID, caller: caller, called: called)
        if summed != nil, !r.callID.isEmpty {
            let car = RecordingSidecar(path: r.path, channelID: channelID, callID: r.callID, caller: caller, called: called, startedAtMs: r.startedAtMs,
                              durationMs: r.durationMs, channels: r.channels, sizeBytes: s.sizeBytes, sha256: s.sha256, pauses: s.pauses,
                              startedBy: r.startedBy, reason: r.reason)
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            try? enc.encode(car).write(to: URL(fileURLWithPath: r.path + ".json"), options: .atomic)
        }
        return s
    }
}
