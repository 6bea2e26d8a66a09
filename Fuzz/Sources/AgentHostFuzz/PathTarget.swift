@testable import SecurityCore

/// `RequestPath.canonical`, the one spelling policies and limits see, and the pipeline's use of it.
///
/// Properties: a path without escapes is its own spelling; a canonical path is absolute and holds
/// no control character and no `?` or `#` that an escape made; escaping it again and decoding gives
/// it back, and a canonical path with nothing left to decode is a fixed point (idempotent); it has
/// no `.` or `..` segment; a path template's walk over it agrees with its split; the pipeline
/// answers `400 invalid_path` exactly when there is no spelling.
enum PathTarget {
    static let pipeline: SecurityPipeline = {
        let key = try! TokenKey(id: KeyID("k-path"), secret: SecureBytes(copying: [UInt8](repeating: 7, count: 32)), status: .primary)
        let verifier = TokenVerifier(keyring: try! Keyring(keys: [key]), policy: try! TokenPolicy())
        return SecurityPipeline(configuration: .init(verifier: verifier, rateLimiter: nil))
    }()

    static let templates = ["/", "/**", "/a/**", "/a/{x}", "/{x}/b/**", "/a/b"].map { try! PathTemplate(validating: $0) }

    static func run(_ input: inout FuzzInput) {
        let bytes = input.rest()
        let raw = bytes.text
        let canonical = RequestPath.canonical(raw[...])
        if let canonical {
            let spelled = Array(canonical.utf8)
            require(spelled.first == UInt8(ascii: "/"), "not absolute")
            let segments = spelled.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            require(!segments.contains { $0.elementsEqual(".".utf8) || $0.elementsEqual("..".utf8) }, "a dot segment in \(canonical)")
            for template in templates {
                require(
                    template.matches(canonical) == (template.match(canonical) != nil), "\(template) walks and splits \(canonical) apart")
            }
            require(!spelled.contains { $0 < 0x20 || $0 == 0x7F }, "control character in \(canonical)")
            if !raw.utf8.contains(UInt8(ascii: "%")) {
                require(canonical == raw[...], "a path without escapes changed")
            } else {
                require(!(spelled.contains(UInt8(ascii: "?")) && !raw.utf8.contains(UInt8(ascii: "?"))), "an escape made a ?")
                require(!(spelled.contains(UInt8(ascii: "#")) && !raw.utf8.contains(UInt8(ascii: "#"))), "an escape made a #")
            }
            // Escaping can triple a path's length; past the cap the escaped form is refused, as it should be.
            let again = escaped(spelled)
            if again.utf8.count <= RequestPath.maximumLength {
                require(RequestPath.canonical(again[...]) == canonical, "escaping and decoding again changed \(canonical)")
            } else {
                require(RequestPath.canonical(again[...]) == nil, "a path over the cap was accepted")
            }
            if !spelled.contains(UInt8(ascii: "%")), !spelled.contains(UInt8(ascii: " ")) {
                require(RequestPath.canonical(canonical) == canonical, "not idempotent on \(canonical)")
            }
        }
        // The pipeline reads the path up to a `?` or `#`, and answers invalid_path exactly when that
        // has no spelling.
        let facts = RequestFacts(method: "GET", path: raw, headers: [], peerAddress: "127.0.0.1")
        let outcome = pipeline.evaluate(facts)
        let invalid: Bool
        if case .deny(let refusal) = outcome { invalid = refusal.problem.code == "invalid_path" } else { invalid = false }
        require(invalid == (RequestPath.canonical(facts.pathWithoutQuery) == nil), "the pipeline and canonical disagree on \(raw)")
    }

    /// `bytes` with `%`, space, and every byte that is not printable ASCII percent-escaped.
    static func escaped(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        for byte in bytes {
            if byte == UInt8(ascii: "%") || byte == UInt8(ascii: " ") || byte >= 0x7F || byte < 0x21 {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            } else {
                out.append(byte)
            }
        }
        return out.text
    }
}
