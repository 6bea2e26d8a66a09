import Foundation
import Yams

/// Policies tested like code: a list of cases, each a principal, a request and the expected
/// decision (and optionally the rule that must decide it).
///
/// Cases files are YAML:
/// ```yaml
/// cases:
///   - name: members may ask who they are
///     principal: {agent: builder-7, role: member, team: core}   # or: anonymous
///     # a user session: {user: alice, role: member}; a device: {device: d1, role: viewer, trust: basic}
///     request: GET /api/whoami                                  # or {method, path, loopback}
///     expect: permit
///     rule: whoami                                              # optional
/// ```
/// The same check runs inside any test framework:
/// ```swift
/// let suite = try PolicyTestSuite.load(yaml: casesText)
/// for result in suite.run(against: policy) { #expect(result.passed, "\(result)") }
/// ```
public struct PolicyTestSuite: Sendable {
    /// One case.
    public struct Case: Hashable, Sendable {
        public let name: String
        public let request: PolicyRequest
        public let expected: PolicyDecision.Effect
        public let expectedRule: String?
        public let line: Int
    }

    /// The outcome of one case.
    public struct Result: Hashable, Sendable, CustomStringConvertible {
        public let testCase: Case
        public let decision: PolicyDecision

        /// Whether the decision has the expected effect (and rule, when one is expected).
        public var passed: Bool {
            decision.effect == testCase.expected && (testCase.expectedRule.map { decision.rules.contains($0) } ?? true)
        }

        public var description: String {
            let expectation = testCase.expected.rawValue + (testCase.expectedRule.map { " by \($0)" } ?? "")
            return "\(passed ? "PASS" : "FAIL") \(testCase.name): expected \(expectation), got \(decision)"
        }
    }

    public let cases: [Case]

    /// Parses a cases file. Errors name the line.
    public static func load(yaml text: String, source: String = "cases") throws(PolicyLoadError) -> PolicyTestSuite {
        let reader = PolicyLoader.Reader(source: source)
        let root: Node
        do {
            guard let composed = try Yams.compose(yaml: text) else { throw reader.fail(nil, nil, "the cases file is empty") }
            root = composed
        } catch let error as PolicyLoadError {
            throw error
        } catch {
            throw reader.fail(nil, nil, "not valid YAML or JSON")
        }
        let top = try reader.members(root, item: nil, allowed: ["cases"])
        guard let list = top["cases"], case .sequence(let sequence) = list, !sequence.isEmpty else {
            throw reader.fail(root, nil, "a non-empty list under cases: is required")
        }
        var cases = [Case]()
        for (index, element) in sequence.enumerated() {
            let fields = try reader.members(
                element, item: "case \(index + 1)", allowed: ["name", "principal", "request", "expect", "rule"])
            let name =
                try fields["name"].map { node throws(PolicyLoadError) in try reader.string(node, item: "case", what: "name") }
                ?? "case \(index + 1)"
            let principal = try Self.principal(fields["principal"], reader: reader, item: name)
            let request = try Self.request(fields["request"], principal: principal, reader: reader, item: name)
            let expectText = try reader.string(fields["expect"], item: name, what: "expect")
            guard let expected = PolicyDecision.Effect(rawValue: expectText) else {
                throw reader.fail(fields["expect"], name, "expect must be permit or deny")
            }
            let rule = try fields["rule"].map { node throws(PolicyLoadError) in try reader.string(node, item: name, what: "rule") }
            cases.append(Case(name: name, request: request, expected: expected, expectedRule: rule, line: element.mark?.line ?? 0))
        }
        return PolicyTestSuite(cases: cases)
    }

    /// Reads a cases file from disk.
    public static func load(contentsOf path: String) throws(PolicyLoadError) -> PolicyTestSuite {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw PolicyLoadError(.unreadable, source: path, line: 0, item: nil, reason: "cannot read the file")
        }
        return try load(yaml: text, source: path)
    }

    /// Decides every case with `policy`.
    public func run(against policy: Policy) -> [Result] {
        cases.map { Result(testCase: $0, decision: policy.decide($0.request)) }
    }

    /// Parses `role=member,agent=x,team=core` (or `anonymous`) as used on the command line; a user
    /// session names `user=alice` instead of an agent, a device `device=d1,trust=basic`.
    public static func principal(parsing text: String) -> PolicyPrincipal?? {
        if text == "anonymous" { return .some(nil) }
        var values = [String: String]()
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, principalKeys.contains(String(parts[0])), values[String(parts[0])] == nil else {
                return nil
            }
            values[String(parts[0])] = String(parts[1])
        }
        guard let role = values["role"], !role.isEmpty else { return nil }
        return principal(values, role: role).map { .some($0) }
    }

    static let principalKeys: Set<String> = ["role", "agent", "team", "user", "device", "trust"]

    /// The principal `values` describe: at most one of agent, user and device, and a trust level
    /// only for a device (`basic` when not given).
    static func principal(_ values: [String: String], role: String) -> PolicyPrincipal? {
        let team = values["team"] ?? ""
        guard [values["agent"], values["user"], values["device"]].compactMap({ $0 }).count <= 1 else { return nil }
        if let user = values["user"] {
            guard values["trust"] == nil else { return nil }
            return PolicyPrincipal(agent: "user:" + user, role: role, team: team, user: user)
        }
        if let device = values["device"] {
            guard let trust = DeviceTrust(name: values["trust"] ?? "basic") else { return nil }
            return PolicyPrincipal(agent: "device:" + device, role: role, team: team, trust: trust)
        }
        guard values["trust"] == nil else { return nil }
        return PolicyPrincipal(agent: values["agent"] ?? "test-agent", role: role, team: team)
    }

    /// Parses `"POST /api/agents"` as used on the command line and in cases files.
    public static func request(parsing text: String, principal: PolicyPrincipal?, isLoopback: Bool = false) -> PolicyRequest? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, parts[1].hasPrefix("/"), parts[0].allSatisfy({ $0.isASCII && $0.isLetter }) else { return nil }
        return PolicyRequest(principal: principal, method: parts[0].uppercased(), path: String(parts[1]), isLoopback: isLoopback)
    }

    static func principal(_ node: Node?, reader: PolicyLoader.Reader, item: String) throws(PolicyLoadError) -> PolicyPrincipal? {
        guard let node else { throw reader.fail(nil, item, "principal is required (a mapping, or anonymous)") }
        if case .scalar(let scalar) = node, scalar.string == "anonymous" { return nil }
        let fields = try reader.members(node, item: item, allowed: principalKeys)
        let role = try reader.string(fields["role"], item: item, what: "principal role")
        var values = [String: String]()
        for key in ["agent", "user", "device", "trust"] {
            if let node = fields[key] { values[key] = try reader.string(node, item: item, what: key) }
        }
        values["team"] = fields["team"].flatMap { node -> String? in if case .scalar(let scalar) = node { scalar.string } else { nil } }
        guard let principal = principal(values, role: role) else {
            throw reader.fail(
                node, item,
                "name at most one of agent, user and device, and a trust level (anonymous, basic, verified, trusted) only for a device")
        }
        return principal
    }

    static func request(
        _ node: Node?, principal: PolicyPrincipal?, reader: PolicyLoader.Reader, item: String
    ) throws(PolicyLoadError) -> PolicyRequest {
        guard let node else { throw reader.fail(nil, item, "request is required") }
        if case .scalar(let scalar) = node {
            guard let request = request(parsing: scalar.string, principal: principal) else {
                throw reader.fail(node, item, "request must look like 'GET /path'")
            }
            return request
        }
        let fields = try reader.members(node, item: item, allowed: ["method", "path", "loopback"])
        let method = try reader.string(fields["method"], item: item, what: "method")
        let path = try reader.string(fields["path"], item: item, what: "path")
        var loopback = false
        if let flag = fields["loopback"] {
            guard case .scalar(let scalar) = flag, ["true", "false"].contains(scalar.string) else {
                throw reader.fail(flag, item, "loopback must be true or false")
            }
            loopback = scalar.string == "true"
        }
        guard let request = request(parsing: "\(method) \(path)", principal: principal, isLoopback: loopback) else {
            throw reader.fail(node, item, "request must have a method word and a path starting with /")
        }
        return request
    }
}
