public import Hummingbird
public import NIOCore
public import SecurityCore

/// A request context ``SecurityMiddleware`` can run in: it knows the peer, and carries the
/// principal the middleware established to the route.
public protocol SecurityRequestContext: RequestContext, RemoteAddressRequestContext {
    /// Who the request acts for; `nil` until ``SecurityMiddleware`` allows it, and on public paths.
    var principal: Principal? { get set }
}

/// The request context AgentHost's routes run with: Hummingbird's core context, the peer address,
/// and the principal the security middleware established.
public struct AgentRequestContext: SecurityRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The socket peer, when the request came over a network channel.
    public let remoteAddress: SocketAddress?
    /// Who the request acts for; `nil` until ``SecurityMiddleware`` allows it, and on public paths.
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.principal = nil
    }
}
