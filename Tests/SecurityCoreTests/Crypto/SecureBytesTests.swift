import SecurityCore
import Testing

struct SecureBytesTests {
    @Test func neverPrintsItsBytes() {
        let secret = SecureBytes(copying: Array("hunter2-hunter2-hunter2".utf8))
        for rendered in ["\(secret)", String(describing: secret), String(reflecting: secret), "\([secret])"] {
            #expect(!rendered.contains("hunter2"))
            #expect(!rendered.contains("104"))  // 'h' as a decimal byte
            #expect(rendered.contains("redacted"))
        }
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("hunter2") && !dumped.contains("104"))
    }

    @Test func equalityComparesContentAndLength() {
        let a = SecureBytes(copying: [1, 2, 3])
        #expect(a == SecureBytes(copying: [1, 2, 3]))
        #expect(a != SecureBytes(copying: [1, 2, 4]))
        #expect(a != SecureBytes(copying: [1, 2]))
        #expect(SecureBytes(copying: []) == SecureBytes(copying: []))
    }

    @Test func randomHasTheRequestedLengthAndVaries() {
        let first = SecureBytes.random(count: 32)
        let second = SecureBytes.random(count: 32)
        #expect(first.count == 32 && first != second)
        #expect(SecureBytes.random(count: 0).count == 0)
    }

    @Test func copiesTheBytes() {
        var source: [UInt8] = [9, 8, 7]
        let secret = SecureBytes(copying: source)
        source[0] = 0
        #expect(Array(secret) == [9, 8, 7])
        SecureBytes.wipe(&source)
        #expect(source == [0, 0, 0])
    }

    /// Code outside Crypto reads a secret as a collection: every byte, in order, bounds checked,
    /// and the helpers that take any byte sequence read the same bytes in place.
    @Test func readsAsACollectionOfItsBytes() {
        let bytes = (0..<200).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let secret = SecureBytes(copying: bytes)
        #expect(secret.count == 200 && secret.startIndex == 0 && secret.endIndex == 200)
        #expect(secret.indices.allSatisfy { secret[$0] == bytes[$0] })
        #expect(Array(secret) == bytes && secret.elementsEqual(bytes))
        #expect(Array(secret[10..<20]) == Array(bytes[10..<20]))
        #expect(secret.withContiguousStorageIfAvailable { Array($0) } == bytes)
        #expect(SecureBytes(copying: secret) == secret)
        #expect(ConstantTime.equals(secret, bytes) && !ConstantTime.equals(secret, bytes.dropLast()))
        #expect(HMACSHA256Key(copying: [1]).authenticationCode(for: secret) == HMACSHA256Key(copying: [1]).authenticationCode(for: bytes))
        #expect(secret.base64URLEncoded() == Base64URL.encode(bytes))
        let empty = SecureBytes(copying: [])
        #expect(empty.isEmpty && Array(empty) == [])
    }
}

struct ConstantTimeTests {
    @Test func equalsAnyLength() {
        #expect(ConstantTime.equals([UInt8](), [UInt8]()))
        #expect(ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2, 3] as [UInt8]))
        #expect(!ConstantTime.equals([1, 2, 3] as [UInt8], [0, 2, 3] as [UInt8]))
        #expect(!ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2, 4] as [UInt8]))
        #expect(!ConstantTime.equals([1, 2, 3] as [UInt8], [1, 2] as [UInt8]))
        #expect(!ConstantTime.equals([UInt8](), [0] as [UInt8]))
        let long = [UInt8](repeating: 5, count: 100_000)
        var other = long
        #expect(ConstantTime.equals(long, other))
        other[99_999] = 6
        #expect(!ConstantTime.equals(long, other))
        // Sequences that are not contiguous work too.
        #expect(ConstantTime.equals((1...5).map { UInt8($0) }, stride(from: 1, through: 5, by: 1).lazy.map { UInt8($0) }))
    }

    /// The tag lengths take their own compare routines: every byte and every bit of them counts,
    /// and so do the lengths on either side, which take the general one.
    @Test(arguments: [15, 16, 17, 31, 32, 33, 63, 64, 65])
    func everyBitCountsAtAndAroundTagLengths(count: Int) {
        let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        #expect(ConstantTime.equals(bytes, bytes.map { $0 }))
        for index in 0..<count {
            for bit in 0..<8 {
                var changed = bytes
                changed[index] ^= UInt8(1) << UInt8(bit)
                #expect(!ConstantTime.equals(bytes, changed), "byte \(index) bit \(bit)")
            }
        }
        #expect(!ConstantTime.equals(bytes, Array(bytes.dropLast())))
    }
}

struct SecureRandomTests {
    @Test func bytes() throws {
        let a = try SecureRandom.bytes(count: 16)
        let b = try SecureRandom.bytes(count: 16)
        #expect(a.count == 16 && a != b)
        #expect(try SecureRandom.bytes(count: 0).isEmpty)
    }
}
