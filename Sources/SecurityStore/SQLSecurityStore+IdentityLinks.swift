public import SecurityCore
import SQLKit

// MARK: Identity links (single sign-on)

extension SQLSecurityStore: IdentityLinkStore {
    public func identityLink(provider: String, subject: String) async throws -> IdentityLink? {
        try await run {
            try await database.raw(
                """
                SELECT provider, subject, username, email, created_at FROM identity_links
                WHERE provider = \(bind: provider) AND subject = \(bind: subject)
                """
            ).first().map(Self.identityLink)
        }
    }

    public func addIdentityLink(_ link: IdentityLink) async throws -> Bool {
        try await run {
            try await !database.raw(
                """
                INSERT INTO identity_links (provider, subject, username, email, created_at)
                VALUES (\(bind: link.provider), \(bind: link.subject), \(bind: link.username), \(bind: link.email), \(bind: link.createdAt))
                ON CONFLICT (provider, subject) DO NOTHING RETURNING provider
                """
            ).all().isEmpty
        }
    }

    public func identityLinks(of username: String) async throws -> [IdentityLink] {
        try await run {
            try await database.raw(
                """
                SELECT provider, subject, username, email, created_at FROM identity_links
                WHERE username = \(bind: username) ORDER BY created_at, provider, subject
                """
            ).all().map(Self.identityLink)
        }
    }

    public func removeIdentityLink(provider: String, subject: String) async throws -> Bool {
        try await run {
            try await !database.raw(
                "DELETE FROM identity_links WHERE provider = \(bind: provider) AND subject = \(bind: subject) RETURNING provider"
            ).all().isEmpty
        }
    }

    static func identityLink(_ row: any SQLRow) throws -> IdentityLink {
        IdentityLink(
            provider: try row.decode(column: "provider", as: String.self), subject: try row.decode(column: "subject", as: String.self),
            username: try row.decode(column: "username", as: String.self), email: try row.decode(column: "email", as: String.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self))
    }
}
