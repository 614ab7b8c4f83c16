import CMicroLMKernels

/// A persistent pool of worker threads for the kernels (the C pool of CMicroLMKernels).
///
/// The thread that calls a parallel kernel takes part as one of the `threadCount`
/// participants, so a pool of 2 starts one worker. Workers spin for about a millisecond
/// after a step and then sleep, so an idle pool costs nothing. One parallel operation
/// at a time: a pool belongs to one `InferenceSession`.
public final class ThreadPool: @unchecked Sendable {
    let pointer: OpaquePointer?
    /// Participants, the calling thread included.
    public let threadCount: Int

    /// A pool of `threads` participants (at least 1).
    public init(threads: Int) {
        let n = max(1, min(threads, 256))
        pointer = mlk_pool_create(Int32(n))
        threadCount = pointer.map { Int(mlk_pool_threads($0)) } ?? 1
    }

    deinit {
        if let pointer { mlk_pool_destroy(pointer) }
    }

    /// The number of cores this process may run on.
    public static var availableCores: Int { Int(mlk_available_cores()) }
}
