import Foundation
import SecurityCore

/// `JSONValue` parsing and `Schema` validation.
///
/// Properties:
/// - differential with Foundation's `JSONSerialization`: a document this parser accepts, Foundation
///   accepts with the same value; one it refuses that Foundation accepts is refused for a
///   documented reason only (duplicate member names, nesting past the limit, lone surrogates,
///   numbers out of range, bytes after the value, trailing commas, and any text that is not
///   UTF-8, which Foundation may read as UTF-16 or UTF-32);
/// - what parses writes back (`json`) to text that parses to the same value;
/// - `Schema.check(body:)` agrees with parsing then validating, and every issue names a JSON
///   pointer.
enum JSONTarget {
    static let schema = Schema.object([
        "agent_id": .required(.string(format: .identifier)),
        "text": .optional(.string(length: 1...64, maximumBytes: 256)),
        "kind": .optional(.string(oneOf: ["note", "task"])),
        "callback": .optional(.string(format: .httpURL)),
        "priority": .optional(.integer(1...5)),
        "ttl": .optional(.duration(1...86_400)),
        "score": .optional(.number(0...1)),
        "urgent": .optional(.boolean),
        "tags": .optional(.array(of: .string(maxLength: 8), count: 0...4)),
        "owner": .optional(.object(["team": .required(.string(format: .identifier))], allowsUnknownFields: true)),
    ])

    /// Reasons this parser refuses on purpose what Foundation reads (Foundation stops reading at
    /// a NUL after the value, say, where this parser refuses the trailing bytes).
    static let deliberate = [
        "duplicate member name", "nested deeper than", "lone surrogate", "number out of range", "unexpected bytes after the JSON value",
        "trailing comma",
    ]

    static func run(_ input: inout FuzzInput) {
        let bytes = input.rest()
        let foundation = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        do {
            let value = try JSONValue.parse(bytes)
            if let foundation {
                require(same(value, foundation), "Foundation reads another value: \(value.json)")
            } else {
                require(false, "accepted what Foundation refuses: \(value.json)")
            }
            let written = value.json
            require((try? JSONValue.parse(Array(written.utf8))) == value, "written form parses differently: \(written)")
            checkSchema(bytes, value)
        } catch {
            // Foundation also guesses UTF-16 and UTF-32 from NUL bytes; JSON here is UTF-8 only.
            if foundation != nil, !bytes.contains(0) {
                require(deliberate.contains { error.reason.hasPrefix($0) }, "refused for \(error.reason); Foundation reads it")
            }
            if case .failure(let refusal) = schema.check(body: bytes) {
                require(refusal.problem.code == "invalid_json", "an unparsable body is not invalid_json")
            } else {
                require(false, "check(body:) accepted what parse refuses")
            }
        }
    }

    static func checkSchema(_ bytes: [UInt8], _ value: JSONValue) {
        let issues = schema.validate(value)
        for issue in issues {
            // By bytes: a member name may start with a combining mark, which joins the / as one Character.
            require(issue.field.isEmpty || issue.field.utf8.first == UInt8(ascii: "/"), "issue field \(issue.field) is not a JSON pointer")
        }
        switch schema.check(body: bytes) {
        case .success(let checked):
            require(issues.isEmpty && checked == value, "check(body:) passed what validate refuses")
        case .failure(let refusal):
            require(!issues.isEmpty && refusal.problem.code == "validation_failed", "check(body:) refused what validate passes")
            if case .array(let errors)? = refusal.problem.extensions["errors"] {
                require(errors.count == issues.count, "the refusal lists another number of issues")
            }
        }
    }

    /// Equal, or within a relative 1e-12: Foundation reads integers too long for 64 bits by adding
    /// up digits in floating point (`888888888` and 88 zeros comes out as 8.888888880000009e96),
    /// where this parser's `Double(text)` is correctly rounded, as Python's `float` agrees.
    static func close(_ a: Double, _ b: Double) -> Bool {
        a == b || abs(a - b) <= 1e-12 * max(abs(a), abs(b))
    }

    /// Whether Foundation's value is the same JSON value.
    static func same(_ value: JSONValue, _ other: Any) -> Bool {
        switch value {
        case .null: return other is NSNull
        case .bool(let flag):
            if let bool = other as? Bool { return bool == flag }
            return (other as? NSNumber)?.boolValue == flag
        case .integer(let number):
            if let integer = other as? Int { return Int64(integer) == number }
            guard let double = (other as? NSNumber)?.doubleValue else { return false }
            return close(double, Double(number))
        case .double(let number):
            guard let double = (other as? Double) ?? (other as? NSNumber)?.doubleValue else { return false }
            return close(double, number)
        case .string(let text): return (other as? String) == text
        case .array(let elements):
            guard let others = other as? [Any], others.count == elements.count else { return false }
            return zip(elements, others).allSatisfy { same($0, $1) }
        case .object(let members):
            guard let others = other as? [String: Any], others.count == members.count else { return false }
            return members.allSatisfy { key, member in others[key].map { same(member, $0) } ?? false }
        }
    }
}
