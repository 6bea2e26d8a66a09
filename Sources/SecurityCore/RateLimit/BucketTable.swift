import Synchronization

#if !_endian(little)
#error("SlotBuffer reads a slot's words at the offsets of a little-endian WordPair")
#endif

/// One shard's buckets: an open-addressing (Robin Hood) table of 16-byte slots, a keyed 64-bit
/// hash and the bucket's GCRA theoretical arrival time.
///
/// The table grows by half when it is seven-eighths full, after first dropping buckets that are
/// already full, so between 19 and 28 bytes hold one tracked key. At the configured cap a new key
/// evicts an old one: a full bucket when one is among the sampled slots (no information is lost),
/// else the sampled bucket whose arrival time is oldest, which is the least recently charged.
///
/// ## Concurrency
///
/// Charging or reading a bucket that is already tracked takes no lock (``tryAcquire(_:request:mode:now:)``):
/// the reader finds the slot and replaces its (hash, arrival) pair with one 16-byte compare-and-swap,
/// so two cores charging different keys write nothing in common. Everything else (a new key,
/// removal, eviction, growth, and calls that must decide several buckets together) holds the
/// table's writer lock through ``withLock(_:)`` and follows two rules that keep lock-free readers
/// right:
/// - A writer never overwrites a live slot. It first *freezes* the slot (a compare-and-swap that
///   sets the arrival to a marker), which makes every lock-free charge of that bucket fail and take
///   the lock instead; the frozen value is the bucket's latest. So a bucket lives in at most one
///   slot, and a compare-and-swap that succeeds charged the bucket's current value.
/// - A writer that moves slots makes the table's version odd while it works. A lock-free reader
///   that did not find its key believes that only if the version was even and unchanged around the
///   search; else it asks again under the lock.
/// Growth freezes every slot, publishes the new buffer and frees the old one only after
/// ``ReadSections/synchronize()``, when no reader can still hold it.
final class BucketTable: Sendable {
    /// The arrival word of a frozen slot. No arrival time takes this value (see `encode`).
    private static let frozen = UInt(bitPattern: Int.min)
    private static let evictionSample = 32

    /// The writer's bookkeeping, guarded by the writer lock.
    struct Writer: Sendable {
        fileprivate var count = 0
        fileprivate var evictionCursor = 0
    }

    /// The current slot buffer's address.
    private let current: Atomic<UInt>
    /// Odd while a writer moves slots.
    private let version = Atomic<UInt>(0)
    private let writer = Mutex(Writer())
    let maximumCount: Int

    init(maximumCount: Int, initialCapacity: Int = 64) {
        self.maximumCount = max(1, maximumCount)
        current = Atomic(SlotBuffer.allocate(capacity: max(8, initialCapacity)).address)
    }

    deinit {
        SlotBuffer(address: current.load(ordering: .acquiring)).deallocate()
    }

    /// How many buckets are tracked.
    var count: Int { writer.withLock { $0.count } }

    /// How many slots the table has.
    var capacity: Int { withLock { $0.slots.capacity } }

    // MARK: Lock-free

    /// Evaluates `request` against the tracked bucket `hash` and, when `mode` says so, charges it,
    /// without a lock. Returns nil when the answer needs the writer lock: the key is new and must
    /// be stored, a writer is moving it, or another core kept changing it.
    func tryAcquire(_ hash: UInt64, request: BucketRequest, mode: AcquireMode, now: Int64) -> BucketState? {
        let section = ReadSections.enter()
        defer { section.exit() }
        let before = version.load(ordering: .acquiring)
        if before & 1 != 0 { return nil }
        let slots = SlotBuffer(address: current.load(ordering: .acquiring))
        guard let index = slots.search(hash) else {
            // Untracked means full. Believe it only if no writer moved slots meanwhile.
            let (state, _) = GCRA.evaluate(stored: nil, request: request, now: now)
            if InMemoryRateLimitStore.commits(mode, allowed: state.allowed) { return nil }
            return unmoved(since: before) ? state : nil
        }
        var slot = WordPair(first: UInt(hash), second: slots.arrivalWord(index))
        for _ in 0..<4 {
            guard slot.first == UInt(hash), slot.second != Self.frozen else { return nil }
            let (state, arrival) = GCRA.evaluate(stored: Self.decode(slot.second), request: request, now: now)
            guard InMemoryRateLimitStore.commits(mode, allowed: state.allowed) else {
                // Nothing to write: the arrival read is this bucket's if no writer moved slots.
                return unmoved(since: before) ? state : nil
            }
            let charged = Self.encode(InMemoryRateLimitStore.charged(arrival, state: state, request: request))
            // Succeeds only if the slot still holds this bucket with the value just evaluated.
            let (exchanged, seen) = slots[index].pointee.compareExchange(
                expected: slot, desired: WordPair(first: slot.first, second: charged), ordering: .acquiringAndReleasing)
            if exchanged { return state }
            slot = seen
        }
        return nil
    }

    /// Whether no writer has moved slots since the version read `before` (even), so what a
    /// lock-free reader read in between is a true picture of the table.
    private func unmoved(since before: UInt) -> Bool {
        atomicMemoryFence(ordering: .acquiring)
        return version.load(ordering: .relaxed) == before
    }

    // MARK: Under the writer lock

    /// Holds the writer lock and lends `body` the table.
    func withLock<Result: Sendable>(_ body: (Locked) -> Result) -> Result {
        writer.withLock { writer in
            withUnsafeMutablePointer(to: &writer) { body(Locked(table: self, writer: $0)) }
        }
    }

    /// The table while its writer lock is held. Valid only inside ``withLock(_:)``: do not keep it.
    struct Locked {
        fileprivate let table: BucketTable
        fileprivate let writer: UnsafeMutablePointer<Writer>

        fileprivate var slots: SlotBuffer { SlotBuffer(address: table.current.load(ordering: .relaxed)) }

        /// The slot index holding `hash`, if any. Slots only move under this lock.
        func find(_ hash: UInt64) -> Int? {
            slots.search(hash)
        }

        /// The stored arrival time at `index`, read without stopping lock-free charges.
        func arrival(at index: Int) -> Int64 {
            BucketTable.decode(slots.load(index).second)
        }

        /// Freezes the slot at `index` and returns its latest arrival time. Put a value back with
        /// ``put(_:arrival:)`` before the lock is released.
        func take(_ index: Int) -> Int64 {
            BucketTable.decode(slots.freeze(index).second)
        }

        /// Stores `arrival` in the frozen slot at `index`, making it live again.
        func put(_ index: Int, arrival: Int64) {
            let slots = self.slots
            slots[index].pointee.store(
                WordPair(first: slots.load(index).first, second: BucketTable.encode(arrival)), ordering: .releasing)
        }

        /// The arrival time of `hash`, if tracked.
        func arrival(of hash: UInt64) -> Int64? {
            find(hash).map(arrival(at:))
        }

        /// Stores `arrival` for `hash`, inserting it (and evicting or growing) when new. `now`
        /// decides which buckets are already full.
        func store(_ hash: UInt64, arrival: Int64, now: Int64) {
            if let index = find(hash) {
                _ = take(index)
                put(index, arrival: arrival)
                return
            }
            table.moving {
                if writer.pointee.count >= table.maximumCount {
                    evictOne(now: now)
                } else if (writer.pointee.count + 1) * 8 > slots.capacity * 7 {
                    dropFull(now: now)
                    if (writer.pointee.count + 1) * 8 > slots.capacity * 7 {
                        resize(to: slots.capacity + slots.capacity / 2)
                    }
                }
                slots.insert(WordPair(first: UInt(hash), second: BucketTable.encode(arrival)))
                writer.pointee.count += 1
            }
        }

        /// Forgets `hash`.
        func remove(_ hash: UInt64) {
            guard let index = find(hash) else { return }
            table.moving {
                _ = slots.freeze(index)
                slots.remove(at: index)
                writer.pointee.count -= 1
            }
        }

        /// Drops every bucket whose arrival time has passed: those buckets are full, and a missing
        /// bucket means exactly that.
        private func dropFull(now: Int64) {
            let slots = self.slots
            var index = 0
            while index < slots.capacity {
                let slot = slots.load(index)
                guard slot.first != 0, slot.second != BucketTable.frozen, BucketTable.decode(slot.second) <= now else {
                    index += 1
                    continue
                }
                // Only if it is still full: a lock-free charge may just have spent it.
                if slots[index].pointee.compareExchange(
                    expected: slot, desired: WordPair(first: slot.first, second: BucketTable.frozen),
                    ordering: .acquiringAndReleasing
                ).exchanged {
                    slots.remove(at: index)  // shifts a later slot into `index`; look at it again
                    writer.pointee.count -= 1
                }
            }
        }

        private func evictOne(now: Int64) {
            let slots = self.slots
            var victim = -1
            var oldest = Int64.max
            var seen = 0
            var index = writer.pointee.evictionCursor % slots.capacity
            var scanned = 0
            while seen < BucketTable.evictionSample, scanned < slots.capacity {
                let slot = slots.load(index)
                if slot.first != 0 {
                    seen += 1
                    let arrival = BucketTable.decode(slot.second)
                    if arrival <= now { victim = index; break }
                    if arrival < oldest { oldest = arrival; victim = index }
                }
                index += 1
                if index == slots.capacity { index = 0 }
                scanned += 1
            }
            writer.pointee.evictionCursor = index
            guard victim >= 0 else { return }
            _ = slots.freeze(victim)
            slots.remove(at: victim)
            writer.pointee.count -= 1
        }

        private func resize(to newCapacity: Int) {
            let old = slots
            let new = SlotBuffer.allocate(capacity: newCapacity)
            for index in 0..<old.capacity where old.load(index).first != 0 {
                new.insert(old.freeze(index))
            }
            table.current.store(new.address, ordering: .sequentiallyConsistent)
            ReadSections.synchronize()
            old.deallocate()
        }
    }

    /// Runs `body`, which moves slots, with the version odd.
    private func moving(_ body: () -> Void) {
        version.wrappingAdd(1, ordering: .sequentiallyConsistent)
        body()
        version.wrappingAdd(1, ordering: .releasing)
    }

    private static func encode(_ arrival: Int64) -> UInt {
        UInt(bitPattern: Int(arrival == Int64.min ? Int64.min + 1 : arrival))
    }

    private static func decode(_ word: UInt) -> Int64 {
        Int64(Int(bitPattern: word))
    }
}

/// A buffer of slots: a header holding the capacity, then the slots, each an atomic pair of words
/// (hash, arrival). A hash of 0 marks an empty slot.
struct SlotBuffer {
    private static let headerBytes = 16
    private let base: UnsafeMutableRawPointer

    init(address: UInt) {
        base = UnsafeMutableRawPointer(bitPattern: address)!
    }

    var address: UInt { UInt(bitPattern: base) }

    /// Bytes one slot takes.
    static let slotBytes = MemoryLayout<Atomic<WordPair>>.stride

    static func allocate(capacity: Int) -> SlotBuffer {
        let base = UnsafeMutableRawPointer.allocate(
            byteCount: headerBytes + capacity * slotBytes, alignment: MemoryLayout<Atomic<WordPair>>.alignment)
        base.initializeMemory(as: Int.self, repeating: capacity, count: 1)
        let slots = (base + headerBytes).bindMemory(to: Atomic<WordPair>.self, capacity: capacity)
        for index in 0..<capacity {
            (slots + index).initialize(to: Atomic(WordPair(first: 0, second: 0)))
        }
        return SlotBuffer(address: UInt(bitPattern: base))
    }

    func deallocate() {
        base.deallocate()
    }

    var capacity: Int { base.load(as: Int.self) }

    subscript(index: Int) -> UnsafeMutablePointer<Atomic<WordPair>> {
        (base + Self.headerBytes).assumingMemoryBound(to: Atomic<WordPair>.self) + index
    }

    /// The whole slot, read atomically (a locked instruction: for writers).
    func load(_ index: Int) -> WordPair {
        self[index].pointee.load(ordering: .acquiring)
    }

    /// The slot's hash word alone, with a plain load. Lock-free readers search with it, because a
    /// 16-byte atomic load is a locked read-modify-write that stalls on each cache miss; they then
    /// confirm what they found with the version or a 16-byte compare-and-swap. (The word is read
    /// through an `Atomic<UInt>` view of the slot's first half: both are atomic accesses through
    /// the same raw address, which x86-64 and arm64 make single-copy atomic.)
    func hashWord(_ index: Int) -> UInt {
        UnsafeMutableRawPointer(self[index]).assumingMemoryBound(to: Atomic<UInt>.self).pointee.load(ordering: .acquiring)
    }

    /// The slot's arrival word alone, as ``hashWord(_:)`` reads the hash.
    func arrivalWord(_ index: Int) -> UInt {
        (UnsafeMutableRawPointer(self[index]) + MemoryLayout<UInt>.stride)
            .assumingMemoryBound(to: Atomic<UInt>.self).pointee.load(ordering: .acquiring)
    }

    private func home(_ hash: UInt) -> Int {
        Int(truncatingIfNeeded: UInt64(hash).multipliedFullWidth(by: UInt64(capacity)).high)
    }

    private func distance(of hash: UInt, at index: Int) -> Int {
        let ideal = home(hash)
        return index >= ideal ? index - ideal : index + capacity - ideal
    }

    /// The slot index holding `hash`, if found. Without the writer lock a miss may be wrong while a
    /// writer moves slots; the search always ends, after at most `capacity` slots.
    func search(_ hash: UInt64) -> Int? {
        let capacity = self.capacity
        var index = home(UInt(hash))
        for probe in 0..<capacity {
            let slot = hashWord(index)
            if slot == 0 || distance(of: slot, at: index) < probe { return nil }
            if slot == UInt(hash) { return index }
            index += 1
            if index == capacity { index = 0 }
        }
        return nil
    }

    /// Writer only: sets the arrival word of the live slot at `index` to the frozen marker and
    /// returns the slot's latest value.
    func freeze(_ index: Int) -> WordPair {
        var slot = load(index)
        while true {
            let (exchanged, seen) = self[index].pointee.compareExchange(
                expected: slot, desired: WordPair(first: slot.first, second: UInt(bitPattern: Int.min)),
                ordering: .acquiringAndReleasing)
            if exchanged { return slot }
            slot = seen
        }
    }

    /// Writer only: inserts a slot whose hash is not in the table, Robin Hood style. A slot it
    /// displaces is frozen before it is overwritten and carried on to a later place.
    func insert(_ newSlot: WordPair) {
        let capacity = self.capacity
        var carried = newSlot
        var index = home(carried.first)
        var probe = 0
        while true {
            let slot = load(index)
            if slot.first == 0 {
                self[index].pointee.store(carried, ordering: .releasing)
                return
            }
            let existing = distance(of: slot.first, at: index)
            if existing < probe {
                let displaced = freeze(index)
                self[index].pointee.store(carried, ordering: .releasing)
                carried = displaced
                probe = existing
            }
            probe += 1
            index += 1
            if index == capacity { index = 0 }
        }
    }

    /// Writer only: empties the frozen slot at `start`, shifting the slots after it back.
    func remove(at start: Int) {
        let capacity = self.capacity
        var index = start
        while true {
            var next = index + 1
            if next == capacity { next = 0 }
            let slot = load(next)
            if slot.first == 0 || distance(of: slot.first, at: next) == 0 {
                self[index].pointee.store(WordPair(first: 0, second: 0), ordering: .releasing)
                return
            }
            let moved = freeze(next)
            self[index].pointee.store(moved, ordering: .releasing)
            index = next
        }
    }
}
