import Foundation
import SecurityCore
import Testing

/// What the git runner accepts, and that its credential helper answers only the host it was made for.
/// The clone and fetch themselves run against a git server in AgentHostTests (GitCredentialTests).
struct GitCredentialRunnerTests {
    let token = "glpat-RunnerToken0123456789abcd"

    func credential(_ secret: String? = nil, username: String = "oauth2") throws -> GitCredentialRunner.Credential {
        try GitCredentialRunner.Credential(username: username, secret: SecureBytes(copying: Array((secret ?? token).utf8)))
    }

    @Test(arguments: [
        "https://user:pass@gitlab.example/app.git",  // user info would put a credential in argv and .git/config
        "https://token@gitlab.example/app.git",
        "http://gitlab.example/app.git",  // plain http off this machine
        "http://10.0.0.1/app.git",
        "ext::sh -c touch% /tmp/pwned",  // git's command transport
        "file:///etc",
        "ssh://git@gitlab.example/app.git",
        "git@gitlab.example:app.git",
        "-uhttps://gitlab.example/app.git",  // reads as an option
        "--upload-pack=touch /tmp/pwned",
        "https://gitlab.example/app.git extra",
        "https://gitlab.example/app\n.git",
        "https:///app.git",
        "",
    ])
    func remotesThatAreRefused(_ url: String) {
        #expect(throws: GitError.self) { try GitRemote(url) }
    }

    @Test func remotesThatAreAccepted() throws {
        let gitlab = try GitRemote("https://gitlab.example/group/app.git")
        #expect(gitlab.scheme == "https" && gitlab.authority == "gitlab.example")
        let local = try GitRemote("http://127.0.0.1:8080/git/app.git")
        #expect(local.scheme == "http" && local.authority == "127.0.0.1:8080")
        #expect(try GitRemote("http://[::1]:9/app.git").authority == "[::1]:9")
        #expect(try GitRemote("http://localhost/app.git").scheme == "http")
    }

    @Test func credentialsThatCouldAddProtocolLinesAreRefused() throws {
        #expect(throws: GitError.self) { try credential("glpat-abc\nhost=evil.example") }
        #expect(throws: GitError.self) { try credential("glpat-abc\u{0}def") }
        #expect(throws: GitError.self) { try credential("") }
        #expect(throws: GitError.self) { try credential(username: "oauth2\npassword=x") }
        #expect(throws: GitError.self) { try credential(username: "") }
        let made = try credential()
        #expect(!"\(made)".contains(token) && !String(reflecting: made).contains(token))
    }

    @Test func referencesThatReadAsOptionsAreRefused() async throws {
        let runner = try GitCredentialRunner()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("git-\(UUID().uuidString)").path
        await #expect(throws: GitError.self) {
            try await runner.clone(
                try GitRemote("https://gitlab.example/app.git"), into: directory, credential: try credential(), branch: "--upload-pack=x")
        }
        await #expect(throws: GitError.self) { try await runner.fetch(in: directory, remoteName: "-x", credential: try credential()) }
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    /// Runs `git credential fill` in the runner's environment with `request` on its input.
    func fill(_ request: String, remote: GitRemote) throws -> (status: Int32, output: String, errors: String) {
        let runner = try GitCredentialRunner()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: runner.git)
        process.arguments = ["credential", "fill"]
        process.environment = runner.environment(for: remote, credential: try credential())
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(request.utf8))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        return (
            process.terminationStatus,
            String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
            String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        )
    }

    @Test func theHelperAnswersOnlyItsOwnHostAndNeverPrompts() throws {
        let remote = try GitRemote("https://gitlab.example/group/app.git")
        let own = try fill("protocol=https\nhost=gitlab.example\npath=group/app.git\n\n", remote: remote)
        #expect(own.status == 0 && own.output.contains("username=oauth2") && own.output.contains("password=\(token)"))

        // A redirect or a submodule on another host, another port, or plain http: no answer, and
        // with no terminal prompt and a failing askpass, git gives up instead of asking.
        for request in [
            "protocol=https\nhost=evil.example\n\n",
            "protocol=https\nhost=gitlab.example:8443\n\n",
            "protocol=http\nhost=gitlab.example\n\n",
            "protocol=https\nhost=gitlab.example.evil.example\n\n",
        ] {
            let other = try fill(request, remote: remote)
            #expect(other.status != 0, "\(request)")
            #expect(!other.output.contains(token) && !other.errors.contains(token))
        }
    }

    @Test func theEnvironmentHoldsNoInheritedTracingAndNoHelperFromElsewhere() throws {
        let environment = try GitCredentialRunner().environment(
            for: try GitRemote("https://gitlab.example/app.git"), credential: try credential())
        #expect(environment["GIT_TRACE"] == nil && environment["GIT_CURL_VERBOSE"] == nil && environment["GIT_TRACE_CURL"] == nil)
        #expect(environment["GIT_TERMINAL_PROMPT"] == "0" && environment["GIT_CONFIG_GLOBAL"] == "/dev/null")
        #expect(environment["GIT_CONFIG_KEY_0"] == "credential.helper" && environment["GIT_CONFIG_VALUE_0"] == "")
        // The helper's text is in the configuration; the secret is only in its own variable.
        let holding = environment.filter { $0.value.contains(token) }.map(\.key)
        #expect(holding == ["AGENTHOST_GIT_SECRET"])
    }
}
