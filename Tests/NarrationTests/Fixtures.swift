import Detection
import Foundation
import Narration
import Telemetry

enum Fixtures {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static let catalog: Catalog = {
        do { return try Catalog.load(file: repoRoot.appendingPathComponent("sensors/plant.yaml").path) } catch {
            // The demo plant is part of the repository; an unreadable one is a failure the tests report.
            return Catalog(plant: "missing", site: "missing", assets: [], sensors: [])
        }
    }()

    static let t0: Int64 = 1_772_334_725_000   // 2026-03-01T03:12:05Z

    /// A pump-current event of `kind`, with two related sensors.
    static func event(_ kind: AnomalyKind, stage: EventStage = .opened, sensor: SensorID = "pump1.current",
                      asset: String = "pump1", baseline: Double = 30.12, peak: Double = 48.24,
                      limit: Double? = nil, duration: Double = 40, related: [RelatedDeviation]? = nil) -> AnomalyEvent {
        AnomalyEvent(
            id: "ev-\(kind.rawValue)", stage: stage, sensor: sensor, asset: asset, kind: kind, severity: .warning,
            score: 0.9, start: t0, end: stage == .resolved ? t0 + 60_000 : nil, detectedAt: t0 + 2000,
            baseline: baseline, peak: peak, deviation: peak - baseline, duration: duration, limit: limit,
            related: related ?? [
                RelatedDeviation(sensor: "pump1.flow", value: 108.0, baseline: 120.04, deviation: -12.04, score: -4.2),
                RelatedDeviation(sensor: "pump1.discharge_pressure", value: 4.63, baseline: 4.2, deviation: 0.43,
                                 score: 2.5),
            ])
    }

    /// A plausible event of every kind with values in the direction the kind implies.
    static func typical(_ kind: AnomalyKind, stage: EventStage = .opened) -> AnomalyEvent {
        switch kind {
        case .dip: event(kind, stage: stage, peak: 12.5)
        case .stuck: event(kind, stage: stage, baseline: 30.1, peak: 30.1, duration: 600)
        case .silence: event(kind, stage: stage, baseline: 30.1, peak: 30.1, duration: 45)
        case .outOfRange: event(kind, stage: stage, peak: 63.2, limit: 60)
        case .drift: event(kind, stage: stage, peak: 36.3, duration: 1800)
        default: event(kind, stage: stage)
        }
    }
}
