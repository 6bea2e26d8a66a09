import SecurityCore

/// The policy loader and the policy cases loader: YAML in, a policy or a load error out.
///
/// Properties: a load error names a line within the text (or 0 for the whole document); a policy
/// that loads decides any request without failing, each decision with a reason, a permit always
/// naming the rules that gave it; cases that load run against the policy.
enum PolicyTarget {
    static let principals: [PolicyPrincipal?] = [
        nil, PolicyPrincipal(agent: "a1", role: "viewer", team: "core"), PolicyPrincipal(agent: "a2", role: "admin", team: "t"),
        PolicyPrincipal(agent: "u", role: "member", user: "u", trust: .basic),
    ]

    static func run(_ input: inout FuzzInput) {
        let split = input.byte()
        let bytes = input.rest()
        // The first byte picks where the policy ends and cases begin.
        let cut = bytes.isEmpty ? 0 : Int(split) * bytes.count / 256
        let policyText = Array(bytes[..<cut]).text, casesText = Array(bytes[cut...]).text
        let lines = lineCount(policyText)
        let policy: Policy
        do {
            policy = try PolicyLoader.load(yaml: policyText)
        } catch {
            require((0...lines + 1).contains(error.line), "error line \(error.line) outside \(lines) lines: \(error)")
            _ = error.description
            return loadCases(casesText, policy: nil)
        }
        for principal in principals {
            for (method, path) in [("GET", "/api/whoami"), ("POST", "/api/agents"), ("DELETE", "/x/y/z"), ("GET", "/api/agents/a1/grants")]
            {
                let decision = policy.decide(
                    PolicyRequest(principal: principal, method: method, path: path, isLoopback: path.count % 2 == 0))
                require(!decision.reason.isEmpty, "a decision without a reason")
                if decision.isPermitted { require(!decision.rules.isEmpty, "a permit names no rule") }
            }
        }
        loadCases(casesText, policy: policy)
    }

    /// Lines as YAML counts them: a CR, LF or CRLF ends one, and so do NEL, LS and PS.
    static func lineCount(_ text: String) -> Int {
        text.reduce(1) { $1.isNewline ? $0 + 1 : $0 }
    }

    static func loadCases(_ text: String, policy: Policy?) {
        let lines = lineCount(text)
        do {
            let suite = try PolicyTestSuite.load(yaml: text)
            if let policy { _ = suite.run(against: policy) }
        } catch {
            require((0...lines + 1).contains(error.line), "cases error line \(error.line) outside \(lines) lines")
        }
    }
}
