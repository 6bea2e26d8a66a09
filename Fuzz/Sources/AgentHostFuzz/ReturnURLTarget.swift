import Foundation
import SecurityCore

/// `ReturnURLGuard`: where a browser may be sent after signing in.
///
/// Properties: the answer is the URL itself or the home URL, nothing else; an accepted URL is
/// `https:` (or `http:` to loopback) and, read by Foundation's `URLComponents`, has no user or
/// password and a host that is a protected host or lies under the cookie domain on a dot boundary.
enum ReturnURLTarget {
    static let home = "https://home.example/"
    static let guards = [
        ReturnURLGuard(protectedHosts: ["app.example.com", "127.0.0.1"], cookieDomain: nil, home: home),
        ReturnURLGuard(protectedHosts: [], cookieDomain: "example.com", home: home),
    ]

    static func run(_ input: inout FuzzInput) {
        let text = input.rest().text
        for (index, guarded) in guards.enumerated() {
            let destination = guarded.destination(for: text)
            require(destination == text || destination == home, "answered something else")
            guard guarded.isAllowed(text) else { continue }
            guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
                let host = components.host?.lowercased()
            else {
                return require(false, "accepted a URL Foundation cannot read: \(text)")
            }
            require(components.user == nil && components.password == nil, "accepted user info: \(text)")
            require(scheme == "https" || (scheme == "http" && (host == "127.0.0.1" || host == "localhost")), "accepted \(scheme): \(text)")
            let allowed =
                index == 0
                ? ["app.example.com", "127.0.0.1"].contains(host) : host == "example.com" || host.hasSuffix(".example.com")
            require(allowed, "accepted the host \(host): \(text)")
        }
    }
}
