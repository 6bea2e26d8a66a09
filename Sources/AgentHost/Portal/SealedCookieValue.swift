import Foundation
import SecurityCore

/// A value a browser holds between two requests of one ceremony (a single sign-on's flow, a
/// passkey's challenge) without being able to read or change it: JSON sealed with AES-256-GCM
/// under the portal's flow key, its kind bound in as associated data so one kind's cookie never
/// opens as another's.
enum SealedCookieValue {
    /// The longest cookie value opened: anything longer is not one this server sealed.
    static let maximumLength = 4096

    /// `value` sealed for a cookie, base64url.
    static func seal<Value: Encodable>(_ value: Value, with key: AESGCMKey, kind: String) throws -> String {
        Base64URL.encode(try key.seal(try JSONEncoder().encode(value), authenticating: Array(kind.utf8)).combined)
    }

    /// The value in a cookie's `text`; `nil` for anything this server did not seal as `kind`.
    static func open<Value: Decodable>(_ text: Substring, as type: Value.Type, with key: AESGCMKey, kind: String) -> Value? {
        guard text.utf8.count <= maximumLength, let bytes = Base64URL.decode(text),
            let box = try? SealedBox(combined: bytes, nonceByteCount: AESGCMKey.nonceByteCount, tagByteCount: AESGCMKey.tagByteCount),
            let plain = try? key.open(box, authenticating: Array(kind.utf8))
        else { return nil }
        return try? JSONDecoder().decode(type, from: Data(Array(plain)))
    }
}
