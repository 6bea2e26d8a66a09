import Testing

/// Waits for an effect that has no event to await (a record written after a response has
/// streamed, a port a child process prints): polls `condition` until it holds, and fails the test
/// once `limit` has passed without it. The limit only ever fails a test; it never makes one pass,
/// so a slow machine costs time, not a wrong answer.
func eventually(
    within limit: Duration = .seconds(20), _ what: Comment, sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + limit
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("\(what): not within \(limit)", sourceLocation: sourceLocation)
            throw EventuallyTimedOut()
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// ``eventually(within:_:sourceLocation:_:)`` gave up.
struct EventuallyTimedOut: Error {}
