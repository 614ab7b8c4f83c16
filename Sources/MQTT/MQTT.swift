// MQTT: an async Swift client over libmosquitto (MQTT 3.1.1 and 5).
//
// Files:
//   MQTTClient.swift            the public client: connect, subscribe, publish/send, streams, statistics
//   MQTTPublishReceipt.swift    send()'s receipt: await the PUBACK later, many messages in flight
//   MosquittoConnection.swift   owns the `struct mosquitto *`, its network thread and the C callbacks
//   MosquittoConnection+Requests.swift  subscribe, unsubscribe, publish: with the loop, the only libmosquitto calls
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
//   - send() hands a message over and returns a receipt at once (same errors up front); messages
//     sent from one task keep their order on the wire; receipt.acknowledged() waits for the PUBACK.
//   - sockets are low-latency by default (TCP_NODELAY, TCP_QUICKACK after each read): a small
//     message never waits for Nagle's algorithm and a delayed ACK (up to 40 ms a hop).
//   - after the first connect the client reconnects by itself (jittered exponential backoff)
//     and subscribes again to every filter when the broker kept no session.
//   - inbound messages pass through a bounded buffer; what it drops is counted.
//   - all libmosquitto callbacks run on the client's own thread, never on the cooperative pool.
