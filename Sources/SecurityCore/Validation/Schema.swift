import Synchronization

/// Field rules for a JSON body: what each member must be. ``validate(_:)`` collects every
/// failure, each with a JSON-pointer path and a stable code, so a client can fix them all at once.
///
/// ```swift
/// let schema = Schema.object([
///     "agent_id": .required(.string(format: .identifier)),
///     "text": .required(.string(maxLength: 10_000)),
///     "ttl": .optional(.integer(1...604_800)),
/// ])
/// switch schema.check(body: bytes) {
/// case .success(let value): use(value)
/// case .failure(let refusal): respond(refusal)   // 400 with errors: [{"field": "/text", ...}]
/// }
/// ```
public struct Schema: Sendable {
    indirect enum Kind: Sendable {
        case string(StringRule)
        case integer(ClosedRange<Int64>?)
        case duration(ClosedRange<Int64>?)
        case number(ClosedRange<Double>?)
        case boolean
        case object([String: Field], allowsUnknownFields: Bool)
        case array(Schema, count: ClosedRange<Int>?)
    }

    struct StringRule: Sendable {
        var length: ClosedRange<Int>?
        var maximumBytes: Int?
        var pattern: Pattern?
        var allowed: Set<String>?
        var format: StringFormat?
    }

    let kind: Kind

    /// A member of an object: its schema and whether it must be present.
    public struct Field: Sendable {
        let schema: Schema
        let isRequired: Bool

        /// A member that must be present (and not `null`).
        public static func required(_ schema: Schema) -> Field { Field(schema: schema, isRequired: true) }
        /// A member that may be missing or `null`.
        public static func optional(_ schema: Schema) -> Field { Field(schema: schema, isRequired: false) }
    }

    /// Shapes a string can be checked for.
    public enum StringFormat: String, Sendable {
        /// 1-128 of `A-Z a-z 0-9 _ -`, as agent ids, roles and teams are.
        case identifier
        /// An absolute `http` or `https` URL with a host, no user name or password, no whitespace,
        /// at most 2,048 bytes.
        case httpURL = "http_url"
    }

    /// A regular expression a whole string must match. Built once, with the pattern checked
    /// when the schema is built.
    public struct Pattern: Sendable {
        /// The pattern as written.
        public let source: String
        /// Regex is not Sendable in the standard library: it is shared behind a lock.
        private final class Compiled: Sendable {
            let regex: Mutex<Regex<AnyRegexOutput>>
            init(_ regex: consuming sending Regex<AnyRegexOutput>) { self.regex = Mutex(regex) }
        }

        private let compiled: Compiled

        /// Throws ``SchemaError`` when `source` does not compile.
        public init(_ source: String) throws {
            do {
                let regex = try Regex(source)
                _ = try regex.wholeMatch(in: "")
                compiled = Compiled(regex)
            } catch {
                throw SchemaError(.invalidPattern, "pattern /\(source.prefix(200))/ does not compile")
            }
            self.source = source
        }

        func matches(_ text: String) -> Bool {
            compiled.regex.withLock { (try? $0.wholeMatch(in: text)) != nil }
        }
    }

    /// A string. `length` counts characters (grapheme clusters), `maximumBytes` UTF-8 bytes;
    /// `oneOf` lists the only values allowed.
    public static func string(
        length: ClosedRange<Int>? = nil, maximumBytes: Int? = nil, pattern: Pattern? = nil,
        oneOf allowed: Set<String>? = nil, format: StringFormat? = nil
    ) -> Schema {
        Schema(kind: .string(StringRule(length: length, maximumBytes: maximumBytes, pattern: pattern, allowed: allowed, format: format)))
    }

    /// A string of at most `maxLength` characters.
    public static func string(maxLength: Int, format: StringFormat? = nil) -> Schema {
        string(length: 0...maxLength, format: format)
    }

    /// An integer (no fraction or exponent), optionally within `range`.
    public static func integer(_ range: ClosedRange<Int64>? = nil) -> Schema { Schema(kind: .integer(range)) }
    /// A duration in whole seconds, optionally within `range`: an integer of seconds (`3600`), or a
    /// string in the forms of a duration (`"1h"`, `"90s"`, `"1h30m"`). Read the value with
    /// ``durationSeconds(_:)``. A string that is no duration fails `invalid_duration`.
    public static func duration(_ range: ClosedRange<Int64>? = nil) -> Schema { Schema(kind: .duration(range)) }

    /// The seconds a value that passed ``duration(_:)`` names; `nil` for anything else.
    public static func durationSeconds(_ value: JSONValue?) -> Int64? {
        switch value {
        case .integer(let seconds)?: seconds
        case .string(let text)?: DurationText.seconds(text)
        default: nil
        }
    }

    /// Any number, optionally within `range`.
    public static func number(_ range: ClosedRange<Double>? = nil) -> Schema { Schema(kind: .number(range)) }
    /// `true` or `false`.
    public static let boolean = Schema(kind: .boolean)

    /// An object with these members. Members not listed are refused unless `allowsUnknownFields`.
    public static func object(_ fields: [String: Field], allowsUnknownFields: Bool = false) -> Schema {
        Schema(kind: .object(fields, allowsUnknownFields: allowsUnknownFields))
    }

    /// An array whose every element matches `element`, with optionally bounded `count`.
    public static func array(of element: Schema, count: ClosedRange<Int>? = nil) -> Schema {
        Schema(kind: .array(element, count: count))
    }

    /// Every way `value` fails this schema, in document order; empty when it passes.
    public func validate(_ value: JSONValue) -> [ValidationIssue] {
        var issues = [ValidationIssue]()
        check(value, at: "", into: &issues)
        return issues
    }

    /// Parses `body` (strict JSON, nesting at most `maximumDepth`) and validates it: the value, or
    /// the 400 refusal listing what is wrong.
    public func check(body: [UInt8], maximumDepth: Int = JSONValue.defaultMaximumDepth) -> Result<JSONValue, Refusal> {
        let value: JSONValue
        do {
            value = try JSONValue.parse(body, maximumDepth: maximumDepth)
        } catch {
            return .failure(
                Refusal(
                    status: 400, code: .invalidJSON, detail: "The body is not valid JSON: \(error.description).",
                    extensions: ["offset": .integer(Int64(error.offset))]
                ))
        }
        let issues = validate(value)
        guard issues.isEmpty else { return .failure(ValidationIssue.refusal(issues)) }
        return .success(value)
    }

    private func check(_ value: JSONValue, at pointer: String, into issues: inout [ValidationIssue]) {
        func fail(_ code: ValidationIssue.Code, limit: Int64? = nil) {
            issues.append(ValidationIssue(field: pointer, code: code, limit: limit))
        }
        switch kind {
        case .string(let rule):
            guard case .string(let text) = value else { return fail(.wrongType) }
            Self.check(text, rule, fail)
        case .integer(let range):
            guard case .integer(let number) = value else { return fail(.wrongType) }
            if let range {
                if number < range.lowerBound { fail(.belowMinimum, limit: range.lowerBound) }
                if number > range.upperBound { fail(.aboveMaximum, limit: range.upperBound) }
            }
        case .duration(let range):
            switch value {
            case .integer, .string: break
            default: return fail(.wrongType)
            }
            guard let seconds = Self.durationSeconds(value) else { return fail(.invalidDuration) }
            if let range {
                if seconds < range.lowerBound { fail(.belowMinimum, limit: range.lowerBound) }
                if seconds > range.upperBound { fail(.aboveMaximum, limit: range.upperBound) }
            }
        case .number(let range):
            let number: Double
            switch value {
            case .integer(let integer): number = Double(integer)
            case .double(let double): number = double
            default: return fail(.wrongType)
            }
            if let range, !range.contains(number) { fail(number < range.lowerBound ? .belowMinimum : .aboveMaximum) }
        case .boolean:
            guard case .bool = value else { return fail(.wrongType) }
        case .object(let fields, let allowsUnknown):
            guard case .object(let members) = value else { return fail(.wrongType) }
            for name in fields.keys.sorted() {
                let field = fields[name]!
                let path = pointer + "/" + Self.escape(name)
                switch members[name] {
                case nil, .null?:
                    if field.isRequired { issues.append(ValidationIssue(field: path, code: .required, limit: nil)) }
                case let member?:
                    field.schema.check(member, at: path, into: &issues)
                }
            }
            if !allowsUnknown {
                for name in members.keys.sorted() where fields[name] == nil {
                    issues.append(ValidationIssue(field: pointer + "/" + Self.escape(name), code: .unknownField, limit: nil))
                }
            }
        case .array(let element, let count):
            guard case .array(let elements) = value else { return fail(.wrongType) }
            if let count {
                if elements.count < count.lowerBound { fail(.tooFewItems, limit: Int64(count.lowerBound)) }
                if elements.count > count.upperBound { return fail(.tooManyItems, limit: Int64(count.upperBound)) }
            }
            for (index, item) in elements.enumerated() {
                element.check(item, at: pointer + "/" + String(index), into: &issues)
            }
        }
    }

    private static func check(_ text: String, _ rule: StringRule, _ fail: (ValidationIssue.Code, Int64?) -> Void) {
        let bytes = text.utf8.count
        // A string over a size limit is not matched further: patterns only ever see bounded input.
        if let maximum = rule.maximumBytes, bytes > maximum {
            fail(.tooManyBytes, Int64(maximum))
            return
        }
        if let length = rule.length {
            // Counting characters walks the string; a string with more bytes than four times the
            // limit cannot fit, whatever its characters.
            let count = bytes > length.upperBound * 4 + 4 ? Int.max : text.count
            if count < length.lowerBound { fail(.tooShort, Int64(length.lowerBound)) }
            if count > length.upperBound {
                fail(.tooLong, Int64(length.upperBound))
                return
            }
        }
        if let allowed = rule.allowed, !allowed.contains(text) { fail(.notAllowed, nil) }
        switch rule.format {
        case .identifier?:
            if (try? IdentifierRule.check(text, kind: "value")) == nil { fail(.invalidIdentifier, nil) }
        case .httpURL?:
            if !isHTTPURL(text) { fail(.invalidURL, nil) }
        case nil:
            break
        }
        if let pattern = rule.pattern, !pattern.matches(text) { fail(.patternMismatch, nil) }
    }

    /// A JSON-pointer reference token (RFC 6901): `~` is `~0`, `/` is `~1`.
    static func escape(_ name: String) -> String {
        guard name.contains(where: { $0 == "~" || $0 == "/" }) else { return name }
        return name.replacing("~", with: "~0").replacing("/", with: "~1")
    }

    /// `http(s)://host[:port][/path][?query][#fragment]` with no user information and no
    /// whitespace or control characters.
    static func isHTTPURL(_ text: String) -> Bool {
        guard text.utf8.count <= 2_048, text.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { return false }
        let lowered = text.lowercased()
        let rest: Substring
        if lowered.hasPrefix("https://") {
            rest = text.dropFirst(8)
        } else if lowered.hasPrefix("http://") {
            rest = text.dropFirst(7)
        } else {
            return false
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !authority.contains("@"), !authority.contains("\\") else { return false }
        return CORSPolicy.isOrigin("http://" + authority.lowercased())
    }
}

/// One way a value failed its ``Schema``.
public struct ValidationIssue: Hashable, Sendable, CustomStringConvertible {
    /// Stable codes a client can act on.
    public enum Code: String, Hashable, Sendable {
        case required
        case wrongType = "wrong_type"
        case tooShort = "too_short"
        case tooLong = "too_long"
        case tooManyBytes = "too_many_bytes"
        case patternMismatch = "pattern_mismatch"
        case notAllowed = "not_allowed"
        case belowMinimum = "below_minimum"
        case aboveMaximum = "above_maximum"
        case invalidIdentifier = "invalid_identifier"
        case invalidURL = "invalid_url"
        case invalidDuration = "invalid_duration"
        case unknownField = "unknown_field"
        case tooFewItems = "too_few_items"
        case tooManyItems = "too_many_items"
    }

    /// The JSON pointer of the failing value (`""` for the whole document).
    public let field: String
    /// What is wrong.
    public let code: Code
    /// The limit broken, for length, size, range and count codes.
    public let limit: Int64?

    public var description: String {
        "\(field.isEmpty ? "/" : field): \(code.rawValue)" + (limit.map { " (limit \($0))" } ?? "")
    }

    /// As a member of a problem's `errors` array.
    public var json: JSONValue {
        var members: [String: JSONValue] = ["field": .string(field), "code": .string(code.rawValue)]
        if let limit { members["limit"] = .integer(limit) }
        return .object(members)
    }

    /// The 400 for `issues`.
    public static func refusal(_ issues: [ValidationIssue]) -> Refusal {
        Refusal(
            status: 400, code: .validationFailed,
            detail: issues.count == 1 ? "One field is invalid." : "\(issues.count) fields are invalid.",
            extensions: ["errors": .array(issues.map(\.json))]
        )
    }
}

/// A schema that cannot be built.
public struct SchemaError: CodedError, Hashable, Sendable {
    /// A stable identifier for the kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case invalidPattern = "invalid_pattern"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A string pattern that does not compile.
        public static let invalidPattern = Code(.invalidPattern)

        public var description: String { value.rawValue }
    }

    /// What went wrong, as a stable code.
    public let code: Code
    /// What is wrong, without secrets.
    public let reason: String

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}
