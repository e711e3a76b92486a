import Foundation

/// When a scheduled call is due: `HH:MM` (the next such time, local) or `YYYY-MM-DDTHH:MM`
/// (local), as Unix seconds.
public enum ScheduleTime {
    public static func parse(_ s: String, now: Double, timeZone: TimeZone) -> Double? {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = timeZone
        let text = s.trimmingCharacters(in: .whitespaces)
        let hm = text.split(separator: ":")
        if hm.count == 2, text.count <= 5, let h = Int(hm[0]), let m = Int(hm[1]), (0...23).contains(h), (0...59).contains(m) {
            let today = cal.startOfDay(for: Date(timeIntervalSince1970: now))
            guard let t = cal.date(byAdding: DateComponents(hour: h, minute: m), to: today) else { return nil }
            let due = t.timeIntervalSince1970
            return due > now ? due : cal.date(byAdding: .day, value: 1, to: t)?.timeIntervalSince1970
        }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = timeZone
        for pattern in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm"] {
            f.dateFormat = pattern
            if let d = f.date(from: text) { return d.timeIntervalSince1970 }
        }
        return nil
    }
}
