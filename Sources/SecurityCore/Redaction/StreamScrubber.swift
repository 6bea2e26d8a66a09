/// Masks a few known secrets in a byte stream that arrives in pieces, such as an upstream's answer
/// streamed back through a proxy.
///
/// Each secret is looked for in every form ``SecretRedactor`` knows (raw, base64 padded and not,
/// base64url, hex in either case, and URL-encoded), and every occurrence is replaced by as many `*`
/// as it had bytes: the stream keeps its length, so a `Content-Length` stays true and JSON stays
/// JSON. An occurrence split across pieces is found too: bytes that may begin a secret are held back
/// until the next piece says whether they do, and ``finish()`` releases them at the end. Text that
/// cannot begin a secret is passed on at once, so server-sent events still arrive event by event.
///
/// ```swift
/// var scrubber = StreamScrubber(secrets: [apiKey])
/// for try await piece in upstream { try await send(scrubber.scrub(piece)) }
/// try await send(scrubber.finish())
/// ```
///
/// The secrets' forms are kept in ``SecureBytes`` (wiped when the last copy goes); bytes held back
/// are wiped when they are passed on.
public struct StreamScrubber: Sendable {
    /// Every form of every secret, back to back.
    private let forms: SecureBytes
    /// Where each form starts in `forms`, and its length, longest first.
    private let spans: [(start: Int, count: Int)]
    /// Every form is at least this long (at least 2: a secret has at least
    /// ``SecretRedactor/minimumLength`` bytes), up to 64.
    private let window: Int
    /// A bit per pair of bytes found at some offset below `window - 1` in some form.
    private let pairs: [UInt64]
    /// For each such pair, the offsets (as bits) where a form has it.
    private let offsets: [UInt16: UInt64]
    /// A bit per byte that begins some form.
    private let firstBytes: [UInt64]
    /// Bytes that may begin a form that the next piece completes.
    private var pending: [UInt8] = []

    /// A scrubber for `secrets`; secrets shorter than ``SecretRedactor/minimumLength`` bytes are
    /// ignored, as the redactor ignores them (they would mask ordinary words).
    public init(secrets: [SecureBytes]) {
        var all: [[UInt8]] = []
        for secret in secrets where secret.count >= SecretRedactor.minimumLength {
            var raw = Array(secret)
            all += SecretRedactor.forms(of: raw)
            SecureBytes.wipe(&raw)
        }
        all.sort { $0.count > $1.count }
        let window = min(64, all.map(\.count).min() ?? 2)
        var spans: [(start: Int, count: Int)] = []
        var pairs = [UInt64](repeating: 0, count: all.isEmpty ? 0 : 1024)
        var offsets: [UInt16: UInt64] = [:]
        var firstBytes = [UInt64](repeating: 0, count: 4)
        var start = 0
        for form in all {
            spans.append((start, form.count))
            firstBytes[Int(form[0] >> 6)] |= 1 << UInt64(form[0] & 63)
            for offset in 0..<(window - 1) {
                let pair = UInt16(form[offset]) << 8 | UInt16(form[offset + 1])
                pairs[Int(pair >> 6)] |= 1 << UInt64(pair & 63)
                offsets[pair, default: 0] |= 1 << UInt64(offset)
            }
            start += form.count
        }
        self.forms = SecureBytes(copying: all.joined())
        for index in all.indices { SecureBytes.wipe(&all[index]) }
        self.spans = spans
        self.window = window
        self.pairs = pairs
        self.offsets = offsets
        self.firstBytes = firstBytes
    }

    /// Whether there is anything to look for.
    public var isEmpty: Bool { spans.isEmpty }

    /// `piece` with every secret masked, less any bytes at its end that may begin a secret (they
    /// come out of a later call, or of ``finish()``).
    public mutating func scrub(_ piece: some Collection<UInt8>) -> [UInt8] {
        guard !spans.isEmpty else { return Array(piece) }
        var data = pending
        data.append(contentsOf: piece)
        SecureBytes.wipe(&pending)
        pending = []
        defer { SecureBytes.wipe(&data) }
        let (output, held) = mask(data, holdingBack: true)
        pending = held
        return output ?? data
    }

    /// ``scrub(_:)`` for a piece in memory, or `nil` when the piece passes as it is (nothing to mask,
    /// nothing held back, nothing held from before): the caller then sends its own buffer, uncopied.
    /// This is the common case, and a download's pace depends on it.
    public mutating func scrubIfNeeded(_ piece: [UInt8]) -> [UInt8]? {
        guard !spans.isEmpty else { return nil }
        guard pending.isEmpty else { return scrub(piece) }
        let (output, held) = mask(piece, holdingBack: true)
        pending = held
        return output
    }

    /// The bytes held back, masked: call once the stream has ended.
    public mutating func finish() -> [UInt8] {
        guard !pending.isEmpty else { return [] }
        var data = pending
        SecureBytes.wipe(&pending)
        pending = []
        defer { SecureBytes.wipe(&data) }
        return mask(data, holdingBack: false).output ?? data
    }

    /// `text`, a whole value such as a header, with every form of the secrets masked; `text`
    /// itself when it holds none.
    public func scrubbed(_ text: String) -> String {
        guard let shortest = spans.last?.count, text.utf8.count >= shortest else { return text }
        var data = Array(text.utf8)
        defer { SecureBytes.wipe(&data) }
        guard let output = mask(data, holdingBack: false).output else { return text }
        return String(decoding: output, as: UTF8.self)
    }

    /// `bytes`, a whole value such as a header, with every secret masked.
    public func scrubbed(_ bytes: some Collection<UInt8>) -> [UInt8] {
        guard !spans.isEmpty else { return Array(bytes) }
        var data = Array(bytes)
        defer { SecureBytes.wipe(&data) }
        return mask(data, holdingBack: false).output ?? data
    }

    /// `data` masked: `output` is `nil` when nothing in it changes. With `holdingBack`, a tail that
    /// is the start of a form is not in `output` but in `held`, for the next piece to complete.
    ///
    /// Every form is at least `window` bytes long, so every occurrence covers `window - 1`
    /// positions in a row, one of which is a multiple of `window - 1`. Only those positions are
    /// looked at: the pair of bytes there, against the pairs the forms have in their first
    /// `window` bytes, says where an occurrence could have started, and only those starts are
    /// compared. A download passes with one look per `window - 1` bytes (6 or more): this scan
    /// sets the pace of a proxied download (Docs/BENCHMARKS.md, "The proxy"). Occurrences that run
    /// past the end of `data` start in its last bytes, which are compared one by one.
    private func mask(_ data: [UInt8], holdingBack: Bool) -> (output: [UInt8]?, held: [UInt8]) {
        // Shorter than every form, and nothing to hold back for: nothing to do (most header values).
        if !holdingBack, data.count < spans.last?.count ?? 0 { return (nil, []) }
        var output: [UInt8]?
        var copied = 0  // data[..<copied] is in output, or unchanged so far
        var index = 0  // everything before is decided
        let spans = self.spans, window = self.window, offsets = self.offsets, pairs = self.pairs, forms = self.forms
        let firstBytes = self.firstBytes
        let longest = spans.first?.count ?? 0
        // Starts at or after this may run past the end; they are looked at one by one.
        let tail = max(0, data.count - longest + 1)
        /// The longest form that starts at `start` and ends inside `data`, or 0.
        func fullMatch(at start: Int) -> Int {
            for span in spans where span.count <= data.count - start {
                if Self.equal(data, from: start, forms, span, count: span.count) { return span.count }
            }
            return 0
        }
        func replace(_ start: Int, _ count: Int) {
            if output == nil { output = [] }
            output?.append(contentsOf: data[copied..<start])
            output?.append(contentsOf: repeatElement(UInt8(ascii: "*"), count: count))
            copied = start + count
            index = copied
        }
        // The sampled positions, for occurrences that end inside data.
        let stride = window - 1
        var sample = 0
        while sample + 1 < data.count {
            let pair = UInt16(data[sample]) << 8 | UInt16(data[sample + 1])
            if pairs[Int(pair >> 6)] & (1 << UInt64(pair & 63)) != 0, var found = offsets[pair] {
                // Possible starts, earliest first: the highest offset is the earliest start.
                while found != 0 {
                    let offset = 63 - found.leadingZeroBitCount
                    found &= ~(1 << UInt64(offset))
                    let start = sample - offset
                    guard start >= index, start < tail else { continue }
                    let count = fullMatch(at: start)
                    if count > 0 { replace(start, count) }
                }
            }
            sample += stride
        }
        // The last bytes, one start at a time: full occurrences, and ones the next piece may complete.
        var start = max(index, tail)
        while start < data.count {
            // A byte that begins no form can neither end nor begin an occurrence here.
            guard firstBytes[Int(data[start] >> 6)] & (1 << UInt64(data[start] & 63)) != 0 else {
                start += 1
                continue
            }
            let remaining = data.count - start
            var matched = 0
            var mayContinue = false
            for span in spans {
                if span.count <= remaining {
                    if matched == 0, Self.equal(data, from: start, forms, span, count: span.count) { matched = span.count }
                } else if holdingBack, !mayContinue, Self.equal(data, from: start, forms, span, count: remaining) {
                    mayContinue = true
                }
            }
            if holdingBack, mayContinue {
                // A longer form may still complete here (base64 with its padding, say): wait
                // for the next piece, so the result does not depend on where pieces are cut.
                if output == nil, start > 0 || copied > 0 { output = [] }
                output?.append(contentsOf: data[copied..<start])
                return (output ?? [], Array(data[start...]))
            } else if matched > 0 {
                replace(start, matched)
                start = index
            } else {
                start += 1
            }
        }
        output?.append(contentsOf: data[copied...])
        return (output, [])
    }

    /// Whether `count` bytes of `data` from `offset` equal the first `count` bytes of the form at `span`.
    private static func equal(
        _ data: [UInt8], from offset: Int, _ forms: SecureBytes, _ span: (start: Int, count: Int), count: Int
    ) -> Bool {
        for position in 0..<count where data[offset + position] != forms[span.start + position] { return false }
        return true
    }
}
