// MQTT: an async Swift client over libmosquitto (MQTT 3.1.1 and 5).
//
// Files:
//   MQTTClient.swift            the public client: connect, subscribe, publish, streams, statistics
//   MosquittoConnection.swift   owns the `struct mosquitto *`, its network thread and the C callbacks
//   MQTTConfiguration*.swift    configuration, TLS, will, reconnect delays; broker URLs
//   MQTTCredentials.swift       user name / password from values, environment or a file
//   MQTTTopicFilter.swift       topic filter validation and matching (+, #, $-topics)
//   MQTTMessage.swift           messages, the message stream, connection states, statistics
//   MQTTReconnectBackoff.swift  jittered exponential backoff
//   MQTTError.swift             MosquittoError (libmosquitto codes) and MQTTError (everything thrown)
//   Broadcast.swift             fan-out of connection states and watchdog events
//
// Semantics callers rely on:
//   - publish at QoS 1/2 returns after PUBACK/PUBCOMP; a drop before that throws
//     MQTTError.connectionLost (the message may have arrived: send it again, at least once);
//     publishing while not connected throws MQTTError.notConnected at once.
//   - after the first connect the client reconnects by itself (jittered exponential backoff)
//     and subscribes again to every filter when the broker kept no session.
//   - inbound messages pass through a bounded buffer; what it drops is counted.
//   - all libmosquitto callbacks run on the client's own thread, never on the cooperative pool.
