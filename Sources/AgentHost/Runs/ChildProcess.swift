import Foundation
import Synchronization

/// The command a launcher runs, started and waited for on a thread of its own.
///
/// The parent-death signal (`setpriv --pdeathsig`, bubblewrap's `--die-with-parent`) fires when
/// the *thread* that started the child ends, not only the process: a pool thread could retire
/// and kill the command. This thread lives exactly as long as the command.
final class ChildProcess: Sendable {
    private let process: Process
    /// Whether the process was started, so a signal is never sent to one that was not.
    private let started = Mutex(false)

    init(executable: String, arguments: [String], environment: [String: String], directory: String?) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory, isDirectory: true) }
        self.process = process
    }

    /// Starts the command and waits for it: its exit code, or 128 + the signal that ended it.
    func run() async throws -> Int32 {
        let process = self.process
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { [self] in
                do {
                    try self.started.withLock { started in
                        try process.run()
                        started = true
                    }
                } catch {
                    continuation.resume(throwing: LaunchError("cannot start \(process.executableURL?.path ?? "the command"): \(error)"))
                    return
                }
                process.waitUntilExit()
                let status = process.terminationStatus
                continuation.resume(returning: process.terminationReason == .uncaughtSignal ? 128 + status : status)
            }
            thread.name = "agenthost-run-child"
            thread.start()
        }
    }

    /// Asks the command to stop: `SIGTERM`, or `SIGINT` when `interrupt`.
    func stop(interrupt: Bool = false) {
        started.withLock { started in
            guard started, process.isRunning else { return }
            if interrupt { process.interrupt() } else { process.terminate() }
        }
    }
}

/// Why `agenthost run` could not launch or finish its command.
package struct LaunchError: Error, CustomStringConvertible {
    package let message: String

    package init(_ message: String) {
        self.message = message
    }

    package var description: String { message }
}
