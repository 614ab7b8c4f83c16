// Narration: facts of an event → a short alert text an operator can trust (model, verifier, template).
//
// Files:
//   Narrator.swift               one narration: facts, prompt, the model under a deadline, the verifier, and
//                                the template when the model's text fails or is late; incidents of an asset
//   NarrationWorker.swift        the live queue in front of the narrator: bounded, results in submission order
//   Facts.swift, Incident.swift, IncidentTracker.swift
//                                what an event (or an asset's incident, first-out first) says, in numbers
//   Prompt.swift                 NarrationPrompt: how the model is asked (few-shot, or chat turns by ChatTemplate)
//   NarrationModel.swift, MicroLMNarrationModel.swift
//                                what narration needs from a model; the MicroLM engine as one (a thin adapter
//                                over MicroLM's one generation loop, steered by a TextConstraint)
//   FactConstraint.swift         steers decoding: a number can only be one of the facts' numbers
//   Verifier.swift, Lexer.swift, Vocabulary.swift, Sanitizer.swift
//                                judges a text against the facts: every number bound to its role, the
//                                kind's own words, whole sentences; the one alphabet of alert text
//   TemplateNarrator.swift, NumberFormat.swift
//                                the deterministic text built from the facts alone; number formatting
//   Escalation.swift             which alerts go to a larger private model, and its text verified the same way
//   Evaluation.swift, EventFile.swift
//                                `vigil explain --eval`: acceptance, errors and latency over an event set
//   Synthetic/                   generated events and reference texts for training pairs (development tools)
//
// Semantics callers rely on:
//   - every delivered text passed the verifier, or is the template's; the narrative says which.
//   - narration never blocks detection: it runs off the pipeline's lock, under a deadline.
