// Agent: the configuration, the pipeline every reading goes through, and the services of `vigil run`.
//
// Files:
//   AgentConfiguration*.swift    vigil.yaml: brokers, narration (model, adapter, bundles, escalation), outbox,
//                                detector state, metrics; validated once for `check-config` and `run` alike
//   Pipeline.swift               reading → detector → events (Sparkplug aliases, silence clock, counts);
//                                shared by the live agent and replay
//   AlertMessage.swift           the local alert (schemas/alert.schema.json) made from an event and its text
//   UpstreamDistiller.swift      what goes upstream: one incident per asset (schemas/event.schema.json)
//   UpstreamIncidentFile.swift   the incidents open now, saved so a restart can resolve them
//   AgentModel.swift, AgentNarration.swift, EventNarrating.swift
//                                which model narrates (signed bundle, fallback, template) and the seam to it
//   BundleSelfTest.swift         a bundle's own events narrated and checked before it becomes current
//   Escalation.swift             hard alerts to a private OpenAI-compatible endpoint, verified on return
//   DetectorStateFile.swift      the detector's learned state across restarts (moved aside when unusable)
//   ReplayRunner*.swift, ReplayScore.swift, BrokerReplay.swift
//                                `vigil replay`: a recording through the same pipeline (virtual clock), scored
//                                against labels, or published to a broker
//   SimulateJob.swift            `vigil simulate`: the demo plant's scenarios as recordings
//   AlertOutput.swift, JSONLogHandler.swift, ProgressBar.swift
//                                alerts as JSON lines; log lines as JSON; progress on long runs
//   Live/                        `vigil run`'s services (ServiceLifecycle): local link, ingest, publisher,
//                                upstream, status, metrics and /healthz, detector state, systemd notifier
//
// Semantics callers rely on:
//   - the pipeline is used behind one lock (SharedPipeline); narration never runs under it.
//   - local alerts and retained active alarms are published for every event; upstream gets incidents
//     through the SQLite outbox, so nothing is lost while the uplink is down.
//   - a configuration `check-config` accepts is one `run` accepts.
