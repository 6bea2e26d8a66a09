/// The output of an AEAD seal: nonce, ciphertext and tag, kept apart so none is confused for another.
public struct SealedBox: Hashable, Sendable {
    /// The nonce the message was sealed with. Public; never reused under one key.
    public var nonce: [UInt8]
    /// The encrypted message, as long as the plaintext.
    public var ciphertext: [UInt8]
    /// The authentication tag (16 bytes for both AEADs here).
    public var tag: [UInt8]

    /// Groups the three parts of a sealed message.
    public init(nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8]) {
        self.nonce = nonce
        self.ciphertext = ciphertext
        self.tag = tag
    }

    /// `nonce || ciphertext || tag`, the usual single-blob form.
    public var combined: [UInt8] { nonce + ciphertext + tag }

    /// Splits a combined blob made by ``combined``, given the algorithm's nonce and tag sizes.
    public init(combined: [UInt8], nonceByteCount: Int, tagByteCount: Int) throws {
        guard combined.count >= nonceByteCount + tagByteCount else {
            throw CryptoError(.invalidParameters, "sealed data is shorter than a nonce and a tag")
        }
        nonce = Array(combined[..<nonceByteCount])
        ciphertext = Array(combined[nonceByteCount..<(combined.count - tagByteCount)])
        tag = Array(combined[(combined.count - tagByteCount)...])
    }
}

extension SealedBox: CustomStringConvertible {
    public var description: String {
        "SealedBox(nonce: \(nonce.count) bytes, ciphertext: \(ciphertext.count) bytes, tag: \(tag.count) bytes)"
    }
}
