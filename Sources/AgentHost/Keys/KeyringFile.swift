import Foundation
public import SecurityCore
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The keyring file in the data directory: JSON, mode 0600, refused when group or others can read
/// or write it.
///
/// ```json
/// {"format": "agenthost-keyring-v1",
///  "keys": [{"id": "k-20261122-1a2b3c4d", "status": "primary", "created_at": 1795305600,
///            "secret": "<base64url, 32 bytes>"}],
///  "vault": {"primary_version": 1, "minimum_version": 1,
///            "keys": [{"version": 1, "created_at": 1795305600, "secret": "<base64url, 32 bytes>"}]}}
/// ```
/// The token keys and the vault keys are saved separately; saving one keeps the other.
///
/// Writes go to a temporary file created with mode 0600 and are renamed into place, so the file is
/// never readable by others, even briefly, and a crash leaves either the old keyring or the new one.
public struct KeyringFile: Sendable {
    /// The file name inside the data directory.
    public static let fileName = "keyring.json"
    static let format = "agenthost-keyring-v1"

    /// The file's path.
    public let path: String

    /// The keyring file of `dataDirectory`.
    public init(dataDirectory: String) {
        self.path = (dataDirectory as NSString).appendingPathComponent(Self.fileName)
    }

    /// Whether the file exists.
    public var exists: Bool { FileManager.default.fileExists(atPath: path) }

    /// Reads and checks the token keys. Throws ``AgentHostError`` if the file is missing, readable
    /// or writable by group or others, or not a valid keyring.
    public func load() throws -> Keyring {
        let stored = try readStored()
        var keys: [TokenKey] = []
        for entry in stored.keys {
            guard let id = try? KeyID(entry.id) else {
                throw AgentHostError(.keys, "keyring \(path) holds an invalid key id")
            }
            guard var bytes = Base64URL.decode(entry.secret) else {
                throw AgentHostError(.keys, "keyring \(path): the secret of key \(id) is not base64url")
            }
            defer { SecureBytes.wipe(&bytes) }
            do {
                keys.append(try TokenKey(id: id, secret: SecureBytes(copying: bytes), status: entry.status, createdAt: entry.createdAt))
            } catch {
                throw AgentHostError(.keys, "keyring \(path): key \(id) is unusable: \(error)")
            }
        }
        do {
            return try Keyring(keys: keys)
        } catch {
            throw AgentHostError(.keys, "keyring \(path) is inconsistent: \(error)")
        }
    }

    /// Reads and checks the vault keys: `nil` when the file has no vault section yet.
    public func loadVault() throws -> VaultKeySet? {
        guard let vault = try readStored().vault else { return nil }
        var entries: [VaultKeySet.Entry] = []
        for entry in vault.keys {
            guard var bytes = Base64URL.decode(entry.secret) else {
                throw AgentHostError(.keys, "keyring \(path): the secret of vault key version \(entry.version) is not base64url")
            }
            defer { SecureBytes.wipe(&bytes) }
            entries.append(VaultKeySet.Entry(version: entry.version, createdAt: entry.createdAt, secret: SecureBytes(copying: bytes)))
        }
        do {
            return try VaultKeySet(entries: entries, primaryVersion: vault.primaryVersion, minimumVersion: vault.minimumVersion)
        } catch let error as AgentHostError {
            throw AgentHostError(.keys, "keyring \(path): \(error.message)")
        }
    }

    /// Writes the token keys, keeping the vault keys already in the file. Creates the data
    /// directory with mode 0700 when it is missing.
    public func save(_ keyring: Keyring) throws {
        let vault = exists ? try readStored().vault : nil
        try writeAtomically(StoredKeyring(format: Self.format, keys: keyring.keys.map(StoredKeyring.Entry.init), vault: vault))
    }

    /// Writes the vault keys, keeping the token keys already in the file.
    public func saveVault(_ keys: VaultKeySet) throws {
        let tokens = exists ? try readStored().keys : []
        try writeAtomically(StoredKeyring(format: Self.format, keys: tokens, vault: StoredKeyring.Vault(keys)))
    }

    private func readStored() throws -> StoredKeyring {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw AgentHostError(.keys, "no keyring at \(path)")
        }
        let permissions = status.st_mode & 0o777
        guard permissions & 0o077 == 0 else {
            throw AgentHostError(
                .keys,
                "refusing keyring \(path): its mode is \(String(permissions, radix: 8)), so other users can read it. "
                    + "Run 'chmod 600 \(path)' (and consider rotating the keys it holds)."
            )
        }
        var data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw AgentHostError(.keys, "cannot read keyring \(path)")
        }
        defer { data.resetBytes(in: 0..<data.count) }
        let stored: StoredKeyring
        do {
            stored = try JSONDecoder().decode(StoredKeyring.self, from: data)
        } catch {
            throw AgentHostError(.keys, "keyring \(path) is not valid keyring JSON")
        }
        guard stored.format == Self.format else {
            throw AgentHostError(.keys, "keyring \(path) has format '\(stored.format.prefix(40))', expected \(Self.format)")
        }
        return stored
    }

    private func writeAtomically(_ stored: StoredKeyring) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
                )
            } catch {
                throw AgentHostError(.store, "cannot create data directory \(directory)")
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var data = (try? encoder.encode(stored)) ?? Data()
        defer { data.resetBytes(in: 0..<data.count) }
        let temporary = path + ".tmp-\(getpid())"
        unlink(temporary)  // a leftover from a crashed writer; O_EXCL below still refuses any race
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_TRUNC, 0o600)
        guard descriptor >= 0 else {
            throw AgentHostError(.keys, "cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        let file = FileHandle(fileDescriptor: descriptor, closeOnDealloc: false)
        let written = (try? file.write(contentsOf: data)) != nil
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw AgentHostError(.keys, "cannot write keyring \(path)")
        }
    }
}

struct StoredKeyring: Codable {
    struct Entry: Codable {
        let id: String
        let status: TokenKey.Status
        let createdAt: Int64
        let secret: String

        enum CodingKeys: String, CodingKey {
            case id, status
            case createdAt = "created_at"
            case secret
        }
    }

    struct Vault: Codable {
        struct Entry: Codable {
            let version: UInt32
            let createdAt: Int64
            let secret: String

            enum CodingKeys: String, CodingKey {
                case version
                case createdAt = "created_at"
                case secret
            }
        }

        let primaryVersion: UInt32
        let minimumVersion: UInt32
        let keys: [Entry]

        enum CodingKeys: String, CodingKey {
            case primaryVersion = "primary_version"
            case minimumVersion = "minimum_version"
            case keys
        }

        init(_ set: VaultKeySet) {
            primaryVersion = set.primaryVersion
            minimumVersion = set.minimumVersion
            keys = set.entries.map { entry in
                Entry(version: entry.version, createdAt: entry.createdAt, secret: entry.secret.base64URLEncoded())
            }
        }
    }

    let format: String
    let keys: [Entry]
    /// Absent in files written before the vault existed.
    let vault: Vault?
}

extension StoredKeyring.Entry {
    init(_ key: TokenKey) {
        self.init(
            id: key.id.rawValue, status: key.status, createdAt: key.createdAt, secret: key.secret.base64URLEncoded())
    }
}
