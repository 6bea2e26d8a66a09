import Foundation

/// The fuzz targets, by the name `scripts/fuzz` and `FUZZ_TARGET` use.
let targets: [String: @Sendable (inout FuzzInput) -> Void] = [
    "tokens": TokenTarget.run,
    "access-keys": AccessKeyTarget.run,
    "json": JSONTarget.run,
    "path": PathTarget.run,
    "addresses": AddressTarget.run,
    "policy": PolicyTarget.run,
    "webhooks": WebhookTarget.run,
    "redactor": RedactorTarget.run,
    "return-url": ReturnURLTarget.run,
    "cookie-header": CookieHeaderTarget.run,
    "form-body": FormBodyTarget.run,
    "webauthn": WebAuthnTarget.run,
]

/// The target this process runs, chosen once by `FUZZ_TARGET` before the first input. libFuzzer
/// calls `testOneInput` from one thread only.
nonisolated(unsafe) var selected: (@Sendable (inout FuzzInput) -> Void)?

/// libFuzzer's driver (`-sanitize=fuzzer` links it in).
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The program's entry: SwiftPM links an executable's `main` to this symbol, which keeps
/// libFuzzer's own `main` out of the link; the driver is then started here, on the chosen target.
@_cdecl("AgentHostFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? ""
    guard let target = targets[name] else {
        FileHandle.standardError.write(Data("FUZZ_TARGET must be one of: \(targets.keys.sorted().joined(separator: ", "))\n".utf8))
        return 2
    }
    selected = target
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return runDriver(&count, &arguments) { data, size in
        var input = FuzzInput(bytes: data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
        selected?(&input)
        return 0
    }
}

/// Stops the run when a property does not hold: libFuzzer keeps the input as a crash.
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) {
    guard !condition() else { return }
    FileHandle.standardError.write(Data("PROPERTY FAILED at \(file):\(line): \(message())\n".utf8))
    abort()
}

/// Structured input: a fuzzer's bytes read as small choices and byte strings.
struct FuzzInput {
    private(set) var bytes: [UInt8]
    private var offset = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The next byte, or 0 when none is left.
    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Bytes up to the next `separator` (consumed) or the end.
    mutating func chunk(until separator: UInt8 = 0) -> [UInt8] {
        let rest = bytes[offset...]
        let end = rest.firstIndex(of: separator) ?? bytes.count
        defer { offset = min(bytes.count, end + 1) }
        return Array(bytes[offset..<end])
    }

    /// Every byte not read yet.
    mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(bytes[offset...])
    }
}

extension Array where Element == UInt8 {
    /// The bytes as text, invalid UTF-8 replaced.
    var text: String { String(decoding: self, as: UTF8.self) }

    /// Whether `needle` occurs in these bytes.
    func contains(bytes needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return needle.isEmpty }
        for start in 0...(count - needle.count) where self[start] == needle[0] {
            if self[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}
