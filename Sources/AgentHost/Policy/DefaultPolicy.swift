public import SecurityCore

/// The policy AgentHost uses unless `--policy` names another, and its own test cases. Both are
/// files in this folder (`default-policy.yaml`, `default-policy.cases.yaml`), compiled in.
public enum DefaultPolicy {
    /// The YAML text of the default policy.
    public static var text: String { String(decoding: PackageResources.default_policy_yaml, as: UTF8.self) }

    /// The YAML text of the default policy's cases.
    public static var casesText: String { String(decoding: PackageResources.default_policy_cases_yaml, as: UTF8.self) }

    /// The parsed default policy. It is checked by the test suite, so loading cannot fail in a
    /// released build; if it ever did, the error says where.
    public static func load() throws(PolicyLoadError) -> Policy {
        try PolicyLoader.load(yaml: text, source: "default-policy.yaml")
    }

    /// The parsed cases of the default policy.
    public static func cases() throws(PolicyLoadError) -> PolicyTestSuite {
        try PolicyTestSuite.load(yaml: casesText, source: "default-policy.cases.yaml")
    }
}
