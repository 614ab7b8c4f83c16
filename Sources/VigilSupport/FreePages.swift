#if canImport(Glibc)
import Glibc

@_silgen_name("malloc_trim") private func glibcMallocTrim(_ pad: Int) -> Int32
#endif

/// Hands the allocator's free pages back to the system (glibc's `malloc_trim`; nothing elsewhere), after a
/// large transient structure (the YAML tree of a 100k-sensor catalog) was freed: glibc keeps them otherwise.
public func returnFreePagesToSystem() {
    #if canImport(Glibc)
    _ = glibcMallocTrim(0)
    #endif
}
