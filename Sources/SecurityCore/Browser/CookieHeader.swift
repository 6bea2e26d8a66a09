/// Reads the `Cookie` request header (RFC 6265 §5.4): `name=value` pairs separated by `;`.
///
/// The reading is lenient where browsers are (spaces and tabs around a pair, a value in double
/// quotes, a pair without `=` skipped) and strict where an attacker could gain: a cookie name is
/// compared exactly, and a name sent more than once is reported as such, never resolved by order
/// (a sibling subdomain can plant a second cookie of the same name).
///
/// ```swift
/// switch CookieHeader.value(named: "__Host-agenthost", in: request.headers[values: .cookie]) {
/// case .one(let value): verify(value)
/// case .none: signIn()
/// case .ambiguous: refuse()
/// }
/// ```
public enum CookieHeader {
    /// The most bytes of `Cookie` read per request; the rest is ignored (browsers send at most a
    /// few KiB, and the HTTP edge caps the whole head).
    public static let maximumBytes = 16 * 1024

    /// What a request says about one cookie name.
    public enum Lookup: Equatable, Sendable {
        /// Not sent.
        case none
        /// Sent once, with this value (quotes removed).
        case one(Substring)
        /// Sent more than once.
        case ambiguous
    }

    /// Every pair of one `Cookie` field value, in order. Pairs without `=` or with an empty name
    /// are skipped.
    public static func pairs(_ value: Substring) -> [(name: Substring, value: Substring)] {
        var pairs: [(name: Substring, value: Substring)] = []
        for piece in value.split(separator: ";", omittingEmptySubsequences: true) {
            let pair = trimmed(piece)
            guard let equals = pair.firstIndex(of: "=") else { continue }
            let name = trimmed(pair[..<equals])
            guard !name.isEmpty else { continue }
            var cookie = trimmed(pair[pair.index(after: equals)...])
            if cookie.count >= 2, cookie.first == "\"", cookie.last == "\"" {
                cookie = cookie.dropFirst().dropLast()
            }
            pairs.append((name, cookie))
        }
        return pairs
    }

    /// The value of the cookie `name` across every `Cookie` field of a request (HTTP/2 may send
    /// one field per cookie). A field that would take the total past ``maximumBytes`` is not read,
    /// nor any after it.
    public static func value(named name: String, in fields: some Sequence<String>) -> Lookup {
        var found: Substring?
        var budget = maximumBytes
        for field in fields {
            budget -= field.utf8.count
            guard budget >= 0 else { break }
            for pair in pairs(field[...]) where pair.name == name {
                if found != nil { return .ambiguous }
                found = pair.value
            }
        }
        return found.map { .one($0) } ?? .none
    }

    /// `text` without the spaces and tabs around it.
    private static func trimmed(_ text: Substring) -> Substring {
        var result = text
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}
