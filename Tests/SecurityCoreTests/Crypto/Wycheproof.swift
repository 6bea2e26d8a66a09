import Foundation
import Testing

/// Loads the Wycheproof files in `Vectors/` (Apache 2.0, see Vectors/LICENSE).
enum Wycheproof {
    struct File<Group: Decodable>: Decodable {
        let algorithm: String
        let numberOfTests: Int
        let testGroups: [Group]
    }

    struct AEADGroup: Decodable {
        let keySize: Int
        let ivSize: Int
        let tagSize: Int
        let tests: [AEADTest]
    }

    struct AEADTest: Decodable, CustomTestStringConvertible {
        let tcId: Int
        let comment: String
        let key: String
        let iv: String
        let aad: String
        let msg: String
        let ct: String
        let tag: String
        let result: String
        var testDescription: String { "tc \(tcId) \(comment)" }
    }

    struct MACGroup: Decodable {
        let keySize: Int
        let tagSize: Int
        let tests: [MACTest]
    }

    struct MACTest: Decodable {
        let tcId: Int
        let key: String
        let msg: String
        let tag: String
        let result: String
    }

    struct HKDFGroup: Decodable {
        let tests: [HKDFTest]
    }

    struct HKDFTest: Decodable {
        let tcId: Int
        let ikm: String
        let salt: String
        let info: String
        let size: Int
        let okm: String
        let result: String
    }

    static func load<Group: Decodable>(_ name: String, as: Group.Type) throws -> File<Group> {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Vectors"))
        return try JSONDecoder().decode(File<Group>.self, from: Data(contentsOf: url))
    }
}

/// Bytes from hex; test data only.
func hex(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}
