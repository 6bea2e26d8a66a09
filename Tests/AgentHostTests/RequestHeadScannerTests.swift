@testable import AgentHost
import Testing

/// Where a request head ends and which limit it passes, whatever pieces it arrives in.
struct RequestHeadScannerTests {
    let limits = ConnectionLimits(headBytes: 300, requestLineBytes: 100, headerFields: 4)

    /// The outcome of `text` sent in pieces of `pieceSize` bytes, with the offset of the head's end
    /// from the start of `text`.
    func scan(_ text: String, pieceSize: Int) -> (outcome: RequestHeadScanner.Outcome, end: Int?) {
        var scanner = RequestHeadScanner(limits: limits)
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            // A slice, whose indices start where it does, as a ByteBuffer's readable bytes do.
            let piece = bytes[offset..<min(bytes.count, offset + pieceSize)]
            let outcome = scanner.scan(piece)
            switch outcome {
            case .incomplete: offset += piece.count
            case .complete(let headEnd): return (outcome, offset + headEnd)
            case .refused: return (outcome, nil)
            }
        }
        return (.incomplete, nil)
    }

    /// Every piece size gives the same answer.
    func expectEverySplit(
        _ text: String, _ expected: RequestHeadScanner.Outcome, end: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for size in 1...max(1, text.utf8.count) {
            let (outcome, found) = scan(text, pieceSize: size)
            switch expected {
            case .complete: #expect(found == end, "pieces of \(size)", sourceLocation: sourceLocation)
            default: #expect(outcome == expected, "pieces of \(size)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test func findsTheEndOfAHeadWhateverThePieces() {
        let head = "GET /a HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"
        expectEverySplit(head + "BODY", .complete(headEnd: 0), end: head.utf8.count)
        // Bare LF ends lines too; empty lines before the request line are skipped.
        let bare = "\r\n\nGET / HTTP/1.1\nHost: x\n\n"
        expectEverySplit(bare, .complete(headEnd: 0), end: bare.utf8.count)
        expectEverySplit("GET / HTTP/1.1\r\nHost: x\r\n", .incomplete)
        expectEverySplit("GET / HTTP/1.1\r\nHost: x\r\n\r", .incomplete)
    }

    @Test func eachLimitHoldsToTheByte() {
        // The request line: 100 bytes (its CR counted) is accepted, 101 is a 414.
        let line = { (length: Int) in "GET /" + String(repeating: "a", count: length - 15) + " HTTP/1.1\r" }
        #expect(line(100).utf8.count == 100)
        expectEverySplit(line(100) + "\n\r\n", .complete(headEnd: 0), end: 103)
        expectEverySplit(line(101) + "\n\r\n", .refused(.requestLineTooLong))
        // Without its end in sight, too.
        expectEverySplit(String(repeating: "a", count: 101), .refused(.requestLineTooLong))

        // Four fields are accepted, five are a 431.
        let fields = { (count: Int) in "GET / HTTP/1.1\r\n" + (0..<count).map { "X-\($0): 1\r\n" }.joined() + "\r\n" }
        expectEverySplit(fields(4), .complete(headEnd: 0), end: fields(4).utf8.count)
        expectEverySplit(fields(5), .refused(.tooManyFields))

        // 300 bytes in all, the empty line included, is accepted; 301 is a 431.
        let sized = { (total: Int) in
            let start = "GET / HTTP/1.1\r\nX: "
            return start + String(repeating: "v", count: total - start.utf8.count - 4) + "\r\n\r\n"
        }
        #expect(sized(300).utf8.count == 300)
        expectEverySplit(sized(300), .complete(headEnd: 0), end: 300)
        expectEverySplit(sized(301), .refused(.headTooLarge))
        // Leading empty lines count toward the size.
        expectEverySplit(String(repeating: "\r\n", count: 151), .refused(.headTooLarge))
    }
}
