import Foundation
import TestSupport

/// `hotline-bench rtp-load`: the load generator (Tests/TestSupport/RTPLoad) against a running
/// CT-Server. Prints "window start" and "window end" as the measured window opens and closes
/// (bench/media-calls.sh samples CPU between them), then one key=value report line.
///
///   hotline-bench rtp-load --server 127.0.0.1:5060 --calls 1000 [--rate 200] [--seconds 20]
///                          [--number '*43'] [--workers 1] [--per-socket 250] [--rtp-port-base 30000]
///                          [--local 127.0.0.1]
func benchRTPLoad(_ args: [String]) -> Int32 {
    var c = RTPLoadGenerator.Configuration()
    var i = 0
    func value() -> String? { i += 1; return i < args.count ? args[i] : nil }
    while i < args.count {
        let key = args[i]
        guard let v = value() else { print("rtp-load: \(key) needs a value"); return 2 }
        switch key {
        case "--server":
            let parts = v.split(separator: ":")
            guard parts.count == 2, let p = Int(parts[1]) else { print("rtp-load: --server HOST:PORT"); return 2 }
            c.server = String(parts[0]); c.serverPort = p
        case "--calls": guard let n = Int(v) else { print("rtp-load: --calls N"); return 2 }; c.calls = n
        case "--rate": guard let n = Double(v) else { print("rtp-load: --rate CALLS_PER_SECOND"); return 2 }; c.rate = n
        case "--seconds": guard let n = Double(v) else { print("rtp-load: --seconds S"); return 2 }; c.seconds = n
        case "--number": c.number = v
        case "--workers": guard let n = Int(v) else { print("rtp-load: --workers N"); return 2 }; c.workers = n
        case "--per-socket": guard let n = Int(v), n > 0 else { print("rtp-load: --per-socket N"); return 2 }; c.callsPerSocket = n
        case "--rtp-port-base": guard let n = Int(v) else { print("rtp-load: --rtp-port-base PORT"); return 2 }; c.rtpPortBase = n
        case "--local": c.localHost = v
        default: print("rtp-load: unknown option \(key)"); return 2
        }
        i += 1
    }
    do {
        let g = try RTPLoadGenerator(c)
        let r = try g.run { event in print(event); fflush(stdout) }
        print(r.line)
        return r.failed == 0 ? 0 : 1
    } catch {
        print("rtp-load: \(error)")
        return 2
    }
}
