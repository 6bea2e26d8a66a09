/// How the pipeline establishes identity.
public enum AuthenticationMode: String, Sendable, Hashable, CaseIterable {
    /// A credential is required on every protected route. The default.
    case secure
    /// For a trusted LAN (RoboCo's mode): a request without a credential is believed to be whoever
    /// its `X-Agent-ID` / `X-Agent-Role` / `X-Agent-Team` headers say. A credential that is
    /// presented is still verified, and a bad one is still refused.
    case headerTrust = "header-trust"
}
