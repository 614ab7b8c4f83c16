import CMosquitto

/// The requests a client makes of its connection: subscribe, unsubscribe, publish. Each runs under the
/// shared state's lock, so the callback that answers it (SUBACK, UNSUBACK, PUBACK on the network
/// thread, which takes the same lock) always finds the request registered. These and the loop in
/// `MosquittoConnection.swift` are the only places that call libmosquitto.
extension MosquittoConnection {
    /// Records `filters` (kept across reconnects) and, when connected, sends them in SUBSCRIBE packets of
    /// `filtersPerSubscribe`; `continuation` resumes after the last SUBACK, at once when not connected,
    /// or with the first error.
    func subscribe(
        _ filters: [MQTTTopicFilter], qos: MQTTQoS, silenceTimeout: Duration?,
        continuation: CheckedContinuation<Void, any Error>
    ) {
        shared.withLock { state in
            guard state.phase != .closed && state.phase != .stopping else {
                continuation.resume(throwing: MQTTError.clientClosed)
                return
            }
            let now = ContinuousClock.now
            for topicFilter in filters {
                let order = state.subscriptions[topicFilter.filter]?.order ?? state.nextSubscriptionOrder
                state.nextSubscriptionOrder += 1
                state.setSubscription(.init(
                    filter: topicFilter, qos: qos, silenceTimeout: silenceTimeout,
                    lastActivity: now, silent: false, order: order
                ))
            }
            guard state.connected else {
                continuation.resume()
                return
            }
            let names = filters.map(\.filter)
            let size = Self.filtersPerSubscribe
            let packets = stride(from: 0, to: names.count, by: size).map { names[$0..<min($0 + size, names.count)] }
            let waiter = SubscribeWaiter(packets: packets.count, continuation: continuation)
            for (index, packet) in packets.enumerated() {
                let (rc, mid) = Self.sendSubscribe(handle, packet, qos: qos)
                guard rc == MosquittoError.success else {
                    // This packet and the ones after it are never sent: forget their filters.
                    for rest in packets[index...] { for filter in rest { state.removeSubscription(filter) } }
                    let error = MQTTError.library(MosquittoError(code: rc), context: "subscribing to '\(packet.first ?? "")'")
                    waiter.settle(packets: packets.count - index, error: error)?.resume()
                    return
                }
                state.pendingSubscribes[mid] = .init(filters: Array(packet), waiter: waiter)
            }
        }
    }

    /// Forgets `filter` and, when connected, sends UNSUBSCRIBE; `continuation` resumes after UNSUBACK,
    /// at once when not connected, or with the library's error.
    func unsubscribe(_ filter: String, continuation: CheckedContinuation<Void, any Error>) {
        shared.withLock { state in
            state.removeSubscription(filter)
            guard state.connected else {
                continuation.resume()
                return
            }
            var mid: Int32 = 0
            let rc = mosquitto_unsubscribe_v5(handle, &mid, filter, nil)
            guard rc == MosquittoError.success else {
                continuation.resume(throwing: MQTTError.library(MosquittoError(code: rc), context: "unsubscribing from '\(filter)'"))
                return
            }
            state.pendingUnsubscribes[mid] = continuation
        }
    }

    /// Queues one message with libmosquitto. QoS 0: no receipt to wait for; QoS 1/2: the PUBACK /
    /// PUBCOMP is awaited through the receipt. Throws when closed or not connected.
    func publish(topic: String, payload: [UInt8], qos: MQTTQoS, retain: Bool) throws(MQTTError) -> MQTTPublishReceipt {
        if qos == .atMostOnce {
            try shared.withLock { (state) throws(MQTTError) in
                try Self.checkCanPublish(state)
                let rc = payload.withUnsafeBytes { bytes in
                    mosquitto_publish_v5(handle, nil, topic, Int32(bytes.count), bytes.baseAddress, 0, retain, nil)
                }
                try MosquittoError.check(rc, "publishing on '\(topic)'")
            }
            counters.published.wrappingAdd(1, ordering: .relaxed)
            return MQTTPublishReceipt(messageID: 0, acknowledgement: nil)
        }
        let acknowledgement = PublishAcknowledgement()
        let mid = try shared.withLock { (state) throws(MQTTError) -> Int32 in
            try Self.checkCanPublish(state)
            var mid: Int32 = 0
            let rc = payload.withUnsafeBytes { bytes in
                mosquitto_publish_v5(handle, &mid, topic, Int32(bytes.count), bytes.baseAddress, qos.rawValue, retain, nil)
            }
            try MosquittoError.check(rc, "publishing on '\(topic)'")
            state.pendingPublishes[mid] = acknowledgement
            return mid
        }
        return MQTTPublishReceipt(messageID: mid, acknowledgement: acknowledgement)
    }

    private static func checkCanPublish(_ state: SharedState) throws(MQTTError) {
        switch state.phase {
        case .closed, .stopping: throw .clientClosed
        default: if !state.connected { throw .notConnected }
        }
    }
}
