/// One shard's buckets: an open-addressing (Robin Hood) table of 16-byte slots, a keyed 64-bit
/// hash and the bucket's GCRA theoretical arrival time.
///
/// The table grows by half when it is seven-eighths full, after first dropping buckets that are
/// already full, so between 19 and 28 bytes hold one tracked key. At the configured cap a new key
/// evicts an old one: a full bucket when one is among the sampled slots (no information is lost),
/// else the sampled bucket whose arrival time is oldest, which is the least recently charged.
struct BucketTable {
    struct Slot {
        var hash: UInt64  // 0: empty
        var arrival: Int64
    }

    private(set) var slots: [Slot]
    private(set) var count = 0
    let maximumCount: Int
    private var evictionCursor = 0
    private static let evictionSample = 32

    init(maximumCount: Int, initialCapacity: Int = 64) {
        self.maximumCount = max(1, maximumCount)
        self.slots = [Slot](repeating: Slot(hash: 0, arrival: 0), count: max(8, initialCapacity))
    }

    var capacity: Int { slots.count }

    private func home(_ hash: UInt64) -> Int {
        Int(truncatingIfNeeded: hash.multipliedFullWidth(by: UInt64(slots.count)).high)
    }

    private func distance(of index: Int) -> Int {
        let ideal = home(slots[index].hash)
        return index >= ideal ? index - ideal : index + slots.count - ideal
    }

    /// The slot index holding `hash`, if any.
    func find(_ hash: UInt64) -> Int? {
        var index = home(hash)
        var probe = 0
        while true {
            let slot = slots[index]
            if slot.hash == 0 || distance(of: index) < probe { return nil }
            if slot.hash == hash { return index }
            probe += 1
            index += 1
            if index == slots.count { index = 0 }
        }
    }

    /// The stored arrival time of `hash`, if tracked.
    func arrival(of hash: UInt64) -> Int64? {
        find(hash).map { slots[$0].arrival }
    }

    /// Stores `arrival` for `hash`, inserting it (and evicting or growing) when new. `now` decides
    /// which buckets are already full.
    mutating func store(_ hash: UInt64, arrival: Int64, now: Int64) {
        if let index = find(hash) {
            slots[index].arrival = arrival
            return
        }
        if count >= maximumCount {
            evictOne(now: now)
        } else if (count + 1) * 8 > slots.count * 7 {
            dropFull(now: now)
            if (count + 1) * 8 > slots.count * 7 { resize(to: slots.count + slots.count / 2) }
        }
        insert(Slot(hash: hash, arrival: arrival))
    }

    /// Forgets `hash`.
    mutating func remove(_ hash: UInt64) {
        guard let index = find(hash) else { return }
        remove(at: index)
    }

    /// Drops every bucket whose arrival time has passed: those buckets are full, and a missing
    /// bucket means exactly that.
    mutating func dropFull(now: Int64) {
        var index = 0
        while index < slots.count {
            if slots[index].hash != 0, slots[index].arrival <= now {
                remove(at: index)  // shifts a later slot into `index`; look at it again
            } else {
                index += 1
            }
        }
    }

    private mutating func evictOne(now: Int64) {
        var victim = -1
        var oldest = Int64.max
        var seen = 0
        var index = evictionCursor % slots.count
        var scanned = 0
        while seen < Self.evictionSample, scanned < slots.count {
            if slots[index].hash != 0 {
                seen += 1
                if slots[index].arrival <= now {
                    victim = index
                    break
                }
                if slots[index].arrival < oldest {
                    oldest = slots[index].arrival
                    victim = index
                }
            }
            index += 1
            if index == slots.count { index = 0 }
            scanned += 1
        }
        evictionCursor = index
        if victim >= 0 { remove(at: victim) }
    }

    private mutating func insert(_ newSlot: Slot) {
        var carried = newSlot
        var index = home(carried.hash)
        var probe = 0
        while true {
            if slots[index].hash == 0 {
                slots[index] = carried
                count += 1
                return
            }
            let existing = distance(of: index)
            if existing < probe {
                swap(&carried, &slots[index])
                probe = existing
            }
            probe += 1
            index += 1
            if index == slots.count { index = 0 }
        }
    }

    private mutating func remove(at start: Int) {
        var index = start
        while true {
            var next = index + 1
            if next == slots.count { next = 0 }
            if slots[next].hash == 0 || distance(of: next) == 0 {
                slots[index] = Slot(hash: 0, arrival: 0)
                count -= 1
                return
            }
            slots[index] = slots[next]
            index = next
        }
    }

    private mutating func resize(to newCapacity: Int) {
        let old = slots
        slots = [Slot](repeating: Slot(hash: 0, arrival: 0), count: newCapacity)
        count = 0
        for slot in old where slot.hash != 0 { insert(slot) }
    }
}
