/// What a policy precomputes when it loads, so a decision touches only the routes and rules that
/// can apply: routes grouped by their first one or two literal segments (keeping first-match order),
/// and for each route the rules whose actions and methods could match it.
struct PolicyIndex: Sendable {
    /// Route indices, in order, for a path whose first two segments are the key (`a/b`).
    private let byTwoSegments: [String: [Int]]
    /// Route indices, in order, for a path whose first segment is the key and whose first two are
    /// not in ``byTwoSegments``.
    private let byOneSegment: [String: [Int]]
    /// Routes with no leading literal segment: candidates for every path.
    private let unkeyed: [Int]
    /// Per route: the forbid rules and the permit rules that could match it, in policy order.
    let forbidCandidates: [[Int]]
    let permitCandidates: [[Int]]
    /// Per rule: the rank its `min_role` stands for.
    let minimumRanks: [Int?]

    init(routes: [PolicyRoute], rules: [PolicyRule], roles: [String: Int?]) {
        var two = [String: [Int]]()
        var one = [String: [Int]]()
        var unkeyed = [Int]()
        for (index, route) in routes.enumerated() {
            let prefix = route.path.literalPrefix
            if prefix.count >= 2 {
                two[prefix[0] + "/" + prefix[1], default: []].append(index)
            } else if prefix.count == 1 {
                one[prefix[0], default: []].append(index)
            } else {
                unkeyed.append(index)
            }
        }
        // Each list also holds every route a shorter key or no key lets through, in route order.
        var byTwo = [String: [Int]]()
        for (key, indices) in two {
            let first = String(key[..<key.firstIndex(of: "/")!])
            byTwo[key] = (indices + (one[first] ?? []) + unkeyed).sorted()
        }
        self.byTwoSegments = byTwo
        self.byOneSegment = one.mapValues { ($0 + unkeyed).sorted() }
        self.unkeyed = unkeyed

        var forbid = [[Int]]()
        var permit = [[Int]]()
        for route in routes {
            var forbidding = [Int]()
            var permitting = [Int]()
            for (index, rule) in rules.enumerated() {
                if let actions = rule.actions, !actions.contains(route.action) { continue }
                if let methods = rule.methods, route.method != "*", !methods.contains(route.method) { continue }
                if rule.effect == .forbid { forbidding.append(index) } else { permitting.append(index) }
            }
            forbid.append(forbidding)
            permit.append(permitting)
        }
        self.forbidCandidates = forbid
        self.permitCandidates = permit
        self.minimumRanks = rules.map { rule in rule.minimumRole.flatMap { roles[$0] ?? nil } }
    }

    /// The indices of the routes that could match the path split into `parts`, in order.
    func candidates(for parts: PathSegments) -> [Int] {
        guard let first = parts.all.first.map({ String(Substring($0)) }) else { return unkeyed }
        if parts.count >= 2, let list = byTwoSegments[first + "/" + String(Substring(parts.all[1]))] {
            return list
        }
        return byOneSegment[first] ?? unkeyed
    }
}
