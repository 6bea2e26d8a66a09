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
        let text = String(value)
        let bytes = Array(text.utf8)
        var pairs: [(name: Substring, value: Substring)] = []
        forEachPair(in: bytes) { name, cookie in
            pairs.append(
                (Substring(String(decoding: bytes[name], as: UTF8.self)), Substring(String(decoding: bytes[cookie], as: UTF8.self))))
            return true
        }
        return pairs
    }

    /// The value of the cookie `name` across every `Cookie` field of a request (HTTP/2 may send
    /// one field per cookie). A field that would take the total past ``maximumBytes`` is not read,
    /// nor any after it.
    public static func value(named name: String, in fields: some Sequence<String>) -> Lookup {
        switch valueBytes(named: name, in: fields) {
        case .none: .none
        case .ambiguous: .ambiguous
        case .one(let bytes): .one(Substring(String(decoding: bytes, as: UTF8.self)))
        }
    }

    /// What ``value(named:in:)`` finds, as the value's bytes: the request path reads a session
    /// cookie this way, scanning bytes (walking the header as `Character`s cost more than
    /// verifying the session).
    package enum ByteLookup: Equatable {
        case none
        case one(ArraySlice<UInt8>)
        case ambiguous
    }

    /// ``value(named:in:)`` as bytes.
    package static func valueBytes(named name: String, in fields: some Sequence<String>) -> ByteLookup {
        let wanted = Array(name.utf8)
        var found: ArraySlice<UInt8>?
        var ambiguous = false
        var budget = maximumBytes
        for field in fields {
            budget -= field.utf8.count
            guard budget >= 0 else { break }
            let bytes = Array(field.utf8)
            forEachPair(in: bytes) { pairName, value in
                guard bytes[pairName].elementsEqual(wanted) else { return true }
                if found != nil {
                    ambiguous = true
                    return false
                }
                found = bytes[value]
                return true
            }
            if ambiguous { return .ambiguous }
        }
        return found.map { .one($0) } ?? .none
    }

    /// Calls `body` with the name's and the value's ranges of each pair in `bytes` (spaces and tabs
    /// around them trimmed, a value's double quotes removed), until it returns `false`.
    static func forEachPair(in bytes: [UInt8], _ body: (Range<Int>, Range<Int>) -> Bool) {
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: ";") { end += 1 }
            defer { start = end + 1 }
            var equals = start
            while equals < end, bytes[equals] != UInt8(ascii: "=") { equals += 1 }
            guard equals < end else { continue }
            let name = trimmed(bytes, start..<equals)
            guard !name.isEmpty else { continue }
            var value = trimmed(bytes, (equals + 1)..<end)
            if value.count >= 2, bytes[value.lowerBound] == UInt8(ascii: "\""), bytes[value.upperBound - 1] == UInt8(ascii: "\"") {
                value = (value.lowerBound + 1)..<(value.upperBound - 1)
            }
            if !body(name, value) { return }
        }
    }

    /// `range` without the spaces and tabs at either end.
    private static func trimmed(_ bytes: [UInt8], _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound, upper = range.upperBound
        while lower < upper, bytes[lower] == UInt8(ascii: " ") || bytes[lower] == UInt8(ascii: "\t") { lower += 1 }
        while upper > lower, bytes[upper - 1] == UInt8(ascii: " ") || bytes[upper - 1] == UInt8(ascii: "\t") { upper -= 1 }
        return lower..<upper
    }
}
