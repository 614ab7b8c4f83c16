// VigilSupport: the floor every module may stand on; it depends on nothing of Vigil's.
//
// Files:
//   Locked.swift        the one lock wrapper (a pthread mutex ThreadSanitizer understands)
//   JSONText.swift      the one JSON string writer (RFC 8259 escapes)
//   LoopbackPort.swift  free loopback ports and whether one listens (benchmarks and tests start brokers)
//   AsidePath.swift     the name a damaged file is moved aside to, with a UTC stamp
//   SystemCalls.swift   the system calls behind one door (sockets, atomic durable writes), errno as SystemError
//   FreePages.swift     hands the allocator's free pages back to the system after a large transient structure
