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
    /// Whether some form starts with a byte, by byte.
    private let firstBytes: [Bool]
    /// Bytes that may begin a form that the next piece completes.
    private var pending: [UInt8] = []

    /// A scrubber for `secrets`; secrets shorter than ``SecretRedactor/minimumLength`` bytes are
    /// ignored, as the redactor ignores them (they would mask ordinary words).
    public init(secrets: [SecureBytes]) {
        var all: [[UInt8]] = []
        for secret in secrets where secret.count >= SecretRedactor.minimumLength {
            var raw = secret.withUnsafeBytes { Array($0) }
            all += SecretRedactor.forms(of: raw)
            SecureBytes.wipe(&raw)
        }
        all.sort { $0.count > $1.count }
        var spans: [(start: Int, count: Int)] = []
        var firstBytes = [Bool](repeating: false, count: 256)
        var offset = 0
        for form in all {
            spans.append((offset, form.count))
            firstBytes[Int(form[0])] = true
            offset += form.count
        }
        self.forms = SecureBytes(copying: all.joined())
        for index in all.indices { SecureBytes.wipe(&all[index]) }
        self.spans = spans
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
        let (output, held) = mask(data, holdingBack: true)
        pending = held
        return output
    }

    /// The bytes held back, masked: call once the stream has ended.
    public mutating func finish() -> [UInt8] {
        guard !pending.isEmpty else { return [] }
        let data = pending
        SecureBytes.wipe(&pending)
        pending = []
        return mask(data, holdingBack: false).output
    }

    /// `bytes`, a whole value such as a header, with every secret masked.
    public func scrubbed(_ bytes: some Collection<UInt8>) -> [UInt8] {
        mask(Array(bytes), holdingBack: false).output
    }

    /// `data` masked. With `holdingBack`, a tail that is the start of a form is not in `output`
    /// but in `held`, for the next piece to complete.
    private func mask(_ data: [UInt8], holdingBack: Bool) -> (output: [UInt8], held: [UInt8]) {
        var data = data
        defer { SecureBytes.wipe(&data) }
        var output = [UInt8]()
        output.reserveCapacity(data.count)
        let spans = self.spans, firstBytes = self.firstBytes
        let held: Int? = forms.withUnsafeBytes { forms in
            var index = 0
            while index < data.count {
                guard firstBytes[Int(data[index])] else {
                    output.append(data[index])
                    index += 1
                    continue
                }
                let remaining = data.count - index
                var matched = 0
                var mayContinue = false
                for span in spans {
                    if span.count <= remaining {
                        if matched == 0, Self.equal(data, from: index, forms, span, count: span.count) { matched = span.count }
                    } else if !mayContinue, Self.equal(data, from: index, forms, span, count: remaining) {
                        mayContinue = true
                    }
                }
                if holdingBack, mayContinue {
                    // A longer form may still complete here (base64 with its padding, say): wait
                    // for the next piece, so the result does not depend on where pieces are cut.
                    return index
                } else if matched > 0 {
                    output.append(contentsOf: repeatElement(UInt8(ascii: "*"), count: matched))
                    index += matched
                } else {
                    output.append(data[index])
                    index += 1
                }
            }
            return nil
        }
        return (output, held.map { Array(data[$0...]) } ?? [])
    }

    /// Whether `count` bytes of `data` from `offset` equal the first `count` bytes of the form at `span`.
    private static func equal(
        _ data: [UInt8], from offset: Int, _ forms: UnsafeRawBufferPointer, _ span: (start: Int, count: Int), count: Int
    ) -> Bool {
        for position in 0..<count where data[offset + position] != forms[span.start + position] { return false }
        return true
    }
}
