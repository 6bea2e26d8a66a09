/// What a policy precomputes when it loads, so a decision touches only the routes and rules that
/// can apply: routes grouped by their first one or two literal segments (keeping first-match order),
/// and for each route the rules whose actions and methods could match it.
struct PolicyIndex: Sendable {
    /// Route indices, in order, for a path whose first two segments are the key (`a/b`).
    private let byTwoSegments: KeyedRoutes
    /// Route indices, in order, for a path whose first segment is the key and whose first two are
    /// not in ``byTwoSegments``.
    private let byOneSegment: KeyedRoutes
    /// Routes with no leading literal segment: candidates for every path.
    private let unkeyed: [Int]
    /// Per route: the forbid rules and the permit rules that could match it, in policy order.
    let forbidCandidates: [[Int]]
    let permitCandidates: [[Int]]
    /// Per rule: the rank its `min_role` stands for.
    let minimumRanks: [Int?]
    /// Per rule: `[rule.id]`, so the usual decision by a single rule allocates no array.
    let singleRuleIDs: [[String]]
    /// Every role with its rank when there are at most 16 (`nil` beyond): a policy names a handful
    /// of roles, and comparing a role name with each is cheaper than hashing it.
    let roleRanks: [(role: String, rank: Int?)]?

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
        self.byTwoSegments = KeyedRoutes(byTwo)
        self.byOneSegment = KeyedRoutes(one.mapValues { ($0 + unkeyed).sorted() })
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
        self.singleRuleIDs = rules.map { [$0.id] }
        self.roleRanks = roles.count <= 16 ? roles.map { (role: $0.key, rank: $0.value) } : nil
    }

    /// The indices of the routes that could match the path in `bytes`, in order.
    func candidates(for path: UnsafeBufferPointer<UInt8>) -> [Int] {
        var segments = ByteSegments(path)
        guard let first = segments.next() else { return unkeyed }
        if let second = segments.next(), let list = byTwoSegments.routes(for: path, first.lowerBound..<second.upperBound) {
            return list
        }
        return byOneSegment.routes(for: path, first) ?? unkeyed
    }
}

/// Route lists keyed by path bytes, looked up from a slice of the request's bytes without making
/// a String: an FNV-1a hash picks the entries, and the key bytes are compared to be sure.
struct KeyedRoutes: Sendable {
    private let entries: [UInt64: [(key: [UInt8], routes: [Int])]]

    init(_ lists: [String: [Int]]) {
        var entries = [UInt64: [(key: [UInt8], routes: [Int])]]()
        for (key, routes) in lists {
            let bytes = Array(key.utf8)
            let hash = bytes.withUnsafeBufferPointer { Self.hash($0, 0..<bytes.count) }
            entries[hash, default: []].append((bytes, routes))
        }
        self.entries = entries
    }

    func routes(for path: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> [Int]? {
        guard !entries.isEmpty, let found = entries[Self.hash(path, range)] else { return nil }
        for entry in found where PathTemplate.equals(path, range, entry.key) { return entry.routes }
        return nil
    }

    static func hash(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for index in range {
            hash = (hash ^ UInt64(bytes[index])) &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
