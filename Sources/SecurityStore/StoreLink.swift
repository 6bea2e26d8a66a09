import Logging
import NIOCore
import PostgresKit
import SQLKit
import SQLiteKit
import Synchronization

/// The one connection a ``SQLSecurityStore`` talks over. A PostgreSQL connection that the server
/// dropped (a restart, a failover, a network cut) is opened again before the next operation, so
/// the store recovers by itself once the database is back; until then each operation fails with
/// ``StoreError/Code-swift.struct/unavailable``.
///
/// Only ``SQLSecurityStore/run(_:)`` uses it, one operation at a time.
final class StoreLink: Sendable {
    enum Connection: Sendable {
        case sqlite(SQLiteConnection)
        case postgres(PostgresConnection)

        var database: any SQLDatabase {
            switch self {
            case .sqlite(let connection): connection.sql(queryLogLevel: nil)
            case .postgres(let connection): connection.sql(queryLogLevel: nil)
            }
        }

        var isClosed: Bool {
            switch self {
            case .sqlite: false
            case .postgres(let connection): connection.isClosed
            }
        }

        func close() async throws {
            switch self {
            case .sqlite(let connection): try await connection.close()
            case .postgres(let connection): try await connection.close()
            }
        }
    }

    private let connection: Mutex<Connection>
    private let reconnect: PostgresLink?
    /// Set by ``close()``: a closed store stays closed.
    private let closed = Atomic<Bool>(false)

    init(_ connection: Connection, reconnect: PostgresLink? = nil) {
        self.connection = Mutex(connection)
        self.reconnect = reconnect
    }

    var database: any SQLDatabase { connection.withLock { $0.database } }

    /// Connects again when the connection has closed. Throws ``StoreError`` when it cannot.
    func reconnectIfClosed() async throws {
        guard let reconnect, connection.withLock({ $0.isClosed }) else { return }
        if closed.load(ordering: .relaxed) { throw StoreError(.unavailable, "the store is closed") }
        let fresh = try await reconnect.connect()
        connection.withLock { $0 = .postgres(fresh) }
    }

    /// Closes the connection under an operation that takes too long, which fails the operation;
    /// the next one connects again.
    func abandon() async {
        let current = connection.withLock { $0 }
        try? await current.close()
    }

    func close() async throws {
        closed.store(true, ordering: .relaxed)
        let current = connection.withLock { $0 }
        guard !current.isClosed else { return }
        try await current.close()
    }
}

/// How to open a connection to the PostgreSQL server a URL names: for the store, again after a
/// drop, and for a listener of its own.
final class PostgresLink: Sendable {
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let connections = Atomic<Int>(0)
    /// How long opening a connection may take in all: the driver's `connectTimeout` bounds only
    /// the TCP connect, and a server in the middle of a restart can accept a connection and then
    /// say nothing. Without this bound, the store's one connection waited for ever under its gate,
    /// and with it every operation (a server in the scale-out outage test stopped answering).
    let openTimeout: Duration

    /// How long opening a connection may take when none is given: 10 s, the store's bound on one
    /// operation.
    static let defaultOpenTimeout = Duration.seconds(10)

    /// Throws ``StoreError`` for a URL that is not `postgres://user:password@host:port/database`;
    /// the message never repeats the URL, which may hold a password.
    init(url: String, logger: Logger, openTimeout: Duration = PostgresLink.defaultOpenTimeout) throws {
        self.openTimeout = openTimeout
        do {
            var configuration = try SQLPostgresConfiguration(url: url).coreConfiguration
            // A database that does not answer should fail an operation soon, not hold the store's
            // one connection for the driver's default 10 s.
            configuration.options.connectTimeout = .seconds(3)
            self.configuration = configuration
        } catch {
            throw StoreError(.unavailable, "the database URL is not of the form postgres://user:password@host:port/database")
        }
        self.logger = logger
    }

    /// A new connection, or ``StoreError/Code-swift.struct/unavailable`` when none is open within
    /// ``openTimeout``. An attempt that completes after that is closed at once.
    func connect() async throws -> PostgresConnection {
        let id = connections.wrappingAdd(1, ordering: .relaxed).newValue
        let configuration = self.configuration, logger = self.logger, limit = openTimeout
        let answer = OneAnswer<PostgresConnection>()
        return try await withCheckedThrowingContinuation { continuation in
            answer.await(continuation)
            let timer = Task {
                try? await Task.sleep(for: limit)
                if answer.give(.failure(StoreError(.unavailable, "the PostgreSQL server did not complete a connection in time"))) {
                    answer.attempt.withLock { $0 }?.cancel()
                }
            }
            let connecting = Task {
                defer { timer.cancel() }
                do {
                    let connection = try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
                    if !answer.give(.success(connection)) { try? await connection.close() }
                } catch {
                    answer.give(
                        .failure(
                            StoreError(.unavailable, "cannot connect to the PostgreSQL server (\(String(describing: type(of: error))))")))
                }
            }
            answer.attempt.withLock { $0 = connecting }
        }
    }
}

/// The first of several racing results, given to one waiting continuation exactly once.
private final class OneAnswer<Value: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<Value, any Error>?, answered: Bool)>((nil, false))
    /// The work that may answer late, to cancel once another result has come first.
    let attempt = Mutex<Task<Void, Never>?>(nil)

    func await(_ continuation: CheckedContinuation<Value, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    /// Resumes the waiter with `result` unless another result came first; whether this one counted.
    @discardableResult
    func give(_ result: Result<Value, any Error>) -> Bool {
        let waiter: CheckedContinuation<Value, any Error>? = state.withLock { state in
            guard !state.answered else { return nil }
            state.answered = true
            defer { state.continuation = nil }
            return state.continuation
        }
        waiter?.resume(with: result)
        return waiter != nil
    }
}
