@testable import SecurityCore

extension RateLimitScope {
    /// agtOS's four scopes, as test data: routes of an API server, a client-keyed failure budget
    /// and an account-keyed one. (AgentHost ships the same as `RateLimitScope.agentHost`.)
    static var agtOSStyle: [RateLimitScope] {
        func routes(_ texts: [String]) -> [RouteMatch] { texts.compactMap(RouteMatch.init) }
        return [
            RateLimitScope(
                checked: "general", limit: 100, period: .seconds(60), burst: 100, key: .client, counts: .requests,
                routes: routes(["/api/*", "/v1/*", "/auth/verify"])),
            RateLimitScope(
                checked: "sensitive", limit: 20, period: .seconds(60), burst: 20, key: .client, counts: .requests,
                routes: routes(["POST /api/agents", "/api/tokens*", "/api/credentials*", "POST /api/login"])),
            RateLimitScope(
                checked: "auth-failures", limit: 10, period: .seconds(60), burst: 10, key: .client,
                counts: .authenticationFailures, routes: []),
            RateLimitScope(
                checked: "login-failures", limit: 10, period: .seconds(900), burst: 10, key: .principal,
                counts: .authenticationFailures, routes: routes(["POST /api/login"])),
        ]
    }
}
