/// The vault's keys: numbered versions of a 32-byte AES-256-GCM key. The primary version seals;
/// every version from ``minimumDecryptionVersion`` up still opens, so records sealed before a
/// rotation keep working until `agenthost vault rotate` re-seals them and the old version is
/// retired by raising the minimum.
///
/// There is no default and no ephemeral key: a vault without a key does not open.
///
/// ```swift
/// let keyring = try VaultKeyring(keys: [VaultKey(version: 1, secret: secretFromKeyringFile)], primaryVersion: 1)
/// ```
public struct VaultKeyring: Sendable, CustomStringConvertible {
    /// The keys by version.
    let keys: [UInt32: AESGCMKey]
    /// The version that seals.
    public let primaryVersion: UInt32
    /// Records sealed under an older version are refused.
    public let minimumDecryptionVersion: UInt32

    /// The highest version a record header can name.
    public static let maximumVersion: UInt32 = 0xFF_FFFF

    /// Every version held, lowest first.
    public var versions: [UInt32] { keys.keys.sorted() }

    /// Versions only, never key bytes.
    public var description: String {
        "VaultKeyring(versions: \(versions), primary: \(primaryVersion), minimum: \(minimumDecryptionVersion))"
    }

    /// Throws ``VaultError`` (`noKey`) when `keys` is empty or the primary version is missing, and
    /// (`invalidKeyring`) for duplicate versions, version 0, or a primary below the minimum.
    public init(keys: [VaultKey], primaryVersion: UInt32, minimumDecryptionVersion: UInt32 = 1) throws(VaultError) {
        guard !keys.isEmpty else {
            throw VaultError(.noKey, "the vault has no key: refusing to seal or open anything (no plaintext, no temporary key)")
        }
        var byVersion = [UInt32: AESGCMKey]()
        for key in keys {
            guard key.version > 0, key.version <= VaultKeyring.maximumVersion else {
                throw VaultError(.invalidKeyring, "vault key versions run from 1 to \(VaultKeyring.maximumVersion)")
            }
            guard byVersion[key.version] == nil else {
                throw VaultError(.invalidKeyring, "vault key version \(key.version) appears twice")
            }
            do {
                byVersion[key.version] = try AESGCMKey(key.secret)
            } catch {
                throw VaultError(.invalidKeyring, "vault key version \(key.version) is not a 32-byte key")
            }
        }
        guard byVersion[primaryVersion] != nil else {
            throw VaultError(.noKey, "the primary vault key version \(primaryVersion) is not in the keyring")
        }
        guard minimumDecryptionVersion >= 1, primaryVersion >= minimumDecryptionVersion else {
            throw VaultError(.invalidKeyring, "the primary vault key version must not be below the minimum decryption version")
        }
        self.keys = byVersion
        self.primaryVersion = primaryVersion
        self.minimumDecryptionVersion = minimumDecryptionVersion
    }
}

/// One version of the vault key. Its `description` never shows the secret.
public struct VaultKey: Sendable, CustomStringConvertible {
    /// The version, from 1.
    public let version: UInt32
    /// The 32 secret bytes.
    public let secret: SecureBytes

    public init(version: UInt32, secret: SecureBytes) {
        self.version = version
        self.secret = secret
    }

    public var description: String { "VaultKey(version: \(version), secret: redacted)" }
}
