import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SecurityCore
import SecurityStore

/// The credential routes: project git tokens, users' provider keys, grants, and the release of an
/// agent's environment at the moment of use. No response carries a secret except the release.
struct CredentialRoutes: Sendable {
    let components: AgentHost.Components
    let credentials: CredentialService?
    let tokenSchema: Schema
    let keySchema: Schema
    let grantSchema: Schema

    init(components: AgentHost.Components) {
        self.components = components
        self.credentials = components.credentials
        let secret = Schema.string(length: 1...Vault.maximumSecretByteCount, maximumBytes: Vault.maximumSecretByteCount)
        tokenSchema = .object(["token": .required(secret)])
        keySchema = .object(["key": .required(secret)])
        grantSchema = .object([
            "secret": .required(.string(length: 5...1_040)),
            "env": .required(.string(length: 1...128)),
            "proxy_only": .optional(.boolean),
        ])
    }

    func add(to router: Router<AgentRequestContext>) {
        router.put("/api/projects/{project}/git-token") { request, context in
            try await run(context) { credentials in
                let path = try SecretPath.projectGitToken(try Self.name(context, "project"))
                return try await set(
                    path, field: "token", schema: tokenSchema, request: request, context: context, credentials: credentials)
            }
        }
        router.get("/api/projects/{project}") { _, context in
            try await run(context) { credentials in
                let project = try Self.name(context, "project")
                let updated = try await credentials.updatedAt(try SecretPath.projectGitToken(project))
                return JSONBody.response(
                    .object([
                        "project": .string(project), "has_git_token": .bool(updated != nil),
                        "git_token_updated_at": Self.timestamp(updated),
                    ]))
            }
        }
        router.delete("/api/projects/{project}/git-token") { _, context in
            try await run(context) { credentials in
                try await delete(
                    try SecretPath.projectGitToken(try Self.name(context, "project")), context: context, credentials: credentials)
            }
        }
        router.put("/api/users/{user}/keys/{provider}") { request, context in
            try await run(context) { credentials in
                let path = try SecretPath.userKey(try Self.name(context, "user"), provider: try Self.name(context, "provider"))
                return try await set(path, field: "key", schema: keySchema, request: request, context: context, credentials: credentials)
            }
        }
        router.get("/api/users/{user}/keys/{provider}") { _, context in
            try await run(context) { credentials in
                let provider = try Self.name(context, "provider")
                let updated = try await credentials.updatedAt(try SecretPath.userKey(try Self.name(context, "user"), provider: provider))
                return JSONBody.response(
                    .object([
                        "provider": .string(provider), "has_key": .bool(updated != nil), "updated_at": Self.timestamp(updated),
                    ]))
            }
        }
        router.delete("/api/users/{user}/keys/{provider}") { _, context in
            try await run(context) { credentials in
                let path = try SecretPath.userKey(try Self.name(context, "user"), provider: try Self.name(context, "provider"))
                return try await delete(path, context: context, credentials: credentials)
            }
        }
        router.post("/api/agents/{agent}/grants") { request, context in
            try await run(context) { credentials in try await grant(request, context: context, credentials: credentials) }
        }
        router.get("/api/agents/{agent}/grants") { _, context in
            try await run(context) { credentials in
                let agent = try Self.agent(context)
                let grants = try await credentials.store.grants(agent: agent.rawValue)
                return JSONBody.response(
                    .object([
                        "agent": .string(agent.rawValue),
                        "grants": .array(
                            grants.map { grant in
                                .object([
                                    "env": .string(grant.env), "secret": .string(grant.owner + "/" + grant.name),
                                    "proxy_only": .bool(grant.proxyOnly), "created_at": Self.timestamp(grant.createdAt),
                                ])
                            }),
                    ]))
            }
        }
        router.delete("/api/agents/{agent}/grants/{env}") { _, context in
            try await run(context) { credentials in
                let agent = try Self.agent(context)
                let env = context.parameters.get("env") ?? ""
                guard try await credentials.removeGrant(agent: agent, env: env) else {
                    throw HTTPRefusal(404, .notFound, "Agent \(agent) has no grant named \(env.prefix(128)).")
                }
                context.logger.notice(
                    "revoked secret grant", metadata: ["agent": .string(agent.rawValue), "env": .string(env), "by": Self.caller(context)])
                components.audit(context.id, "grant.removed", actor: Self.subject(context), target: agent.rawValue, details: ["env": env])
                return Response(status: .noContent)
            }
        }
        router.get("/v1/secrets/agents/{agent}/env") { _, context in
            try await run(context) { credentials in try await release(context: context, credentials: credentials) }
        }
    }

    // MARK: Handlers

    private func set(
        _ path: SecretPath, field: String, schema: Schema, request: Request, context: AgentRequestContext, credentials: CredentialService
    ) async throws -> Response {
        let value = try await JSONBody.read(request, schema: schema)
        var bytes = Array((value[field]?.stringValue ?? "").utf8)
        defer { SecureBytes.wipe(&bytes) }
        try await credentials.set(path, secret: SecureBytes(copying: bytes))
        context.logger.notice("set secret", metadata: ["secret": .string(path.description), "by": Self.caller(context)])
        components.audit(context.id, "secret.set", actor: Self.subject(context), target: path.description)
        components.metrics.increment("agenthost_vault_operations_total", [("operation", "set")])
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    private func delete(_ path: SecretPath, context: AgentRequestContext, credentials: CredentialService) async throws -> Response {
        guard try await credentials.delete(path) else {
            throw HTTPRefusal(404, .notSet, "No secret is set at \(path).")
        }
        context.logger.notice("deleted secret", metadata: ["secret": .string(path.description), "by": Self.caller(context)])
        components.audit(context.id, "secret.deleted", actor: Self.subject(context), target: path.description)
        components.metrics.increment("agenthost_vault_operations_total", [("operation", "delete")])
        return Response(status: .noContent)
    }

    private func grant(_ request: Request, context: AgentRequestContext, credentials: CredentialService) async throws -> Response {
        let agent = try Self.agent(context)
        let value = try await JSONBody.read(request, schema: grantSchema)
        let path: SecretPath
        do {
            path = try SecretPath(value["secret"]?.stringValue ?? "")
        } catch let error as AgentHostError {
            throw HTTPRefusal(400, .invalidSecretPath, error.message)
        }
        let env = value["env"]?.stringValue ?? ""
        // A secret an upstream injects is not also released, unless the grant says so.
        let proxyOnly: Bool
        if case .bool(let given)? = value["proxy_only"] {
            proxyOnly = given
        } else {
            proxyOnly = components.configuration.upstreams.contains { $0.grant == env }
        }
        try await credentials.grant(agent: agent, secret: path, env: env, proxyOnly: proxyOnly)
        components.audit(
            context.id, "grant.added", actor: Self.subject(context), target: agent.rawValue,
            details: ["env": env, "secret": path.description, "proxy_only": String(proxyOnly)])
        context.logger.notice(
            "granted secret",
            metadata: [
                "agent": .string(agent.rawValue), "env": .string(env), "secret": .string(path.description),
                "proxy_only": .stringConvertible(proxyOnly), "by": Self.caller(context),
            ]
        )
        return JSONBody.response(
            .object([
                "agent": .string(agent.rawValue), "env": .string(env), "secret": .string(path.description), "proxy_only": .bool(proxyOnly),
            ]), status: .created
        )
    }

    /// `GET /v1/secrets/agents/{agent}/env`: the policy has already allowed the caller (the agent
    /// itself, or a principal allowed to release secrets). Header-trust identities are refused:
    /// anyone on the network could claim to be the agent.
    private func release(context: AgentRequestContext, credentials: CredentialService) async throws -> Response {
        let agent = try Self.agent(context)
        guard let caller = context.principal, caller.subject.isProven else {
            throw HTTPRefusal(
                403, .tokenRequired, "Secrets are released only to a caller that proved who it is, never to header-trust identities.")
        }
        if case .lease = caller.subject {
            // A launched agent's only secret is its lease: its upstreams are brokered.
            throw HTTPRefusal(
                403, .proxyOnly, "A launched agent's lease releases no secret: call its upstreams through /proxy/{upstream}/... instead.")
        }
        var body: [UInt8] = []
        defer { SecureBytes.wipe(&body) }
        let summary = try await credentials.release(agent: agent, into: &body)
        if summary.released.isEmpty, summary.missing.isEmpty, summary.unreadable.isEmpty, !summary.proxyOnly.isEmpty {
            throw HTTPRefusal(
                403, .proxyOnly,
                "Every secret granted to \(agent) is proxy-only: call its upstream through /proxy/{upstream}/... instead.")
        }
        components.metrics.increment("agenthost_vault_operations_total", [("operation", "release")])
        components.audit(
            context.id, "secret.released", actor: caller.id, target: agent.rawValue,
            details: [
                "env": summary.released.joined(separator: ","), "missing": summary.missing.joined(separator: ","),
                "unreadable": summary.unreadable.joined(separator: ","), "proxy_only": summary.proxyOnly.joined(separator: ","),
            ]
        )
        context.logger.notice(
            "released secrets",
            metadata: [
                "agent": .string(agent.rawValue), "by": .string(caller.id),
                "env": .array(summary.released.map { .string($0) }), "missing": .array(summary.missing.map { .string($0) }),
                "unreadable": .array(summary.unreadable.map { .string($0) }),
            ]
        )
        // NIO sends and frees this copy; the array is wiped on return.
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
        )
    }

    // MARK: Helpers

    /// Runs `body` with the credential service, turning vault, store and input errors into
    /// problem responses that never carry secret bytes.
    private func run(_ context: AgentRequestContext, _ body: (CredentialService) async throws -> Response) async throws -> Response {
        guard let credentials else {
            throw HTTPRefusal(503, .vaultUnavailable, "This server was started without a credential store.")
        }
        do {
            return try await body(credentials)
        } catch let error as CredentialError {
            throw HTTPRefusal(400, error.code.problemCode, error.reason)
        } catch let error as VaultError {
            context.logger.error("vault refused", metadata: ["code": .string(error.code.description)])
            switch error.code {
            case .recordMismatch, .unknownKeyVersion, .keyVersionRetired, .malformed:
                throw HTTPRefusal(409, .secretUnreadable, "The stored secret does not open (\(error.code.description)); set it again.")
            case .secretTooLarge:
                throw HTTPRefusal(400, .invalidSecret, error.reason)
            case .rotationRequired:
                throw HTTPRefusal(503, .rotationRequired, error.reason)
            default:  // no key, an inconsistent keyring, a crypto failure
                throw HTTPRefusal(500, .vaultFailure, "The vault failed; nothing was changed.")
            }
        } catch let error as StoreError {
            context.logger.error("store refused", metadata: ["code": .string(error.code.description), "reason": .string(error.reason)])
            if error.code == .corrupt {
                throw HTTPRefusal(409, .secretUnreadable, "The stored secret is damaged; set it again.")
            }
            throw HTTPRefusal(503, .storeUnavailable, "The credential store cannot be reached; nothing was changed. Try again later.")
        }
    }

    /// A path parameter that must be 1-128 of A-Z a-z 0-9 _ -.
    private static func name(_ context: AgentRequestContext, _ parameter: String) throws -> String {
        let value = context.parameters.get(parameter) ?? ""
        guard (try? AgentID(value)) != nil else {
            throw HTTPRefusal(400, .invalidName, "The \(parameter) name must be 1-128 of A-Z a-z 0-9 _ -.")
        }
        return value
    }

    private static func agent(_ context: AgentRequestContext) throws -> AgentID {
        guard let agent = try? AgentID(context.parameters.get("agent") ?? "") else {
            throw HTTPRefusal(400, .invalidName, "The agent id must be 1-128 of A-Z a-z 0-9 _ -.")
        }
        return agent
    }

    private static func caller(_ context: AgentRequestContext) -> Logger.MetadataValue {
        .string(context.principal?.id ?? "-")
    }

    private static func subject(_ context: AgentRequestContext) -> String {
        context.principal?.id ?? "anonymous"
    }

    private static func timestamp(_ seconds: Int64?) -> JSONValue {
        seconds.map { .string(UTCTimestamp.string(seconds: $0)) } ?? .null
    }
}
