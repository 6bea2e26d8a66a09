import AgentHost
import Foundation
import SecurityCore
import Testing

struct KeysTests {
    @Test func keyringFileIsPrivateAndRoundTrips() throws {
        let directory = try TemporaryDirectory()
        let dataDirectory = directory.path + "/data"
        let loaded = try KeySource.load(dataDirectory: dataDirectory, environment: [:], createIfMissing: true, now: 1_800_000_000)
        #expect(loaded.created && loaded.keyring.primary != nil)
        let file = KeyringFile(dataDirectory: dataDirectory)
        #expect(try permissions(of: file.path) == 0o600)
        #expect(try permissions(of: dataDirectory) == 0o700)

        let again = try KeySource.load(dataDirectory: dataDirectory, environment: [:], createIfMissing: true, now: 0)
        #expect(!again.created)
        #expect(again.keyring.primary?.id == loaded.keyring.primary?.id)
        #expect(again.keyring.primary?.secret == loaded.keyring.primary?.secret)
    }

    @Test(arguments: [0o640, 0o604, 0o644, 0o660, 0o666])
    func readableKeyringIsRefused(mode: Int) throws {
        let directory = try TemporaryDirectory()
        let file = KeyringFile(dataDirectory: directory.path)
        try file.save(try Keyring(keys: [TokenKey.generate(now: 0)]))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file.path)
        let error = #expect(throws: AgentHostError.self) { try file.load() }
        #expect(error?.message.contains("chmod 600") == true)
    }

    @Test func corruptKeyringsAreRefusedWithoutEchoingThem() throws {
        let directory = try TemporaryDirectory()
        let file = KeyringFile(dataDirectory: directory.path)
        let secretLooking = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
        for content in [
            "not json", "{}", #"{"format":"other","keys":[]}"#,
            #"{"format":"agenthost-keyring-v1","keys":[{"id":"k 1","status":"primary","created_at":0,"secret":"\#(secretLooking)"}]}"#,
            #"{"format":"agenthost-keyring-v1","keys":[{"id":"k1","status":"primary","created_at":0,"secret":"c2hvcnQ"}]}"#,
            #"{"format":"agenthost-keyring-v1","keys":[{"id":"k1","status":"primary","created_at":0,"secret":"!!"}]}"#,
        ] {
            _ = FileManager.default.createFile(atPath: file.path, contents: Data(content.utf8), attributes: [.posixPermissions: 0o600])
            let error = #expect(throws: AgentHostError.self) { try file.load() }
            #expect(error.map { !$0.message.contains(secretLooking) && !$0.message.contains("c2hvcnQ") } == true)
        }
    }

    @Test func environmentKeysTakePrecedenceAndNeverLeak() throws {
        let directory = try TemporaryDirectory()
        let secret = Base64URL.encode((0..<32).map { UInt8($0) })
        let old = Base64URL.encode((32..<64).map { UInt8($0) })
        let environment = [KeySource.primaryVariable: "k-env:\(secret)", KeySource.verifyVariable: "k-old:\(old)"]
        let loaded = try KeySource.load(dataDirectory: directory.path, environment: environment, createIfMissing: true, now: 0)
        #expect(loaded.source == .environment && !loaded.created)
        #expect(loaded.keyring.primary?.id.rawValue == "k-env")
        #expect(loaded.keyring.keys.count == 2)
        #expect(!KeyringFile(dataDirectory: directory.path).exists)

        let weak = Base64URL.encode([UInt8](repeating: 7, count: 16))
        for bad in ["k-env:\(weak)", "no-colon", "k env:\(secret)", "k-env:\(secret)=", "k-env:"] {
            let error = #expect(throws: AgentHostError.self) {
                try KeySource.load(
                    dataDirectory: directory.path, environment: [KeySource.primaryVariable: bad], createIfMissing: false, now: 0)
            }
            #expect(error.map { !$0.message.contains(weak) && !$0.message.contains(secret) } == true)
        }
    }

    @Test func missingKeysSayWhatToSet() throws {
        let directory = try TemporaryDirectory()
        let error = #expect(throws: AgentHostError.self) {
            try KeySource.load(dataDirectory: directory.path, environment: [:], createIfMissing: false, now: 0)
        }
        #expect(error?.message.contains("AGENTHOST_TOKEN_KEY") == true)
        #expect(error?.message.contains("agenthost keys init") == true)
        #expect(!KeyringFile(dataDirectory: directory.path).exists)
    }

    @Test func vaultKeysLiveBesideTokenKeysAndSurviveTheirRotation() throws {
        let directory = try TemporaryDirectory()
        let tokens = try KeySource.load(dataDirectory: directory.path, environment: [:], createIfMissing: true, now: 1_800_000_000)
        let vault = try VaultKeySource.load(dataDirectory: directory.path, environment: [:], createIfMissing: true, now: 1_800_000_000)
        #expect(
            vault.created && vault.keys.primaryVersion == 1 && vault.source == .file(path: KeyringFile(dataDirectory: directory.path).path))
        // Rotating the token keys keeps the vault keys, and the other way round.
        _ = try AgentHostCLI.rotate(dataDirectory: directory.path, environment: [:])
        let file = KeyringFile(dataDirectory: directory.path)
        let afterTokenRotation = try #require(try file.loadVault())
        #expect(afterTokenRotation.entries.map(\.secret) == vault.keys.entries.map(\.secret))
        try file.saveVault(try afterTokenRotation.rotated(now: 1_800_000_100))
        let both = try file.load()
        #expect(both.keys.count == 2 && both.keys.first?.id == tokens.keyring.primary?.id)
        let rotated = try #require(try file.loadVault())
        #expect(rotated.primaryVersion == 2 && rotated.keyring.versions == [1, 2] && rotated.minimumVersion == 1)
        #expect(try permissions(of: file.path) == 0o600)
        // Loading again creates nothing new.
        let again = try VaultKeySource.load(dataDirectory: directory.path, environment: [:], createIfMissing: true, now: 0)
        #expect(!again.created && again.keys.primaryVersion == 2)
        #expect(!"\(again.keys)".contains(rotated.entries[0].secret.base64URLEncoded()))
    }

    @Test func aMissingVaultKeyIsAnErrorNeverAFallback() throws {
        let directory = try TemporaryDirectory()
        // No keyring file: nothing opens, and nothing is created.
        let none = #expect(throws: AgentHostError.self) {
            try VaultKeySource.load(dataDirectory: directory.path, environment: [:], createIfMissing: true, now: 0)
        }
        #expect(none?.message.contains("AGENTHOST_VAULT_KEY") == true)
        #expect(!KeyringFile(dataDirectory: directory.path).exists)
        // A keyring without a vault section (written before the vault existed) gets one only on
        // request (serve), never from a command that only reads.
        try KeyringFile(dataDirectory: directory.path).save(try Keyring(keys: [TokenKey.generate(now: 0)]))
        #expect(throws: AgentHostError.self) {
            try VaultKeySource.load(dataDirectory: directory.path, environment: [:], createIfMissing: false, now: 0)
        }
        #expect(try KeyringFile(dataDirectory: directory.path).loadVault() == nil)
    }

    @Test func vaultKeysFromTheEnvironmentNeverLeak() throws {
        let directory = try TemporaryDirectory()
        let primary = Base64URL.encode((0..<32).map { UInt8($0) })
        let old = Base64URL.encode((100..<132).map { UInt8($0) })
        let environment = [VaultKeySet.primaryVariable: "3:\(primary)", VaultKeySet.olderVariable: "2:\(old)"]
        let loaded = try VaultKeySource.load(dataDirectory: directory.path, environment: environment, createIfMissing: true, now: 0)
        #expect(loaded.source == .environment && loaded.keys.primaryVersion == 3 && loaded.keys.minimumVersion == 2)
        #expect(!KeyringFile(dataDirectory: directory.path).exists)

        let short = Base64URL.encode([UInt8](repeating: 9, count: 16))
        for bad in [
            [VaultKeySet.primaryVariable: "0:\(primary)"], [VaultKeySet.primaryVariable: "x:\(primary)"],
            [VaultKeySet.primaryVariable: "1:\(short)"], [VaultKeySet.primaryVariable: "1:\(primary)="],
            [VaultKeySet.primaryVariable: "1:\(primary)", VaultKeySet.olderVariable: "1:\(old)"],
            [VaultKeySet.olderVariable: "1:\(old)"],
        ] {
            let error = #expect(throws: AgentHostError.self) {
                try VaultKeySource.load(dataDirectory: directory.path, environment: bad, createIfMissing: true, now: 0)
            }
            #expect(error.map { !$0.message.contains(primary) && !$0.message.contains(short) && !$0.message.contains(old) } == true)
        }
    }
}
