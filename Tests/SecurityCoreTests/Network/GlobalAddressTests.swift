import SecurityCore
import Testing

/// What an egress filter may let a name resolve to.
struct GlobalAddressTests {
    @Test(arguments: [
        "127.0.0.1", "127.0.0.2", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "255.255.255.255", "192.0.2.1", "::1", "::", "::127.0.0.1", "fe80::1", "fd00::1", "fc00::1",
        "ff02::1", "64:ff9b::a00:1", "2002:a00:1::", "2001:db8::1", "::ffff:10.0.0.1",
    ])
    func aPrivateLoopbackOrLinkLocalAddressIsNotGlobal(text: String) throws {
        #expect(try #require(IPAddress(text)).isGlobal == false)
    }

    @Test(arguments: ["1.1.1.1", "151.101.0.223", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "2a04:4e42::223"])
    func aPublicAddressIsGlobal(text: String) throws {
        #expect(try #require(IPAddress(text)).isGlobal)
    }
}

/// Hosts and ports as allow-lists and `CONNECT` name them.
struct HostPortTests {
    @Test(arguments: [
        ("PyPI.org", "pypi.org:443"), ("pypi.org:8443", "pypi.org:8443"), ("127.0.0.1:9", "127.0.0.1:9"), ("[::1]:9", "[::1]:9"),
        ("[2001:DB8::1]", "[2001:db8::1]:443"), ("a-b.example", "a-b.example:443"),
    ])
    func aHostIsReadOneWay(text: String, expected: String) throws {
        #expect(try #require(HostPort(text, defaultPort: 443)).description == expected)
    }

    @Test(arguments: ["", ":443", "::1:443", "[::1", "[1.2.3.4]:5", "bad host", "a..b", "-a.example", "x:0", "x:65536", "x:y"])
    func anythingElseIsRefused(text: String) {
        #expect(HostPort(text, defaultPort: 443) == nil)
    }

    @Test func withoutADefaultThePortIsRequired() {
        #expect(HostPort("pypi.org") == nil)
        #expect(HostPort("pypi.org:443")?.isIPLiteral == false)
        #expect(HostPort("10.0.0.1:22")?.isIPLiteral == true)
    }
}
