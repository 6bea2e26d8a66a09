import Foundation
import Synchronization
import Testing

/// A suite that runs the real `agenthost` binary: the contract users and scripts rely on.
/// Traffic goes only to 127.0.0.1, every wait is bounded, and servers are stopped at the end.
protocol AgentHostBinaryTests {
    /// The built `agenthost` executable.
    var binary: URL { get }
}

/// Finds the `agenthost` executable built beside the test bundle.
func agentHostBinary() throws -> URL {
    let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let candidates = [directory, directory.deletingLastPathComponent()].map { $0.appendingPathComponent("agenthost") }
    return try #require(candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }), "agenthost binary not built")
}

/// Output collected as a process writes it.
final class OutputBuffer: Sendable {
    let bytes = Mutex(Data())
    /// Signalled after each piece of output (and at its end).
    let arrived = DispatchSemaphore(value: 0)
}

/// A running process whose standard output and error are collected as they come.
struct Launched {
    let process: Process
    let pipe: Pipe
    let buffer: OutputBuffer

    /// Everything written so far.
    var output: String { buffer.bytes.withLock { String(decoding: $0, as: UTF8.self) } }

    /// Blocks the calling thread (run it `offThePool`) until the output holds `text`; whether it
    /// did before `limit` passed or the output ended. Wakes on each piece of output, not a timer.
    func waitForOutput(_ text: String, within limit: Duration) -> Bool {
        let deadline = DispatchTime.now() + .nanoseconds(Int(limit.components.seconds) * 1_000_000_000)
        while !output.contains(text) {
            guard process.isRunning, buffer.arrived.wait(timeout: deadline) == .success else { return output.contains(text) }
        }
        return true
    }

    /// Stops the process if it still runs, then ``finish()``.
    func stop() async {
        if process.isRunning { process.terminate() }
        await finish()
    }

    /// Waits for the process to exit and stops collecting.
    func finish() async {
        await process.exited()
        pipe.fileHandleForReading.readabilityHandler = nil
    }

    /// Stops the process if it still runs and returns at once; a thread of its own waits for the
    /// exit. For a `defer`, which cannot wait: the output may still grow after it returns.
    func stopInBackground() {
        if process.isRunning { process.terminate() }
        let (process, pipe) = (process, pipe)
        Thread {
            process.waitUntilExit()
            pipe.fileHandleForReading.readabilityHandler = nil
        }.start()
    }
}

extension AgentHostBinaryTests {
    /// Runs the binary to completion (at most 30 s), `offThePool`, and returns its exit status and
    /// output.
    func run(
        _ arguments: [String], environment: [String: String] = [:], input: String? = nil
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        let binary = binary
        return try await offThePool { try runToEnd(binary, arguments, environment: environment, input: input) }
    }

    /// Starts the binary with `arguments`, without any AGENTHOST_ or OTEL_ variable of this
    /// environment, and with `environment` added.
    func launch(_ arguments: [String], environment: [String: String] = [:]) throws -> Launched {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment
            .filter { !$0.key.hasPrefix("AGENTHOST_") && !$0.key.hasPrefix("OTEL_") }
            .merging(environment) { $1 }
        let launched = Launched(process: process, pipe: Pipe(), buffer: OutputBuffer())
        launched.pipe.fileHandleForReading.readabilityHandler = { [buffer = launched.buffer] handle in
            let chunk = handle.availableData
            buffer.bytes.withLock { $0.append(chunk) }
            buffer.arrived.signal()
        }
        process.standardError = launched.pipe
        process.standardOutput = launched.pipe
        try process.run()
        return launched
    }

    /// Starts `serve` on a free loopback port over `directory`, with `options` added; stop it with
    /// ``Launched/stop()``.
    func serve(
        _ directory: TemporaryDirectory, _ options: [String] = [], environment: [String: String] = [:]
    ) async throws -> (Launched, Int) {
        let launched = try launch(
            ["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", directory.path] + options, environment: environment)
        do {
            return (launched, try await listeningPort(launched))
        } catch {
            await launched.stop()
            throw error
        }
    }

    /// Waits (at most 60 s) for a launched server's listening line and reads the port from it.
    func listeningPort(_ launched: Launched) async throws -> Int {
        var port: Int?
        try? await eventually(within: .seconds(60), "the server reports listening") {
            if let range = launched.output.range(of: "url=http://127.0.0.1:") {
                port = Int(launched.output[range.upperBound...].prefix { $0.isNumber })
            }
            return port != nil || !launched.process.isRunning
        }
        return try #require(port, "server did not report listening: \(launched.output)")
    }
}

/// Runs `binary` to completion (at most 30 s), blocking the calling thread.
private func runToEnd(
    _ binary: URL, _ arguments: [String], environment: [String: String], input: String?
) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment
        .filter { !$0.key.hasPrefix("AGENTHOST_") }
        .merging(environment) { $1 }
    let out = Pipe(), err = Pipe(), stdin = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = stdin
    try process.run()
    // Both outputs are read as they come: a child that fills a pipe's 64 KiB would block on it.
    let outputs = [out, err].map { pipe in
        let read = OutputBuffer(), done = DispatchSemaphore(value: 0)
        Thread {
            read.bytes.withLock { $0 = pipe.fileHandleForReading.readDataToEndOfFile() }
            done.signal()
        }.start()
        return (read, done)
    }
    stdin.fileHandleForWriting.write(Data((input ?? "").utf8))
    try stdin.fileHandleForWriting.close()
    // The bound only ends a hung child (SIGKILL: a child of the test process inherits a signal
    // mask that blocks SIGTERM); the wait is for its exit.
    let pid = process.processIdentifier
    let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
    DispatchQueue.global().asyncAfter(deadline: .now() + 30, execute: watchdog)
    process.waitUntilExit()
    watchdog.cancel()
    let text = outputs.map { read, done in
        done.wait()
        return read.bytes.withLock { String(decoding: $0, as: UTF8.self) }
    }
    return (process.terminationStatus, text[0], text[1])
}
