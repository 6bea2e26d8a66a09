/// A credential as a request presented it, and where: what an ``Authenticator`` is given.
///
/// A bearer token is read in place from its header (a token is a few hundred bytes, and copying it
/// out cost a fifth of verifying it); ``text`` makes a `String` of it for authenticators that want one.
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
    }

    /// Where it was found.
    public let source: Source
    /// The value it sits in, and where in that value (UTF-8 offsets).
    private let container: String
    private let range: Range<Int>

    /// A credential that is the whole of `text`.
    public init(_ text: String, source: Source) {
        self.init(container: text, range: 0..<text.utf8.count, source: source)
    }

    init(container: String, range: Range<Int>, source: Source) {
        self.container = container
        self.range = range
        self.source = source
    }

    /// The credential's text.
    public var text: String {
        range == 0..<container.utf8.count ? container : String(slice(container[...], utf8: range))
    }

    /// Whether the credential starts with `prefix`.
    public func hasPrefix(_ prefix: String) -> Bool {
        withBytes { $0.starts(with: prefix.utf8) }
    }

    /// Whether the credential has `kind`'s prefix: whether the authenticators of that kind are asked.
    func isOfKind(_ kind: CredentialKind) -> Bool {
        withBytes { kind.isPrefix(of: $0) }
    }

    /// Calls `body` with the credential's UTF-8 bytes, read in place.
    public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        var container = container
        return container.withUTF8 { body(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: $0[range]))) }
    }

    /// Whether the credential is exactly `other`.
    func equals(_ other: String) -> Bool {
        withBytes { $0.elementsEqual(other.utf8) }
    }

    /// Whether this is a bearer value with a space inside: no bearer credential at all, but an
    /// unsupported scheme. Looked for only once something has failed: a token that verifies has none.
    var isSpacedBearer: Bool {
        source == .bearer && withBytes { CredentialExtractor.containsSpace($0) }
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

    /// Routes where the password of `Authorization: Basic` is the credential and the user name is
    /// ignored: git over HTTPS sends the token that way.
    public var basicPassword: [RouteMatch]
    /// Headers that carry a credential, each on its routes.
    public var namedHeaders: [NamedHeader]

    public init(basicPassword: [RouteMatch] = [], namedHeaders: [NamedHeader] = []) {
        self.basicPassword = basicPassword
        self.namedHeaders = namedHeaders
    }

    var isEmpty: Bool { basicPassword.isEmpty && namedHeaders.isEmpty }
}
