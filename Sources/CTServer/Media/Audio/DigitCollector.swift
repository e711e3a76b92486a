/// Collect-digits (value type): minimum and maximum length, first-digit and inter-digit
/// timeouts, terminator keys. Feed it digits and clock ticks; it says when it is done.
public struct DigitCollector: Sendable, Equatable {
    public enum Reason: String, Sendable { case maxDigits = "max-digits", terminator, timeout, tooShort = "too-short", stopped }
    public struct Result: Sendable, Equatable {
        public var digits: String
        public var reason: Reason
    }

    public var minDigits: Int
    public var maxDigits: Int
    public var firstDigitTimeoutMs: Int
    public var interDigitTimeoutMs: Int
    public var terminators: Set<Character>
    public let tag: UInt32
    public private(set) var digits = ""
    private var deadline: UInt64

    public init(minDigits: Int = 1, maxDigits: Int = 1, firstDigitTimeoutMs: Int = 5000, interDigitTimeoutMs: Int = 3000,
                terminators: Set<Character> = ["#"], now: UInt64, tag: UInt32 = 0) {
        self.minDigits = max(0, minDigits)
        self.maxDigits = max(1, maxDigits)
        self.firstDigitTimeoutMs = firstDigitTimeoutMs
        self.interDigitTimeoutMs = interDigitTimeoutMs
        self.terminators = terminators
        self.tag = tag
        deadline = now + UInt64(max(0, firstDigitTimeoutMs)) * 1_000_000
    }

    /// Restarts the first-digit timer (after the prompt that precedes collection ends).
    public mutating func restartTimer(now: UInt64) {
        if digits.isEmpty { deadline = now + UInt64(max(0, firstDigitTimeoutMs)) * 1_000_000 }
    }

    public mutating func digit(_ d: Character, now: UInt64) -> Result? {
        if terminators.contains(d) {
            return Result(digits: digits, reason: digits.count >= minDigits ? .terminator : .tooShort)
        }
        digits.append(d)
        if digits.count >= maxDigits { return Result(digits: digits, reason: .maxDigits) }
        deadline = now + UInt64(max(0, interDigitTimeoutMs)) * 1_000_000
        return nil
    }

    public func tick(now: UInt64) -> Result? {
        guard now >= deadline else { return nil }
        return Result(digits: digits, reason: digits.isEmpty || digits.count < minDigits ? (digits.isEmpty ? .timeout : .tooShort) : .timeout)
    }
}
