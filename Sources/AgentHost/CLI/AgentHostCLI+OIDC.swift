package import SecurityCore
import SecurityStore

extension AgentHostCLI {
    /// Seals `input` (one trailing newline dropped) as the client secret of single sign-on
    /// provider `provider`, and records `oidc.secret_set` in the audit log.
    package static func setOIDCSecret(provider: String, input: [UInt8], at place: Place) async throws {
        guard
            (try? OIDCProviderConfiguration(name: provider, issuer: "https://x", clientID: "x", defaultRole: Role("viewer")).validate())
                != nil
        else {
            throw AgentHostError(.invalidInput, "a provider's name is 1-64 of a-z 0-9 _ -, as under oidc_providers:")
        }
        var bytes = withoutTrailingNewline(input)
        defer { SecureBytes.wipe(&bytes) }
        guard !bytes.isEmpty else { throw AgentHostError(.invalidInput, "the client secret is empty") }
        let secret = SecureBytes(copying: bytes)
        try await place.withAudit { session, trail in
            try await session.credentials.setSystemSecret(named: SingleSignOn.secretName(provider), secret: secret)
            try await trail.append(event("oidc.secret_set", target: "oidc:" + provider))
        }
    }

    /// The identity links of `username`, or of every user.
    package static func identityLinks(of username: String?, at place: Place) async throws -> [IdentityLink] {
        try await place.withStore { store in
            if let username { return try await store.identityLinks(of: username) }
            var links: [IdentityLink] = []
            for user in try await store.users() { links += try await store.identityLinks(of: user.username) }
            return links
        }
    }

    /// Removes the link of `subject` at `provider`, and records `user.identity_unlinked`;
    /// whether there was one.
    package static func unlink(provider: String, subject: String, at place: Place) async throws -> Bool {
        try await place.withAudit { session, trail in
            guard let link = try await session.store.identityLink(provider: provider, subject: subject),
                try await session.store.removeIdentityLink(provider: provider, subject: subject)
            else { return false }
            try await trail.append(
                event("user.identity_unlinked", target: "user:" + link.username, details: ["provider": provider, "subject": subject]))
            return true
        }
    }
}
