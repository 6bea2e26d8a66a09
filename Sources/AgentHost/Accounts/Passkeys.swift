public import SecurityCore
import Synchronization

/// Passkeys (WebAuthn Level 2) at the portal (Docs/SIGN_IN.md, "Passkeys"): registered from the
/// sessions page, used as a second factor after a password or a provider, or alone with a
/// discoverable credential and user verification.
///
/// The relying party is the portal's host (`relyingParty(portal:browser:)`); SecurityCore's
/// `WebAuthnRelyingParty` verifies each ceremony. A ceremony's challenge travels in a cookie
/// sealed under the flow key (`PasskeyCeremony`) and is spent once on this server; the store
/// moves a passkey's signature counter only forward, so a replayed assertion is refused on every
/// server.
public final class Passkeys: Sendable {
    let store: any PasskeyStore
    /// Derives the opaque WebAuthn user handle from a user name.
    private let handleKey: HMACSHA256Key
    let clock: any TimeSource
    /// Challenges spent on this server, and until when they would have been good.
    private let spent = Mutex<[String: Int64]>([:])

    /// How long a ceremony may take, from its options to its answer.
    static let ceremonyLifetime: Int64 = 5 * 60
    /// How many passkeys a user may register.
    static let maximumPerUser = 20
    /// The longest name a passkey may have, in characters.
    static let maximumNameLength = 64
    /// The cookie that carries a ceremony, for the portal's own host.
    static let cookie = SessionCookie(hostOnly: "agenthost_webauthn")

    /// Passkeys in `store`; user handles derived under `accounts`' pepper.
    public init(store: any PasskeyStore, accounts: AccountService, clock: any TimeSource) {
        self.store = store
        self.handleKey = accounts.directory.pepper
        self.clock = clock
    }

    /// The user handle an authenticator keeps for `username`: 32 bytes that name nobody outside
    /// this server (WebAuthn asks for no personal information there).
    func userHandle(for username: String) -> [UInt8] {
        handleKey.authenticationCode(for: Array(("agenthost/webauthn-user/v1:" + username).utf8))
    }

    /// Spends `challenge`; `false` when it was spent already (a replayed answer).
    func spend(_ ceremony: PasskeyCeremony) -> Bool {
        let now = clock.now()
        return spent.withLock { used in
            if used.count > 10_000 { used = used.filter { $0.value > now } }
            guard used[ceremony.challenge] == nil else { return false }
            used[ceremony.challenge] = ceremony.expires
            return true
        }
    }

    /// The relying party for a browser at the portal: the public URL's host and origin when one
    /// is set, else the host and origin the browser used. `nil` when that host is an IP address,
    /// which WebAuthn does not take as a relying party id.
    static func relyingParty(portal: PortalConfiguration, browser: BrowserRequest) -> WebAuthnRelyingParty? {
        var host = browser.hostName
        var origin = browser.origin
        if let url = portal.publicURL, let publicOrigin = PortalRoutes.origin(of: url) {
            origin = publicOrigin.lowercased()
            let authority = origin.split(separator: "/").last.map(String.init) ?? ""
            host = authority.hasPrefix("[") ? authority : String(authority.split(separator: ":").first ?? "")
        }
        guard !host.isEmpty, !host.hasPrefix("["), IPAddress(host) == nil else { return nil }
        return WebAuthnRelyingParty(id: host, origins: [origin])
    }
}

/// One passkey ceremony between its options and its answer, held by the browser in a sealed
/// cookie (`__Host-agenthost_webauthn`): what it is for, the challenge, and whose it is.
struct PasskeyCeremony: Codable, Sendable {
    enum Purpose: String, Codable, Sendable {
        /// Adding a passkey, signed in.
        case register
        /// Signing in with a passkey alone (a discoverable credential, the user verified).
        case signIn = "sign-in"
        /// A passkey as the second factor, after a password or a provider.
        case secondFactor = "second-factor"
    }

    let purpose: Purpose
    /// The challenge, base64url.
    let challenge: String
    /// The user registering, or the one whose second factor this is; `nil` for a sign-in.
    let username: String?
    /// Unix seconds after which the answer is refused.
    let expires: Int64

    private static let kind = "agenthost-passkey-ceremony"

    /// The cookie's value.
    func sealed(with key: AESGCMKey) throws -> String {
        try SealedCookieValue.seal(self, with: key, kind: Self.kind)
    }

    /// The ceremony in a cookie's value; `nil` for anything this server did not seal, or that has
    /// expired at `now`.
    static func opened(_ text: Substring, with key: AESGCMKey, now: Int64) -> PasskeyCeremony? {
        guard let ceremony = SealedCookieValue.open(text, as: PasskeyCeremony.self, with: key, kind: kind), now < ceremony.expires
        else { return nil }
        return ceremony
    }
}
