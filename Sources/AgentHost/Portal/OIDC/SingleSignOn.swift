import AsyncHTTPClient
import Foundation
import SecurityCore
import Synchronization

/// Sign-in through identity providers (Docs/SIGN_IN.md, "Single sign-on"): the providers, who of
/// their people may come in with which role, and the links from a provider's subject to a local
/// user.
///
/// A person is known by the provider's subject, never by an email or a name alone: a first
/// sign-in makes a user of their own (a name that is taken gets a suffix, so no one signs in to
/// an account that merely shares a name), or is refused when the provider may not create users. A
/// local user links a provider from the sessions page while signed in.
final class SingleSignOn: Sendable {
    /// The providers, in the order their buttons are shown.
    let providers: [OIDCProvider]
    let links: any IdentityLinkStore
    let accounts: AccountService
    let credentials: CredentialService
    let clock: any TimeSource
    /// States already redeemed on this server and when they stop mattering: a replayed callback
    /// is refused here even before the provider refuses its code.
    private let redeemed = Mutex<[String: Int64]>([:])

    /// How long a sign-in at a provider may take, from the button to the callback.
    static let flowLifetime: Int64 = 10 * 60

    init(
        providers: [OIDCProviderConfiguration], links: any IdentityLinkStore, accounts: AccountService, credentials: CredentialService,
        http: HTTPClient, clock: any TimeSource, ticks: any TickSource
    ) {
        self.providers = providers.map { OIDCProvider(configuration: $0, http: http, clock: clock, ticks: ticks) }
        self.links = links
        self.accounts = accounts
        self.credentials = credentials
        self.clock = clock
    }

    /// The provider called `name`.
    func provider(_ name: String) -> OIDCProvider? { providers.first { $0.configuration.name == name } }

    /// The vault record of a provider's client secret: under the server's own owner, so no secret
    /// path (and no grant) can name it.
    static func secretName(_ provider: String) -> String { "oidc/\(provider)/client_secret" }

    /// The client secret of `provider`, lent to `body`. Throws ``OIDCError`` when none is set.
    func withClientSecret<Result>(_ provider: String, _ body: (SecureBytes) async throws -> Result) async throws -> Result {
        guard let secret = try await credentials.systemSecret(named: Self.secretName(provider)) else {
            throw OIDCError(
                .exchangeFailed, "no client secret is set for \(provider): run 'agenthost oidc set-secret \(provider)' on the server")
        }
        return try await body(secret)
    }

    /// Marks `state` used; `false` when it was already (a replayed callback).
    func redeem(state: String) -> Bool {
        let now = clock.now()
        return redeemed.withLock { used in
            if used.count > 10_000 { used = used.filter { $0.value > now } }
            guard used[state] == nil else { return false }
            used[state] = now + Self.flowLifetime
            return true
        }
    }

    // MARK: Who may come in

    /// Who a verified id_token signs in as, or why not.
    enum Admission: Equatable {
        /// `username` with `role`; `created` when this sign-in made the user and linked them.
        case user(username: String, role: Role, created: Bool)
        /// The page's explanation.
        case refused(String)
    }

    /// Decides who `token` from `provider` signs in as, making and linking the user on a first
    /// sign-in when allowed. The allow lists apply to everyone, linked or not; with a role claim
    /// the provider's role (or the default role) is applied at every sign-in, and a linked person
    /// it gives no role is refused.
    func admit(_ token: OIDCProvider.IDToken, from provider: OIDCProviderConfiguration, policy: Policy) async throws -> Admission {
        if let refusal = Self.refusal(of: token, by: provider) { return .refused(refusal) }
        let mapped = Self.role(of: token, by: provider, policy: policy)
        if let link = try await links.identityLink(provider: provider.name, subject: token.sub) {
            if let user = try await accounts.users.user(named: link.username) {
                // With a role claim the provider decides at every sign-in, so someone taken out of
                // a group loses its role here too; without one the user keeps their own.
                let role = provider.roleClaim == nil ? try? Role(user.role) : mapped ?? provider.defaultRole
                guard let role else {
                    return .refused("Your account at the provider gives no role here (\(provider.roleClaim ?? "role")).")
                }
                if role.rawValue != user.role { _ = try await accounts.setRole(username: user.username, role: role.rawValue) }
                return .user(username: user.username, role: role, created: false)
            }
            // The user was deleted: the link goes with them.
            _ = try await links.removeIdentityLink(provider: provider.name, subject: token.sub)
        }
        guard provider.createUsers else {
            return .refused(
                "Your \(provider.label.replacingOccurrences(of: "Sign in with ", with: "")) account is not linked to a user here. Ask an administrator."
            )
        }
        guard let role = mapped ?? provider.defaultRole else {
            return .refused("Your account at the provider gives no role here (\(provider.roleClaim ?? "role")).")
        }
        let username = try await freeUsername(for: token, provider: provider)
        guard try await accounts.addFederatedUser(username: username, role: role.rawValue) else {
            return .refused("A user could not be made for you. Try again.")
        }
        let link = IdentityLink(
            provider: provider.name, subject: token.sub, username: username, email: token.email ?? "", createdAt: clock.now())
        guard try await links.addIdentityLink(link) else {
            // Another server linked the same person a moment ago: theirs stands.
            _ = try await accounts.deleteUser(username: username)
            return try await admit(token, from: provider, policy: policy)
        }
        return .user(username: username, role: role, created: true)
    }

    /// Why `token` may not sign in through `provider`, or `nil`: its subject is listed, or its
    /// verified email's domain is, or neither list is set.
    static func refusal(of token: OIDCProvider.IDToken, by provider: OIDCProviderConfiguration) -> String? {
        if provider.allowedSubjects.contains(token.sub) { return nil }
        if provider.allowedDomains.isEmpty {
            return provider.allowedSubjects.isEmpty ? nil : "Your account is not among those allowed to sign in here."
        }
        guard let email = token.email, token.emailVerified == true, let at = email.lastIndex(of: "@") else {
            return "Your provider did not give a verified email address, which this sign-in needs."
        }
        let domain = email[email.index(after: at)...].lowercased()
        guard provider.allowedDomains.contains(domain) else {
            return "Accounts of \(domain) may not sign in here. Use an account of \(provider.allowedDomains.joined(separator: ", "))."
        }
        return nil
    }

    /// The highest role the values of the provider's role claim map to (a string or a list of
    /// strings), by the policy's ranks; `nil` when none maps.
    static func role(of token: OIDCProvider.IDToken, by provider: OIDCProviderConfiguration, policy: Policy) -> Role? {
        guard let claim = provider.roleClaim, let value = token.claims[claim] else { return nil }
        let values = value.arrayValue?.compactMap(\.stringValue) ?? value.stringValue.map { [$0] } ?? []
        let roles = values.compactMap { provider.roles[$0] }
        return roles.max { (policy.rank(of: $0.rawValue) ?? -1, $0.rawValue) < (policy.rank(of: $1.rawValue) ?? -1, $1.rawValue) }
    }

    /// A user name for a new person: their `preferred_username`, else their email's local part,
    /// else `sso`, cut to the characters a name may hold; with a suffix from the provider and
    /// subject when that name is taken.
    func freeUsername(for token: OIDCProvider.IDToken, provider: OIDCProviderConfiguration) async throws -> String {
        let wanted = token.preferredUsername ?? token.email.map { String($0.prefix { $0 != "@" }) } ?? "sso"
        var base = String(
            wanted.unicodeScalars.compactMap { scalar -> Character? in
                scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "-" || scalar == "_")
                    ? Character(scalar) : scalar == "." ? "-" : nil
            }.prefix(64))
        if base.isEmpty { base = "sso" }
        if try await accounts.users.user(named: base) == nil { return base }
        let tag = SecureBytes(copying: SecureHash.sha256(Array("\(provider.name)\u{0}\(token.sub)".utf8)).prefix(4)).hexEncoded()
        return base + "-" + tag
    }
}
