import Foundation
import SecurityCore
import Yams

/// AgentHost's OpenAPI 3.1 document: `Docs/openapi.yaml`, compiled in (this folder links to it)
/// and served as JSON at `GET /openapi.json`, without a credential.
///
/// A test holds the document and the router to each other both ways, so a route cannot be added
/// without being documented, or documented without existing.
public enum OpenAPIDocument {
    /// Where the server answers with the document: served like `/health`, with no credential and
    /// no rate limits.
    public static let path = "/openapi.json"

    /// The document as written.
    public static var yaml: String { String(decoding: PackageResources.openapi_yaml, as: UTF8.self) }

    /// The document as JSON (keys sorted, YAML anchors expanded), converted once.
    public static let json: String = {
        guard let loaded = try? Yams.load(yaml: yaml), let value = jsonValue(loaded) else {
            // The test suite loads the document; a build where it does not parse never ships.
            return #"{"openapi":"3.1.0","info":{"title":"AgentHost","version":"unknown"},"paths":{}}"#
        }
        return value.json
    }()

    /// A value Yams loaded, as JSON: mappings with string keys, sequences, strings, numbers,
    /// booleans and null. `nil` for anything JSON cannot hold.
    static func jsonValue(_ loaded: Any) -> JSONValue? {
        switch loaded {
        case let mapping as [AnyHashable: Any]:
            var members = [String: JSONValue]()
            for (key, value) in mapping {
                guard let key = key.base as? String, let value = jsonValue(value) else { return nil }
                members[key] = value
            }
            return .object(members)
        case let sequence as [Any]:
            var elements = [JSONValue]()
            for element in sequence {
                guard let element = jsonValue(element) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        case let text as String: return .string(text)
        case let flag as Bool: return .bool(flag)
        case let number as Int: return .integer(Int64(number))
        case let number as Double: return .double(number)
        case is NSNull: return .null
        default: return nil
        }
    }
}
