/// Byte-pair merging over token ids: the merge of lowest rank is applied first, the leftmost among
/// equals, until no adjacent pair has a merge (llama.cpp's and Hugging Face's order).
///
/// Works on ids rather than strings: the merge table maps a pair of ids to (rank, merged id).
/// A priority queue keeps long pieces O(n log n); scratch storage is reused between pieces.
struct BPEMerger {
    struct Merge {
        var rank: Int32
        var merged: Int32
    }

    /// `left << 32 | right` → the merge.
    let merges: [UInt64: Merge]

    @inline(__always)
    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Scratch buffers of one encoding call.
    struct Scratch {
        var ids: [Int32] = []
        var next: [Int32] = []
        var prev: [Int32] = []
        var heap: [Candidate] = []
    }

    struct Candidate {
        var rank: Int32
        var left: Int32
        var right: Int32
        var leftID: Int32
        var rightID: Int32
        var merged: Int32

        @inline(__always)
        func precedes(_ other: Candidate) -> Bool {
            rank < other.rank || (rank == other.rank && left < other.left)
        }
    }

    static let removed = Int32.min

    /// Merges `symbols` (initial ids, one per byte) and appends the resulting ids to `output`.
    func merge(_ symbols: UnsafeBufferPointer<Int32>, scratch: inout Scratch, output: inout [Int32]) {
        let n = symbols.count
        if n == 0 { return }
        if n == 1 { output.append(symbols[0]); return }
        scratch.ids.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        scratch.prev.removeAll(keepingCapacity: true)
        scratch.heap.removeAll(keepingCapacity: true)
        scratch.ids.append(contentsOf: symbols)
        for i in 0..<n {
            scratch.prev.append(Int32(i - 1))
            scratch.next.append(i + 1 < n ? Int32(i + 1) : -1)
        }
        for i in 0..<(n - 1) {
            push(left: Int32(i), right: Int32(i + 1), scratch: &scratch)
        }
        while let best = pop(&scratch.heap) {
            let left = Int(best.left)
            let right = Int(best.right)
            // Skip candidates that earlier merges made stale.
            guard scratch.ids[left] == best.leftID, scratch.ids[right] == best.rightID,
                  scratch.next[left] == best.right else { continue }
            scratch.ids[left] = best.merged
            scratch.ids[right] = Self.removed
            let after = scratch.next[right]
            scratch.next[left] = after
            if after >= 0 { scratch.prev[Int(after)] = best.left }
            let before = scratch.prev[left]
            if before >= 0 { push(left: before, right: best.left, scratch: &scratch) }
            if after >= 0 { push(left: best.left, right: after, scratch: &scratch) }
        }
        var i: Int32 = 0
        while i >= 0 {
            output.append(scratch.ids[Int(i)])
            i = scratch.next[Int(i)]
        }
    }

    @inline(__always)
    private func push(left: Int32, right: Int32, scratch: inout Scratch) {
        let leftID = scratch.ids[Int(left)]
        let rightID = scratch.ids[Int(right)]
        guard leftID >= 0, rightID >= 0, let merge = merges[Self.key(leftID, rightID)] else { return }
        let candidate = Candidate(rank: merge.rank, left: left, right: right,
                                  leftID: leftID, rightID: rightID, merged: merge.merged)
        scratch.heap.append(candidate)
        siftUp(&scratch.heap)
    }

    @inline(__always)
    private func siftUp(_ heap: inout [Candidate]) {
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    @inline(__always)
    private func pop(_ heap: inout [Candidate]) -> Candidate? {
        guard let last = heap.popLast() else { return nil }
        if heap.isEmpty { return last }
        let top = heap[0]
        heap[0] = last
        var parent = 0
        let count = heap.count
        while true {
            let l = 2 * parent + 1
            if l >= count { break }
            let r = l + 1
            var smallest = l
            if r < count && heap[r].precedes(heap[l]) { smallest = r }
            guard heap[smallest].precedes(heap[parent]) else { break }
            heap.swapAt(smallest, parent)
            parent = smallest
        }
        return top
    }
}
