#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One event of a streamed generation.
public enum GenerationEvent: Sendable {
    /// A generated token and the text it completes (may be empty: part of a character, or text
    /// held back because it may begin a stop string).
    case token(id: Int32, text: String)
    /// The end, with the whole result. Always the last event unless the stream throws.
    case finished(GenerationResult)
}

/// The tokens of a generation as they come. The forward pass runs on a thread of its own,
/// never on the cooperative pool; ending the iteration early (or cancelling the consuming task)
/// stops the generation at the next token.
public struct TokenStream: AsyncSequence, Sendable {
    public typealias Element = GenerationEvent
    let base: AsyncThrowingStream<GenerationEvent, Error>

    public func makeAsyncIterator() -> AsyncThrowingStream<GenerationEvent, Error>.AsyncIterator {
        base.makeAsyncIterator()
    }
}

extension InferenceSession {
    /// Streams a generation (see `generate`). Throws through the stream: `MicroLMError.sessionBusy`
    /// if the session is running another request, and the errors of `generate`.
    public func stream(
        _ prompt: Prompt, options: GenerationOptions = GenerationOptions(), logitProcessor: LogitProcessor? = nil
    ) -> TokenStream {
        let ids = model.tokens(for: prompt)
        let flag = CancellationFlag()
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, Error>.makeStream(bufferingPolicy: .unbounded)
        continuation.onTermination = { _ in flag.cancel() }
        let work: @Sendable () -> Void = { [self] in
            do {
                let result = try self.exclusive {
                    try self.generateLocked(ids, options: options, logitProcessor: logitProcessor, cancellation: flag) { id, text in
                        continuation.yield(.token(id: id, text: text))
                        return !flag.isCancelled
                    }
                }
                continuation.yield(.finished(result))
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        if !startThread(work) { continuation.finish(throwing: MicroLMError.cannotLoad(path: model.path, reason: "cannot start a thread")) }
        return TokenStream(base: stream)
    }
}

private final class ThreadBody: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Runs `body` on a new detached thread with a 1 MiB stack; false if the thread could not start.
func startThread(_ body: @escaping @Sendable () -> Void) -> Bool {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setstacksize(&attributes, 1 << 20)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    #if canImport(Glibc)
    var thread = pthread_t()
    #else
    var thread: pthread_t?
    #endif
    let rc = pthread_create(&thread, &attributes, { raw in
        guard let raw else { return nil }
        let body = Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue()
        body.body()
        return nil
    }, box)
    if rc != 0 {
        Unmanaged<ThreadBody>.fromOpaque(box).release()
        return false
    }
    return true
}
