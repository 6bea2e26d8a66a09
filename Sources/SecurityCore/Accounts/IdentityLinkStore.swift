/// A user's identity at a single sign-on provider: the provider's name and the subject (`sub`)
/// it knows the person by, linked to the local user who signs in as them.
///
/// A provider's subject is stable and never reassigned (OpenID Connect Core §2), unlike an email
/// address, so the link is made on the subject; the email is kept to show which account it is.
public struct IdentityLink: Hashable, Sendable {
    /// The provider's name under `oidc_providers:`.
    public let provider: String
    /// The provider's `sub` for the person.
    public let subject: String
    /// The local user.
    public let username: String
    /// The email the provider gave when the link was made, for display; may be empty.
    public let email: String
    /// When the link was made, in Unix seconds.
    public let createdAt: Int64

    public init(provider: String, subject: String, username: String, email: String, createdAt: Int64) {
        self.provider = provider
        self.subject = subject
        self.username = username
        self.email = email
        self.createdAt = createdAt
    }
}

/// Where identity links live. SecurityStore implements it over SQLite and PostgreSQL; deleting a
/// user deletes their links.
public protocol IdentityLinkStore: Sendable {
    /// The link of `subject` at `provider`, if any.
    func identityLink(provider: String, subject: String) async throws -> IdentityLink?
    /// Adds `link`; `false` when the provider's subject is linked already (to anyone).
    func addIdentityLink(_ link: IdentityLink) async throws -> Bool
    /// The links of `username`, oldest first.
    func identityLinks(of username: String) async throws -> [IdentityLink]
    /// Removes the link of `subject` at `provider`; whether there was one.
    func removeIdentityLink(provider: String, subject: String) async throws -> Bool
}
