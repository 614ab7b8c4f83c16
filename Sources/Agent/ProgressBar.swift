import Foundation

/// A one-line progress bar on standard error, redrawn at most ten times a second.
final class ProgressBar {
    private let total: Int
    private var lastDraw = ContinuousClock.now
    private let start = ContinuousClock.now
    private var drawn = false

    init(total: Int) { self.total = max(total, 1) }

    func update(done: Int) {
        let now = ContinuousClock.now
        guard now - lastDraw > .milliseconds(100) else { return }
        lastDraw = now
        let fraction = min(1, Double(done) / Double(total))
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let elapsed = (now - start) / .seconds(1)
        let eta = fraction > 0.01 ? elapsed / fraction - elapsed : 0
        let line = String(format: "\r[%@] %3.0f%%  %.1f s elapsed, about %.0f s left ", bar, fraction * 100, elapsed, eta)
        FileHandle.standardError.write(Data(line.utf8))
        drawn = true
    }

    func finish() {
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
