import Foundation
@testable import SecurityCore
import Synchronization
import Testing

struct ReadSectionsTests {
    /// A reader on a thread of its own holds a section open for 100 ms; `synchronize()` on another
    /// thread must not return before the reader leaves. The reader leaves by itself: like every
    /// real read section, it waits for nothing else (other tests' writers call `synchronize()` too
    /// and would wait for it).
    @Test func synchronizeWaitsForAnOpenSection() async throws {
        let entered = Atomic<Bool>(false)
        let returned = Atomic<Bool>(false)
        let returnedWhileInside = Atomic<Bool>(false)
        let readerDone = Atomic<Bool>(false)
        Thread {
            let section = ReadSections.enter()
            entered.store(true, ordering: .sequentiallyConsistent)
            usleep(100_000)
            returnedWhileInside.store(returned.load(ordering: .sequentiallyConsistent), ordering: .sequentiallyConsistent)
            section.exit()
            readerDone.store(true, ordering: .sequentiallyConsistent)
        }.start()
        while !entered.load(ordering: .sequentiallyConsistent) { try await Task.sleep(for: .milliseconds(1)) }
        Thread {
            ReadSections.synchronize()
            returned.store(true, ordering: .sequentiallyConsistent)
        }.start()
        for _ in 0..<1000 where !returned.load(ordering: .sequentiallyConsistent) {
            try await Task.sleep(for: .milliseconds(10))
        }
        let didReturn = returned.load(ordering: .sequentiallyConsistent)
        let wasInside = returnedWhileInside.load(ordering: .sequentiallyConsistent)
        let done = readerDone.load(ordering: .sequentiallyConsistent)
        #expect(didReturn)
        #expect(done)
        #expect(!wasInside, "synchronize() returned while a reader was inside its section")
    }

    @Test func synchronizeReturnsWithNoReaders() {
        ReadSections.synchronize()
        let section = ReadSections.enter()
        section.exit()
        ReadSections.synchronize()
    }
}
