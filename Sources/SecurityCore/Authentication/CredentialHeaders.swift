/// The credential and identity headers of a request, found in one pass over the headers. It keeps
/// where each first one is, not its value: copying five optional strings in and out cost more than
/// the search.
struct CredentialHeaders {
    private let fields: [HeaderField]
    private var authorizationIndex: Int?
    private(set) var authorizationCount = 0
    private var tokenIndex: Int?
    private(set) var tokenCount = 0
    private var agentIndex: Int?
    private(set) var agentCount = 0
    private var roleIndex: Int?
    private(set) var roleCount = 0
    private var teamIndex: Int?
    private(set) var teamCount = 0

    var authorization: String? { authorizationIndex.map { fields[$0].value } }
    var token: String? { tokenIndex.map { fields[$0].value } }
    var agent: String? { agentIndex.map { fields[$0].value } }
    var role: String? { roleIndex.map { fields[$0].value } }
    var team: String? { teamIndex.map { fields[$0].value } }

    /// Whether header `name` is `lowercased` (written with lower-case ASCII letters), ignoring the
    /// case of `name`'s letters. One byte loop: this runs on every header of every request, and an
    /// exact comparison followed by the generic case-insensitive one cost twice as much.
    @inline(__always)
    static func named(_ name: String, _ lowercased: String) -> Bool {
        name.utf8.count == lowercased.utf8.count
            && name.utf8.elementsEqual(lowercased.utf8) { byte, expected in
                (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte) == expected
            }
    }

    init(_ fields: [HeaderField]) {
        self.fields = fields
        for (index, field) in fields.enumerated() {
            let name = field.name
            switch name.utf8.count {
            case 13:
                if Self.named(name, "authorization") {
                    authorizationCount += 1
                    if authorizationIndex == nil { authorizationIndex = index }
                } else if Self.named(name, "x-agent-token") {
                    tokenCount += 1
                    if tokenIndex == nil { tokenIndex = index }
                }
            case 10:
                if Self.named(name, "x-agent-id") {
                    agentCount += 1
                    if agentIndex == nil { agentIndex = index }
                }
            case 12:
                if Self.named(name, "x-agent-role") {
                    roleCount += 1
                    if roleIndex == nil { roleIndex = index }
                } else if Self.named(name, "x-agent-team") {
                    teamCount += 1
                    if teamIndex == nil { teamIndex = index }
                }
            default:
                continue
            }
        }
    }
}
