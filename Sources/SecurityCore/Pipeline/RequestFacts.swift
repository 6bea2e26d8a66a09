public import HTTPTypes

/// One header of a request or a response.
public struct HeaderField: Hashable, Sendable {
    /// The header name as sent; compared case-insensitively.
    public var name: String
    /// The header value.
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// What the security pipeline needs to know about a request, in plain values, so any HTTP server
/// can fill it in.
///
/// The headers are swift-http-types' `HTTPFields`, which Hummingbird, AsyncHTTPClient and
/// swift-nio's HTTP types hand over as they are, with no copy. A server on another framework
/// passes `[HeaderField]` instead (``init(method:path:headers:peerAddress:bodyLength:)``).
///
/// ```swift
/// let facts = RequestFacts(
///     method: "GET", path: "/api/whoami",
///     fields: [.authorization: "Bearer " + token],
///     peerAddress: "127.0.0.1", bodyLength: 0)
/// ```
public struct RequestFacts: Sendable {
    /// The request method, such as `GET`.
    public var method: String
    /// The request path. A query string, if the caller leaves one on, is ignored: credentials are
    /// never read from a URL.
    public var path: String
    /// Every request header, in order, duplicates included.
    public var fields: HTTPFields
    /// The socket peer's address, when known.
    public var peerAddress: String?
    /// The declared body length, when known.
    public var bodyLength: Int?

    public init(method: String, path: String, fields: HTTPFields, peerAddress: String? = nil, bodyLength: Int? = nil) {
        self.method = method
        self.path = path
        self.fields = fields
        self.peerAddress = peerAddress
        self.bodyLength = bodyLength
    }

    /// The facts of a request whose headers are plain name and value pairs. A header whose name is
    /// not an HTTP token (RFC 9110) is left out, as an HTTP parser would refuse it; a value's
    /// control characters become spaces (`HTTPField`'s rule).
    public init(method: String, path: String, headers: [HeaderField], peerAddress: String? = nil, bodyLength: Int? = nil) {
        self.init(method: method, path: path, fields: HTTPFields(headers), peerAddress: peerAddress, bodyLength: bodyLength)
    }

    /// The headers as plain name and value pairs (names in lower case): a copy, for code written
    /// before ``fields``.
    public var headers: [HeaderField] {
        get { fields.map { HeaderField(name: $0.name.canonicalName, value: $0.value) } }
        set { fields = HTTPFields(newValue) }
    }

    /// The path without any query string or fragment.
    var pathWithoutQuery: Substring {
        withoutQuery(path[...])
    }

    /// Every value of the header `name`, given in lower case: `HTTPFields` keeps every name in
    /// lower case too, so one string comparison finds it.
    public func values(of name: String) -> [String] {
        fields.compactMap { field in field.name.canonicalName == name ? field.value : nil }
    }
}

extension HTTPFields {
    /// `headers` as fields, leaving out any whose name is not an HTTP token.
    init(_ headers: [HeaderField]) {
        self.init()
        reserveCapacity(headers.count)
        for header in headers {
            if let name = HTTPField.Name(header.name) { append(HTTPField(name: name, value: header.value)) }
        }
    }
}

/// `path` up to its first `?` or `#`, found by byte.
func withoutQuery(_ path: Substring) -> Substring {
    guard let end = path.utf8.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) else { return path }
    return Substring(path.utf8[..<end])
}

/// ASCII case-insensitive equality; bytes outside ASCII must match exactly.
func asciiCaseInsensitiveEquals(_ lhs: some StringProtocol, _ rhs: some StringProtocol) -> Bool {
    let left = lhs.utf8, right = rhs.utf8
    guard left.count == right.count else { return false }
    return zip(left, right).allSatisfy(asciiCaseInsensitiveEquals)
}

@inline(__always)
private func asciiCaseInsensitiveEquals(_ a: UInt8, _ b: UInt8) -> Bool {
    a == b || (a | 0x20 == b | 0x20 && (a | 0x20) >= UInt8(ascii: "a") && (a | 0x20) <= UInt8(ascii: "z"))
}
