internal import COpenSSL

/// SHA-256 (FIPS 180-4) through OpenSSL's one-shot digest.
///
/// For values that are public or already bound elsewhere: PKCE's code challenge, WebAuthn's
/// client-data and RP-ID hashes. A keyed hash is ``HMACSHA256Key``. (Not named `SHA256`, which
/// swift-crypto's users import beside this module.)
///
/// ```swift
/// SecureHash.sha256(Array("abc".utf8)).count // 32
/// ```
public enum SecureHash {
    /// The length of a SHA-256 digest in bytes.
    public static let sha256ByteCount = 32

    /// The SHA-256 digest of `bytes`.
    public static func sha256<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> [UInt8] {
        let input = Array(bytes)
        var digest = [UInt8](repeating: 0, count: sha256ByteCount)
        input.withUnsafeBytes { message in
            digest.withUnsafeMutableBufferPointer { output in
                // SHA256() cannot fail for an in-memory input; it returns its output pointer.
                _ = SHA256(message.bindMemory(to: UInt8.self).baseAddress, message.count, output.baseAddress)
            }
        }
        return digest
    }
}
