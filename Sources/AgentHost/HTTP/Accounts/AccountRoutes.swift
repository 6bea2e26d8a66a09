import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SecurityCore
import SecurityStore

/// Login, API keys, devices and onboarding.
///
/// - `POST /api/login` `{"username", "password"}` → a user session token. Failed logins spend from
///   the client's `auth-failures` budget and the account's `login-failures` budget; both refill,
///   so nobody is locked out for good.
/// - `POST /api/keys` `{"name", "role"}` → the API key, once; `GET /api/keys`; `DELETE /api/keys/{id}`.
/// - `POST /api/devices` `{"name", "role"?, "trust"?}` → the device id and secret, once;
///   `GET /api/devices`; `DELETE /api/devices/{device}`.
/// - `POST /api/credentials` `{"credentials": [{"path", "secret"}]}`: onboarding, from this
///   machine only, or with the one-time setup token in `X-Setup-Token`.
struct AccountRoutes: Sendable {
    static let loginPath = "/api/login"
    static let onboardingPath = "/api/credentials"

    let components: AgentHost.Components
    let loginSchema: Schema = .object([
        "username": .required(.string(length: 1...128, maximumBytes: 128)),
        "password": .required(.string(length: 1...AccountService.maximumPasswordBytes, maximumBytes: AccountService.maximumPasswordBytes)),
    ])
    let keySchema: Schema = .object([
        "name": .required(.string(length: 1...128, maximumBytes: 512)),
        "role": .required(.string(format: .identifier)),
    ])
    let deviceSchema: Schema = .object([
        "name": .required(.string(length: 1...128, maximumBytes: 512)),
        "role": .optional(.string(format: .identifier)),
        "trust": .optional(.string(oneOf: Set(DeviceTrust.allCases.map(\.name)))),
    ])
    let onboardingSchema: Schema = .object([
        "credentials": .required(
            .array(
                of: .object([
                    "path": .required(.string(length: 5...1_040)),
                    "secret": .required(.string(length: 1...Vault.maximumSecretByteCount, maximumBytes: Vault.maximumSecretByteCount)),
                ]),
                count: 1...32
            ))
    ])

    func add(to router: Router<AgentRequestContext>) {
        router.post(RouterPath(Self.loginPath)) { request, context in try await login(request, context: context) }
        router.post("/api/keys") { request, context in try await create(.apiKey, request, context: context) }
        router.get("/api/keys") { _, context in try await list(.apiKey, context: context) }
        router.delete("/api/keys/{id}") { _, context in try await delete(.apiKey, parameter: "id", context: context) }
        router.post("/api/devices") { request, context in try await create(.device, request, context: context) }
        router.get("/api/devices") { _, context in try await list(.device, context: context) }
        router.delete("/api/devices/{device}") { _, context in try await delete(.device, parameter: "device", context: context) }
        router.post(RouterPath(Self.onboardingPath)) { request, context in try await onboard(request, context: context) }
    }

    // MARK: Login

    private func login(_ request: Request, context: AgentRequestContext) async throws -> Response {
        guard let accounts = components.accounts else { throw AccountRoutes.unavailable }
        let value = try await JSONBody.read(request, schema: loginSchema)
        let username = value["username"]?.stringValue ?? ""
        let password = value["password"]?.stringValue ?? ""
        let limiter = components.pipeline.configuration.rateLimiter
        let client = clientAddress(request, context)?.description
        // A name that cannot be a user (a password typed in the wrong field, say) is never
        // logged or recorded as typed.
        let shownName = (try? AgentID(username)) != nil ? username : "(not a user name)"
        let account = "user:" + shownName
        let path = Self.loginPath[...]
        if let refusal = limiter?.checkAccount(method: "POST", path: path, client: client, account: account).refusal {
            context.logger.notice("login refused: failure budget spent", metadata: ["user": .string(shownName)])
            throw HTTPRefusal(refusal)
        }
        let user: UserRecord?
        do {
            user = try await accounts.login(username: username, password: password)
        } catch let error as StoreError {
            throw HTTPRefusal.storeFailed(error, context)
        }
        guard let user, let agent = try? AgentID(user.username), let role = try? Role(user.role) else {
            limiter?.recordFailedLogin(method: "POST", path: path, client: client, account: account)
            components.audit?.recordRefusal(
                action: "login.failed", code: ProblemCode.invalidLogin.rawValue, client: client ?? "-", actor: "anonymous", target: account,
                requestID: context.id
            )
            context.logger.notice("login failed", metadata: ["user": .string(shownName), "peer": .string(client ?? "-")])
            throw HTTPRefusal(
                Refusal(
                    status: 401, code: .invalidLogin, detail: "The user name or the password is wrong."
                ))
        }
        let minted: MintedToken
        do {
            minted = try components.sessionMinter.mint(agent: agent, role: role)
        } catch let error as TokenError where error.code == .noSigningKey {
            throw HTTPRefusal(
                Refusal(
                    status: 503, code: .noSigningKey, detail: "The server's keyring has no primary key, so it cannot issue sessions."
                ))
        }
        context.logger.notice("user logged in", metadata: ["user": .string(user.username), "token_id": .string(minted.claims.tokenID.hex)])
        components.audit(
            context.id, "user.login", actor: account, target: account, client: client ?? "-",
            details: ["token_id": minted.claims.tokenID.hex]
        )
        return JSONBody.response(
            .object([
                "token": .string(minted.token), "token_id": .string(minted.claims.tokenID.hex), "user": .string(user.username),
                "role": .string(user.role), "expires_at": .string(UTCTimestamp.string(seconds: minted.claims.expiresAt)),
            ]))
    }

    // MARK: API keys and devices

    private func create(_ kind: AccessKeyRecord.Kind, _ request: Request, context: AgentRequestContext) async throws -> Response {
        guard let accounts = components.accounts else { throw AccountRoutes.unavailable }
        guard let caller = context.principal, caller.mayIssueCredentials else {
            throw HTTPRefusal(
                403, .tokenRequired,
                "Keys and devices are created by a caller authenticated by an agent token or a user session, not by a header-trust identity, API key or device."
            )
        }
        let value = try await JSONBody.read(request, schema: kind == .device ? deviceSchema : keySchema)
        let roleText = value["role"]?.stringValue ?? "viewer"
        guard let role = try? Role(roleText), components.policy.mayGrant(roleText, caller: caller.role.rawValue) else {
            throw HTTPRefusal(403, .roleAboveCaller, "A key or device may not have a role that ranks above the caller's own.")
        }
        let trust = value["trust"]?.stringValue.flatMap(DeviceTrust.init(name:))
        let issued: AccountService.IssuedKey
        do {
            issued = try await accounts.createKey(
                kind: kind, name: value["name"]?.stringValue ?? "", role: role, trust: trust, createdBy: caller.id
            )
        } catch let error as StoreError {
            throw HTTPRefusal.storeFailed(error, context)
        }
        components.audit(
            context.id, kind == .device ? "device.registered" : "key.created", actor: caller.id, target: issued.record.id,
            details: ["role": role.rawValue, "trust": issued.record.trust?.name ?? ""]
        )
        context.logger.notice(
            kind == .device ? "device registered" : "API key created",
            metadata: ["id": .string(issued.record.id), "role": .string(role.rawValue), "by": .string(caller.id)]
        )
        var reply = Self.describe(issued.record)
        if kind == .device {
            reply["device_id"] = .string(issued.record.id)
            reply["secret"] = .string(String(issued.secret))
        } else {
            reply["key"] = .string(issued.credential)
        }
        return JSONBody.response(.object(reply), status: .created)
    }

    private func list(_ kind: AccessKeyRecord.Kind, context: AgentRequestContext) async throws -> Response {
        guard let accounts = components.accounts else { throw AccountRoutes.unavailable }
        do {
            let records = try await accounts.keys(of: kind)
            return JSONBody.response(.object([kind == .device ? "devices" : "keys": .array(records.map { .object(Self.describe($0)) })]))
        } catch let error as StoreError {
            throw HTTPRefusal.storeFailed(error, context)
        }
    }

    private func delete(_ kind: AccessKeyRecord.Kind, parameter: String, context: AgentRequestContext) async throws -> Response {
        guard let accounts = components.accounts else { throw AccountRoutes.unavailable }
        let id = context.parameters.get(parameter) ?? ""
        do {
            guard try await accounts.deleteKey(id: id, kind: kind) else {
                throw HTTPRefusal(404, .notFound, kind == .device ? "There is no such device." : "There is no such API key.")
            }
        } catch let error as StoreError {
            throw HTTPRefusal.storeFailed(error, context)
        }
        components.audit(
            context.id, kind == .device ? "device.deleted" : "key.deleted", actor: context.principal?.id ?? "anonymous", target: id)
        context.logger.notice(
            kind == .device ? "device deleted" : "API key deleted",
            metadata: [
                "id": .string(String(id.prefix(64))), "by": .string(context.principal?.id ?? "-"),
            ])
        return Response(status: .noContent)
    }

    /// What may be shown of a key or device: never its digest.
    static func describe(_ record: AccessKeyRecord) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [
            "id": .string(record.id), "name": .string(record.name), "role": .string(record.role),
            "created_by": .string(record.createdBy), "created_at": .string(UTCTimestamp.string(seconds: record.createdAt)),
        ]
        if let trust = record.trust { fields["trust"] = .string(trust.name) }
        return fields
    }

    // MARK: Onboarding

    /// `POST /api/credentials`: stores credentials during first-run setup. Accepted from a
    /// loopback peer that is not a trusted proxy and forwards nothing, or with the setup token.
    private func onboard(_ request: Request, context: AgentRequestContext) async throws -> Response {
        guard let credentials = components.credentials, let accounts = components.accounts else { throw AccountRoutes.unavailable }
        let setupTokens = request.headers[values: HTTPField.Name("X-Setup-Token")!]
        guard setupTokens.count <= 1 else {
            throw HTTPRefusal(400, .ambiguousCredentials, "Send X-Setup-Token at most once.")
        }
        let local = isLocal(request, context)
        guard local || setupTokens.count == 1 else {
            context.logger.notice("onboarding refused: not local", metadata: ["peer": .string(context.remoteAddress?.ipAddress ?? "-")])
            throw HTTPRefusal(
                403, .localOnly,
                "Onboarding is accepted only from this machine (not through a proxy), or with the setup token the first start printed, sent as X-Setup-Token."
            )
        }
        let value = try await JSONBody.read(request, schema: onboardingSchema)
        guard case .array(let items)? = value["credentials"] else {
            throw HTTPRefusal(400, .invalidRequest, "credentials must be a list.")
        }
        var entries = [(SecretPath, SecureBytes)]()
        for (index, item) in items.enumerated() {
            guard let path = try? SecretPath(item["path"]?.stringValue ?? "") else {
                throw HTTPRefusal(
                    400, .invalidSecretPath, "credentials[\(index)].path must be a secret path such as projects/p1/git-token.")
            }
            let secret = SecureBytes(copying: (item["secret"]?.stringValue ?? "").utf8)
            do {
                try CredentialService.checkSecret(secret)
            } catch {
                throw HTTPRefusal(400, error.code.problemCode, "credentials[\(index)]: \(error.reason).")
            }
            entries.append((path, secret))
        }
        var consumed: AccessKeyRecord?
        do {
            if !local {
                guard let record = try await accounts.consumeSetupToken(setupTokens[0]) else {
                    let limiter = components.pipeline.configuration.rateLimiter
                    limiter?.recordRefused(
                        method: "POST", path: Self.onboardingPath[...], client: clientAddress(request, context)?.description,
                        authenticationFailed: true
                    )
                    components.audit?.recordRefusal(
                        action: "onboarding.refused", code: ProblemCode.invalidSetupToken.rawValue,
                        client: clientAddress(request, context)?.description ?? "-",
                        actor: "anonymous", target: "POST " + Self.onboardingPath, requestID: context.id
                    )
                    context.logger.notice(
                        "onboarding refused: bad setup token", metadata: ["peer": .string(context.remoteAddress?.ipAddress ?? "-")])
                    throw HTTPRefusal(
                        403, .invalidSetupToken,
                        "The setup token is wrong, used or expired; run 'agenthost setup-token' on the server for a new one."
                    )
                }
                consumed = record
            }
            for (path, secret) in entries { try await credentials.set(path, secret: secret) }
        } catch let refusal as HTTPRefusal {
            throw refusal
        } catch {
            if let consumed { try? await accounts.restoreSetupToken(consumed) }
            context.logger.error("onboarding failed", metadata: ["error": .string(String(describing: type(of: error)))])
            throw HTTPRefusal(503, .storeUnavailable, "The credentials could not be stored; nothing was lost, try again.")
        }
        components.metrics.increment("agenthost_vault_operations_total", [("operation", "onboard")], by: entries.count)
        components.audit(
            context.id, "credentials.onboarded", actor: local ? "loopback" : "setup-token",
            target: entries.map { $0.0.description }.joined(separator: ","),
            client: clientAddress(request, context)?.description ?? "-"
        )
        context.logger.notice(
            "onboarding stored credentials",
            metadata: [
                "paths": .array(entries.map { .string($0.0.description) }), "by": .string(local ? "loopback" : "setup-token"),
            ])
        return Response(status: .noContent)
    }

    /// Whether the request comes from this machine itself, as every local-only rule decides it
    /// (``SecurityPipeline/isLocal(_:)``).
    private func isLocal(_ request: Request, _ context: AgentRequestContext) -> Bool {
        components.pipeline.configuration.clientAddresses.isLocal(
            peer: context.remoteAddress?.ipAddress,
            fields: request.headers
        )
    }

    private func clientAddress(_ request: Request, _ context: AgentRequestContext) -> IPAddress? {
        components.pipeline.configuration.clientAddresses.clientAddress(
            peer: context.remoteAddress?.ipAddress,
            fields: request.headers
        )
    }

    // MARK: Answers

    static let unavailable = HTTPRefusal(
        503, .accountsUnavailable, "This server was started without a store, so it has no users, keys or devices.")

}
