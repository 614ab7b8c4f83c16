/// The sensors whose silence may come due, by the earliest clock time (ms) it could (an indexed binary min-heap,
/// at most one entry per sensor, sized for the catalog at init: no allocation afterwards).
///
/// A key is a lower bound: the detector checks a sensor's silence exactly when its key has come, and schedules
/// it again (later) when it was not silent yet. So `advance(to:)` touches the sensors that may be due, not all.
struct SilenceQueue {
    /// Sensor indices, heap-ordered by `key`.
    private var heap: ContiguousArray<Int32>
    /// Per sensor: its key while queued.
    private var key: ContiguousArray<Int64>
    /// Per sensor: its position in `heap`, -1 when not queued.
    private var position: ContiguousArray<Int32>

    init(count: Int) {
        heap = []
        heap.reserveCapacity(count)
        key = ContiguousArray(repeating: .max, count: count)
        position = ContiguousArray(repeating: -1, count: count)
    }

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }

    /// The earliest key queued (`Int64.max` when empty).
    @inline(__always) var first: Int64 { heap.isEmpty ? .max : key[Int(heap[0])] }

    /// Checks sensor `i` at `time` at the latest: queues it, or moves its check earlier (never later).
    @inline(__always)
    mutating func schedule(_ i: Int, at time: Int64) {
        let p = Int(position[i])
        if p < 0 {
            key[i] = time
            heap.append(Int32(truncatingIfNeeded: i))
            position[i] = Int32(truncatingIfNeeded: heap.count - 1)
            siftUp(heap.count - 1)
        } else if time < key[i] {
            key[i] = time
            siftUp(p)
        }
    }

    /// Takes the sensor with the earliest key off the queue (not empty).
    mutating func removeFirst() -> Int {
        let top = Int(heap[0])
        position[top] = -1
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            position[Int(last)] = 0
            siftDown(0)
        }
        return top
    }

    /// Empties the queue.
    mutating func removeAll() {
        for s in heap { position[Int(s)] = -1 }
        heap.removeAll(keepingCapacity: true)
    }

    private mutating func siftUp(_ start: Int) {
        var c = start
        let s = heap[c]
        let k = key[Int(s)]
        while c > 0 {
            let parent = (c - 1) / 2
            let ps = heap[parent]
            guard k < key[Int(ps)] else { break }
            heap[c] = ps
            position[Int(ps)] = Int32(truncatingIfNeeded: c)
            c = parent
        }
        heap[c] = s
        position[Int(s)] = Int32(truncatingIfNeeded: c)
    }

    private mutating func siftDown(_ start: Int) {
        var c = start
        let n = heap.count
        let s = heap[c]
        let k = key[Int(s)]
        while true {
            var child = 2 * c + 1
            guard child < n else { break }
            if child + 1 < n, key[Int(heap[child + 1])] < key[Int(heap[child])] { child += 1 }
            let cs = heap[child]
            guard key[Int(cs)] < k else { break }
            heap[c] = cs
            position[Int(cs)] = Int32(truncatingIfNeeded: c)
            c = child
        }
        heap[c] = s
        position[Int(s)] = Int32(truncatingIfNeeded: c)
    }
}
