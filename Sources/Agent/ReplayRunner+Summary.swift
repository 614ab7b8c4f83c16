import Foundation
import Detection
import Telemetry

extension ReplayRunner.Report {
    /// The human summary `vigil replay` prints on standard error.
    public func summary(recording: String) -> String {
        var lines: [String] = []
        let s = statistics
        let span = Double((s.lastTimestamp ?? 0) - (s.firstTimestamp ?? 0)) / 1000
        lines.append("replayed \(recording)")
        lines.append(String(format: "  readings   %d over %@ of plant time in %.2f s (%.0f readings/s)",
                            s.readings, formatSpan(span), wallSeconds, Double(s.readings) / max(wallSeconds, 1e-9)))
        if s.rejectedTotal > 0 {
            let reasons = s.rejected.sorted { $0.value > $1.value }.map { "\($0.key.rawValue) \($0.value)" }
            lines.append("  rejected   \(s.rejectedTotal) (\(reasons.joined(separator: ", ")))")
        }
        if recordingIssueCount > 0 {
            lines.append("  bad rows   \(recordingIssueCount) skipped; first: \(recordingIssues.prefix(3).map(\.description).joined(separator: "; "))")
        }
        if !ignoredColumns.isEmpty {
            lines.append("  ignored    columns not in the catalog: \(ignoredColumns.joined(separator: ", "))")
        }
        let kinds = s.events.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }
        lines.append("  events     \(s.eventsTotal) opened\(kinds.isEmpty ? "" : " (\(kinds.joined(separator: ", ")))"), \(s.resolved) resolved, \(openAtEnd) still open at the end")
        lines.append("  alarm health \(alarmHealth.line)")
        let sources = narrativeSources.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        lines.append("  alerts     \(alerts)\(sources.isEmpty ? "" : " (narrative: \(sources.joined(separator: ", ")))")")
        if !incidentSources.isEmpty {
            let explained = incidentSources.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            lines.append("  incidents  \(incidentSources.values.reduce(0, +)) alerts explain their incident (\(explained.joined(separator: ", ")))")
        }
        if ingestedBytes > 0 {
            lines.append(String(format: "  bytes      %d in the file, %d as MQTT readings; %d in local alerts",
                                ingestedBytes, ingestedWireBytes, alertBytes))
            if upstreamBytes > 0 {
                lines.append(String(format: "  upstream   %d incident messages, %d bytes: 1/%.0f of the MQTT readings (1/%.0f of the file)",
                                    upstreamMessages, upstreamBytes, Double(ingestedWireBytes) / Double(upstreamBytes),
                                    Double(ingestedBytes) / Double(upstreamBytes)))
            } else {
                lines.append("  upstream   nothing (no incident)")
            }
        }
        if let score {
            lines.append(String(format: "  labels     recall %.2f (%d of %d faults), precision %.2f (%d of %d events), false alerts %d",
                                score.recall, score.faults.filter(\.detected).count, score.faults.count,
                                score.precision, score.truePositiveEvents, score.events, score.falseEvents.count))
            for f in score.faults {
                let delay = f.delay.map { String(format: "detected after %.0f s", $0) } ?? "MISSED"
                lines.append("    \(f.fault.kind) on \(f.fault.asset) at \(f.fault.start): \(delay) (\(f.matchingEvents) events)")
            }
            for e in score.falseEvents.prefix(10) {
                lines.append("    false alert: \(e.kind) on \(e.sensor) at \(Timestamp.rfc3339(e.detectedAt))")
            }
            if score.falseEvents.count > 10 { lines.append("    … and \(score.falseEvents.count - 10) more false alerts") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

func formatSpan(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    if s >= 3600 { return "\(s / 3600) h \(s / 60 % 60) min" }
    if s >= 60 { return "\(s / 60) min \(s % 60) s" }
    return "\(s) s"
}
