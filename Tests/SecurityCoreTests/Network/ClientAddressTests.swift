import SecurityCore
import Testing

struct IPAddressTests {
    @Test(
        arguments: [
            ("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("::ffff:10.1.2.3", "10.1.2.3"), ("2001:DB8::1", "2001:db8::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("::", "::"), ("fe80::1:2", "fe80::1:2"),
            ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("1::", "1::"), ("0.0.0.0", "0.0.0.0"),
        ] as [(String, String)])
    func parsesAndPrintsCanonically(text: String, canonical: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == canonical)
        #expect(IPAddress(canonical) == address)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "1..2.3", "::1::", "1:2:3:4:5:6:7:8:9",
        "::1:2:3:4:5:6:7:8", "12345::", "fe80::1%eth0", "[::1]", "g::1", "1.2.3.4 ", " 1.2.3.4", "::ffff:1.2.3",
        "localhost", "1.2.3.4:80", ":::",
    ])
    func refusesAnythingElse(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func loopback() throws {
        #expect(try #require(IPAddress("127.9.9.9")).isLoopback)
        #expect(try #require(IPAddress("::1")).isLoopback)
        #expect(try #require(IPAddress("::ffff:127.0.0.1")).isLoopback)
        #expect(!(try #require(IPAddress("10.0.0.1")).isLoopback))
        #expect(!(try #require(IPAddress("::2")).isLoopback))
    }

    @Test func networks() throws {
        let tenSlash8 = try #require(IPNetwork("10.0.0.0/8"))
        #expect(tenSlash8.contains(try #require(IPAddress("10.200.1.1"))))
        #expect(tenSlash8.contains(try #require(IPAddress("::ffff:10.0.0.1"))))
        #expect(!tenSlash8.contains(try #require(IPAddress("11.0.0.1"))))
        let ula = try #require(IPNetwork("fd00::/8"))
        #expect(ula.contains(try #require(IPAddress("fd12::1"))))
        #expect(!ula.contains(try #require(IPAddress("fe80::1"))))
        let single = try #require(IPNetwork("192.168.1.10"))
        #expect(single.contains(try #require(IPAddress("192.168.1.10"))))
        #expect(!single.contains(try #require(IPAddress("192.168.1.11"))))
        #expect(try #require(IPNetwork("0.0.0.0/0")).contains(try #require(IPAddress("8.8.8.8"))))
        #expect(tenSlash8.description == "10.0.0.0/8")
        for bad in ["10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "::/129", "x/8", "10.0.0.0/8/1"] {
            #expect(IPNetwork(bad) == nil, "\(bad)")
        }
    }
}

struct ClientAddressResolverTests {
    let proxies = ClientAddressResolver(trustedProxies: [IPNetwork("10.0.0.0/8")!, IPNetwork("::1")!])

    func header(_ name: String, _ value: String) -> HeaderField { HeaderField(name: name, value: value) }

    @Test func withoutTrustedProxiesForwardingHeadersChangeNothing() {
        let plain = ClientAddressResolver()
        let spoofed = [header("X-Forwarded-For", "1.2.3.4"), header("Forwarded", "for=5.6.7.8")]
        #expect(plain.clientAddress(peer: "203.0.113.9", headers: spoofed)?.description == "203.0.113.9")
    }

    @Test func untrustedPeerIsTheClientWhateverItSends() {
        let spoofed = [header("X-Forwarded-For", "1.2.3.4")]
        #expect(proxies.clientAddress(peer: "203.0.113.9", headers: spoofed)?.description == "203.0.113.9")
    }

    @Test func rightMostUntrustedAddressWins() {
        // The client wrote "1.1.1.1" itself; the trusted proxy 10.0.0.2 appended what it saw.
        let headers = [header("X-Forwarded-For", "1.1.1.1, 198.51.100.7"), header("X-Forwarded-For", "10.0.0.2")]
        #expect(proxies.clientAddress(peer: "10.0.0.1", headers: headers)?.description == "198.51.100.7")
    }

    @Test func forwardedIsPreferredAndParsed() {
        let headers = [
            header("X-Forwarded-For", "9.9.9.9"),
            header("Forwarded", #"for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711""#),
        ]
        #expect(proxies.clientAddress(peer: "::1", headers: headers)?.description == "2001:db8:cafe::17")
        let obfuscated = [header("Forwarded", "for=unknown")]
        #expect(proxies.clientAddress(peer: "10.0.0.1", headers: obfuscated)?.description == "10.0.0.1")
    }

    @Test func garbageFromBehindAProxyFallsBackToTheProxy() {
        let headers = [header("X-Forwarded-For", "not-an-address")]
        #expect(proxies.clientAddress(peer: "10.0.0.1", headers: headers)?.description == "10.0.0.1")
        let allProxies = [header("X-Forwarded-For", "10.0.0.3, 10.0.0.2")]
        #expect(proxies.clientAddress(peer: "10.0.0.1", headers: allProxies)?.description == "10.0.0.3")
    }

    @Test func peerWithPortAndUnknownPeer() {
        #expect(proxies.clientAddress(peer: "203.0.113.9:5555", headers: [])?.description == "203.0.113.9")
        #expect(proxies.clientAddress(peer: nil, headers: []) == nil)
        #expect(proxies.clientAddress(peer: "garbage", headers: []) == nil)
    }

    @Test func localMeansALoopbackPeerThatIsNoProxyAndForwardsNothing() {
        let direct = ClientAddressResolver()
        let proxied = ClientAddressResolver(trustedProxies: [IPNetwork("127.0.0.1/32")!])
        func fields(_ pairs: [(String, String)]) -> [HeaderField] { pairs.map { HeaderField(name: $0.0, value: $0.1) } }
        for peer in ["127.0.0.1", "127.0.0.1:5000", "::1", "[::1]:80", "127.3.2.1"] {
            #expect(direct.isLocal(peer: peer, headers: []), "\(peer)")
        }
        for peer in [nil, "", "10.0.0.1", "::2", "localhost", "garbage"] as [String?] {
            #expect(!direct.isLocal(peer: peer, headers: []), "\(peer ?? "nil")")
        }
        // A proxy on this host relays every client from loopback: configured or not, it is not local.
        #expect(!proxied.isLocal(peer: "127.0.0.1", headers: []))
        #expect(proxied.isLocal(peer: "127.0.0.2", headers: []))
        for header in ["X-Forwarded-For", "x-forwarded-for", "Forwarded", "X-Real-IP", "X-Forwarded-Host", "X-FORWARDED-PROTO"] {
            #expect(!direct.isLocal(peer: "127.0.0.1", headers: fields([(header, "203.0.113.9")])), "\(header)")
        }
        // Names that only look alike do not count.
        #expect(direct.isLocal(peer: "127.0.0.1", headers: fields([("X-Forwarded", "1"), ("X-Forwarded-", "1"), ("Forwarded-For", "1")])))
    }
}
