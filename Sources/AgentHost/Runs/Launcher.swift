import Foundation
package import SecurityCore
import Synchronization

/// `agenthost run` (Docs/RUN.md): starts a run on a running AgentHost, runs the command with the
/// run's lease as its only secret, renews the lease while the command runs, and ends the run
/// (revoking the lease on every server) when it exits.
///
/// ```swift
/// let launcher = Launcher(client: RunClient(server: "http://127.0.0.1:8080", credential: admin))
/// let status = try await launcher.run(options, callerEnvironment: ProcessInfo.processInfo.environment)
/// ```
package final class Launcher: Sendable {
    /// How the command is confined.
    package enum Sandbox: String, Sendable, CaseIterable {
        /// Not at all: it runs as the launcher's child, with the clean environment only.
        case none
        /// Under bubblewrap (Docs/RUN.md, "The sandbox").
        case bwrap
    }

    /// What to run, as whom, and how.
    package struct Options: Sendable {
        package var agent: String
        package var role: String
        package var team: String
        /// The upstreams the lease may call; `nil` for every upstream the agent is granted.
        package var upstreams: [String]?
        /// The run's longest life in seconds; `nil` for the server's default token lifetime.
        package var ttl: Int64?
        package var sandbox: Sandbox
        /// Where the command starts (and, under bubblewrap, the one directory it may write).
        package var workdir: String
        package var allowedHosts: [String]
        /// Variables of the caller's environment the command receives besides
        /// ``LaunchEnvironment/inherited``.
        package var passEnvironment: [String]
        /// Paths the sandbox hides (AgentHost's data directory, its configuration file).
        package var hidden: [String]
        /// The caller's home directory, which the sandbox replaces with an empty one.
        package var home: String?
        /// Directories the command may read under the sandbox although it replaces what holds
        /// them (`/tmp`, `/run`, the home): a tool's installation, say.
        package var readOnly: [String]
        /// The bubblewrap program; `nil` for the `bwrap` on `PATH`.
        package var bubblewrap: String?
        /// The command and its arguments.
        package var command: [String]

        package init(
            agent: String, role: String, team: String = "", upstreams: [String]? = nil, ttl: Int64? = nil, sandbox: Sandbox,
            workdir: String, allowedHosts: [String] = [], passEnvironment: [String] = [], hidden: [String] = [], home: String? = nil,
            readOnly: [String] = [], bubblewrap: String? = nil, command: [String]
        ) {
            self.bubblewrap = bubblewrap
            self.home = home
            self.readOnly = readOnly
            self.agent = agent
            self.role = role
            self.team = team
            self.upstreams = upstreams
            self.ttl = ttl
            self.sandbox = sandbox
            self.workdir = workdir
            self.allowedHosts = allowedHosts
            self.passEnvironment = passEnvironment
            self.hidden = hidden
            self.command = command
        }
    }

    let client: RunClient
    let ticks: any TickSource
    /// Where the launcher's own messages go (standard error).
    let say: @Sendable (String) -> Void
    private let child = Mutex<ChildProcess?>(nil)

    package init(client: RunClient, ticks: any TickSource = SystemTickSource(), say: @escaping @Sendable (String) -> Void) {
        self.client = client
        self.ticks = ticks
        self.say = say
    }

    /// Runs `options.command` as a run of `options.agent`: the command's exit status (its exit
    /// code, or 128 + the signal that ended it). Throws ``LaunchError`` or ``RunClientError``
    /// when the run cannot begin; once the command has run, a failure to end the run is said,
    /// not thrown (the lease then lapses within its TTL).
    package func run(_ options: Options, callerEnvironment: [String: String]) async throws -> Int32 {
        guard let program = options.command.first, !program.isEmpty else { throw LaunchError("name a command to run after --") }
        let confinement = try Confinement.prepare(options.sandbox, server: client.server, bubblewrap: options.bubblewrap)
        try confinement.check(options)
        let started = try await client.start(
            RunClient.Request(
                agent: options.agent, role: options.role, team: options.team, command: program, upstreams: options.upstreams,
                allowedHosts: options.allowedHosts, sandbox: options.sandbox.rawValue, ttl: options.ttl))
        let status: Int32
        do {
            let environment = LaunchEnvironment.build(
                caller: callerEnvironment, passed: options.passEnvironment, agentURL: confinement.agentURL, lease: started.lease,
                runID: started.runID, upstreams: started.upstreams, connectProxy: confinement.connectProxy(port: started.connectPort))
            status = try await confinement.withBridge(connectPort: started.connectPort) { bridge in
                let (executable, arguments) = try confinement.command(
                    options, bridgeDirectory: bridge, connectPort: started.connectPort)
                let process = ChildProcess(
                    executable: executable, arguments: arguments, environment: environment, directory: options.workdir)
                child.withLock { $0 = process }
                return try await withThrowingTaskGroup(of: Int32?.self) { group in
                    group.addTask { await self.keepRenewing(started) }
                    group.addTask { try await process.run() }
                    var exit: Int32 = 0
                    for try await result in group {
                        if let result {
                            exit = result
                            break
                        }
                    }
                    group.cancelAll()
                    return exit
                }
            }
        } catch {
            // The command never ran (or could not be waited for): end the run all the same.
            await end(started.runID, status: 127)
            throw error
        }
        await end(started.runID, status: status)
        return status
    }

    /// Passes a signal the launcher received on to the command: `SIGINT` as itself, anything
    /// else as `SIGTERM`.
    package func forward(interrupt: Bool) {
        child.withLock { $0 }?.stop(interrupt: interrupt)
    }

    /// Renews the lease every ``RunClient/Started/renewEvery`` seconds until cancelled; stops the
    /// command when the server says the run is over. Returns `nil` (never an exit status).
    private func keepRenewing(_ started: RunClient.Started) async -> Int32? {
        var failing = false
        while !Task.isCancelled {
            do {
                try await ticks.sleep(for: .seconds(started.renewEvery))
            } catch {
                return nil
            }
            do {
                switch try await client.renew(started.runID) {
                case .renewed:
                    if failing { say("agenthost run: the lease is renewed again") }
                    failing = false
                case .over(let state):
                    say("agenthost run: the run is \(state) on the server; stopping the command")
                    forward(interrupt: false)
                    return nil
                }
            } catch {
                if !failing {
                    say("agenthost run: could not renew the lease (\(error)); it lapses \(started.leaseTTL) s after the last renewal")
                }
                failing = true
            }
        }
        return nil
    }

    /// Ends the run, trying three times; says so when it cannot (the lease lapses on its own).
    private func end(_ runID: String, status: Int32) async {
        for attempt in 1...3 {
            do {
                try await client.end(runID, exitStatus: status)
                return
            } catch {
                if attempt == 3 {
                    say("agenthost run: could not end run \(runID) (\(error)); its lease lapses within its TTL")
                    return
                }
                try? await ticks.sleep(for: .seconds(1))
            }
        }
    }
}

extension Launcher {
    /// The sandbox's end of the bridge (`agenthost bridge`, run by `agenthost run --sandbox bwrap`
    /// inside bubblewrap): listens on `port` of the sandbox's loopback, relays each connection to
    /// the Unix socket `socket` (and `connect.port` to `connect.socket`, the CONNECT proxy), and
    /// runs `command` with this process's environment; its exit status.
    package static func bridge(
        port: Int, socket: String, connect: (port: Int, socket: String)?, command: [String]
    ) async throws -> Int32 {
        guard let program = command.first, !program.isEmpty else { throw LaunchError("name a command to run after --") }
        let path = program.contains("/") ? program : Confinement.executable(named: program)
        guard let path else { throw LaunchError("\(program.prefix(100)): command not found") }
        let child = ChildProcess(
            executable: path, arguments: Array(command.dropFirst()), environment: ProcessInfo.processInfo.environment, directory: nil)
        let relay = Relay(from: .tcp(host: "127.0.0.1", port: port), to: .unix(path: socket))
        guard let connect else { return try await relay.serving { try await child.run() } }
        let tunnels = Relay(from: .tcp(host: "127.0.0.1", port: connect.port), to: .unix(path: connect.socket))
        return try await relay.serving { try await tunnels.serving { try await child.run() } }
    }
}
