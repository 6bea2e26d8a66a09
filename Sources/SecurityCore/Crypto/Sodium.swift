internal import CSodium

/// One-time initialisation of libsodium. Every entry point that calls libsodium goes through
/// ``Sodium/ensureInitialized()``; Swift initialises the global once, thread-safely.
enum Sodium {
    private static let initialized: Bool = sodium_init() >= 0

    static func ensureInitialized() {
        // sodium_init only fails when the system has no usable entropy source; nothing secure can
        // happen then, so stopping is the fail-closed answer.
        precondition(initialized, "libsodium could not be initialised (no entropy source?)")
    }
}
