import SecurityCore
import Testing

struct ReturnURLGuardTests {
    static let home = "https://app.example.com/"
    let guarded = ReturnURLGuard(protectedHosts: ["app.example.com", "127.0.0.1", "Dashboard.Internal"], cookieDomain: nil, home: home)
    let sibling = ReturnURLGuard(protectedHosts: [], cookieDomain: "Example.com", home: home)

    @Test(arguments: [
        "https://app.example.com/", "https://app.example.com/reports?id=7#top", "https://APP.example.com:8443/x",
        "HTTPS://app.example.com", "http://127.0.0.1:8080/local", "https://dashboard.internal/a/b",
        "https://app.example.com/a?next=//elsewhere",
    ])
    func safeURLsToAProtectedHostAreKept(url: String) {
        #expect(guarded.destination(for: url) == url)
    }

    /// The list and the usual bypasses: each ends at home.
    @Test(arguments: [
        "https://evil.example/", "//evil.example", "https://app.example.com.evil.example/", "https://user:pw@app.example.com/",
        "https://app.example.com@evil.example/", "https://evil.example\\@app.example.com/", "https:/evil.example",
        "https:evil.example", "/relative/path", "javascript:alert(1)", "data:text/html,x", "http://app.example.com/",
        "https://app.example.com//evil.example", "https://app.example.com/a//b", "https://app.example.com\t/",
        "https://app.example.com\n.evil.example/", "https://app%2eexample.com/", "https://app.example.com%40evil.example/",
        "https://app.example.com./", "https://.app.example.com/", "https://app.example.com:80x/", "https://app.example.com:/",
        "https:///app.example.com", "https://", "", " https://app.example.com/", "https://app.example.com/ spaced",
        "https://аpp.example.com/", "ftp://app.example.com/", "http://localhost.evil.example/", "https://[::1/",
    ])
    func everythingElseGoesHome(url: String) {
        #expect(guarded.destination(for: url) == Self.home, "\(url)")
    }

    @Test func aMissingOrOverlongURLGoesHome() {
        #expect(guarded.destination(for: nil) == Self.home)
        let long = "https://app.example.com/" + String(repeating: "a", count: ReturnURLGuard.maximumLength)
        #expect(guarded.destination(for: long) == Self.home)
    }

    @Test(arguments: [
        ("https://example.com/", true), ("https://app.example.com/", true), ("https://a.b.example.com:444/", true),
        ("https://notexample.com/", false), ("https://example.com.evil.example/", false), ("https://evilexample.com/", false),
        ("https://example.co/", false),
    ])
    func theCookieDomainCoversItsSubdomainsOnADotBoundary(url: String, allowed: Bool) {
        #expect(sibling.isAllowed(url) == allowed, "\(url)")
    }

    @Test func plainHTTPOnlyToLoopback() {
        let local = ReturnURLGuard(protectedHosts: ["127.0.0.1", "localhost", "[::1]", "10.0.0.1"], cookieDomain: nil, home: "/")
        #expect(local.isAllowed("http://127.0.0.1/"))
        #expect(local.isAllowed("http://localhost:3000/"))
        #expect(local.isAllowed("http://[::1]:8080/"))
        #expect(!local.isAllowed("http://10.0.0.1/"))
        #expect(local.isAllowed("https://10.0.0.1/"))
    }
}
