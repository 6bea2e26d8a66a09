import Foundation

/// The environment `agenthost run` gives its command (Docs/RUN.md): a clean one, never the
/// caller's.
///
/// - From the caller's environment, only ``inherited`` and the names the operator passes on
///   (`--pass-env`), never an `AGENTHOST_` one;
/// - `AGENTHOST_URL`, `AGENTHOST_TOKEN` (the lease) and `AGENTHOST_RUN_ID`;
/// - `HTTPS_PROXY` (and `https_proxy`), AgentHost's CONNECT proxy with the lease as the proxy
///   password, when the server opens one (and `NO_PROXY` for AgentHost itself when it is https);
/// - per upstream of the run, the variables its entry names (`ANTHROPIC_BASE_URL` and
///   `ANTHROPIC_API_KEY`, ...), their `{proxy}` and `{token}` filled in;
/// - for git upstreams, a credential helper through `GIT_CONFIG_COUNT` / `GIT_CONFIG_KEY_n` /
///   `GIT_CONFIG_VALUE_n`, so no file is written: it answers with the lease, read from the
///   environment when git asks, for AgentHost's address only.
package struct LaunchEnvironment: Sendable {
    /// What a launcher learned of one upstream when the run began.
    package struct Upstream: Sendable, Equatable {
        package let name: String
        /// `/proxy/<name>/`.
        package let path: String
        /// Variable name to template (`{proxy}`, `{token}`).
        package let environment: [String: String]
        /// Whether git gets a credential helper for it.
        package let git: Bool

        package init(name: String, path: String, environment: [String: String], git: Bool) {
            self.name = name
            self.path = path
            self.environment = environment
            self.git = git
        }
    }

    /// The caller's variables a command starts with, when set: what a shell and its tools need
    /// to work, none of which is a secret.
    package static let inherited = [
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TERM", "COLORTERM",
        "NO_COLOR", "TZ", "COLUMNS", "LINES",
    ]

    /// Variables the launcher sets itself: never taken from the caller, even when passed on.
    package static let reserved: Set<String> = [
        "AGENTHOST_URL", "AGENTHOST_TOKEN", "AGENTHOST_RUN_ID", "GIT_CONFIG_COUNT", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
        "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy",
    ]

    /// The environment: `caller`'s ``inherited`` variables and those named in `passed`, then
    /// AgentHost's, the upstreams' and git's. `agentURL` is AgentHost's address as the command
    /// reaches it, without a trailing `/`; `connectProxy` its CONNECT proxy's `host:port` there.
    package static func build(
        caller: [String: String], passed: [String], agentURL: String, lease: String, runID: String, upstreams: [Upstream],
        connectProxy: String? = nil
    ) -> [String: String] {
        var environment: [String: String] = [:]
        // AgentHost's own variables (the launcher's credential among them) never cross, even when passed.
        for name in inherited + passed where !reserved.contains(name) && !name.hasPrefix("GIT_CONFIG_") && !name.hasPrefix("AGENTHOST_") {
            if let value = caller[name] { environment[name] = value }
        }
        environment["AGENTHOST_URL"] = agentURL
        environment["AGENTHOST_TOKEN"] = lease
        environment["AGENTHOST_RUN_ID"] = runID
        if let connectProxy {
            // Clients send the password as Proxy-Authorization: Basic. It carries https only:
            // AgentHost over plain http is reached directly; over https its host is excepted.
            let proxy = "http://agenthost:\(lease)@\(connectProxy)"
            environment["HTTPS_PROXY"] = proxy
            environment["https_proxy"] = proxy
            if agentURL.hasPrefix("https://"), let host = URLComponents(string: agentURL)?.host {
                environment["NO_PROXY"] = host
                environment["no_proxy"] = host
            }
        }
        for upstream in upstreams {
            let proxy = agentURL + String(upstream.path.dropLast(upstream.path.hasSuffix("/") ? 1 : 0))
            for (name, template) in upstream.environment where !reserved.contains(name) {
                environment[name] = template.replacingPlaceholders(proxy: proxy, token: lease)
            }
        }
        if upstreams.contains(where: \.git) {
            // One helper for AgentHost's address: every git upstream is below it. The helper
            // reads the lease when git asks, so no configuration value holds it.
            environment["GIT_CONFIG_COUNT"] = "1"
            environment["GIT_CONFIG_KEY_0"] = "credential.\(agentURL).helper"
            environment["GIT_CONFIG_VALUE_0"] = gitHelper
        }
        return environment
    }

    /// The credential helper: for `get`, the user `agenthost` and the lease as the password.
    package static let gitHelper =
        #"!f() { test "$1" = get && printf 'username=agenthost\npassword=%s\n' "$AGENTHOST_TOKEN"; }; f"#
}

extension String {
    /// The template with `{proxy}` and `{token}` filled in, in one pass: a value that holds the
    /// text `{token}` is not filled in again.
    fileprivate func replacingPlaceholders(proxy: String, token: String) -> String {
        var result = ""
        var rest = self[...]
        while let open = rest.firstIndex(of: "{") {
            result += rest[..<open]
            let tail = rest[open...]
            if tail.hasPrefix("{proxy}") {
                result += proxy
                rest = tail.dropFirst("{proxy}".count)
            } else if tail.hasPrefix("{token}") {
                result += token
                rest = tail.dropFirst("{token}".count)
            } else {
                result += "{"
                rest = tail.dropFirst()
            }
        }
        return result + rest
    }
}
