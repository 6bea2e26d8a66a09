import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SecurityCore

/// The launcher's side of the run routes: starts a run, renews its lease, ends it, over HTTP to
/// a running AgentHost with the launcher's own credential.
///
/// The credential and the lease never appear in an error or a `description`.
package struct RunClient: Sendable, CustomStringConvertible {
    /// AgentHost's base URL, without a trailing `/`.
    package let server: String
    private let credential: String
    private let client: HTTPClient

    package init(server: String, credential: String) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.credential = credential
        self.client = .shared
    }

    package var description: String { "RunClient(\(server), credential: redacted)" }

    /// A run the server started.
    package struct Started: Sendable, CustomStringConvertible {
        package let runID: String
        package let lease: String
        package let expiresAt: String
        package let leaseTTL: Int64
        package let renewEvery: Int64
        package let upstreams: [LaunchEnvironment.Upstream]
        /// The server's CONNECT proxy port, if it opens one.
        package let connectPort: Int?

        package var description: String { "Started(run: \(runID), expires: \(expiresAt), lease: redacted)" }
    }

    /// What the launcher asks for.
    package struct Request: Sendable {
        package var agent: String
        package var role: String
        package var team: String
        package var command: String
        package var upstreams: [String]?
        package var allowedHosts: [String]
        package var sandbox: String
        package var ttl: Int64?

        package init(
            agent: String, role: String, team: String, command: String, upstreams: [String]?, allowedHosts: [String], sandbox: String,
            ttl: Int64?
        ) {
            self.agent = agent
            self.role = role
            self.team = team
            self.command = command
            self.upstreams = upstreams
            self.allowedHosts = allowedHosts
            self.sandbox = sandbox
            self.ttl = ttl
        }
    }

    /// Starts a run: `POST /api/runs`.
    package func start(_ request: Request) async throws -> Started {
        var body: [String: JSONValue] = [
            "agent_id": .string(request.agent), "role": .string(request.role), "team": .string(request.team),
            "command": .string(request.command), "allow_hosts": .array(request.allowedHosts.map { .string($0) }),
            "sandbox": .string(request.sandbox),
        ]
        if let upstreams = request.upstreams { body["upstreams"] = .array(upstreams.map { .string($0) }) }
        if let ttl = request.ttl { body["ttl"] = .integer(ttl) }
        let reply = try await call(.POST, "/api/runs", body: .object(body), expecting: 201)
        guard let runID = reply["run_id"]?.stringValue, let lease = reply["lease"]?.stringValue,
            let ttl = reply["lease_ttl_seconds"]?.integerValue, let every = reply["renew_every_seconds"]?.integerValue
        else { throw RunClientError("the server's answer to starting a run is missing fields") }
        let upstreams = (reply["upstreams"]?.arrayValue ?? []).compactMap { entry -> LaunchEnvironment.Upstream? in
            guard let name = entry["name"]?.stringValue, let path = entry["path"]?.stringValue,
                case .object(let variables)? = entry["environment"]
            else { return nil }
            var git = false
            if case .bool(true)? = entry["git"] { git = true }
            return LaunchEnvironment.Upstream(
                name: name, path: path, environment: variables.compactMapValues(\.stringValue), git: git)
        }
        return Started(
            runID: runID, lease: lease, expiresAt: reply["expires_at"]?.stringValue ?? "-", leaseTTL: ttl, renewEvery: every,
            upstreams: upstreams, connectPort: reply["connect_port"]?.integerValue.map { Int($0) })
    }

    /// How a renewal went.
    package enum Renewal: Sendable, Equatable {
        case renewed
        /// The run is over (`ended`, `lapsed`, `expired`): the command must stop.
        case over(String)
    }

    /// Renews the lease: `POST /api/runs/{run}/renew`. Throws when the server cannot be reached
    /// or answers otherwise.
    package func renew(_ runID: String) async throws -> Renewal {
        do {
            _ = try await call(.POST, "/api/runs/\(runID)/renew", body: nil, expecting: 200)
            return .renewed
        } catch let error as RunClientError where error.status == 409 || error.status == 404 {
            return .over(error.state ?? "ended")
        }
    }

    /// Ends the run with the command's exit status: `POST /api/runs/{run}/end`.
    package func end(_ runID: String, exitStatus: Int32) async throws {
        _ = try await call(
            .POST, "/api/runs/\(runID)/end", body: .object(["exit_status": .integer(Int64(min(max(exitStatus, 0), 255)))]),
            expecting: 200)
    }

    /// Revokes token `tokenID`: `POST /api/tokens/revoke`.
    package func revoke(tokenID: String) async throws {
        _ = try await call(.POST, "/api/tokens/revoke", body: .object(["token_id": .string(tokenID)]), expecting: 204)
    }

    private func call(_ method: HTTPMethod, _ path: String, body: JSONValue?, expecting status: Int) async throws -> JSONValue {
        var request = HTTPClientRequest(url: server + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer " + credential)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.json))
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(10))
        } catch {
            throw RunClientError("AgentHost at \(server) cannot be reached (\(type(of: error)))")
        }
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let value = (try? JSONValue.parse(Array(bytes.readableBytesView))) ?? .null
        guard Int(response.status.code) == status else {
            let detail = value["detail"]?.stringValue ?? "no detail"
            let code = value["code"]?.stringValue ?? "-"
            throw RunClientError(
                "\(method.rawValue) \(path.split(separator: "/").prefix(3).joined(separator: "/")): \(response.status.code) \(code): \(detail)",
                status: Int(response.status.code), state: value["state"]?.stringValue)
        }
        return value
    }
}

/// Why the launcher could not talk to AgentHost: the route, the status and the server's problem
/// detail; never a credential.
package struct RunClientError: Error, CustomStringConvertible {
    package let message: String
    package let status: Int?
    /// A refused renewal's `state`.
    package let state: String?

    init(_ message: String, status: Int? = nil, state: String? = nil) {
        self.message = message
        self.status = status
        self.state = state
    }

    package var description: String { message }
}
