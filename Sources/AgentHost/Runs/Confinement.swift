import Foundation

/// How a launcher starts its command, and where the command reaches AgentHost.
///
/// - `none`: `setpriv --pdeathsig KILL -- COMMAND`, so the command dies with the launcher; it
///   reaches AgentHost at the launcher's own URL.
/// - `bwrap`: bubblewrap with new user, PID, IPC, UTS and network namespaces, every capability
///   dropped, the root file system read-only, a fresh `/tmp`, `/run` and home, the workdir writable,
///   AgentHost's data directory and configuration hidden, and `--die-with-parent`. Its network
///   has only loopback: AgentHost is at `http://127.0.0.1:<port>` there, through the bridge
///   (`agenthost bridge` inside, relaying to a Unix socket the launcher relays to AgentHost).
struct Confinement: Sendable {
    let sandbox: Launcher.Sandbox
    /// AgentHost's URL as the command reaches it.
    let agentURL: String
    /// AgentHost's address, which the bridge relays to.
    let server: (host: String, port: Int)
    /// The program that starts the command (`setpriv`, `bwrap`).
    let starter: String

    /// Where the bridge's sockets are, inside the sandbox: AgentHost's, and its CONNECT proxy's.
    static let socketInside = "/run/agenthost/agenthost.sock"
    static let connectSocketInside = "/run/agenthost/connect.sock"
    /// Where this program is, inside the sandbox: it runs there as the bridge, wherever it is
    /// outside (under `/tmp` or a home, which the sandbox replaces).
    static let bridgeInside = "/run/agenthost-bridge"

    /// Checks that the sandbox can run here and works out the URLs. Fails closed: a sandbox that
    /// cannot run is an error that names `--sandbox none`, never a silent fallback.
    /// `bubblewrap` is the `bwrap` on `PATH` unless given.
    static func prepare(_ sandbox: Launcher.Sandbox, server url: String, bubblewrap: String? = nil) throws -> Confinement {
        guard let components = URLComponents(string: url), let scheme = components.scheme, scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else { throw LaunchError("the server URL must be http:// or https://, such as http://127.0.0.1:8080") }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        let bareHost = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        switch sandbox {
        case .none:
            guard let setpriv = executable(named: "setpriv") else {
                throw LaunchError("setpriv (util-linux) is not installed; the command could not be made to die with its launcher")
            }
            return Confinement(
                sandbox: .none, agentURL: url.hasSuffix("/") ? String(url.dropLast()) : url, server: (bareHost, port), starter: setpriv)
        case .bwrap:
            guard scheme == "http", AgentHostConfiguration.isLoopback(bareHost) else {
                throw LaunchError(
                    "--sandbox bwrap relays plain HTTP to an AgentHost on this machine (http://127.0.0.1:PORT); \(url.prefix(100)) is not one"
                )
            }
            guard let bwrap = bubblewrap ?? executable(named: "bwrap") else {
                throw LaunchError(
                    "bubblewrap (bwrap) is not installed: install it (Debian: apt-get install bubblewrap), or run with --sandbox none to run the command unconfined"
                )
            }
            let (status, output) = quietly(bwrap, ["--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"])
            guard status == 0 else {
                throw LaunchError(
                    "bubblewrap cannot run here (\(output.prefix(200).trimmingCharacters(in: .whitespacesAndNewlines))): user namespaces may be off; run with --sandbox none to run the command unconfined"
                )
            }
            return Confinement(sandbox: .bwrap, agentURL: "http://127.0.0.1:\(port)", server: (bareHost, port), starter: bwrap)
        }
    }

    /// The CONNECT proxy at `port` as the command reaches it: `host:port`.
    func connectProxy(port: Int?) -> String? {
        guard let port else { return nil }
        switch sandbox {
        case .none: return (server.host.contains(":") ? "[\(server.host)]" : server.host) + ":\(port)"
        case .bwrap: return "127.0.0.1:\(port)"
        }
    }

    /// The program and arguments that run `options.command`, confined. `bridgeDirectory` is
    /// where the launcher's end of the bridge listens (bwrap only); `connectPort` the server's
    /// CONNECT proxy port, bridged too.
    func command(_ options: Launcher.Options, bridgeDirectory: String? = nil, connectPort: Int? = nil) throws -> (String, [String]) {
        switch sandbox {
        case .none:
            return (starter, ["--pdeathsig", "KILL", "--"] + options.command)
        case .bwrap:
            guard let bridgeDirectory else { throw LaunchError("the bridge is not ready") }
            let me = try Self.ownExecutable()
            var arguments = [
                "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--unshare-cgroup-try",
                "--die-with-parent", "--cap-drop", "ALL",
                "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/run",
                "--bind", bridgeDirectory, "/run/agenthost", "--ro-bind", me, Self.bridgeInside,
            ]
            // A home of its own, empty and writable, gone at the end: the caller's holds keys,
            // tokens and tool configurations (~/.ssh, ~/.aws, ~/.config).
            if let home = options.home, home.hasPrefix("/"), home != "/" { arguments += ["--tmpfs", home] }
            arguments += ["--bind", options.workdir, options.workdir]
            for path in options.readOnly { arguments += ["--ro-bind", path, path] }
            // After the workdir: a data directory inside it is hidden too.
            let files = FileManager.default
            try check(options)
            for path in options.hidden {
                var isDirectory: ObjCBool = false
                guard files.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
                // A directory becomes an empty one; a file, an empty file.
                arguments += isDirectory.boolValue ? ["--tmpfs", path] : ["--ro-bind", "/dev/null", path]
            }
            arguments += ["--chdir", options.workdir]
            arguments += ["--", Self.bridgeInside, "bridge", "--listen", "127.0.0.1:\(server.port)", "--socket", Self.socketInside]
            if let connectPort {
                arguments += ["--connect-listen", "127.0.0.1:\(connectPort)", "--connect-socket", Self.connectSocketInside]
            }
            arguments.append("--")
            return (starter, arguments + options.command)
        }
    }

    /// Refuses what this sandbox cannot do with `options`: a workdir or a read-only path it
    /// would hide, a path that is not absolute.
    func check(_ options: Launcher.Options) throws {
        guard sandbox == .bwrap else { return }
        for (what, path) in [("the workdir", options.workdir)] + options.readOnly.map({ ("--read-only", $0) }) {
            guard path.hasPrefix("/") else { throw LaunchError("\(what) \(path.prefix(200)) must be an absolute path") }
            for hidden in options.hidden where path == hidden || path.hasPrefix(hidden.hasSuffix("/") ? hidden : hidden + "/") {
                throw LaunchError("\(what) \(path.prefix(200)) is inside \(hidden.prefix(200)), which the sandbox hides")
            }
        }
    }

    /// Runs `body` with the launcher's end of the bridge listening (bwrap): AgentHost's socket,
    /// and the CONNECT proxy's when `connectPort` is set; hands `body` the bridge's directory.
    /// Without a sandbox, just `body`.
    func withBridge<Result: Sendable>(connectPort: Int?, _ body: (String?) async throws -> Result) async throws -> Result {
        guard sandbox == .bwrap else { return try await body(nil) }
        let directory = try Self.privateDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let relay = Relay(from: .unix(path: directory + "/agenthost.sock"), to: .tcp(host: server.host, port: server.port))
        guard let connectPort else { return try await relay.serving { try await body(directory) } }
        let tunnels = Relay(from: .unix(path: directory + "/connect.sock"), to: .tcp(host: server.host, port: connectPort))
        return try await relay.serving { try await tunnels.serving { try await body(directory) } }
    }

    /// A new directory only this user can enter, for the bridge's socket.
    static func privateDirectory() throws -> String {
        let base = NSTemporaryDirectory()
        for _ in 0..<8 {
            let path = (base as NSString).appendingPathComponent("agenthost-run-" + UUID().uuidString.prefix(12).lowercased())
            do {
                try FileManager.default.createDirectory(
                    atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
                return path
            } catch CocoaError.fileWriteFileExists {
                continue
            }
        }
        throw LaunchError("cannot create a private directory for the sandbox's bridge in \(base)")
    }

    /// This program's own path, which the sandbox runs as its bridge.
    static func ownExecutable() throws -> String {
        do {
            return try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        } catch {
            throw LaunchError("cannot find the agenthost executable's path (/proc/self/exe)")
        }
    }

    /// The full path of `name` on `PATH` (or the usual system directories), if executable.
    static func executable(named name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        return directories.lazy.map { ($0 as NSString).appendingPathComponent(name) }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// Runs `program` with `arguments` to its end: its status and what it wrote to standard error.
    private static func quietly(_ program: String, _ arguments: [String]) -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return (-1, "\(error)")
        }
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
