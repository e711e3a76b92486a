import Foundation
import FlowServerKit

/// `hotline-bench pacing [SEEDS]`: a campaign's day on virtual time per dialling mode — 20
/// agents, answer rates 15 %, 25 % and 40 %, handle time 120 s ± 60 s, 10,000 numbers, the
/// abandon cap 3 % — printing each run's agent occupancy, abandon rate and agents' mean wait.
/// Predictive must stay under the cap in every run while keeping agents busier than progressive.
func benchPacing(seeds: Int) {
    print("pacing 20 agents, 10000 numbers, handle 120 s ± 60 s, abandon cap 3 %, \(seeds) seed(s) per rate")
    var worst = 0.0
    var beaten = true
    for rate in [0.15, 0.25, 0.40] {
        for seed in 1...UInt64(max(1, seeds)) {
            var occupancy: [Pacer.Mode: Double] = [:]
            for mode in Pacer.Mode.allCases {
                let start = DispatchTime.now().uptimeNanoseconds
                let r = PacingSimulation(answerRate: rate, seed: seed).run(mode)
                let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                occupancy[mode] = r.occupancy
                if mode == .predictive { worst = max(worst, r.abandonRate) }
                print(String(format: "pacing answer %2.0f %% seed %llu  %-11@ occupancy %5.1f %%  abandoned %4d of %5d answered (%4.2f %%)  agent wait %5.1f s  day %5.1f h  (%.0f ms)",
                             rate * 100, seed, mode.rawValue as NSString, r.occupancy * 100, r.abandoned, r.answered, r.abandonRate * 100,
                             r.meanAgentWait, r.seconds / 3600, ms))
            }
            if (occupancy[.predictive] ?? 0) <= (occupancy[.progressive] ?? 0) { beaten = false }
        }
    }
    print(String(format: "pacing predictive: worst abandon rate %.2f %% (cap 3 %%); busier than progressive in every run: %@", worst * 100, beaten ? "yes" : "NO"))
}
