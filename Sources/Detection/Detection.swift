// Detection: the streaming anomaly detector, one fixed-size state per catalog sensor, and alarm health.
//
// Files:
//   PlantDetector.swift          the detector of a whole plant: ingest a reading, advance the clock (silence),
//                                event assembly (open, hold, resolve), alarm management (on/off-delay, deadband,
//                                chattering latch); the module's entry point
//   SensorTrack.swift            one sensor's detectors (limits, spike, level, volatility, drift, stuck,
//                                seasonal, correlation) and their fusion into one calibrated score
//   EventTrack.swift             one sensor's event in progress: hysteresis, cooldown, window before and during
//   DetectorConfiguration.swift  plant-wide settings; SensorSettings (a catalog sensor resolved into numbers);
//                                AlarmDefaults
//   Calibration.swift            a detector's raw z turned into a tail probability that means the same everywhere
//   TailProbability.swift        Gaussian tails on the log10 scale the fusion works in
//   ModeMemory.swift             the levels a sensor dwells at (square waves, duty cycles, quantised sensors)
//   SeasonSearch.swift           finds a period where the catalog gives none, in bounded work per reading
//   PairDiscovery.swift          finds during warm-up the sensors of an asset that move together
//   SilenceQueue.swift           the sensors whose silence may come due (a min-heap: advance touches only those)
//   StateCoding.swift            the learned state written and read back (one field list for both)
//   AnomalyEvent.swift           what the detector emits: opened and resolved events with their facts and window
//   Alarms/                      alarm health (ISA-18.2 / EEMUA 191) of a run, and live over a sliding window
//   Series/                      `vigil score` over CSV tables; NABScore.swift scores detections NAB's way
//
// Semantics callers rely on:
//   - no allocation per reading once a sensor is warm; an event allocates when it opens.
//   - events come in order per sensor: every opened event resolves exactly once (or stays open), never twice.
//   - a reading is judged with what came before it only; late or repeated readings never make a sensor
//     look silent or stuck.
//   - engineering limits are never suppressed (no cooldown, checked from the first reading); only an
//     on-delay the catalog sets holds a limit alert back.
//   - PlantDetector is not thread-safe: one owner (the agent's pipeline lock, or a replay loop).
