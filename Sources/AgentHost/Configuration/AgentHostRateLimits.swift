public import SecurityCore

extension RateLimitScope {
    /// AgentHost's scopes, agtOS's defaults: `general` 100 per minute per client on `/api/**`,
    /// `/v1/**` and `/auth/**` (forward auth and the portal); `sensitive` 20 per minute per client
    /// on token minting (and starting runs), credentials, login and the portal's sign-in; `auth-failures` 10 failed authentications per minute per client;
    /// `login-failures` 10 failed logins (or second factors) per account, one more every 90 seconds
    /// (`RateLimiter/checkAccount(method:path:client:account:)`). `serve --rate-limit` changes
    /// their numbers (Docs/OPERATING.md, "Rate limits").
    public static var agentHost: [RateLimitScope] {
        func routes(_ texts: [String]) -> [RouteMatch] { texts.compactMap(RouteMatch.init) }
        return [
            RateLimitScope(
                checked: "general", limit: 100, period: .seconds(60), burst: 100, key: .client, counts: .requests,
                routes: routes(["/api/**", "/v1/**", "/auth/**"])),
            RateLimitScope(
                checked: "sensitive", limit: 20, period: .seconds(60), burst: 20, key: .client, counts: .requests,
                routes: routes([
                    "POST /api/agents", "POST /api/runs", "/api/tokens/**", "/api/credentials/**", "POST /api/login", "POST /auth/sign-in",
                    "POST /auth/passkeys/sign-in",
                ])),
            RateLimitScope(
                checked: "auth-failures", limit: 10, period: .seconds(60), burst: 10, key: .client,
                counts: .authenticationFailures, routes: []),
            RateLimitScope(
                checked: "login-failures", limit: 10, period: .seconds(900), burst: 10, key: .principal,
                counts: .authenticationFailures,
                routes: routes([
                    "POST /api/login", "POST /auth/sign-in", "POST /auth/second-factor", "POST /auth/passkeys/sign-in",
                ])),
        ]
    }
}
