import Foundation
import Synchronization

/// A TCP connection to 127.0.0.1 driven by hand, with no HTTP client in between: a test can stall
/// halfway through a request head, or send one that no client library would. Every wait is bounded
/// and happens on a thread of its own (`offThePool`).
final class RawConnection: Sendable {
    private let socket: Int32
    private let closed = Atomic(false)

    /// Connects to `port` on 127.0.0.1; throws when nothing accepts.
    init(port: Int) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            // Through close(), which closes once: deinit still runs after a throw from a class's
            // init once every property is set, and a second close(2) of the number would close
            // whatever descriptor took it meanwhile (CI saw NIO's new socket fail getsockname
            // with EBADF in a concurrent test).
            close()
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit { close() }

    func close() {
        if !closed.exchange(true, ordering: .acquiringAndReleasing) { Glibc.close(socket) }
    }

    /// Sends all of `bytes`; `false` when the peer closed, reset, or stopped reading for 2 seconds.
    @discardableResult
    func send(_ bytes: [UInt8]) async -> Bool {
        await offThePool { self.sendBlocking(bytes) }
    }

    @discardableResult
    func send(_ text: String) async -> Bool { await send(Array(text.utf8)) }

    /// What arrived before the server closed the connection or `timeout` passed, and whether it
    /// closed (a FIN or a reset) within that time.
    func readUntilClosed(timeout: Duration) async -> (bytes: [UInt8], closed: Bool) {
        await offThePool { self.read(timeout: timeout) { _ in false } }
    }

    /// One response: read until its head and its `Content-Length` body are in, the connection
    /// closes, or `timeout` passes. `nil` when no complete head arrived.
    func readResponse(timeout: Duration = .seconds(10)) async -> RawResponse? {
        let (bytes, _) = await offThePool { self.read(timeout: timeout) { RawResponse(bytes: $0, requireBody: true) != nil } }
        return RawResponse(bytes: bytes, requireBody: false)
    }

    private func sendBlocking(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            var ready = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
            guard poll(&ready, 1, 2_000) == 1, ready.revents & Int16(POLLOUT) != 0 else { return false }
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    /// Reads until `done(bytes so far)`, the peer closes, or `timeout`.
    private func read(timeout: Duration, until done: ([UInt8]) -> Bool) -> (bytes: [UInt8], closed: Bool) {
        let deadline = ContinuousClock.now + timeout
        var bytes = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !done(bytes) {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { return (bytes, false) }
            var ready = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(max(1, left.components.seconds * 1_000 + left.components.attoseconds / 1_000_000_000_000_000))
            guard poll(&ready, 1, milliseconds) == 1 else { continue }
            let count = recv(socket, &buffer, buffer.count, 0)
            if count <= 0 { return (bytes, true) }
            bytes += buffer[..<count]
        }
        return (bytes, false)
    }

    /// Raises this process's open-file limit to its hard limit (children inherit it), so that a
    /// test can hold a thousand connections open.
    static func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

/// An HTTP/1.1 response as the bytes on the wire give it.
struct RawResponse {
    let status: Int
    /// Header names lowercased.
    let headers: [String: String]
    let body: String

    init?(bytes: [UInt8], requireBody: Bool) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return nil }
        let lines = text[..<end.lowerBound].split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1.1 "),
            let status = Int(statusLine.dropFirst(9).prefix(3))
        else { return nil }
        var headers = [String: String]()
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = text[end.upperBound...]
        if requireBody, let length = headers["content-length"].flatMap(Int.init), body.utf8.count < length { return nil }
        self.status = status
        self.headers = headers
        self.body = String(body)
    }
}

/// The resident memory of process `pid` in bytes, from /proc; 0 when it cannot be read.
func residentBytes(of pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1_024
}
