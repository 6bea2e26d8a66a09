/// The one spelling of a request path that policies and rate limits are matched against.
///
/// Percent-escapes are decoded, so `/api/%61gents` is decided as `/api/agents`, the path the
/// application behind will see. Paths that have no single meaning are refused rather than guessed:
/// an escaped `/` or `\` (one server splits on it, another does not), an escaped `?` or `#` (the
/// decoded path would seem to end there, so a policy would decide a shorter path than the one the
/// application routes), NUL and other control characters, a broken escape, bytes that are not
/// UTF-8, and anything not starting with `/`. An escaped space (`%20`) is decoded like any other
/// character; a raw one is refused.
///
/// A `.` or `..` segment, as sent or escaped (`%2E%2E`), is refused too: one server resolves it,
/// another routes it as a name, and a policy would have to guess which. Empty segments are kept:
/// ``PathTemplate`` skips them, as the router does.
enum RequestPath {
    /// The longest path accepted, in bytes.
    static let maximumLength = 8_192

    /// Characters that are refused escaped: `/`, `\`, `?` and `#`.
    static let structural: [UInt8] = [UInt8(ascii: "/"), UInt8(ascii: "\\"), UInt8(ascii: "?"), UInt8(ascii: "#")]

    /// The decoded path, or `nil` when it is refused.
    static func canonical(_ raw: Substring) -> Substring? {
        let bytes = raw.utf8
        // The usual path has nothing to decode: one pass says so.
        guard bytes.first == UInt8(ascii: "/"), bytes.count <= maximumLength else { return nil }
        var hasEscape = false
        var scan = DotSegmentScan()
        for byte in bytes {
            if byte < 0x21 || byte == 0x7F { return nil }
            if byte == UInt8(ascii: "%") { hasEscape = true }
            if scan.next(byte) { return nil }
        }
        guard !scan.end() else { return nil }
        guard hasEscape else { return raw }
        var decoded = [UInt8]()
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            index = bytes.index(after: index)
            guard byte == UInt8(ascii: "%") else {
                decoded.append(byte)
                continue
            }
            guard index != bytes.endIndex, let high = Hex.value(of: bytes[index]) else { return nil }
            index = bytes.index(after: index)
            guard index != bytes.endIndex, let low = Hex.value(of: bytes[index]) else { return nil }
            index = bytes.index(after: index)
            let value = high << 4 | low
            // An escaped space is fine (a file name can have one); control characters are not, nor
            // is anything that would change where the path or its segments end.
            guard value >= 0x20, value != 0x7F, !Self.structural.contains(value) else { return nil }
            decoded.append(value)
        }
        var dots = DotSegmentScan()
        guard !decoded.contains(where: { dots.next($0) }), !dots.end(), let text = String(validating: decoded, as: UTF8.self) else {
            return nil
        }
        return text[...]
    }
}

/// Finds a `.` or `..` segment in a path's bytes, one byte at a time.
struct DotSegmentScan {
    /// The dots since the last `/`; -1 once the segment has anything else.
    private var dots = -1

    /// Takes the next byte; whether it ended a dot segment.
    mutating func next(_ byte: UInt8) -> Bool {
        if byte == UInt8(ascii: "/") {
            defer { dots = 0 }
            return dots == 1 || dots == 2
        }
        dots = byte == UInt8(ascii: ".") && dots >= 0 ? dots + 1 : -1
        return false
    }

    /// Whether the path ended on a dot segment.
    func end() -> Bool { dots == 1 || dots == 2 }
}
