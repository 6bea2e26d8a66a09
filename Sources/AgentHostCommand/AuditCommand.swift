import AgentHost
import ArgumentParser
import Foundation
import Logging
import SecurityCore
import SecurityStore

/// `agenthost audit verify`: checks the whole audit chain and its checkpoints.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Check the tamper-evident audit log.", subcommands: [Verify.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify every audit record and checkpoint; name the first record altered, removed or inserted.",
            discussion:
                "Prints the head (last record and its MAC) when the log is intact: compare it with the checkpoints in the server's log. Exits 1 when the log is not intact."
        )
        @OptionGroup var data: DataDirectoryOption
        @OptionGroup var database: DatabaseOption

        func run() async throws {
            let (problem, head, verified) = try await AgentHostCLI.verifyAudit(at: database.place(data: data))
            if let problem {
                print("FAILED: \(problem)")
                print("the \(verified) records before it verify" + (head.map { "; the last of them is \($0.sequence)" } ?? ""))
                throw ExitCode(1)
            }
            if let head {
                print("ok: \(verified) records verify; head \(head.sequence) \(head.macHex)")
            } else {
                print("ok: the audit log is empty")
            }
        }
    }
}
