import HTTPTypes

/// The credential and identity headers of a request, found in one pass over the headers. It keeps
/// where each first one is, not its value: copying five optional strings in and out cost more than
/// the search. `HTTPFields` keeps each name in lower case too, so a name is compared as it is.
struct CredentialHeaders {
    private let fields: HTTPFields
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

    init(_ fields: HTTPFields) {
        self.fields = fields
        for (index, field) in zip(fields.indices, fields) {
            let name = field.name.canonicalName
            switch name.utf8.count {
            case 13:
                if name == "authorization" {
                    authorizationCount += 1
                    if authorizationIndex == nil { authorizationIndex = index }
                } else if name == "x-agent-token" {
                    tokenCount += 1
                    if tokenIndex == nil { tokenIndex = index }
                }
            case 10:
                if name == "x-agent-id" {
                    agentCount += 1
                    if agentIndex == nil { agentIndex = index }
                }
            case 12:
                if name == "x-agent-role" {
                    roleCount += 1
                    if roleIndex == nil { roleIndex = index }
                } else if name == "x-agent-team" {
                    teamCount += 1
                    if teamIndex == nil { teamIndex = index }
                }
            default:
                continue
            }
        }
    }
}
