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
///            "secret": "<base64url, 32 bytes>"}]}
/// ```
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

    /// Reads and checks the keyring. Throws ``AgentHostError`` if the file is missing, readable or
    /// writable by group or others, or not a valid keyring.
    public func load() throws -> Keyring {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw AgentHostError("no keyring at \(path)")
        }
        let permissions = status.st_mode & 0o777
        guard permissions & 0o077 == 0 else {
            throw AgentHostError(
                "refusing keyring \(path): its mode is \(String(permissions, radix: 8)), so other users can read it. "
                    + "Run 'chmod 600 \(path)' (and consider rotating the keys it holds)."
            )
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw AgentHostError("cannot read keyring \(path)")
        }
        let stored: StoredKeyring
        do {
            stored = try JSONDecoder().decode(StoredKeyring.self, from: data)
        } catch {
            throw AgentHostError("keyring \(path) is not valid keyring JSON")
        }
        guard stored.format == Self.format else {
            throw AgentHostError("keyring \(path) has format '\(stored.format.prefix(40))', expected \(Self.format)")
        }
        var keys: [TokenKey] = []
        for entry in stored.keys {
            guard let id = try? KeyID(entry.id) else {
                throw AgentHostError("keyring \(path) holds an invalid key id")
            }
            guard var bytes = Base64URL.decode(entry.secret) else {
                throw AgentHostError("keyring \(path): the secret of key \(id) is not base64url")
            }
            defer { SecureBytes.wipe(&bytes) }
            do {
                keys.append(try TokenKey(id: id, secret: SecureBytes(copying: bytes), status: entry.status, createdAt: entry.createdAt))
            } catch {
                throw AgentHostError("keyring \(path): key \(id) is unusable: \(error)")
            }
        }
        do {
            return try Keyring(keys: keys)
        } catch {
            throw AgentHostError("keyring \(path) is inconsistent: \(error)")
        }
    }

    /// Writes `keyring`, creating the data directory with mode 0700 when it is missing.
    public func save(_ keyring: Keyring) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
                )
            } catch {
                throw AgentHostError("cannot create data directory \(directory)")
            }
        }
        let stored = StoredKeyring(
            format: Self.format,
            keys: keyring.keys.map { key in
                StoredKeyring.Entry(
                    id: key.id.rawValue, status: key.status, createdAt: key.createdAt,
                    secret: key.secret.withUnsafeBytes { Base64URL.encode($0) }
                )
            }
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var data = (try? encoder.encode(stored)) ?? Data()
        defer { data.resetBytes(in: 0..<data.count) }
        let temporary = path + ".tmp-\(getpid())"
        unlink(temporary)  // a leftover from a crashed writer; O_EXCL below still refuses any race
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_TRUNC, 0o600)
        guard descriptor >= 0 else {
            throw AgentHostError("cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        let written = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == data.count, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw AgentHostError("cannot write keyring \(path)")
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
            case id, status, createdAt = "created_at", secret
        }
    }

    let format: String
    let keys: [Entry]
}
