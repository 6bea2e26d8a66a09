import AgentHost
import SecurityCore
import Testing

struct DefaultPolicyTests {
    @Test func defaultPolicyLoadsAndPassesItsOwnCases() throws {
        let policy = try DefaultPolicy.load()
        let results = try DefaultPolicy.cases().run(against: policy)
        #expect(results.count >= 30)
        for result in results {
            #expect(result.passed, "\(result)")
        }
    }

    @Test func everyRoleTimesEveryActionIsCovered() throws {
        let policy = try DefaultPolicy.load()
        let suite = try DefaultPolicy.cases()
        let covered = Set(
            suite.cases.compactMap { testCase -> String? in
                guard let role = testCase.request.principal?.role,
                    let action = policy.decide(testCase.request).action
                else { return nil }
                return "\(role) \(action)"
            })
        for role in Policy.builtInRoles + ["ceo", "developer"] {
            for action in policy.actions {
                #expect(covered.contains("\(role) \(action)"), "no case for \(role) × \(action)")
            }
        }
    }
}
