import Foundation
import SecurityCore
import Testing

/// A workspace keeps no credential: git configuration cleaned, every file searched in every
/// encoding, link loops and huge files handled.
struct WorkspaceScrubberTests {
    let token = "ghp_WorkspaceToken0123456789abcdef"

    /// A fresh workspace with a clone's git configuration holding the token three ways.
    func workspace() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("scrub-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/.git", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/src", withIntermediateDirectories: true)
        try """
        [core]
        \trepositoryformatversion = 0
        [remote "origin"]
        \turl = https://x-access-token:\(token)@github.com/acme/app.git
        \tfetch = +refs/heads/*:refs/remotes/origin/*
        [http "https://github.com/"]
        \textraheader = AUTHORIZATION: basic \(Data("x:\(token)".utf8).base64EncodedString())
        [credential]
        \thelper = store --file=/tmp/creds
        """.write(toFile: root + "/.git/config", atomically: true, encoding: .utf8)
        try "print('hello')\n".write(toFile: root + "/src/main.py", atomically: true, encoding: .utf8)
        return root
    }

    func scrubber() throws -> WorkspaceScrubber {
        try WorkspaceScrubber(secrets: [SecureBytes(copying: Array(token.utf8))])
    }

    @Test func gitConfigurationIsCleanedAndACleanWorkspaceIsKept() throws {
        let root = try workspace()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let outcome = try scrubber().scrub(root)
        #expect(outcome.finding == nil && outcome.cleaned.files == [".git/config"] && outcome.cleaned.lines == 3)
        let config = try String(contentsOfFile: root + "/.git/config", encoding: .utf8)
        #expect(config.contains("url = https://github.com/acme/app.git"))
        #expect(!config.contains(token) && !config.contains("extraheader") && !config.contains("helper"))
        #expect(config.contains("fetch = +refs/heads/*"))
        #expect(FileManager.default.fileExists(atPath: root + "/src/main.py"))
    }

    @Test(arguments: ["raw", "base64", "base64url", "hex", "percent"])
    func aCopyInAnyEncodingDeletesTheWorkspaceAndNamesTheFile(encoding: String) throws {
        let root = try workspace()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bytes = Data(token.utf8)
        let copy =
            switch encoding {
            case "raw": token
            case "base64": bytes.base64EncodedString()
            case "base64url": bytes.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            case "hex": bytes.map { String(format: "%02x", $0) }.joined()
            default: token.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!  // "_" becomes %5F
            }
        try "cached = \(copy)\n".write(toFile: root + "/src/settings.cache", atomically: true, encoding: .utf8)
        let outcome = try scrubber().scrub(root)
        #expect(outcome.finding?.path == "src/settings.cache")
        #expect(!"\(outcome.finding!)".contains(token))
        #expect(!FileManager.default.fileExists(atPath: root))
    }

    @Test func linkLoopsAreNotFollowedAndHugeFilesAreReadInChunks() throws {
        let root = try workspace()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("outside-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: outside) }
        try token.write(toFile: outside + "/secret.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root + "/loop", withDestinationPath: root)
        try FileManager.default.createSymbolicLink(atPath: root + "/a", withDestinationPath: root + "/b")
        try FileManager.default.createSymbolicLink(atPath: root + "/b", withDestinationPath: root + "/a")
        try FileManager.default.createSymbolicLink(atPath: root + "/out", withDestinationPath: outside)
        #expect(try scrubber().scrub(root).finding == nil)

        // 3 MiB, with the token straddling the first chunk boundary.
        var big = Data(repeating: UInt8(ascii: "x"), count: 3 << 20)
        let start = (1 << 20) - 10
        big.replaceSubrange(start..<(start + token.utf8.count), with: Data(token.utf8))
        #expect(FileManager.default.createFile(atPath: root + "/src/blob.bin", contents: big))
        #expect(try scrubber().scrub(root).finding?.path == "src/blob.bin")
        #expect(FileManager.default.fileExists(atPath: outside + "/secret.txt"))
    }

    @Test func badInputIsRefusedClearly() throws {
        #expect(throws: ScrubError.self) { try WorkspaceScrubber(secrets: [SecureBytes(copying: Array("short".utf8))]) }
        #expect(throws: ScrubError.self) { try scrubber().scrub("/nonexistent/\(UUID().uuidString)") }
    }
}
