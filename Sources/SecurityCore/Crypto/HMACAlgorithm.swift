internal import COpenSSL

/// The hash under an HMAC that another party chooses: TOTP (RFC 6238) names SHA-1, SHA-256 or
/// SHA-512 in its provisioning URI, and authenticator apps default to SHA-1. AgentHost's own MACs
/// (tokens, audit, access keys) use the prepared ``HMACSHA256Key``.
public enum HMACAlgorithm: String, Hashable, Sendable, CaseIterable {
    case sha1 = "SHA1"
    case sha256 = "SHA256"
    case sha512 = "SHA512"

    /// The tag's length in bytes.
    public var tagByteCount: Int {
        switch self {
        case .sha1: 20
        case .sha256: 32
        case .sha512: 64
        }
    }

    /// The tag of `message` under `key`, in one call (OpenSSL's `HMAC`).
    public func authenticationCode(key: SecureBytes, message: [UInt8]) -> [UInt8] {
        let digest: OpaquePointer? =
            switch self {
            case .sha1: EVP_sha1()
            case .sha256: EVP_sha256()
            case .sha512: EVP_sha512()
            }
        var tag = [UInt8](repeating: 0, count: tagByteCount)
        var length: UInt32 = 0
        let written = key.withUnsafeBytes { keyBytes in
            message.withUnsafeBytes { messageBytes in
                tag.withUnsafeMutableBytes { output in
                    HMAC(
                        digest, keyBytes.baseAddress, Int32(keyBytes.count),
                        messageBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), messageBytes.count,
                        output.baseAddress?.assumingMemoryBound(to: UInt8.self), &length)
                }
            }
        }
        // OpenSSL fails only without memory or a digest: there is no tag to fall back to.
        precondition(written != nil && Int(length) == tagByteCount, "HMAC-\(rawValue) failed in the crypto library")
        return tag
    }
}
