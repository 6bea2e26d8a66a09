import AgentHost
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SecurityCore
import SecurityStore
import StoreTestSupport
import Testing

/// Users and login, API keys, devices and onboarding, on SQLite and on PostgreSQL.
struct AccountRoutesTests {
    let password = "correct horse battery"

    func headers(_ token: String? = nil, json: Bool = true) -> HTTPFields {
        var fields: HTTPFields = json ? [.contentType: "application/json"] : [:]
        if let token { fields[.authorization] = "Bearer \(token)" }
        return fields
    }

    func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    func code(_ response: TestResponse) -> String? { (try? json(response.body))?["code"] as? String }

    /// Logs `user` in and returns the session token.
    func login(_ client: some TestClientProtocol, _ user: String, _ password: String) async throws -> String {
        try await client.execute(
            uri: "/api/login", method: .post, headers: headers(), body: body(#"{"username": "\#(user)", "password": "\#(password)"}"#)
        ) { response in
            #expect(response.status == .ok)
            return try #require(try json(response.body)["token"] as? String)
        }
    }

    @Test(arguments: Backend.enabled)
    func aSessionActsAsTheUserAndOnlyAsTheUser(backend: Backend) async throws {
        let (fixture, store, accounts) = try await HostFixture.withAccounts(backend)
        #expect(try await accounts.addUser(username: "alice", role: "member", password: password))
        #expect(try await accounts.addUser(username: "alice", role: "owner", password: password) == false)
        let agentAlice = try fixture.token(agent: "alice", role: "member").token
        try await fixture.application().test(.router) { client in
            for attempt in [
                #"{"username": "alice", "password": "wrong password!"}"#, #"{"username": "nobody", "password": "\#(password)"}"#,
            ] {
                try await client.execute(uri: "/api/login", method: .post, headers: headers(), body: body(attempt)) { response in
                    #expect(response.status == .unauthorized)
                    #expect(code(response) == "invalid_login")
                    #expect(!String(buffer: response.body).contains("alice"))
                }
            }
            let session = try await login(client, "alice", password)
            #expect(session.hasPrefix("ah1."))
            try await client.execute(uri: "/api/whoami", method: .get, headers: headers(session, json: false)) { response in
                let reply = try json(response.body)
                #expect(reply["authenticated_by"] as? String == "user-session" && reply["subject"] as? String == "user:alice")
                #expect(reply["role"] as? String == "member" && reply["token_id"] is String)
            }
            // Her own provider key: yes. Someone else's: no. An agent called alice: not her.
            try await client.execute(
                uri: "/api/users/alice/keys/openai", method: .put, headers: headers(session), body: body(#"{"key": "sk-alice"}"#)
            ) { response in
                #expect(response.status == .noContent)
            }
            try await client.execute(
                uri: "/api/users/bob/keys/openai", method: .put, headers: headers(session), body: body(#"{"key": "sk-bob"}"#)
            ) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(
                uri: "/api/users/alice/keys/openai", method: .put, headers: headers(agentAlice), body: body(#"{"key": "sk-x"}"#)
            ) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/v1/secrets/agents/alice/env", method: .get, headers: headers(session, json: false)) {
                response in
                #expect(response.status == .forbidden)
            }
            // A session is not an agent token for minting's sake, and an agent token is not a session.
            try await client.execute(
                uri: "/api/agents", method: .post, headers: headers(session), body: body(#"{"agent_id": "x", "role": "member"}"#)
            ) { response in
                #expect(response.status == .forbidden)  // members do not create agents
            }
        }
        try await store.close()
    }

    @Test func passwordChangeDeletionAndDemotionTakeEffectOnOpenSessions() async throws {
        let (fixture, store, accounts) = try await HostFixture.withAccounts()
        _ = try await accounts.addUser(username: "alice", role: "admin", password: password)
        _ = try await accounts.addUser(username: "bob", role: "admin", password: password)
        try await fixture.application().test(.router) { client in
            let alice = try await login(client, "alice", password)
            let bob = try await login(client, "bob", password)
            try await client.execute(uri: "/api/keys", method: .get, headers: headers(bob, json: false)) { response in
                #expect(response.status == .ok)
            }
            // Bob is demoted in the store by another server; the refresh brings it here.
            _ = try await store.deleteUser(named: "bob")
            _ = try await store.createUser(
                UserRecord(
                    username: "bob", role: "viewer", passwordHash: try await accounts.hasher.hash(password: password),
                    createdAt: fixture.clock.now(), sessionsNotBefore: 0
                ))
            try await accounts.refresh()
            try await client.execute(uri: "/api/keys", method: .get, headers: headers(bob, json: false)) { response in
                #expect(response.status == .forbidden)
            }
            fixture.clock.advance(by: 5)
            #expect(try await accounts.setPassword(username: "alice", password: "another long password"))
            try await client.execute(uri: "/api/whoami", method: .get, headers: headers(alice, json: false)) { response in
                #expect(response.status == .unauthorized)
                #expect(code(response) == "token_revoked")
            }
            let fresh = try await login(client, "alice", "another long password")
            #expect(try await accounts.deleteUser(username: "alice"))
            try await client.execute(uri: "/api/whoami", method: .get, headers: headers(fresh, json: false)) { response in
                #expect(response.status == .unauthorized)
            }
        }
        try await store.close()
    }

    @Test func aHashFromOtherParametersIsReplacedAtLogin() async throws {
        let (fixture, store, accounts) = try await HostFixture.withAccounts()
        let old = try await cheapHasher(operations: 2).hash(password: password)
        _ = try await store.createUser(UserRecord(username: "carol", role: "member", passwordHash: old, createdAt: 0, sessionsNotBefore: 0))
        #expect(try accounts.hasher.needsRehash(old))
        try await fixture.application().test(.router) { client in
            _ = try await login(client, "carol", password)
        }
        let stored = try #require(try await store.user(named: "carol")).passwordHash
        #expect(stored != old && stored.hasPrefix("$argon2id$"))
        #expect(try accounts.hasher.needsRehash(stored) == false)
        #expect(try await accounts.hasher.verify(password: password, against: stored))
        try await store.close()
    }

    @Test func failedLoginsAreLimitedPerAccountWithoutALockout() async throws {
        let scopes = try [
            RateLimitScope(
                name: "login-failures", limit: 3, period: .seconds(300), key: .principal, counts: .authenticationFailures,
                routes: [#require(RouteMatch("POST /api/login"))])
        ]
        let (fixture, store, accounts) = try await HostFixture.withAccounts(scopes: scopes)
        _ = try await accounts.addUser(username: "alice", role: "member", password: password)
        _ = try await accounts.addUser(username: "bob", role: "member", password: password)
        let wrong = body(#"{"username": "alice", "password": "not the password"}"#)
        try await fixture.application().test(.router) { client in
            for _ in 0..<3 {
                try await client.execute(uri: "/api/login", method: .post, headers: headers(), body: wrong) { response in
                    #expect(response.status == .unauthorized)
                }
            }
            // Alice's budget is spent: even the right password waits. Bob is not affected.
            try await client.execute(
                uri: "/api/login", method: .post, headers: headers(), body: body(#"{"username": "alice", "password": "\#(password)"}"#)
            ) { response in
                #expect(response.status == .tooManyRequests)
                #expect(response.headers[.retryAfter] == "100")
            }
            _ = try await login(client, "bob", password)
            // The bucket refills: no permanent lockout.
            fixture.clock.advance(by: 100)
            _ = try await login(client, "alice", password)
        }
        try await store.close()
    }

    @Test(arguments: Backend.enabled)
    func apiKeysAreShownOnceStoredAsDigestsAndDeleted(backend: Backend) async throws {
        let (fixture, store, _) = try await HostFixture.withAccounts(backend)
        let admin = try fixture.token(agent: "orchestrator", role: "admin").token
        try await fixture.application().test(.router) { client in
            let (id, key) = try await client.execute(
                uri: "/api/keys", method: .post, headers: headers(admin), body: body(#"{"name": "ci", "role": "member"}"#)
            ) { response in
                #expect(response.status == .created)
                let reply = try json(response.body)
                return (try #require(reply["id"] as? String), try #require(reply["key"] as? String))
            }
            #expect(id.hasPrefix("ahk_") && key.hasPrefix(id + "."))
            try await client.execute(uri: "/api/whoami", method: .get, headers: headers(key, json: false)) { response in
                #expect(response.status == .ok)
                let reply = try json(response.body)
                #expect(reply["authenticated_by"] as? String == "api-key" && reply["subject"] as? String == "key:" + id)
                #expect(reply["role"] as? String == "member")
            }
            try await client.execute(uri: "/api/keys", method: .get, headers: headers(admin, json: false)) { response in
                let text = String(buffer: response.body)
                #expect(text.contains(id) && !text.contains(key) && !text.contains("digest"))
            }
            // One changed character of the secret, an unknown id, a setup-shaped token: all 401.
            var tampered = Array(key)
            tampered[tampered.count - 1] = tampered.last == "A" ? "B" : "A"
            let unknown = "ahk_AAAAAAAAAAAAAAAA" + key.dropFirst(20)
            let setupShaped = "ahs_" + key.dropFirst(4)
            for bad in [String(tampered), unknown, setupShaped] {
                try await client.execute(uri: "/api/whoami", method: .get, headers: headers(bad, json: false)) { response in
                    #expect(response.status == .unauthorized)
                    #expect(code(response) == "invalid_token")
                }
            }
            // A key cannot make keys; a caller cannot give a key more than its own role.
            try await client.execute(
                uri: "/api/keys", method: .post, headers: headers(key), body: body(#"{"name": "x", "role": "viewer"}"#)
            ) {
                response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(
                uri: "/api/keys", method: .post, headers: headers(admin), body: body(#"{"name": "x", "role": "owner"}"#)
            ) {
                response in
                #expect(response.status == .forbidden)
                #expect(code(response) == "role_above_caller")
            }
            try await client.execute(uri: "/api/keys/\(id)", method: .delete, headers: headers(admin, json: false)) { response in
                #expect(response.status == .noContent)
            }
            try await client.execute(uri: "/api/keys/\(id)", method: .delete, headers: headers(admin, json: false)) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/api/whoami", method: .get, headers: headers(key, json: false)) { response in
                #expect(response.status == .unauthorized)
            }
            // Stored: a 32-byte digest, never the secret.
            #expect(try await store.accessKeys().allSatisfy { $0.digest.count == 32 })
        }
        try await store.close()
    }

    @Test(arguments: Backend.enabled)
    func devicesCarryTheirTrustLevelIntoThePolicy(backend: Backend) async throws {
        let (fixture, store, accounts) = try await HostFixture.withAccounts(backend)
        let owner = try fixture.token(agent: "orchestrator", role: "owner").token
        try await fixture.application().test(.router) { client in
            func register(_ trust: String) async throws -> (id: String, credential: String) {
                try await client.execute(
                    uri: "/api/devices", method: .post, headers: headers(owner),
                    body: body(#"{"name": "kiosk", "role": "admin", "trust": "\#(trust)"}"#)
                ) { response in
                    #expect(response.status == .created)
                    let reply = try json(response.body)
                    #expect(reply["trust"] as? String == trust)
                    let id = try #require(reply["device_id"] as? String)
                    return (id, id + "." + (try #require(reply["secret"] as? String)))
                }
            }
            let basic = try await register("basic")
            let trusted = try await register("trusted")
            try await client.execute(uri: "/api/whoami", method: .get, headers: headers(basic.credential, json: false)) { response in
                let reply = try json(response.body)
                #expect(reply["authenticated_by"] as? String == "device" && reply["trust"] as? String == "basic")
                #expect(reply["agent_id"] as? String == basic.id)
            }
            for (device, expected) in [(basic, HTTPResponse.Status.forbidden), (trusted, .noContent)] {
                try await client.execute(
                    uri: "/api/tokens/revoke", method: .post, headers: headers(device.credential), body: body(#"{"agent_id": "x"}"#)
                ) { response in
                    // The basic device is stopped by the policy; the trusted one by the handler,
                    // because devices never issue or revoke credentials.
                    #expect(response.status == .forbidden)
                    if expected == .forbidden {
                        let rules = try json(response.body)["rules"] as? [String]
                        #expect(rules == ["untrusted-devices-read-only"])
                    } else {
                        #expect(code(response) == "token_required")
                    }
                }
            }
            try await client.execute(uri: "/v1/secrets/agents/x/env", method: .get, headers: headers(basic.credential, json: false)) {
                response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/v1/secrets/agents/x/env", method: .get, headers: headers(trusted.credential, json: false)) {
                response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/api/devices", method: .get, headers: headers(owner, json: false)) { response in
                let devices = try #require(try json(response.body)["devices"] as? [[String: Any]])
                #expect(devices.count == 2 && devices.allSatisfy { $0["secret"] == nil })
            }
            // Deleted here: refused at once. Created through another server: known after a refresh.
            try await client.execute(uri: "/api/devices/\(basic.id)", method: .delete, headers: headers(owner, json: false)) { response in
                #expect(response.status == .noContent)
            }
            try await client.execute(uri: "/api/whoami", method: .get, headers: headers(basic.credential, json: false)) { response in
                #expect(response.status == .unauthorized)
            }
        }
        let other = try await AccountService.open(
            store: store, credentials: try #require(fixture.components.credentials), hasher: cheapHasher())
        let issued = try await other.createKey(kind: .device, name: "elsewhere", role: Role("viewer"), createdBy: "test")
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: "/api/whoami", method: .get, headers: headers(issued.credential, json: false)) { response in
                #expect(response.status == .unauthorized)
            }
            try await accounts.refresh()
            try await client.execute(uri: "/api/whoami", method: .get, headers: headers(issued.credential, json: false)) { response in
                #expect(response.status == .ok)
            }
        }
        try await store.close()
    }

    @Test func onboardingNeedsTheSetupTokenFromAfarAndItWorksOnce() async throws {
        let (fixture, store, accounts) = try await HostFixture.withAccounts()
        let setup = try await accounts.issueSetupToken(createdBy: "test")
        let payload = body(#"{"credentials": [{"path": "users/admin/keys/anthropic", "secret": "sk-ant-onboarded"}]}"#)
        try await fixture.application().test(.router) { client in
            // The router test has no loopback peer: it is "from afar".
            try await client.execute(uri: "/api/credentials", method: .post, headers: headers(), body: payload) { response in
                #expect(response.status == .forbidden)
                #expect(code(response) == "local_only")
            }
            var wrong = headers()
            wrong[HTTPField.Name("X-Setup-Token")!] = "ahs_AAAAAAAAAAAAAAAA" + setup.credential.dropFirst(20)
            try await client.execute(uri: "/api/credentials", method: .post, headers: wrong, body: payload) { response in
                #expect(response.status == .forbidden)
                #expect(code(response) == "invalid_setup_token")
            }
            var right = headers()
            right[HTTPField.Name("X-Setup-Token")!] = setup.credential
            // A bad body does not use the token up.
            try await client.execute(uri: "/api/credentials", method: .post, headers: right, body: body(#"{"credentials": []}"#)) {
                response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/api/credentials", method: .post, headers: right, body: payload) { response in
                #expect(response.status == .noContent)
            }
            try await client.execute(uri: "/api/credentials", method: .post, headers: right, body: payload) { response in
                #expect(response.status == .forbidden)
                #expect(code(response) == "invalid_setup_token")
            }
            // The setup token is no credential for anything else, also once loaded from the store.
            let another = try await accounts.issueSetupToken(createdBy: "test")
            try await accounts.refresh()
            try await client.execute(uri: "/api/whoami", method: .get, headers: headers(another.credential, json: false)) { response in
                #expect(response.status == .unauthorized)
            }
        }
        let credentials = try #require(fixture.components.credentials)
        let stored = try await credentials.withSecret(try SecretPath("users/admin/keys/anthropic")) { String(decoding: $0, as: UTF8.self) }
        #expect(stored == "sk-ant-onboarded")
        try await store.close()
    }

    @Test func onboardingFromThisMachineNeedsNoTokenUnlessItCameThroughAProxy() async throws {
        for proxied in [false, true] {
            let (fixture, store, _) = try await HostFixture.withAccounts(trustedProxies: proxied ? ["127.0.0.1"] : [])
            let payload = body(#"{"credentials": [{"path": "projects/p1/git-token", "secret": "ghp_local"}]}"#)
            try await fixture.application().test(.live) { client in
                try await client.execute(uri: "/api/credentials", method: .post, headers: headers(), body: payload) { response in
                    #expect(response.status == (proxied ? .forbidden : .noContent))
                }
                var forwarded = headers()
                forwarded[HTTPField.Name("X-Forwarded-For")!] = "203.0.113.9"
                try await client.execute(uri: "/api/credentials", method: .post, headers: forwarded, body: payload) { response in
                    #expect(response.status == .forbidden)
                    #expect(code(response) == "local_only")
                }
            }
            try await store.close()
        }
    }

    @Test func anUnreachableStoreIsA503WithNothingSecretInIt() async throws {
        let (fixture, store, accounts) = try await HostFixture.withAccounts()
        _ = try await accounts.addUser(username: "alice", role: "admin", password: password)
        let admin = try fixture.token(agent: "orchestrator", role: "admin").token
        try await store.close()
        try await fixture.application().test(.router) { client in
            let requests: [(String, HTTPRequest.Method, String?, String)] = [
                ("/api/login", .post, nil, #"{"username": "alice", "password": "\#(password)"}"#),
                ("/api/keys", .post, admin, #"{"name": "ci", "role": "member"}"#),
                ("/api/devices", .get, admin, ""),
                ("/api/keys/ahk_AAAAAAAAAAAAAAAA", .delete, admin, ""),
            ]
            for (uri, method, token, text) in requests {
                try await client.execute(uri: uri, method: method, headers: headers(token, json: !text.isEmpty), body: body(text)) {
                    response in
                    #expect(response.status == .serviceUnavailable, "\(method) \(uri)")
                    #expect(code(response) == "store_unavailable")
                    #expect(!String(buffer: response.body).contains(password))
                }
            }
        }
    }

    @Test func aPasswordTypedAsTheUserNameIsNeverRecorded() async throws {
        let (fixture, store, _) = try await HostFixture.withAccounts()
        let audit = try #require(fixture.components.audit)
        try await fixture.application().test(.router) { client in
            try await client.execute(
                uri: "/api/login", method: .post, headers: headers(), body: body(#"{"username": "Tr0ub4dor&3 horse", "password": "x"}"#)
            ) { response in
                #expect(response.status == .unauthorized)
            }
        }
        try await audit.flush()
        let records = try await store.auditRecords(after: 0, limit: 10, actor: nil, action: "login.failed")
        #expect(records.count == 1 && records[0].event.target == "user:(not a user name)")
        try await store.close()
    }

    @Test func withoutAStoreTheRoutesSayWhy() async throws {
        let fixture = try HostFixture()
        try await fixture.application().test(.router) { client in
            try await client.execute(
                uri: "/api/login", method: .post, headers: headers(), body: body(#"{"username": "a", "password": "b"}"#)
            ) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(code(response) == "accounts_unavailable")
            }
        }
    }
}
