internal import COpenSSL

/// SHA-256 (FIPS 180-4) through OpenSSL's one-shot digest.
///
/// For values that are public or already bound elsewhere: PKCE's code challenge, WebAuthn's
/// client-data and RP-ID hashes. A keyed hash is ``HMACSHA256Key``.
///
/// ```swift
/// SHA256.hash(Array("abc".utf8)).count // 32
/// ```
public enum SHA256 {
    /// The length of a digest in bytes.
    public static let byteCount = 32

    /// The digest of `bytes`.
    public static func hash<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> [UInt8] {
        let input = Array(bytes)
        var digest = [UInt8](repeating: 0, count: byteCount)
        input.withUnsafeBytes { message in
            digest.withUnsafeMutableBufferPointer { output in
                // SHA256() cannot fail for an in-memory input; it returns its output pointer.
                _ = COpenSSL.SHA256(message.bindMemory(to: UInt8.self).baseAddress, message.count, output.baseAddress)
            }
        }
        return digest
    }
}
