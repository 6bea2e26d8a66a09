import Foundation
import SecurityCore

/// `CookieHeader`: the `Cookie` fields of a request, split on NUL into several fields.
///
/// Properties: a lookup finds the cookie only when a pair of exactly that name is in the fields
/// (and reports `ambiguous` when there are two); a value found is one of the pairs' values; the
/// session cookie's value is never taken from another cookie's name or value (a cookie named
/// `x__Host-s` or valued `__Host-s=…` does not count).
enum CookieHeaderTarget {
    private static let semicolon = UInt8(ascii: ";")
    private static let space = UInt8(ascii: " ")

    static func run(_ input: inout FuzzInput) {
        let fields = input.rest().split(separator: 0, omittingEmptySubsequences: false).map { Array($0).text }
        let pairs = fields.flatMap { CookieHeader.pairs($0[...]) }
        for pair in pairs {
            require(!pair.name.isEmpty, "a pair without a name")
            // Bytes, not `Character`s: U+037E GREEK QUESTION MARK is canonically equivalent to ";",
            // so `String.contains(";")` finds it (the fuzzer did); the reader splits on the byte.
            require(!pair.name.utf8.contains(semicolon) && !pair.value.utf8.contains(semicolon), "a pair holds a separator")
            require(pair.name.utf8.first != space && pair.name.utf8.last != space, "a name keeps its spaces")
        }
        for name in ["__Host-s", "a", "b"] {
            let named = pairs.filter { $0.name.utf8.elementsEqual(name.utf8) }
            switch CookieHeader.value(named: name, in: fields) {
            case .none:
                require(named.isEmpty || fields.reduce(0) { $0 + $1.utf8.count } > CookieHeader.maximumBytes, "missed a cookie")
            case .one(let value):
                require(named.count == 1 && named[0].value.utf8.elementsEqual(value.utf8), "found a value that is not the pair's")
            case .ambiguous:
                require(named.count >= 2, "ambiguous with one pair")
            }
        }
    }
}

/// `FormBody`: a form body as a browser (or anyone) may send it.
///
/// Properties: parsing never crashes; a body it accepts has no name twice; encoding what it read
/// and parsing that again gives the same fields; a body that holds `%` not followed by two hex
/// digits is refused.
enum FormBodyTarget {
    static func run(_ input: inout FuzzInput) {
        let body = input.rest()
        let form: FormBody
        do {
            form = try FormBody(parsing: body)
        } catch {
            require(
                error.code == .malformedForm || error.code == .duplicateField || error.code == .formTooLarge, "an unknown error code")
            return
        }
        let names = form.fields.map(\.name)
        require(Set(names).count == names.count, "a name twice")
        require(!Self.hasBadEscape(body), "accepted a broken % escape")
        let again = form.fields.map { FormBody.encode($0.name) + "=" + FormBody.encode($0.value) }.joined(separator: "&")
        guard let reread = try? FormBody(parsing: Array(again.utf8), maximumBytes: .max) else {
            return require(false, "its own encoding does not parse")
        }
        require(reread.fields.map(\.name) == names && reread.fields.map(\.value) == form.fields.map(\.value), "a round trip changed it")
    }

    static func hasBadEscape(_ body: [UInt8]) -> Bool {
        var index = 0
        while index < body.count {
            if body[index] == UInt8(ascii: "%") {
                guard index + 2 < body.count, body[index + 1].isHexDigit, body[index + 2].isHexDigit else { return true }
                index += 3
            } else {
                index += 1
            }
        }
        return false
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}
