/// Finds where a request head ends in the bytes a client sends, and refuses one that is too
/// large, before the HTTP parser buffers it.
///
/// A head is the request line, the header lines and an empty line; a line ends at LF (a CR before
/// it is part of the line). Empty lines before the request line are skipped, as RFC 9112 §2.2
/// allows, but count toward ``ConnectionLimits/headBytes``. The scanner only counts: it never
/// decides what a head means, so it cannot disagree with the parser about a request's framing.
/// Feed it a head's bytes in any pieces; the answer does not depend on where they were cut.
struct RequestHeadScanner: Sendable {
    /// What the bytes so far say.
    enum Outcome: Equatable, Sendable {
        /// The head has not ended yet, and is within every limit.
        case incomplete
        /// The head ends `headEnd` bytes into the piece just scanned (after its empty line).
        case complete(headEnd: Int)
        /// A limit was passed.
        case refused(HeadRefusal)
    }

    /// Which limit a head passed.
    enum HeadRefusal: Equatable, Sendable {
        case requestLineTooLong
        case headTooLarge
        case tooManyFields
    }

    let limits: ConnectionLimits
    /// Bytes of this head so far.
    private(set) var bytes = 0
    /// Complete lines so far, the request line included.
    private var lines = 0
    /// Bytes of the current line so far, without its LF.
    private var lineLength = 0
    /// The current line's first byte, once it has one.
    private var lineFirstByte: UInt8 = 0
    /// Whether the request line has begun (a byte other than CR or LF).
    private var started = false

    init(limits: ConnectionLimits) {
        self.limits = limits
    }

    /// Counts `piece`, the next bytes from the client. After `.complete` or `.refused`, make a
    /// new scanner for the next head.
    mutating func scan<Piece: RandomAccessCollection<UInt8>>(_ piece: Piece) -> Outcome where Piece.Index == Int {
        var index = piece.startIndex
        while index < piece.endIndex {
            if !started {
                let byte = piece[index]
                guard byte == Self.cr || byte == Self.lf else {
                    started = true
                    continue
                }
                index += 1
                bytes += 1
                if bytes > limits.headBytes { return .refused(.headTooLarge) }
                continue
            }
            let rest = piece[index...]
            guard let found = rest.firstIndex(of: Self.lf) else {
                if lineLength == 0, !rest.isEmpty { lineFirstByte = piece[index] }
                lineLength += rest.count
                bytes += rest.count
                return overLimit() ?? .incomplete
            }
            let newline = found - index
            if lineLength == 0, newline > 0 { lineFirstByte = piece[index] }
            lineLength += newline
            bytes += newline + 1
            if let refusal = overLimit() { return refusal }
            index = found + 1
            let isEmpty = lineLength == 0 || (lineLength == 1 && lineFirstByte == Self.cr)
            if isEmpty { return .complete(headEnd: index - piece.startIndex) }  // the request line is never empty
            lines += 1
            lineLength = 0
            if lines - 1 > limits.headerFields { return .refused(.tooManyFields) }
        }
        return .incomplete
    }

    /// The limit the bytes so far pass, if any. The request line's own limit is checked first: a
    /// long target is a 414, not a 431.
    private func overLimit() -> Outcome? {
        if lines == 0, lineLength > limits.requestLineBytes { return .refused(.requestLineTooLong) }
        if bytes > limits.headBytes { return .refused(.headTooLarge) }
        return nil
    }

    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")
}
