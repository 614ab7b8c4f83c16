import Foundation

/// Where a damaged or unusable file is moved aside, so that nothing in it is lost and a fresh one can start:
/// `<path>.<tag>-<UTC time>` (`20261203T174500Z`), with `-2`, `-3`, ... when that name is taken.
public enum AsidePath {
    public static func next(for path: String, tag: String, now: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let stamp = formatter.string(from: now)
        var target = "\(path).\(tag)-\(stamp)"
        var suffix = 1
        while FileManager.default.fileExists(atPath: target) {
            suffix += 1
            target = "\(path).\(tag)-\(stamp)-\(suffix)"
        }
        return target
    }
}
