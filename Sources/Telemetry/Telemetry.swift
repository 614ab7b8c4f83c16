// Telemetry: what Vigil reads, before any judgement: the catalog, readings and their payloads, recordings.
//
// Files:
//   Catalog.swift, Catalog+Loading.swift  the plant (assets, sensors, topics, limits, detector and alarm
//                                          settings), loaded from YAML with errors that name file, key and line
//   ConfigNode.swift              a YAML node that knows where it came from (also read by the agent's config)
//   Reading.swift, SensorID.swift one value of one sensor at one instant; the catalog's sensor ids
//   PayloadDecoder.swift          an MQTT payload (JSON object or bare number) into a reading, or why not
//   JSONValue.swift               a strict, depth-bounded JSON parser for payloads
//   SparkplugB.swift              Sparkplug B payloads and topics (a small bounds-checked protobuf reader)
//   SparkplugSession.swift        births seen (aliases, data types); data messages read into readings or refusals
//   Recording.swift               reads recorded logs (wide CSV, JSON-lines captures) item by item
//   Recording+Formats.swift       the layouts users export: decimal commas, long CSV, Telegraf, InfluxDB lines
//   DelimitedText.swift           lines and quoted fields of CSV, `;`- or tab-separated text (the one splitter)
//   RecordingWriter.swift         writes wide CSV recordings (`vigil record`), number formatting
//   Labels.swift                  the labelled faults beside a recording
//   Timestamp.swift               epoch milliseconds throughout; parses and formats the forms data arrives in
//   TelemetryError.swift          input from outside that could not be used
//
// Semantics callers rely on:
//   - nothing here throws on hostile input without a message that says what was expected; nothing crashes.
//   - timestamps are epoch milliseconds (UTC) everywhere.
//   - a catalog's relations are symmetric after loading; its indexes (by id, by topic) are built once.
