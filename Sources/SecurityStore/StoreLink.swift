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

    /// Throws ``StoreError`` for a URL that is not `postgres://user:password@host:port/database`;
    /// the message never repeats the URL, which may hold a password.
    init(url: String, logger: Logger) throws {
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

    func connect() async throws -> PostgresConnection {
        let id = connections.wrappingAdd(1, ordering: .relaxed).newValue
        do {
            return try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
        } catch {
            throw StoreError(.unavailable, "cannot connect to the PostgreSQL server (\(String(describing: type(of: error))))")
        }
    }
}
