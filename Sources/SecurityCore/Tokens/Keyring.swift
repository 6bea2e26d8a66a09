/// The set of token keys: one primary that signs, older ones that still verify, retired ones that
/// do neither.
///
/// A keyring is an immutable value; ``rotated(to:)`` and ``retiring(_:)`` return new keyrings.
/// Lookup is by exact key id; an unknown or retired id is refused, never answered with another key.
public struct Keyring: Sendable, CustomStringConvertible {
    /// Every key, in the order given.
    public let keys: [TokenKey]
    /// Keys that verify (primary and verify-only), kept with their id bytes for a lookup that
    /// allocates nothing.
    private let verifying: [(id: [UInt8], key: TokenKey)]

    /// Checks and groups `keys`. Throws ``TokenError`` (`invalidKeyring`) for a duplicate id or more
    /// than one primary key. An empty keyring is valid: it verifies nothing and mints nothing.
    public init(keys: [TokenKey]) throws {
        var seen = Set<KeyID>()
        for key in keys where !seen.insert(key.id).inserted {
            throw TokenError(.invalidKeyring, "key id \(key.id) appears twice")
        }
        guard keys.filter({ $0.status == .primary }).count <= 1 else {
            throw TokenError(.invalidKeyring, "a keyring has at most one primary key")
        }
        self.keys = keys
        self.verifying = keys.filter { $0.status != .retired }.map { (Array($0.id.rawValue.utf8), $0) }
    }

    /// The key that signs new tokens, if there is one.
    public var primary: TokenKey? { keys.first { $0.status == .primary } }

    /// The key that verifies tokens with `id`, or `nil` if it is unknown or retired.
    public func verificationKey(for id: KeyID) -> TokenKey? {
        verificationKey(forIDBytes: Array(id.rawValue.utf8)[...])
    }

    /// The key whose id is `id`'s bytes (public data: compared with an early exit).
    func verificationKey(forIDBytes id: ArraySlice<UInt8>) -> TokenKey? {
        for entry in verifying where entry.id.count == id.count && entry.id.elementsEqual(id) {
            return entry.key
        }
        return nil
    }

    /// A keyring where `newKey` is primary and the previous primary only verifies.
    public func rotated(to newKey: TokenKey) throws -> Keyring {
        let demoted = keys.map { $0.status == .primary ? $0.with(status: .verifyOnly) : $0 }
        return try Keyring(keys: demoted + [newKey.with(status: .primary)])
    }

    /// A keyring where key `id` is retired. Retiring the primary is refused (rotate first), and so
    /// is an unknown id.
    public func retiring(_ id: KeyID) throws -> Keyring {
        guard let key = keys.first(where: { $0.id == id }) else {
            throw TokenError(.invalidKeyring, "no key with id \(id)")
        }
        guard key.status != .primary else {
            throw TokenError(.invalidKeyring, "key \(id) is the primary key; rotate to a new key before retiring it")
        }
        return try Keyring(keys: keys.map { $0.id == id ? $0.with(status: .retired) : $0 })
    }

    public var description: String { "Keyring(\(keys.map(\.description).joined(separator: ", ")))" }
}
