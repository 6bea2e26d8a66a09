@testable import SecurityCore
import Synchronization
import Testing

struct PasswordHasherTests {
    // The smallest legal cost keeps the suite fast; the algorithm is the same.
    let cheap = PasswordHasher.Parameters(operations: 1, memoryBytes: 8192)

    @Test func hashAndVerify() async throws {
        let hasher = try PasswordHasher(parameters: cheap)
        let stored = try await hasher.hash(password: "correct horse battery staple")
        #expect(stored.hasPrefix("$argon2id$v=19$m=8,t=1,p=1$"))
        #expect(!stored.contains("correct horse"))
        #expect(try await hasher.verify(password: "correct horse battery staple", against: stored))
        #expect(try await !hasher.verify(password: "correct horse battery stapler", against: stored))
        #expect(try await hasher.hash(password: "x") != hasher.hash(password: "x"))  // fresh salt each time
    }

    @Test func needsRehashWhenParametersChange() async throws {
        let hasher = try PasswordHasher(parameters: cheap)
        let stored = try await hasher.hash(password: "pw")
        #expect(try !hasher.needsRehash(stored))
        let stronger = try PasswordHasher(parameters: .init(operations: 2, memoryBytes: 16384))
        #expect(try stronger.needsRehash(stored))
        #expect(try stronger.needsRehash("$2b$10$notargon"))
    }

    @Test func refusesBadInput() async throws {
        let hasher = try PasswordHasher(parameters: cheap)
        await #expect(throws: CryptoError.self) { try await hasher.verify(password: "pw", against: "plaintext-password") }
        await #expect(throws: CryptoError.self) {
            try await hasher.hash(password: String(repeating: "a", count: PasswordHasher.maximumPasswordByteCount + 1))
        }
        #expect(throws: CryptoError.self) { try PasswordHasher(parameters: .init(operations: 0, memoryBytes: 8192)) }
        #expect(throws: CryptoError.self) { try PasswordHasher(parameters: cheap, maximumConcurrent: 0) }
    }

    @Test func manyCallersAllFinish() async throws {
        let hasher = try PasswordHasher(parameters: cheap, maximumConcurrent: 2)
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<8 {
                group.addTask {
                    let stored = try await hasher.hash(password: "pw\(index)")
                    return try await hasher.verify(password: "pw\(index)", against: stored)
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results == Array(repeating: true, count: 8))
    }
}
