/// A credential as a request presented it, and where: what an ``Authenticator`` is given.
///
/// A bearer token is read from a copy of its header's bytes (``bytes``, one copy of whole memory);
/// ``text`` makes a `String` of it for authenticators that want one.
public struct PresentedCredential: Sendable {
    /// Where a credential was found.
    public enum Source: Hashable, Sendable {
        /// `Authorization: Bearer <credential>`.
        case bearer
        /// `X-Agent-Token: <credential>`.
        case agentTokenHeader
        /// The password of `Authorization: Basic`, on a route that takes it (git over HTTPS).
        case basicPassword
        /// A header named in ``CredentialLocations`` (lower case), on a route that takes it.
        case header(String)
        /// The cookie named in ``CredentialLocations/NamedCookie``, on a route that takes it.
        case cookie(String)
    }

    /// Where it was found.
    public let source: Source
    /// The credential's UTF-8 bytes: a slice of the value it sits in (copied out of the header
    /// once, as a whole), read by index from then on.
    public let bytes: ArraySlice<UInt8>

    /// A credential that is the whole of `text`.
    public init(_ text: String, source: Source) {
        self.init(bytes: Array(text.utf8)[...], source: source)
    }

    init(bytes: ArraySlice<UInt8>, source: Source) {
        self.bytes = bytes
        self.source = source
    }

    /// The credential's text.
    public var text: String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// Whether the credential starts with `prefix`.
    public func hasPrefix(_ prefix: String) -> Bool {
        bytes.starts(with: prefix.utf8)
    }

    /// Whether the credential has `kind`'s prefix: whether the authenticators of that kind are asked.
    func isOfKind(_ kind: CredentialKind) -> Bool {
        kind.isPrefix(of: bytes)
    }

    /// Whether the credential is exactly `other`.
    func equals(_ other: String) -> Bool {
        bytes.elementsEqual(other.utf8)
    }

    /// Whether this is a bearer value with a space inside: no bearer credential at all, but an
    /// unsupported scheme. Looked for only once something has failed: a token that verifies has none.
    var isSpacedBearer: Bool {
        source == .bearer && bytes.contains(UInt8(ascii: " "))
    }
}

/// The places besides `Authorization: Bearer` and `X-Agent-Token` where a credential may be,
/// each for the routes that take it there. Both lists are empty by default.
public struct CredentialLocations: Sendable {
    /// A header that carries a credential on some routes, such as `x-api-key` for an SDK.
    public struct NamedHeader: Hashable, Sendable {
        /// The header's name, lower case.
        public let name: String
        /// The routes where it is read.
        public let routes: [RouteMatch]

        public init(name: String, routes: [RouteMatch]) {
            self.name = name.lowercased()
            self.routes = routes
        }
    }

    /// A cookie that carries a credential on some routes: a browser session's, read only at
    /// forward auth and on the portal's own pages, so that a cross-site page can never make a
    /// browser's cookie act on the JSON API.
    public struct NamedCookie: Hashable, Sendable {
        /// The cookie's name, exactly as set (`__Host-agenthost_session`).
        public let name: String
        /// The routes where it is read.
        public let routes: [RouteMatch]

        public init(name: String, routes: [RouteMatch]) {
            self.name = name
            self.routes = routes
        }
    }

    /// Routes where the password of `Authorization: Basic` is the credential and the user name is
    /// ignored: git over HTTPS sends the token that way.
    public var basicPassword: [RouteMatch]
    /// Headers that carry a credential, each on its routes.
    public var namedHeaders: [NamedHeader]
    /// The session cookie, on its routes; `nil` reads no cookie anywhere.
    public var cookie: NamedCookie?

    public init(basicPassword: [RouteMatch] = [], namedHeaders: [NamedHeader] = [], cookie: NamedCookie? = nil) {
        self.basicPassword = basicPassword
        self.namedHeaders = namedHeaders
        self.cookie = cookie
    }

    var isEmpty: Bool { basicPassword.isEmpty && namedHeaders.isEmpty && cookie == nil }
}
