import Foundation
public import SecurityCore

/// One identity provider people may sign in with through OpenID Connect (Docs/SIGN_IN.md): where
/// it is, who AgentHost is to it, and who may come in with which role.
///
/// The client secret is not here: it is sealed in the vault (`agenthost oidc set-secret`), so no
/// file or variable holds it.
public struct OIDCProviderConfiguration: Sendable, Equatable {
    /// The name under `oidc_providers:`: the provider's path segment
    /// (`/auth/oidc/{name}/callback`) and its key in records. 1-64 of `a-z 0-9 _ -`.
    public var name: String
    /// The issuer, exactly as the provider's discovery document and id_tokens name it
    /// (`https://accounts.google.com`); `http://` only for a loopback host.
    public var issuer: String
    /// The client id AgentHost was registered under.
    public var clientID: String
    /// The scopes asked for; `openid` is always among them.
    public var scopes: [String]
    /// The sign-in button's text.
    public var label: String
    /// Email domains whose people may sign in (the id_token's `email`, which the provider must
    /// mark `email_verified`); empty allows every domain, unless ``allowedSubjects`` is set.
    public var allowedDomains: [String]
    /// Subjects (`sub`) that may sign in whatever their email.
    public var allowedSubjects: [String]
    /// The claim whose values map to roles (`groups`); `nil` gives everyone ``defaultRole``.
    public var roleClaim: String?
    /// A value of ``roleClaim`` to the role it gives; the highest role a person's values give wins.
    public var roles: [String: Role]
    /// The role of a person none of whose values is mapped; `nil` refuses them.
    public var defaultRole: Role?
    /// Whether a first sign-in creates the user; when off, only people already linked to a user
    /// (`agenthost oidc link`) may sign in.
    public var createUsers: Bool
    /// How far the provider's clock may be from this server's, for `exp` and `iat`.
    public var clockSkew: Duration

    public init(
        name: String, issuer: String, clientID: String, scopes: [String] = ["openid", "email", "profile"], label: String? = nil,
        allowedDomains: [String] = [], allowedSubjects: [String] = [], roleClaim: String? = nil, roles: [String: Role] = [:],
        defaultRole: Role? = nil, createUsers: Bool = true, clockSkew: Duration = .seconds(60)
    ) {
        self.name = name
        self.issuer = issuer
        self.clientID = clientID
        self.scopes = scopes
        self.label = label ?? "Sign in with \(name)"
        self.allowedDomains = allowedDomains.map { $0.lowercased() }
        self.allowedSubjects = allowedSubjects
        self.roleClaim = roleClaim
        self.roles = roles
        self.defaultRole = defaultRole
        self.createUsers = createUsers
        self.clockSkew = clockSkew
    }

    /// Refuses a provider that cannot work or would be unsafe: a bad name, an issuer that is not
    /// `https://` (or `http://` to loopback) or carries a query or fragment, an empty client id,
    /// scopes without `openid`, a skew over 5 minutes, or nobody who could ever sign in.
    public func validate() throws {
        let prefix = "oidc_providers.\(name.prefix(64))"
        guard (1...64).contains(name.utf8.count),
            name.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D })
        else {
            throw AgentHostError(.configuration, "\(prefix): a provider's name must be 1-64 of a-z 0-9 _ -")
        }
        guard let url = URLComponents(string: issuer), let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil,
            url.user == nil, url.scheme == "https" || (url.scheme == "http" && AgentHostConfiguration.isLoopback(host))
        else {
            throw AgentHostError(
                .configuration, "\(prefix).issuer: expected an https:// URL without query or fragment (http:// only to loopback)")
        }
        guard !clientID.isEmpty, clientID.utf8.count <= 512 else {
            throw AgentHostError(.configuration, "\(prefix).client_id: expected the client id the provider gave AgentHost")
        }
        guard scopes.contains("openid") else {
            throw AgentHostError(.configuration, "\(prefix).scopes: OpenID Connect needs the openid scope")
        }
        guard clockSkew >= .zero, clockSkew <= .seconds(300) else {
            throw AgentHostError(.configuration, "\(prefix).clock_skew: from 0s to 5m")
        }
        guard defaultRole != nil || (roleClaim != nil && !roles.isEmpty) else {
            throw AgentHostError(
                .configuration, "\(prefix): give default_role, or role_claim with roles, or nobody can be given a role")
        }
    }
}
