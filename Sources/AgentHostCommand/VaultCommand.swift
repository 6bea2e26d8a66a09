import AgentHost
import ArgumentParser
import Foundation
import Logging
import SecurityCore
import SecurityStore

/// `agenthost vault`: set, list, rotate and verify the credentials in the vault.
struct VaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault", abstract: "Manage the sealed credentials in the store.",
        subcommands: [Put.self, List.self, Rotate.self, Verify.self]
    )

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Seal a secret read from standard input (never from argv) as PATH.",
            discussion:
                "PATH is owner-kind/owner/name, such as projects/p1/git-token or users/alice/keys/openai. One trailing newline is dropped."
        )
        @Argument(help: "The secret's path.") var path: String
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func validate() throws {
            do {
                _ = try SecretPath(path)
            } catch let error as AgentHostError {
                throw ValidationError(error.message)
            }
        }

        func run() async throws {
            if isatty(STDIN_FILENO) == 1 {
                FileHandle.standardError.write(Data("reading the secret from standard input; end it with Ctrl-D\n".utf8))
            }
            var input = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
            defer { SecureBytes.wipe(&input) }
            let secretPath = try SecretPath(path)
            let version = try await AgentHostCLI.putSecret(secretPath, input: input, at: database.place(data: data))
            print("sealed \(secretPath) under vault key version \(version)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List stored secrets: path, key version, last set (never the values).")
        @Option(help: "Only this owner, such as projects/p1.") var owner: String?
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            let rows = try await AgentHostCLI.secrets(owner: owner, at: database.place(data: data))
            for row in rows {
                let updated = UTCTimestamp.string(seconds: row.updatedAt)
                print("\(row.owner)/\(row.name)\tv\(row.sealed.keyVersion)\t\(updated)")
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-seal every secret under a new vault key version, in batched transactions.",
            discussion: """
                Adds a new primary vault key version to the keyring file, then re-seals every record under it. \
                If interrupted, run it again: it finishes the records still under an older version before adding any new key. \
                Restart agenthost serve afterwards so it seals with the new version (SIGHUP does not reload vault keys).
                """
        )
        @Option(help: "Records per transaction.") var batchSize = 200
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func validate() throws {
            guard (1...10_000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 10000") }
        }

        func run() async throws {
            let rotation = try await AgentHostCLI.rotateVault(batchSize: batchSize, at: database.place(data: data)) { progress in
                // Unbuffered, so a supervisor (or a test) sees each committed batch.
                FileHandle.standardOutput.write(Data("resealed \(progress.resealed)\n".utf8))
            }
            let progress = rotation.progress
            print(
                (rotation.addedKey
                    ? "added vault key version \(rotation.primaryVersion); " : "vault key version \(rotation.primaryVersion) is primary; ")
                    + "re-sealed \(progress.resealed) records, \(progress.current) already current, \(progress.changedMeanwhile) set again meanwhile"
            )
            try report(progress.failures)
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open every stored secret and report, by id, each that does not open; exit 1 if any."
        )
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            let result = try await AgentHostCLI.verifyVault(at: database.place(data: data))
            let versions = result.byKeyVersion.keys.sorted().map { "v\($0): \(result.byKeyVersion[$0]!)" }.joined(separator: ", ")
            print("checked \(result.checked) records (\(versions.isEmpty ? "none" : versions)); \(result.failures.count) do not open")
            try report(result.failures)
        }
    }
}

/// Prints one line per record that does not open (id, path, code) and exits 1 if there is any.
private func report(_ failures: [CredentialService.RecordFailure]) throws {
    guard !failures.isEmpty else { return }
    for failure in failures { print("FAILED\t\(failure)") }
    throw ExitCode(1)
}
