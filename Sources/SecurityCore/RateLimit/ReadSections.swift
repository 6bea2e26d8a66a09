#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Lets ``BucketTable`` readers run without a lock while a writer replaces memory they may be
/// reading: a reader announces itself for the length of one read, and a writer that has unpublished
/// a buffer calls ``synchronize()`` before it frees that buffer.
///
/// It is a small sleepable read-copy-update: two sets of counters, one per parity of an epoch. A
/// reader adds one to a counter of the current parity and takes it off again when it is done; the
/// writer flips the epoch and waits until the counters of the old parity are back to zero, twice, so
/// a reader that read the epoch just before a flip is also waited for. Each thread counts on a cache
/// line of its own, so readers on different cores never write the same memory.
///
/// Rules for readers: a read section does not block, does not wait for a lock and does not nest.
/// ``synchronize()`` may be called with a table's writer lock held, since readers never take it
/// inside a section.
enum ReadSections {
    /// Counter lines per parity (a power of two); a thread uses line `index % lineCount`.
    private static let lineCount = 64
    /// Bytes between counters: two cache lines, so the adjacent-line prefetcher does not pair them.
    private static let lineBytes = 128

    private static let epoch = Atomic<Int>(0)
    /// One grace period at a time: two writers flipping the epoch between each other's flips could
    /// otherwise both wait on the same parity and neither on the other.
    private static let grace = Mutex(())
    private static let nextThread = Atomic<Int>(0)
    /// Counters for parity `p` and line `l` sit at `lineBytes * (p * lineCount + l)`.
    private static let counterBase: UInt = {
        let count = 2 * lineCount
        let base = UnsafeMutableRawPointer.allocate(byteCount: count * lineBytes, alignment: lineBytes)
        for index in 0..<count {
            (base + index * lineBytes).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        }
        return UInt(bitPattern: base)  // Lives as long as the process.
    }()
    private static let threadKey: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "pthread_key_create failed with \(status)")
        return key
    }()

    /// A reader's place: the counter it added to and must take from.
    struct Section {
        fileprivate let counter: UnsafeMutablePointer<Atomic<Int>>

        /// Ends the read section.
        func exit() {
            counter.pointee.wrappingSubtract(1, ordering: .releasing)
        }
    }

    /// Starts a read section. Pair it with ``Section/exit()`` on every path.
    static func enter() -> Section {
        let parity = epoch.load(ordering: .sequentiallyConsistent) & 1
        let line = parity * lineCount + threadLine()
        let counter = UnsafeMutableRawPointer(bitPattern: counterBase)!
            .advanced(by: line * lineBytes).assumingMemoryBound(to: Atomic<Int>.self)
        // Sequentially consistent: the increment must be ordered before the reader's loads of the
        // table, against the writer's publish-then-read-counters.
        counter.pointee.wrappingAdd(1, ordering: .sequentiallyConsistent)
        return Section(counter: counter)
    }

    /// Returns once every read section that started before the call has ended.
    static func synchronize() {
        grace.withLock { _ in flipAndWaitTwice() }
    }

    private static func flipAndWaitTwice() {
        for _ in 0..<2 {
            let old = epoch.wrappingAdd(1, ordering: .sequentiallyConsistent).oldValue & 1
            // Sections last nanoseconds; a reader that was preempted inside one is waited for
            // without spinning on a core it may need.
            var spins = 0
            while !drained(parity: old) {
                spins += 1
                if spins > 1000 {
                    usleep(50)
                } else if spins > 64 {
                    sched_yield()
                }
            }
        }
    }

    private static func drained(parity: Int) -> Bool {
        let base = UnsafeMutableRawPointer(bitPattern: counterBase)!
        var total = 0
        for line in 0..<lineCount {
            total &+= (base + (parity * lineCount + line) * lineBytes)
                .assumingMemoryBound(to: Atomic<Int>.self).pointee.load(ordering: .sequentiallyConsistent)
        }
        return total == 0
    }

    /// This thread's counter line, given out round-robin the first time a thread reads.
    private static func threadLine() -> Int {
        if let stored = pthread_getspecific(threadKey) {
            return Int(bitPattern: stored) &- 1
        }
        let line = nextThread.wrappingAdd(1, ordering: .relaxed).oldValue & (lineCount - 1)
        _ = pthread_setspecific(threadKey, UnsafeRawPointer(bitPattern: line + 1))
        return line
    }
}
