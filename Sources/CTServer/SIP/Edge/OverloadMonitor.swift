/// Is the signalling loop saturated? Fed the lateness of a 20 ms probe timer (a loop that is
/// behind fires its timers late); a smoothed lateness above `highWaterMs` turns shedding on,
/// below `lowWaterMs` turns it off again (hysteresis). While shedding, new out-of-dialog
/// requests get 503 with Retry-After so that calls in progress keep their time.
public struct OverloadMonitor: Sendable, Equatable {
    public var highWaterMs: Double
    public var lowWaterMs: Double
    public private(set) var smoothedLagMs: Double = 0
    public private(set) var shedding = false

    public init(highWaterMs: Double = 200, lowWaterMs: Double = 20) {
        self.highWaterMs = highWaterMs
        self.lowWaterMs = lowWaterMs
    }

    /// Feeds one probe's lateness; returns the new state when it changed.
    public mutating func observe(lagMs: Double) -> Bool? {
        // A big stall counts at once; recovery is smoothed.
        smoothedLagMs = lagMs > smoothedLagMs ? lagMs : smoothedLagMs * 0.8 + lagMs * 0.2
        if !shedding && smoothedLagMs >= highWaterMs {
            shedding = true
            return true
        }
        if shedding && smoothedLagMs < lowWaterMs {
            shedding = false
            return false
        }
        return nil
    }
}
