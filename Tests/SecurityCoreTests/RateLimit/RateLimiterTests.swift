@testable import SecurityCore
import Synchronization
import Testing

/// A store with only the batch requirement, as a store of one's own might start: the one- and
/// two-bucket forms fall back to it.
final class BatchOnlyStore: RateLimitStore {
    let inner = InMemoryRateLimitStore(maximumKeys: 1000)
    let batchSizes = Mutex<[Int]>([])

    func acquire(_ requests: [BucketRequest], mode: AcquireMode, now: Int64) -> [BucketState] {
        batchSizes.withLock { $0.append(requests.count) }
        return inner.acquire(requests, mode: mode, now: now)
    }
}

struct RateLimiterTests {
    let clock = ManualTimeSource(1_800_000_000)

    func limiter(_ scopes: [RateLimitScope] = RateLimitScope.agtOSStyle, maximumKeys: Int = 1000) -> RateLimiter {
        RateLimiter(scopes: scopes, store: InMemoryRateLimitStore(maximumKeys: maximumKeys), ticks: clock)
    }

    @Test func twentyFirstSensitiveRequestInAMinuteIsRefusedThenRefills() {
        let limiter = limiter()
        for index in 1...20 {
            let decision = limiter.admit(method: "POST", path: "/api/agents", client: "10.0.0.7", principal: "boss")
            #expect(decision.allowed, "request \(index)")
        }
        let refused = limiter.admit(method: "POST", path: "/api/agents", client: "10.0.0.7", principal: "boss")
        #expect(!refused.allowed)
        #expect(refused.scope?.name == "sensitive")
        let refusal = refused.refusal
        #expect(refusal?.status == 429)
        #expect(refusal?.problem.extensions["scope"] == .string("sensitive"))
        #expect(refusal?.headers.contains(HeaderField(name: "Retry-After", value: "3")) == true)
        // Another client is not affected.
        #expect(limiter.admit(method: "POST", path: "/api/agents", client: "10.0.0.8", principal: "boss").allowed)
        // 60 s / 20 = one request back every 3 s.
        clock.advance(by: .milliseconds(2_900))
        #expect(!limiter.admit(method: "POST", path: "/api/agents", client: "10.0.0.7", principal: "boss").allowed)
        clock.advance(by: .milliseconds(100))
        #expect(limiter.admit(method: "POST", path: "/api/agents", client: "10.0.0.7", principal: "boss").allowed)
        #expect(!limiter.admit(method: "POST", path: "/api/agents", client: "10.0.0.7", principal: "boss").allowed)
        clock.advance(by: 60)
        for _ in 1...20 {
            #expect(limiter.admit(method: "POST", path: "/api/agents", client: "10.0.0.7", principal: "boss").allowed)
        }
    }

    @Test func refusedRequestsSpendNothing() throws {
        // A per-principal scope of 2 and a per-client scope of 5 on the same route.
        let tight = try RateLimitScope(name: "tight", limit: 2, period: .seconds(60), key: .principal)
        let loose = try RateLimitScope(name: "loose", limit: 5, period: .seconds(60), key: .client)
        let limiter = limiter([loose, tight])
        #expect(limiter.admit(method: "GET", path: "/x", client: "1.1.1.1", principal: "a").allowed)
        #expect(limiter.admit(method: "GET", path: "/x", client: "1.1.1.1", principal: "a").allowed)
        for _ in 0..<10 {
            let refused = limiter.admit(method: "GET", path: "/x", client: "1.1.1.1", principal: "a")
            #expect(refused.scope?.name == "tight")
        }
        // The ten refusals did not touch the client's scope: three more (other principals) fit.
        for principal in ["b", "c", "d"] {
            #expect(limiter.admit(method: "GET", path: "/x", client: "1.1.1.1", principal: principal).allowed)
        }
        let full = limiter.admit(method: "GET", path: "/x", client: "1.1.1.1", principal: "e")
        #expect(!full.allowed)
        #expect(full.scope?.name == "loose")
    }

    @Test func aStoreWithOnlyTheBatchFormGetsOneAndTwoBucketCallsAsBatches() {
        let store = BatchOnlyStore()
        let limiter = RateLimiter(scopes: RateLimitScope.agtOSStyle, store: store, ticks: clock)
        // The client check: `general` and `auth-failures`, one call of two.
        for _ in 0..<10 {
            #expect(limiter.check(method: "GET", path: "/api/whoami", client: "5.5.5.5").allowed)
            limiter.recordRefused(method: "GET", path: "/api/whoami", client: "5.5.5.5", authenticationFailed: true)
        }
        let locked = limiter.check(method: "GET", path: "/api/whoami", client: "5.5.5.5")
        #expect(!locked.allowed && locked.scope?.name == "auth-failures")
        // The admit: `general` alone, one call of one.
        #expect(limiter.admit(method: "GET", path: "/api/whoami", client: "5.5.5.6", principal: "a").allowed)
        let sizes = store.batchSizes.withLock { $0 }
        #expect(sizes.first == 2 && sizes.last == 1)
        #expect(sizes.count == 22)
    }

    @Test func checkSpendsNothingAndHeadersDescribeTheTightestScope() {
        let limiter = limiter()
        for _ in 0..<5 { _ = limiter.check(method: "POST", path: "/api/agents", client: "2.2.2.2") }
        let decision = limiter.admit(method: "POST", path: "/api/agents", client: "2.2.2.2", principal: nil)
        #expect(decision.scope?.name == "sensitive")
        let headers = Dictionary(uniqueKeysWithValues: decision.headers.map { ($0.name, $0.value) })
        #expect(headers["X-RateLimit-Limit"] == "20")
        #expect(headers["X-RateLimit-Remaining"] == "19")
        #expect(headers["X-RateLimit-Reset"] == "3")
        #expect(headers["RateLimit-Policy"] == #""sensitive";q=20;w=60"#)
        #expect(headers["RateLimit"] == #""sensitive";r=19;t=3"#)
        #expect(headers["Retry-After"] == nil)
    }

    @Test func authenticationFailuresLockTheClientOutUntilRefill() {
        let limiter = limiter()
        for _ in 0..<10 {
            #expect(limiter.check(method: "GET", path: "/api/whoami", client: "3.3.3.3").allowed)
            limiter.recordRefused(method: "GET", path: "/api/whoami", client: "3.3.3.3", authenticationFailed: true)
        }
        let locked = limiter.check(method: "GET", path: "/api/whoami", client: "3.3.3.3")
        #expect(!locked.allowed)
        #expect(locked.scope?.name == "auth-failures")
        #expect(limiter.check(method: "GET", path: "/api/whoami", client: "3.3.3.4").allowed)
        clock.advance(by: 6)
        #expect(limiter.check(method: "GET", path: "/api/whoami", client: "3.3.3.3").allowed)
    }

    @Test func scopesApplyOnlyToTheirRoutes() {
        let limiter = limiter()
        #expect(limiter.admit(method: "GET", path: "/health", client: "4.4.4.4", principal: nil) == .unlimited)
        #expect(limiter.admit(method: "GET", path: "/auth/verify", client: "4.4.4.4", principal: nil).scope?.name == "general")
        #expect(limiter.admit(method: "GET", path: "/api/agents", client: "4.4.4.4", principal: nil).scope?.name == "general")
    }

    @Test func loginFailuresAreCountedPerAccountAndPerClient() throws {
        let clock = ManualTimeSource(0)
        let limiter = RateLimiter(scopes: RateLimitScope.agtOSStyle, ticks: clock)
        for _ in 0..<10 { limiter.recordFailedLogin(method: "POST", path: "/api/login", client: "10.0.0.1", account: "user:alice") }
        let alice = limiter.checkAccount(method: "POST", path: "/api/login", client: "10.0.0.2", account: "user:alice")
        #expect(alice.refusal?.problem.extensions["scope"] == .string("login-failures"))
        // Another account from another client is unaffected; the first client is out of failures.
        #expect(limiter.checkAccount(method: "POST", path: "/api/login", client: "10.0.0.2", account: "user:bob").allowed)
        #expect(
            limiter.check(method: "POST", path: "/api/login", client: "10.0.0.1").refusal?.problem.extensions["scope"]
                == .string("auth-failures"))
        // Refilled after 90 seconds: one more attempt, never a permanent lockout.
        clock.advance(by: 90)
        #expect(limiter.checkAccount(method: "POST", path: "/api/login", client: "10.0.0.2", account: "user:alice").allowed)
    }

    @Test func scopeConfigurationIsChecked() {
        #expect(throws: RateLimitError.self) { try RateLimitScope(name: "", limit: 1, period: .seconds(1)) }
        #expect(throws: RateLimitError.self) { try RateLimitScope(name: "x y", limit: 1, period: .seconds(1)) }
        #expect(throws: RateLimitError.self) { try RateLimitScope(name: "x", limit: 0, period: .seconds(1)) }
        #expect(throws: RateLimitError.self) { try RateLimitScope(name: "x", limit: 1, period: .milliseconds(10)) }
        #expect(throws: RateLimitError.self) { try RateLimitScope(name: "x", limit: 1, period: .seconds(86_401)) }
        #expect(throws: RateLimitError.self) { try RateLimitScope(name: "x", limit: 1, period: .seconds(1), burst: 0) }
        // The library's defaults name no route of any server.
        let defaults = RateLimitScope.defaults
        #expect(defaults.map(\.name) == ["general", "auth-failures"])
        #expect(defaults.map(\.routes.count) == [0, 0])
        #expect(defaults.map(\.limit) == [100, 10])
        #expect(defaults.map(\.key) == [.client, .client])
        #expect(defaults.map(\.counts) == [.requests, .authenticationFailures])
        #expect(RouteMatch("api") == nil)
        #expect(RouteMatch("GET /a/*/b") == nil)
        #expect(RouteMatch("get /a")?.description == "GET /a")
    }

    /// A route is a method and a ``PathTemplate``, matched as the policy matches its routes.
    @Test(arguments: [
        ("/api/**", "/api/agents/a1", true), ("/api/**", "/api", true), ("/api/**", "/apix", false),
        ("/api/**", "//api//agents/", true), ("/api/**", "/api/../keys", false),
        ("GET /api/agents/{agent}/grants", "/api/agents/a1/grants", true), ("/api/agents/{agent}/grants", "/api/agents/grants", false),
        // The earlier spelling: a final `*` reads as `/**`, whole segments only.
        ("/api/*", "/api/agents", true), ("/api/tokens*", "/api/tokens", true), ("/api/tokens*", "/api/tokens/revoke", true),
        ("/api/tokens*", "/api/tokensmith", false),
    ])
    func routesArePathTemplates(route: String, path: String, matches: Bool) throws {
        let match = try #require(RouteMatch(route))
        #expect(match.matches(method: "GET", path: path[...]) == matches)
        #expect(match.path.matches(path[...]) == matches)
    }

    /// `matches` walks a path's bytes; `match` splits it into segments as the policy does. Every
    /// path built from these pieces gets one answer from both.
    @Test func walkingAPathAndSplittingItAgree() throws {
        let templates = try ["/", "/**", "/a", "/a/**", "/a/{x}", "/a/{x}/b", "/{x}/{y}/**", "/a/b/c"].map {
            try PathTemplate(validating: $0)
        }
        let pieces = ["a", "b", "c", "", ".", "..", "...", "é"]
        var paths = ["/"]
        for first in pieces {
            paths.append("/" + first)
            for second in pieces {
                paths.append("/" + first + "/" + second)
                for third in pieces { paths.append("/" + first + "/" + second + "/" + third) }
            }
        }
        for template in templates {
            for path in paths {
                #expect(template.matches(path[...]) == (template.match(path[...]) != nil), "\(template) \(path)")
            }
        }
        #expect(try PathTemplate(validating: "/").matches("//"))
        #expect(try !PathTemplate(validating: "/a/**").matches("/a/b/../c"))
    }

    @Test func aRoutesTemplateIsCheckedAsThePolicysAre() {
        for text in ["/a/{x}/{x}", "/a/**/b", "/a/./b", "/a//b", "/a/{bad name}"] {
            #expect(RouteMatch(text) == nil, "\(text)")
        }
        #expect(RouteMatch("POST /api/agents")?.matches(method: "GET", path: "/api/agents") == false)
    }
}

struct InMemoryRateLimitStoreTests {
    @Test func memoryIsCappedAndFullBucketsGoFirst() throws {
        let scope = try RateLimitScope(name: "s", limit: 10, period: .seconds(60))
        let store = InMemoryRateLimitStore(maximumKeys: 1600)
        var now: Int64 = 1_000_000_000
        for index in 0..<10_000 {
            _ = store.acquire(BucketRequest(scope: scope, key: "client-\(index)"), mode: .ifAllAllowed, now: now)
            now += 1000
        }
        #expect(store.trackedKeys <= store.maximumKeys)
        #expect(store.trackedKeys >= store.maximumKeys - InMemoryRateLimitStore.shardCount)
        // Once every bucket has refilled they are all droppable: new keys never grow the table.
        now += 60_000_000_000
        let bytesBefore = store.tableBytes
        for index in 0..<10_000 {
            _ = store.acquire(BucketRequest(scope: scope, key: "late-\(index)"), mode: .ifAllAllowed, now: now)
        }
        #expect(store.trackedKeys <= store.maximumKeys)
        #expect(store.tableBytes == bytesBefore)
    }

    @Test func evictionDropsFullBucketsBeforeActiveOnes() throws {
        let scope = try RateLimitScope(name: "s", limit: 1, period: .seconds(60))
        let store = InMemoryRateLimitStore(maximumKeys: 16 * 64)
        let start: Int64 = 5_000_000_000
        for index in 0..<5000 {
            _ = store.acquire(BucketRequest(scope: scope, key: "old-\(index)"), mode: .ifAllAllowed, now: start)
        }
        // A minute later every old bucket is full again; the attacker's is spent.
        let later = start + 61_000_000_000
        #expect(store.acquire(BucketRequest(scope: scope, key: "attacker"), mode: .ifAllAllowed, now: later).allowed)
        // New keys push old ones out, and must not push out the attacker's spent bucket.
        for index in 0..<500 {
            _ = store.acquire(BucketRequest(scope: scope, key: "new-\(index)"), mode: .ifAllAllowed, now: later)
        }
        #expect(!store.acquire(BucketRequest(scope: scope, key: "attacker"), mode: .ifAllAllowed, now: later).allowed)
        #expect(store.trackedKeys <= store.maximumKeys)
    }

    @Test func aTrackedKeyCostsAtMost32Bytes() throws {
        let scope = try RateLimitScope(name: "s", limit: 10, period: .seconds(60))
        let store = InMemoryRateLimitStore()
        for index in 0..<100_000 {
            _ = store.acquire(BucketRequest(scope: scope, key: "k\(index)"), mode: .ifAllAllowed, now: 1)
        }
        #expect(store.trackedKeys == 100_000)
        #expect(store.tableBytes <= 32 * 100_000)
    }

    @Test func multiBucketCallsAreAllOrNothing() throws {
        let a = try RateLimitScope(name: "a", limit: 1, period: .seconds(60))
        let b = try RateLimitScope(name: "b", limit: 3, period: .seconds(60))
        let store = InMemoryRateLimitStore()
        let both = [BucketRequest(scope: b, key: "k"), BucketRequest(scope: a, key: "k")]
        let first = store.acquire(both, mode: .ifAllAllowed, now: 0)
        #expect(first.allSatisfy { $0.allowed })
        let second = store.acquire(both, mode: .ifAllAllowed, now: 0)
        #expect(second.map { $0.allowed } == [true, false])
        // b was not charged by the refused call: two left.
        #expect(store.acquire(BucketRequest(scope: b, key: "k"), mode: .check, now: 0).remaining == 1)
    }

    @Test func aPairCheckOfOneBucketTwiceSeesTheFirstRequestsCharge() throws {
        let scope = try RateLimitScope(name: "one", limit: 2, period: .seconds(60))
        let store = InMemoryRateLimitStore()
        let request = BucketRequest(scope: scope, key: "k")
        #expect(store.acquire(request, mode: .ifAllAllowed, now: 0).allowed)  // tracked, one left
        let pair = store.acquire([request, request], mode: .check, now: 0)
        #expect(pair[0].allowed)
        #expect(!pair[1].allowed)
        // A check charges nothing.
        let other = BucketRequest(scope: scope, key: "other")
        #expect(store.acquire(other, mode: .ifAllAllowed, now: 0).allowed)
        let both = store.acquire([request, other], mode: .check, now: 0)
        #expect(both[0].remaining == 0 && both[1].remaining == 0)
        #expect(store.acquire(request, mode: .ifAllAllowed, now: 0).allowed)
    }

    @Test func twoRequestsForOneBucketInOneCallAreCheckedTogether() throws {
        let scope = try RateLimitScope(name: "one", limit: 1, period: .seconds(60))
        let other = try RateLimitScope(name: "other", limit: 5, period: .seconds(60))
        let store = InMemoryRateLimitStore()
        let twice = [BucketRequest(scope: scope, key: "k"), BucketRequest(scope: other, key: "k"), BucketRequest(scope: scope, key: "k")]
        let states = store.acquire(twice, mode: .ifAllAllowed, now: 0)
        #expect(states.map { $0.allowed } == [true, true, false])
        // Refused as a whole: neither bucket was charged.
        #expect(store.acquire(BucketRequest(scope: scope, key: "k"), mode: .check, now: 0).allowed)
        #expect(store.acquire(BucketRequest(scope: other, key: "k"), mode: .check, now: 0).remaining == 4)
    }
}
