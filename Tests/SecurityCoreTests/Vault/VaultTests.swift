@testable import SecurityCore
import Testing

struct VaultTests {
    static func key(_ version: UInt32, fill: UInt8) -> VaultKey {
        VaultKey(version: version, secret: SecureBytes(copying: [UInt8](repeating: fill, count: 32)))
    }

    let identity = RecordIdentity(owner: "project:p1", recordID: "r-1", name: "git-token")
    let secret = Array("ghp_exampleexampleexample".utf8)

    func opened(_ vault: Vault, _ record: SealedRecord, as identity: RecordIdentity) throws -> [UInt8] {
        try vault.withSecret(in: record, for: identity) { Array($0) }
    }

    func code(_ body: () throws -> Void) -> VaultError.Code? {
        do {
            try body()
            return nil
        } catch let error as VaultError {
            return error.code
        } catch {
            return nil
        }
    }

    @Test func sealsAndLendsTheSecret() throws {
        let vault = Vault(keyring: try VaultKeyring(keys: [Self.key(1, fill: 7)], primaryVersion: 1))
        let record = try vault.seal(SecureBytes(copying: secret), for: identity)
        #expect(record.keyVersion == 1)
        #expect(record.bytes.count == SealedRecord.overhead + secret.count)
        #expect(try opened(vault, record, as: identity) == secret)
        // The stored bytes do not contain the plaintext, and nothing prints it.
        #expect(!record.bytes.containsSubsequence(secret))
        #expect(!"\(record)".contains("ghp_"))
        #expect(vault.encryptionCounts == [1: 1])
        // Two seals of one secret differ (fresh nonce).
        #expect(try vault.seal(SecureBytes(copying: secret), for: identity) != record)
    }

    /// The associated data every stored record was sealed with: the header, then owner, record id
    /// and name, each after its length in 4 bytes big-endian. A change here would leave every
    /// stored record unopenable.
    @Test func theAssociatedDataKeepsItsLayout() throws {
        let header = SealedRecord.header(keyVersion: 2)
        var expected = header
        expected += [0, 0, 0, 10] + Array("project:p1".utf8)
        expected += [0, 0, 0, 3] + Array("r-1".utf8)
        expected += [0, 0, 0, 9] + Array("git-token".utf8)
        #expect(identity.associatedData(header: header) == expected)
        // A record sealed below the vault, with that layout written out by hand, opens through it.
        let keyring = try VaultKeyring(keys: [Self.key(2, fill: 7)], primaryVersion: 2)
        let vault = Vault(keyring: keyring)
        let sealed = try #require(keyring.keys[2]).seal(SecureBytes(copying: secret), aad: expected, prefix: header)
        #expect(try opened(vault, SealedRecord(bytes: sealed), as: identity) == secret)
    }

    @Test func aRecordOpensOnlyAsItself() throws {
        let vault = Vault(keyring: try VaultKeyring(keys: [Self.key(1, fill: 7)], primaryVersion: 1))
        let record = try vault.seal(SecureBytes(copying: secret), for: identity)
        for other in [
            RecordIdentity(owner: "project:p2", recordID: "r-1", name: "git-token"),
            RecordIdentity(owner: "project:p1", recordID: "r-2", name: "git-token"),
            RecordIdentity(owner: "project:p1", recordID: "r-1", name: "provider:openai"),
            // Length prefixes keep field boundaries: moving bytes between fields is another identity.
            RecordIdentity(owner: "project:p1r", recordID: "-1", name: "git-token"),
        ] {
            #expect(code { _ = try opened(vault, record, as: other) } == .recordMismatch)
        }
    }

    @Test func everyCorruptionIsRefusedWithoutACrash() throws {
        let vault = Vault(keyring: try VaultKeyring(keys: [Self.key(1, fill: 7)], primaryVersion: 1))
        let record = try vault.seal(SecureBytes(copying: secret), for: identity)
        for index in record.bytes.indices {
            var bytes = record.bytes
            bytes[index] ^= 0x01
            let result = code {
                let corrupted = try SealedRecord(bytes: bytes)
                _ = try opened(vault, corrupted, as: identity)
            }
            // Header bytes: not a record, or a key version this keyring lacks or retired; the rest: a mismatch.
            let refused: Set<VaultError.Code> = [.malformed, .unknownKeyVersion, .keyVersionRetired, .recordMismatch]
            #expect(result.map { refused.contains($0) } == true, "byte \(index)")
            if index >= SealedRecord.headerByteCount { #expect(result == .recordMismatch, "byte \(index)") }
        }
        for length in [0, 1, 6, SealedRecord.overhead - 1] {
            #expect(code { _ = try SealedRecord(bytes: Array(record.bytes.prefix(length))) } == .malformed)
        }
        // Truncated but still long enough to parse: the tag no longer matches.
        let truncated = try SealedRecord(bytes: Array(record.bytes.dropLast(1)))
        #expect(code { _ = try opened(vault, truncated, as: identity) } == .recordMismatch)
    }

    @Test func rotationKeepsOldRecordsOpenUntilTheyAreRetired() throws {
        let first = Vault(keyring: try VaultKeyring(keys: [Self.key(1, fill: 7)], primaryVersion: 1))
        let old = try first.seal(SecureBytes(copying: secret), for: identity)

        let rotated = Vault(keyring: try VaultKeyring(keys: [Self.key(1, fill: 7), Self.key(2, fill: 9)], primaryVersion: 2))
        #expect(try opened(rotated, old, as: identity) == secret)
        #expect(rotated.needsResealing(old))
        let resealed = try rotated.reseal(old, for: identity)
        #expect(resealed.keyVersion == 2 && !rotated.needsResealing(resealed))

        let retired = Vault(
            keyring: try VaultKeyring(
                keys: [Self.key(1, fill: 7), Self.key(2, fill: 9)], primaryVersion: 2, minimumDecryptionVersion: 2
            ))
        #expect(code { _ = try opened(retired, old, as: identity) } == .keyVersionRetired)
        #expect(try opened(retired, resealed, as: identity) == secret)

        // A keyring without version 1, or with a different key under that number.
        let missing = Vault(keyring: try VaultKeyring(keys: [Self.key(2, fill: 9)], primaryVersion: 2))
        #expect(code { _ = try opened(missing, old, as: identity) } == .unknownKeyVersion)
        let wrong = Vault(keyring: try VaultKeyring(keys: [Self.key(1, fill: 8)], primaryVersion: 1))
        #expect(code { _ = try opened(wrong, old, as: identity) } == .recordMismatch)
    }

    @Test func noKeyMeansNoVault() throws {
        #expect(code { _ = try VaultKeyring(keys: [], primaryVersion: 1) } == .noKey)
        #expect(code { _ = try VaultKeyring(keys: [Self.key(1, fill: 1)], primaryVersion: 2) } == .noKey)
        #expect(code { _ = try VaultKeyring(keys: [Self.key(1, fill: 1), Self.key(1, fill: 2)], primaryVersion: 1) } == .invalidKeyring)
        #expect(code { _ = try VaultKeyring(keys: [Self.key(0, fill: 1)], primaryVersion: 0) } == .invalidKeyring)
        #expect(
            code { _ = try VaultKeyring(keys: [Self.key(1, fill: 1)], primaryVersion: 1, minimumDecryptionVersion: 2) } == .invalidKeyring)
        let short = VaultKey(version: 1, secret: SecureBytes(copying: [1, 2, 3]))
        #expect(code { _ = try VaultKeyring(keys: [short], primaryVersion: 1) } == .invalidKeyring)
        #expect(!"\(Self.key(1, fill: 0x41))".contains("AAAA"))
        let keyring = try VaultKeyring(keys: [Self.key(1, fill: 0x41), Self.key(2, fill: 0x42)], primaryVersion: 2)
        #expect("\(keyring)" == "VaultKeyring(versions: [1, 2], primary: 2, minimum: 1)")
        #expect(!String(reflecting: keyring).contains("AAAA") && !"\(Vault(keyring: keyring))".contains("AAAA"))
    }

    @Test func encryptionsAreCountedAndCapped() throws {
        let keyring = try VaultKeyring(keys: [Self.key(1, fill: 7)], primaryVersion: 1)
        let nearlySpent = Vault(keyring: keyring, encryptionCounts: [1: Vault.rotationRequiredAt - 1])
        #expect(nearlySpent.rotationAdvised)
        _ = try nearlySpent.seal(SecureBytes(copying: secret), for: identity)
        #expect(code { _ = try nearlySpent.seal(SecureBytes(copying: secret), for: identity) } == .rotationRequired)
        #expect(!Vault(keyring: keyring, encryptionCounts: [1: Vault.rotationAdvisedAfter - 1]).rotationAdvised)
        let large = SecureBytes(copying: [UInt8](repeating: 1, count: Vault.maximumSecretByteCount + 1))
        #expect(code { _ = try Vault(keyring: keyring).seal(large, for: identity) } == .secretTooLarge)
    }

    @Test func errorsFromTheBorrowerPassThrough() throws {
        struct Refused: Error {}
        let vault = Vault(keyring: try VaultKeyring(keys: [Self.key(1, fill: 7)], primaryVersion: 1))
        let record = try vault.seal(SecureBytes(copying: secret), for: identity)
        #expect(throws: Refused.self) { try vault.withSecret(in: record, for: identity) { _ in throw Refused() } }
    }
}

extension Array where Element == UInt8 {
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, count >= needle.count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}
