import Synchronization

/// Finds secrets in text and replaces them: every secret registered with it, in raw, base64
/// (padded and not), base64url, URL-encoded and hex form, and the shapes of well-known tokens
/// (`ghp_…`, `github_pat_…`, `ghs_…`, `glpat-…`, `sk-ant-…`, `Bearer …`, and every
/// ``CredentialKind`` it is given: AgentHost's own tokens and keys by default), whether or not they
/// were registered.
///
/// Register a secret when it is loaded; the redactor keeps at most ``capacity`` of them, forgetting
/// the oldest. Secrets shorter than ``minimumLength`` bytes are not registered: they would redact
/// ordinary words.
///
/// ```swift
/// let redactor = SecretRedactor()
/// redactor.register(key.secret)
/// redactor.redact("pushing with " + githubToken)  // "pushing with ghp_[REDACTED]"
/// ```
public final class SecretRedactor: Sendable {
    /// What replaces a registered secret.
    public static let marker = "[REDACTED]"
    /// What replaces a whole text that keeps holding a secret after every round of redaction (a
    /// secret that the marker itself spells, say): shorter than any registered secret, so it cannot
    /// hold one.
    public static let redactedText = "[***]"
    /// The shortest secret registered, in bytes.
    public static let minimumLength = 8

    private struct State {
        /// Each secret's forms, as bytes that are wiped when freed.
        var forms: [Int: [SecureBytes]] = [:]
        /// Ids, oldest first.
        var order: [Int] = []
        /// HMAC of each registered secret under a key of this process: a secret registered twice
        /// is kept once, without keeping another copy of it to compare with.
        var ids: [[UInt8]: Int] = [:]
        var digests: [Int: [UInt8]] = [:]
        /// Forms by their first two bytes.
        var index: [UInt16: [(id: Int, form: Int)]] = [:]
        /// A bit per first-two-bytes pair that some form has had, to skip most positions at once.
        var present = [UInt64](repeating: 0, count: 1024)
        var nextID = 0

        func mayStart(_ key: UInt16) -> Bool { present[Int(key >> 6)] & (1 << UInt64(key & 63)) != 0 }
    }

    private let state = Mutex(State())
    private let identity = HMACSHA256Key(SecureBytes.random(count: 32))
    /// How many secrets are remembered.
    public let capacity: Int

    /// The token shapes masked whether registered or not: the providers' and `credentialKinds`'.
    let shapes: [(prefix: [UInt8], minimumBody: Int, allowsDot: Bool)]

    /// A redactor remembering at most `capacity` secrets, that also masks every credential of
    /// `credentialKinds` by its shape.
    public init(capacity: Int = 10_000, credentialKinds: [CredentialKind] = CredentialKind.builtIn) {
        self.capacity = max(1, capacity)
        self.shapes = Self.providerShapes + credentialKinds.map { ($0.prefixBytes, $0.minimumBodyLength, $0.bodyAllowsDot) }
    }

    /// How many secrets are registered.
    public var count: Int { state.withLock { $0.forms.count } }

    /// Remembers `secret` in every form it could be logged in.
    /// Its forms are kept in ``SecureBytes``; the working copies are wiped.
    public func register(_ secret: SecureBytes) {
        guard secret.count >= Self.minimumLength else { return }
        let digest = identity.authenticationCode(for: secret)
        if state.withLock({ $0.ids[digest] != nil }) { return }
        var raw = Array(secret)
        var plain = Self.forms(of: raw)
        let forms = plain.map { SecureBytes(copying: $0) }
        SecureBytes.wipe(&raw)
        for index in plain.indices { SecureBytes.wipe(&plain[index]) }
        let capacity = self.capacity
        state.withLock { state in
            guard state.ids[digest] == nil else { return }
            let id = state.nextID
            state.nextID += 1
            state.forms[id] = forms
            state.order.append(id)
            state.ids[digest] = id
            state.digests[id] = digest
            for (number, form) in forms.enumerated() {
                let key = UInt16(form[0]) << 8 | UInt16(form[1])
                state.index[key, default: []].append((id, number))
                state.present[Int(key >> 6)] |= 1 << UInt64(key & 63)
            }
            while state.order.count > capacity {
                let oldest = state.order.removeFirst()
                if let gone = state.forms.removeValue(forKey: oldest) {
                    for form in gone {
                        let key = UInt16(form[0]) << 8 | UInt16(form[1])
                        state.index[key]?.removeAll { $0.id == oldest }
                    }
                }
                if let digest = state.digests.removeValue(forKey: oldest) { state.ids[digest] = nil }
            }
        }
    }

    /// `text` with every registered secret and every known token shape replaced.
    ///
    /// What a replacement leaves can itself hold a secret (text before a secret, the marker and
    /// text after it can spell one out), so the output is scanned again until nothing is found;
    /// after a few rounds the whole text becomes ``redactedText`` rather than risk a leak.
    public func redact(_ text: String) -> String {
        guard var current = redactOnce(text, tokenShapes: true) else { return text }
        // Later rounds look for registered secrets only: a token shape's replacement
        // (`Bearer [REDACTED]`) would match its own shape again.
        for _ in 0..<3 {
            guard let next = redactOnce(current, tokenShapes: false) else { return current }
            current = next
        }
        return redactOnce(current, tokenShapes: false) == nil ? current : Self.redactedText
    }

    /// `text` with each registered secret (and, with `tokenShapes`, each known token shape) found
    /// replaced once, or `nil` when none was found.
    private func redactOnce(_ text: String, tokenShapes: Bool) -> String? {
        let bytes = Array(text.utf8)
        var ranges = tokenShapes ? tokenRanges(in: bytes) : []
        state.withLock { state in
            guard !state.forms.isEmpty, bytes.count >= Self.minimumLength else { return }
            for start in 0..<(bytes.count - 1) {
                let key = Self.key(bytes, start)
                guard state.mayStart(key), let candidates = state.index[key] else { continue }
                var longest = 0
                for (id, number) in candidates {
                    guard let form = state.forms[id]?[number], form.count > longest, form.count <= bytes.count - start else { continue }
                    if bytes[start..<(start + form.count)].elementsEqual(form) { longest = form.count }
                }
                if longest > 0 { ranges.append((start, start + longest, 0)) }
            }
        }
        guard !ranges.isEmpty else { return nil }
        // Replace from left to right; overlapping ranges merge.
        ranges.sort { $0.start < $1.start }
        var output = [UInt8]()
        output.reserveCapacity(bytes.count)
        var position = 0
        for (start, end, keep) in ranges where end > position {
            let from = max(start, position)
            output.append(contentsOf: bytes[position..<from])
            if from == start { output.append(contentsOf: bytes[start..<(start + keep)]) }
            output.append(contentsOf: Self.marker.utf8)
            position = end
        }
        output.append(contentsOf: bytes[position...])
        return String(decoding: output, as: UTF8.self)
    }

    static func key(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    // MARK: Forms

    static func forms(of secret: [UInt8]) -> [[UInt8]] {
        let url = Array(Base64URL.encode(secret).utf8)
        let standard = url.map { $0 == UInt8(ascii: "-") ? UInt8(ascii: "+") : $0 == UInt8(ascii: "_") ? UInt8(ascii: "/") : $0 }
        let padding = [UInt8](repeating: UInt8(ascii: "="), count: (4 - standard.count % 4) % 4)
        let hex = Array("0123456789abcdef".utf8), upperHex = Array("0123456789ABCDEF".utf8)
        var lower = [UInt8](), upper = [UInt8](), percent = [UInt8](), strict = [UInt8]()
        for byte in secret {
            let escaped = [UInt8(ascii: "%"), upperHex[Int(byte >> 4)], upperHex[Int(byte & 0xF)]]
            lower += [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            upper += [upperHex[Int(byte >> 4)], upperHex[Int(byte & 0xF)]]
            // RFC 3986 leaves - . _ ~ alone; some encoders escape everything but letters and digits.
            if isUnreserved(byte) { percent.append(byte) } else { percent += escaped }
            if isUnreserved(byte), byte != UInt8(ascii: "-"), byte != UInt8(ascii: "."), byte != UInt8(ascii: "_"),
                byte != UInt8(ascii: "~")
            {
                strict.append(byte)
            } else {
                strict += escaped
            }
        }
        var all = [secret, url, standard, standard + padding, lower, upper, percent, strict]
        var seen = Set<[UInt8]>()
        all = all.filter { seen.insert($0).inserted }
        return all
    }

    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    // MARK: Token shapes

    /// Prefixes of providers' well-known tokens, and how many characters of body make one.
    static let providerShapes: [(prefix: [UInt8], minimumBody: Int, allowsDot: Bool)] = [
        ("github_pat_", 20, false), ("ghp_", 20, false), ("gho_", 20, false), ("ghu_", 20, false), ("ghs_", 20, false),
        ("ghr_", 20, false), ("glpat-", 16, false), ("sk-ant-", 16, false),
    ].map { (Array($0.0.utf8), $0.1, $0.2) }

    /// The ranges of token shapes in `bytes`, each with how many leading bytes stay visible.
    func tokenRanges(in bytes: [UInt8]) -> [(start: Int, end: Int, keep: Int)] {
        var ranges = [(start: Int, end: Int, keep: Int)]()
        var index = 0
        while index < bytes.count {
            var matched = false
            // "Bearer <anything up to whitespace>", any case of Bearer.
            if bytes[index] | 0x20 == UInt8(ascii: "b"), index + 7 < bytes.count,
                bytes[index..<(index + 6)].map({ $0 | 0x20 }).elementsEqual("bearer".utf8), bytes[index + 6] == UInt8(ascii: " ")
            {
                var end = index + 7
                while end < bytes.count, bytes[end] == UInt8(ascii: " ") { end += 1 }
                let bodyStart = end
                while end < bytes.count, !Self.isSpace(bytes[end]) { end += 1 }
                if end > bodyStart {
                    ranges.append((index, end, bodyStart - index))
                    index = end
                    matched = true
                }
            }
            if !matched {
                for shape in shapes where bytes.count - index >= shape.prefix.count + shape.minimumBody {
                    guard bytes[index..<(index + shape.prefix.count)].elementsEqual(shape.prefix) else { continue }
                    var end = index + shape.prefix.count
                    while end < bytes.count, CredentialKind.isBodyByte(bytes[end], allowsDot: shape.allowsDot) { end += 1 }
                    if end - index - shape.prefix.count >= shape.minimumBody {
                        ranges.append((index, end, shape.prefix.count))
                        index = end
                        matched = true
                    }
                    break
                }
            }
            if !matched { index += 1 }
        }
        return ranges
    }

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
            || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") || byte == UInt8(ascii: ",")
    }
}
