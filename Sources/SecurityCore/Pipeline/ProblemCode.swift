/// Every `code` this package puts in a problem+json body: what clients match on, as one list.
///
/// A new code is one new case here. Docs/openapi.yaml lists the same codes as the `enum` of the
/// `Problem` schema's `code`, and a test holds the two to each other in both directions.
///
/// An embedder's codes of its own go in ``Problem/init(type:title:status:detail:code:extensions:)``,
/// which takes any string.
public enum ProblemCode: String, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    // Authentication (401), decided by the pipeline.
    case missingCredential = "missing_credential"
    case unsupportedScheme = "unsupported_scheme"
    case ambiguousCredentials = "ambiguous_credentials"
    case ambiguousIdentity = "ambiguous_identity"
    case identityMismatch = "identity_mismatch"
    case invalidIdentityHeaders = "invalid_identity_headers"
    case invalidToken = "invalid_token"
    case tokenExpired = "token_expired"
    case tokenRevoked = "token_revoked"
    case tokenNotYetValid = "token_not_yet_valid"
    case invalidLogin = "invalid_login"
    case invalidWebhookSignature = "invalid_webhook_signature"
    case passkeyRefused = "passkey_refused"

    // Authorization and origin (403).
    case forbidden
    case corsRefused = "cors_refused"
    case untrustedProxy = "untrusted_proxy"
    case roleAboveCaller = "role_above_caller"
    case tokenRequired = "token_required"
    case localOnly = "local_only"
    case invalidSetupToken = "invalid_setup_token"
    case noGrant = "no_grant"
    case notAllowed = "not_allowed"
    case proxyOnly = "proxy_only"
    case formRefused = "form_refused"
    case passkeysUnavailable = "passkeys_unavailable"

    // The request itself (400, 404, 405, 409, 413, 415, 429).
    case invalidPath = "invalid_path"
    case invalidJSON = "invalid_json"
    case validationFailed = "validation_failed"
    case invalidRequest = "invalid_request"
    case invalidName = "invalid_name"
    case invalidIdentity = "invalid_identity"
    case invalidSecret = "invalid_secret"
    case invalidSecretPath = "invalid_secret_path"
    case invalidEnvironmentName = "invalid_env"
    case missingDeliveryID = "missing_delivery_id"
    case missingOriginalRequest = "missing_original_request"
    case invalidOriginalMethod = "invalid_original_method"
    case credentialInURL = "credential_in_url"
    case websocketRequired = "websocket_required"
    case notFound = "not_found"
    case notSet = "not_set"
    case unknownUpstream = "unknown_upstream"
    case methodNotAllowed = "method_not_allowed"
    case exists
    case runEnded = "run_ended"
    case secretMissing = "secret_missing"
    case secretUnreadable = "secret_unreadable"
    case bodyTooLarge = "body_too_large"
    case unsupportedMediaType = "unsupported_media_type"
    case rateLimited = "rate_limited"

    // The server (500, 502, 503, 504).
    case internalError = "internal_error"
    case storeUnavailable = "store_unavailable"
    case vaultUnavailable = "vault_unavailable"
    case vaultFailure = "vault_failure"
    case accountsUnavailable = "accounts_unavailable"
    case auditUnavailable = "audit_unavailable"
    case rotationRequired = "rotation_required"
    case noSigningKey = "no_signing_key"
    case shuttingDown = "shutting_down"
    case notReady = "not_ready"
    case upstreamUnreachable = "upstream_unreachable"
    case upstreamEncoding = "upstream_encoding"
    case upstreamTimeout = "upstream_timeout"
    case upstreamBusy = "upstream_busy"

    // The HTTP edge, before a request is parsed.
    case tooManyConnections = "too_many_connections"
    case requestLineTooLong = "request_line_too_long"
    case headTooLarge = "head_too_large"
    case tooManyHeaderFields = "too_many_header_fields"
    case invalidHTTP = "invalid_http"
    case headTimeout = "head_timeout"
    case idleTimeout = "idle_timeout"
    case bodyTimeout = "body_timeout"

    // An HTTP framework's own errors, by status.
    case badRequest = "bad_request"
    case unauthorized
    case requestTimeout = "request_timeout"
    case contentTooLarge = "content_too_large"
    case unprocessableContent = "unprocessable_content"
    case requestHeaderFieldsTooLarge = "request_header_fields_too_large"
    case notImplemented = "not_implemented"
    case serviceUnavailable = "service_unavailable"

    public var description: String { rawValue }
}
