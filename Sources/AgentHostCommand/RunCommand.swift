import AgentHost
import ArgumentParser
import Foundation
import SecurityCore
import UnixSignals

/// `agenthost run`: launches an agent whose only secret is a lease (Docs/RUN.md).
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Launch an agent whose only secret is a lease and whose only way out is AgentHost.",
        discussion: """
            Starts a run on a running AgentHost (--server, else $AGENTHOST_URL, else http://127.0.0.1:8080) and runs \
            COMMAND with a clean environment: a few harmless variables of yours (PATH, HOME, LANG, TERM, ...), \
            AGENTHOST_URL, AGENTHOST_TOKEN (the lease), and for each upstream of the run the variables its clients read \
            (ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY, OPENAI_BASE_URL and OPENAI_API_KEY, a git credential helper). \
            The lease is renewed while COMMAND runs and revoked on every server when it exits; if this launcher is \
            killed, COMMAND dies with it and the lease lapses within 30 seconds.

            The launcher's own credential comes from $AGENTHOST_ADMIN_TOKEN (an admin's agent token or session), \
            never from the command line; without it, on the server's machine, a short-lived owner token is minted \
            with the keyring of the data directory and revoked afterwards.

            By default COMMAND runs under bubblewrap (--sandbox bwrap): no network but AgentHost, the root file \
            system read-only, the workdir writable, the data directory hidden. Where bubblewrap cannot run, run \
            refuses: --sandbox none is then the explicit choice. $AGENTHOST_BWRAP names another bwrap program.
            """
    )

    @Option(help: "The agent the lease acts as.") var agent: String
    @Option(help: "The lease's role (default member); it may not rank above the launcher's own.") var role = "member"
    @Option(help: "The lease's team.") var team = ""
    @Option(
        name: .customLong("upstream"),
        help: "An upstream the agent may call through /proxy/; repeat. Default: every upstream it is granted.")
    var upstreams: [String] = []
    @Option(help: "The run's longest life (such as 2h); the server's default token lifetime when not given.") var ttl: String?
    @Option(help: "bwrap (the default) or none.") var sandbox: String = Launcher.Sandbox.bwrap.rawValue
    @Option(help: "Where the command starts, and the one directory it may write under bwrap (default: the current directory).")
    var workdir: String?
    @Option(name: .customLong("allow-host"), help: "A host[:port] the agent may reach through CONNECT; repeat.")
    var allowHosts: [String] = []
    @Option(
        name: .customLong("read-only"),
        help: "A directory the command may read under bwrap although it lies in /tmp, /run or your home (a tool's installation); repeat.")
    var readOnly: [String] = []
    @Option(name: .customLong("pass-env"), help: "A variable of your environment the command also receives; repeat. Never pass a secret.")
    var passEnvironment: [String] = []
    @Option(help: "AgentHost's URL (default: $AGENTHOST_URL, else http://127.0.0.1:8080).") var server: String?
    @OptionGroup var data: DataDirectoryOption
    @OptionGroup var tokens: TokenPolicyOptions
    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String] = []

    func validate() throws {
        guard Launcher.Sandbox(rawValue: sandbox) != nil else { throw ValidationError("--sandbox is bwrap or none") }
        guard !command.isEmpty else {
            throw ValidationError("name the command to run after --, such as: agenthost run --agent a1 -- claude")
        }
        if let ttl, DurationText.seconds(ttl) == nil { throw ValidationError("--ttl '\(ttl.prefix(32))' is not a duration such as 2h") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let url = server ?? environment["AGENTHOST_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://127.0.0.1:8080"
        let dataDirectory = data.resolved(environment)
        let lifetime = ttl.flatMap(DurationText.seconds)
        let credential = try launcherCredential(environment: environment, dataDirectory: dataDirectory, lifetime: lifetime)
        let client = RunClient(server: url, credential: credential.token)
        let launcher = Launcher(client: client) { message in FileHandle.standardError.write(Data((message + "\n").utf8)) }
        var hidden = [URL(fileURLWithPath: dataDirectory).standardizedFileURL.path]
        if let config = environment["AGENTHOST_CONFIG"], !config.isEmpty { hidden.append(config) }
        let options = Launcher.Options(
            agent: agent, role: role, team: team, upstreams: upstreams.isEmpty ? nil : upstreams, ttl: lifetime,
            sandbox: Launcher.Sandbox(rawValue: sandbox) ?? .bwrap,
            workdir: URL(fileURLWithPath: workdir ?? FileManager.default.currentDirectoryPath).standardizedFileURL.path,
            allowedHosts: allowHosts, passEnvironment: passEnvironment, hidden: hidden, home: environment["HOME"],
            readOnly: readOnly.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
            bubblewrap: environment["AGENTHOST_BWRAP"].flatMap { $0.isEmpty ? nil : $0 }, command: command)
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm, .sighup)
        let forwarding = Task {
            for await signal in signals { launcher.forward(interrupt: signal == .sigint) }
        }
        defer { forwarding.cancel() }
        let status: Int32
        do {
            status = try await launcher.run(options, callerEnvironment: environment)
        } catch {
            await credential.revoke(client)
            FileHandle.standardError.write(Data("agenthost run: \(error)\n".utf8))
            throw ExitCode(125)
        }
        await credential.revoke(client)
        throw ExitCode(status)
    }

    /// The launcher's credential: `AGENTHOST_ADMIN_TOKEN`, or one minted here with the data
    /// directory's keyring for the run's life (revoked when the run ends).
    private func launcherCredential(environment: [String: String], dataDirectory: String, lifetime: Int64?) throws -> LauncherCredential {
        if let token = environment["AGENTHOST_ADMIN_TOKEN"], !token.isEmpty { return LauncherCredential(token: token, mintedID: nil) }
        let policy = try tokens.policy()
        let seconds = min((lifetime ?? 12 * 3600) + 600, policy.maximumLifetime)
        do {
            let minted = try AgentHostCLI.mint(
                agent: AgentID("agenthost-run"), role: Role("owner"), team: .none, lifetime: .seconds(seconds), policy: policy,
                dataDirectory: dataDirectory, environment: environment)
            return LauncherCredential(token: minted.token, mintedID: minted.claims.tokenID.hex)
        } catch {
            throw ValidationError(
                "set AGENTHOST_ADMIN_TOKEN to an admin's token, or run on the server's machine with its data directory (--data-dir): \(error)"
            )
        }
    }
}

/// The credential `run` talks to AgentHost with; one it minted itself is revoked afterwards.
private struct LauncherCredential: Sendable {
    let token: String
    let mintedID: String?

    func revoke(_ client: RunClient) async {
        guard let mintedID else { return }
        try? await client.revoke(tokenID: mintedID)
    }
}

/// `agenthost bridge`: the sandbox's end of `run --sandbox bwrap`'s bridge. Not for people.
struct BridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge", abstract: "The sandbox's end of agenthost run's bridge (run starts it).", shouldDisplay: false)

    @Option(help: "127.0.0.1:PORT to listen on.") var listen: String
    @Option(help: "The Unix socket to relay to.") var socket: String
    @Option(name: .customLong("connect-listen"), help: "127.0.0.1:PORT for the CONNECT proxy.") var connectListen: String?
    @Option(name: .customLong("connect-socket"), help: "The Unix socket of the CONNECT proxy.") var connectSocket: String?
    @Argument(parsing: .postTerminator) var command: [String] = []

    func run() async throws {
        func loopbackPort(_ text: String, _ option: String) throws -> Int {
            guard text.hasPrefix("127.0.0.1:"), let port = Int(text.dropFirst("127.0.0.1:".count)), (1...65535).contains(port) else {
                throw ValidationError("\(option) is 127.0.0.1:PORT")
            }
            return port
        }
        let port = try loopbackPort(listen, "--listen")
        var connect: (port: Int, socket: String)?
        if let connectListen, let connectSocket { connect = (try loopbackPort(connectListen, "--connect-listen"), connectSocket) }
        do {
            throw ExitCode(try await Launcher.bridge(port: port, socket: socket, connect: connect, command: command))
        } catch let error as LaunchError {
            FileHandle.standardError.write(Data("agenthost bridge: \(error)\n".utf8))
            throw ExitCode(127)
        }
    }
}
