/// An `application/x-www-form-urlencoded` body, as a browser sends a form (WHATWG URL §5.1):
/// `name=value` pairs joined by `&`, `+` for a space and `%XX` for any other byte.
///
/// Stricter than the standard's parser, because every form it reads is the portal's own:
/// - a `%` not followed by two hex digits, or a name or value that is not UTF-8 once decoded,
///   is ``BrowserError/Code/malformedForm`` (the standard would keep the `%`);
/// - a name sent twice is ``BrowserError/Code/duplicateField``: a second `csrf` or `rd` field is
///   never resolved by order;
/// - more than `maximumFields` pairs, or more than `maximumBytes` of body, is
///   ``BrowserError/Code/formTooLarge``.
///
/// ```swift
/// let form = try FormBody(parsing: body)
/// let name = form["username"] ?? ""
/// ```
public struct FormBody: Sendable {
    /// The fields in the order sent.
    public let fields: [(name: String, value: String)]

    /// The most bytes a portal form body may have.
    public static let defaultMaximumBytes = 8 * 1024

    /// Parses `bytes`. An empty body has no fields; empty pieces (`a=1&&b=2`) are skipped, and a
    /// piece without `=` is a field with an empty value.
    public init(parsing bytes: some Collection<UInt8>, maximumFields: Int = 16, maximumBytes: Int = defaultMaximumBytes)
        throws(BrowserError)
    {
        guard bytes.count <= maximumBytes else {
            throw BrowserError(.formTooLarge, "the form body is longer than \(maximumBytes) bytes")
        }
        let body = Array(bytes)
        var fields: [(name: String, value: String)] = []
        var names = Set<String>()
        var start = 0
        while start <= body.count {
            let end = body[start...].firstIndex(of: UInt8(ascii: "&")) ?? body.count
            defer { start = end + 1 }
            guard end > start else { continue }
            let piece = body[start..<end]
            let equals = piece.firstIndex(of: UInt8(ascii: "="))
            let name = try Self.decode(piece[..<(equals ?? end)])
            let value = try equals.map { equals throws(BrowserError) in try Self.decode(piece[(equals + 1)...]) } ?? ""
            guard fields.count < maximumFields else {
                throw BrowserError(.formTooLarge, "the form has more than \(maximumFields) fields")
            }
            guard names.insert(name).inserted else {
                throw BrowserError(.duplicateField, "a field name was sent more than once")
            }
            fields.append((name, value))
        }
        self.fields = fields
    }

    /// The value of field `name`, if sent.
    public subscript(name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    /// `%XX` and `+` decoded, as UTF-8.
    static func decode(_ encoded: ArraySlice<UInt8>) throws(BrowserError) -> String {
        var decoded = [UInt8]()
        decoded.reserveCapacity(encoded.count)
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let byte = encoded[index]
            switch byte {
            case UInt8(ascii: "+"):
                decoded.append(UInt8(ascii: " "))
                index += 1
            case UInt8(ascii: "%"):
                guard encoded.endIndex - index >= 3,
                    let high = Self.hexValue(encoded[index + 1]), let low = Self.hexValue(encoded[index + 2])
                else {
                    throw BrowserError(.malformedForm, "the form holds a % that is not followed by two hex digits")
                }
                decoded.append(high << 4 | low)
                index += 3
            default:
                decoded.append(byte)
                index += 1
            }
        }
        guard let text = String(validating: decoded, as: UTF8.self) else {
            throw BrowserError(.malformedForm, "the form holds text that is not UTF-8")
        }
        return text
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `text` encoded for a form body or a query: unreserved bytes as they are, space as `+`,
    /// everything else `%XX`.
    public static func encode(_ text: String) -> String {
        var encoded = [UInt8]()
        encoded.reserveCapacity(text.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "*"):
                encoded.append(byte)
            case UInt8(ascii: " "):
                encoded.append(UInt8(ascii: "+"))
            default:
                encoded += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }
}
