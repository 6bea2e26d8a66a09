internal import COpenSSL
internal import CSodium

/// A public key that checks signatures: ECDSA P-256 with SHA-256 (ES256, a DER signature),
/// Ed25519 (EdDSA, through libsodium) or RSASSA-PKCS1-v1_5 with SHA-256 (RS256, 2048 bits or more),
/// the three algorithms WebAuthn credentials use here.
///
/// The key is checked when made (a P-256 point on the curve, an RSA modulus long enough), so a
/// verifier that exists can be used; ``isValidSignature(_:for:)`` answers `false` for any
/// signature that does not verify, malformed ones included, and never throws.
///
/// ```swift
/// let key = try SignatureVerifier(ed25519: publicKey)
/// key.isValidSignature(signature, for: message)
/// ```
public struct SignatureVerifier: Sendable {
    /// The algorithm a key verifies.
    public enum Algorithm: String, Sendable, Hashable {
        /// ECDSA over P-256 with SHA-256; COSE `-7`.
        case es256 = "ES256"
        /// Ed25519; COSE `-8`.
        case eddsa = "EdDSA"
        /// RSASSA-PKCS1-v1_5 with SHA-256; COSE `-257`.
        case rs256 = "RS256"
    }

    /// OpenSSL's key, freed with the last copy. Immutable once made: OpenSSL's verification reads
    /// it from any thread.
    final class OpenSSLKey: @unchecked Sendable {
        let pointer: OpaquePointer
        init(_ pointer: OpaquePointer) { self.pointer = pointer }
        deinit { EVP_PKEY_free(pointer) }
    }

    private enum Backend: Sendable {
        case openSSL(OpenSSLKey)
        case ed25519([UInt8])
    }

    /// The algorithm this key verifies.
    public let algorithm: Algorithm
    private let backend: Backend

    /// The shortest RSA modulus accepted, in bits.
    public static let minimumRSABits = 2048

    /// A P-256 public key from its affine coordinates (32 bytes each). Throws ``CryptoError`` for
    /// a point that is not on the curve.
    public init(p256X x: [UInt8], y: [UInt8]) throws {
        guard x.count == 32, y.count == 32 else { throw CryptoError(.invalidKey, "a P-256 coordinate is 32 bytes") }
        let point = [0x04] + x + y
        algorithm = .es256
        backend = .openSSL(
            try Self.fromData(type: "EC") { builder in
                // The builder keeps pointers to what is pushed until it makes the parameters, so
                // both happen while the bytes live (and the names are C literals: shim.h).
                point.withUnsafeBytes { bytes in
                    guard OSSL_PARAM_BLD_push_utf8_string(builder, agenthost_param_group_name, agenthost_group_p256, 0) == 1,
                        OSSL_PARAM_BLD_push_octet_string(builder, agenthost_param_pub_key, bytes.baseAddress, bytes.count) == 1
                    else { return nil }
                    return OSSL_PARAM_BLD_to_param(builder)
                }
            })
    }

    /// An Ed25519 public key (32 bytes).
    public init(ed25519 key: [UInt8]) throws {
        guard key.count == Int(crypto_sign_publickeybytes()) else { throw CryptoError(.invalidKey, "an Ed25519 public key is 32 bytes") }
        Sodium.ensureInitialized()
        algorithm = .eddsa
        backend = .ed25519(key)
    }

    /// An RSA public key from its modulus and public exponent (big-endian, no sign byte needed).
    /// Throws ``CryptoError`` for a modulus under ``minimumRSABits`` or a key OpenSSL refuses.
    public init(rsaModulus modulus: [UInt8], exponent: [UInt8]) throws {
        let trimmed = modulus.drop { $0 == 0 }
        guard let first = trimmed.first, trimmed.count * 8 - first.leadingZeroBitCount >= Self.minimumRSABits, trimmed.count <= 1024,
            !exponent.isEmpty, exponent.count <= 8
        else {
            throw CryptoError(.invalidKey, "an RSA key needs a modulus of \(Self.minimumRSABits) to 8192 bits")
        }
        algorithm = .rs256
        let n = Array(trimmed)
        backend = .openSSL(
            try Self.fromData(type: "RSA") { builder in
                guard let bn = n.withUnsafeBufferPointer({ BN_bin2bn($0.baseAddress, Int32($0.count), nil) }) else { return nil }
                defer { BN_free(bn) }
                guard let be = exponent.withUnsafeBufferPointer({ BN_bin2bn($0.baseAddress, Int32($0.count), nil) }) else { return nil }
                defer { BN_free(be) }
                // The builder reads the numbers when it makes the parameters: before the frees.
                guard OSSL_PARAM_BLD_push_BN(builder, agenthost_param_rsa_n, bn) == 1,
                    OSSL_PARAM_BLD_push_BN(builder, agenthost_param_rsa_e, be) == 1
                else { return nil }
                return OSSL_PARAM_BLD_to_param(builder)
            })
    }

    /// Whether `signature` is this key's over `message`.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        switch backend {
        case .ed25519(let key):
            guard signature.count == Int(crypto_sign_bytes()) else { return false }
            return crypto_sign_verify_detached(signature, message, UInt64(message.count), key) == 0
        case .openSSL(let key):
            guard !signature.isEmpty, signature.count <= 1024, let context = EVP_MD_CTX_new() else { return false }
            defer { EVP_MD_CTX_free(context) }
            guard EVP_DigestVerifyInit(context, nil, EVP_sha256(), nil, key.pointer) == 1 else { return false }
            let result = EVP_DigestVerify(context, signature, signature.count, message, message.count)
            ERR_clear_error()
            return result == 1
        }
    }

    /// A public key of `type` from the parameters `build` pushes to a builder and makes
    /// (`OSSL_PARAM_BLD_to_param`), checked by OpenSSL.
    private static func fromData(type: String, _ build: (OpaquePointer) -> UnsafeMutablePointer<OSSL_PARAM>?) throws -> OpenSSLKey {
        guard let builder = OSSL_PARAM_BLD_new() else { throw CryptoError(.backendFailure, "OpenSSL could not allocate") }
        defer { OSSL_PARAM_BLD_free(builder) }
        guard let params = build(builder) else {
            ERR_clear_error()
            throw CryptoError(.invalidKey, "the \(type) public key is malformed")
        }
        defer { OSSL_PARAM_free(params) }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, type, nil) else {
            throw CryptoError(.backendFailure, "OpenSSL has no \(type) implementation")
        }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_fromdata_init(context) == 1, EVP_PKEY_fromdata(context, &key, agenthost_evp_pkey_public_key, params) == 1, let key
        else {
            ERR_clear_error()
            throw CryptoError(.invalidKey, "the \(type) public key is not one OpenSSL accepts")
        }
        let made = OpenSSLKey(key)
        // A point off the curve is caught here, not at the first signature.
        guard let check = EVP_PKEY_CTX_new_from_pkey(nil, key, nil) else {
            throw CryptoError(.backendFailure, "OpenSSL could not allocate")
        }
        defer { EVP_PKEY_CTX_free(check) }
        guard EVP_PKEY_public_check(check) == 1 else {
            ERR_clear_error()
            throw CryptoError(.invalidKey, "the \(type) public key fails its check (a point off the curve?)")
        }
        return made
    }
}
