@testable import AgentHost
import Foundation
import Hummingbird
import Logging
import NIOCore
import SecurityCore
import SecurityStore
import StoreTestSupport
import Testing

/// A fresh temporary data directory, removed when the value is released.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("agenthost-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

func permissions(of path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
}

/// A server's parts with a fixed key and a movable clock.
struct HostFixture {
    let clock: ManualTimeSource
    let keyring: Keyring
    let configuration: AgentHostConfiguration
    let components: AgentHost.Components

    init(
        mode: AuthenticationMode = .secure, scopes: [RateLimitScope] = RateLimitScope.agentHost, trustedProxies: [String] = [],
        bodyLimit: Int = 1 << 20, policy: Policy? = nil, corsOrigins: [String] = [], credentials: CredentialService? = nil,
        revocationStore: (any RevocationStore)? = nil, accounts: AccountService? = nil, audit: AuditRecorder? = nil,
        webhooks: [WebhookVerifier] = [],
        webhookStore: (any WebhookDeliveryStore)? = nil, keyring: Keyring? = nil, host: String = "127.0.0.1",
        clock: ManualTimeSource = ManualTimeSource(1_800_000_000), browserSessions: BrowserSessions? = nil,
        runs runStore: (any RunStore)? = nil, identityLinks: (any IdentityLinkStore)? = nil,
        configure: (inout AgentHostConfiguration) -> Void = { _ in }
    ) throws {
        self.clock = clock
        self.keyring = try keyring ?? Keyring(keys: [TokenKey(id: KeyID("k-host"), secret: .random(count: 32), status: .primary)])
        var configuration = AgentHostConfiguration(
            host: host, port: 0, mode: mode, tokenPolicy: try TokenPolicy(), policy: policy,
            trustedProxies: trustedProxies.compactMap { IPNetwork($0) }, corsOrigins: corsOrigins, rateLimitScopes: scopes,
            bodyLimit: bodyLimit
        )
        // The test framework's client connects before a test sends anything, and on a loaded
        // machine its first request can come later than the edge's 10 s head timeout (seen: a
        // test's steps took 16 s under two busy loops). The edge's timeouts have tests of their
        // own (ConnectionGuardTests on a manual clock, HTTPEdgeTests on the binary).
        configuration.connectionLimits.headTimeout = .seconds(3_600)
        configuration.connectionLimits.idleTimeout = .seconds(3_600)
        configuration.connectionLimits.bodyTimeout = .seconds(3_600)
        configure(&configuration)
        self.configuration = configuration
        let revocations = browserSessions?.revocations ?? InMemoryRevocationList(clock: clock)
        let runs = runStore.map { store in
            AgentRuns(
                store: store, revocations: revocations, revocationStore: revocationStore, clock: clock,
                leaseTTL: configuration.leaseTTL.components.seconds)
        }
        components = try AgentHost.Components(
            configuration: configuration, keyring: self.keyring, credentials: credentials, revocationStore: revocationStore,
            accounts: accounts, audit: audit, webhooks: webhooks, webhookStore: webhookStore, clock: clock, ticks: clock,
            browserSessions: browserSessions, revocations: revocations, runs: runs, identityLinks: identityLinks
        )
    }

    func token(agent: String = "builder-7", role: String = "developer", team: String = "core") throws -> MintedToken {
        try components.minter.mint(agent: AgentID(agent), role: Role(role), team: Team(team))
    }
}

extension HostFixture {
    /// A fixture whose server keeps credentials in a fresh store on `backend`, with vault key
    /// version 1; the test is skipped when that backend is not configured here.
    static func withVault(
        _ backend: Backend = .sqlite, mode: AuthenticationMode = .secure, scopes: [RateLimitScope] = []
    ) async throws -> (fixture: HostFixture, store: SQLSecurityStore) {
        let (store, _) = try await backend.open()
        let keys = try VaultKeyring(keys: [VaultKey(version: 1, secret: .random(count: 32))], primaryVersion: 1)
        let credentials = try await CredentialService.open(keys: keys, store: store, clock: ManualTimeSource(1_800_000_000))
        return (try HostFixture(mode: mode, scopes: scopes, credentials: credentials, revocationStore: store), store)
    }

    /// A fixture with a vault, accounts (users, keys, devices) and an audit log (a checkpoint every
    /// 5 records) in a fresh store on `backend` (or in `sharing`, as a second server: give it the
    /// first one's `keyring` and `vaultSecret`), with the sign-in portal when `portal` is set,
    /// hashing passwords with Argon2id's cheapest parameters; the test is skipped when that
    /// backend is not configured here.
    static func withAccounts(
        _ backend: Backend = .sqlite, scopes: [RateLimitScope] = [], trustedProxies: [String] = [], webhooks: [WebhookVerifier] = [],
        portal: PortalConfiguration? = nil, sharing: SQLSecurityStore? = nil, keyring: Keyring? = nil,
        vaultSecret: SecureBytes = .random(count: 32), assertion: IdentityAssertionConfiguration? = nil,
        oidcProviders: [OIDCProviderConfiguration] = []
    ) async throws -> (fixture: HostFixture, store: SQLSecurityStore, accounts: AccountService) {
        let store: SQLSecurityStore
        if let sharing { store = sharing } else { store = try await backend.open().store }
        let keys = try VaultKeyring(keys: [VaultKey(version: 1, secret: vaultSecret)], primaryVersion: 1)
        let clock = ManualTimeSource(1_800_000_000)
        let credentials = try await CredentialService.open(keys: keys, store: store, clock: clock)
        let accounts = try await AccountService.open(store: store, credentials: credentials, hasher: cheapHasher(), clock: clock)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let trail = try await AuditTrail.open(store: store, credentials: credentials, logger: logger, checkpointInterval: 5, clock: clock)
        let browserSessions = portal.map { portal in
            BrowserSessions(
                store: store, portal: portal, revocations: InMemoryRevocationList(clock: clock), revocationStore: store, clock: clock,
                secondFactors: SecondFactors(
                    store: store, credentials: credentials, accounts: accounts, requiredRoles: portal.secondFactorRoles,
                    issuer: portal.title, clock: clock, passkeys: store))
        }
        let fixture = try HostFixture(
            scopes: scopes, trustedProxies: trustedProxies, credentials: credentials, revocationStore: store, accounts: accounts,
            audit: AuditRecorder(trail: trail), webhooks: webhooks, webhookStore: webhooks.isEmpty ? nil : store, keyring: keyring,
            clock: clock, browserSessions: browserSessions, runs: store, identityLinks: store
        ) { configuration in
            configuration.portal = portal
            configuration.identityAssertion = assertion
            configuration.oidcProviders = oidcProviders
        }
        return (fixture, store, accounts)
    }

    /// The AgentHost application over this fixture, logging only critical messages.
    func application() -> some ApplicationProtocol {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return AgentHost.application(configuration: configuration, components: components, logger: logger)
    }
}

/// A response body parsed as a JSON object.
func json(_ buffer: ByteBuffer) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
}

/// Argon2id at its minimum cost: tests check behaviour, not hardness.
func cheapHasher(operations: Int = 1) throws -> PasswordHasher {
    try PasswordHasher(parameters: .init(operations: operations, memoryBytes: 8 << 10))
}
