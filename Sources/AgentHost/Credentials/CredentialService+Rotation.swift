import SecurityCore

extension CredentialService {
    /// A record that did not open, by id and path (never its bytes).
    public struct RecordFailure: Hashable, Sendable, CustomStringConvertible {
        public let id: String
        public let path: String
        /// The vault's code, such as `record_mismatch` or `unknown_key_version`.
        public let code: String

        public var description: String { "\(id)\t\(path)\t\(code)" }

        init(_ row: VaultRecordRow, _ error: VaultError) {
            id = row.id
            path = row.owner + "/" + row.name
            code = error.code.description
        }

        init(id: String, owner: String, name: String) {
            self.id = id
            path = owner + "/" + name
            code = VaultError.Code.malformed.description
        }
    }

    /// How far a re-seal got.
    public struct ResealProgress: Hashable, Sendable {
        /// Records now sealed under the primary version by this run.
        public var resealed = 0
        /// Records already under the primary version.
        public var current = 0
        /// Records set again while the rotation ran (left as they are; they are new anyway).
        public var changedMeanwhile = 0
        /// Records that do not open.
        public var failures: [RecordFailure] = []
    }

    /// Re-seals every record not under the primary key version, `batchSize` records per
    /// transaction, calling `progress` after each committed batch.
    ///
    /// A kill at any moment leaves every record sealed under a version the keyring holds (the
    /// old one or the new one), and a second run finishes the job.
    public func resealAll(batchSize: Int = 200, progress: (ResealProgress) -> Void = { _ in }) async throws -> ResealProgress {
        var result = ResealProgress()
        try await walkRecords(batchSize: batchSize) { items in
            var batch: [VaultReplacement] = []
            for item in items {
                guard case .record(let row) = item else {
                    if case .malformed(let id, let owner, let name) = item {
                        result.failures.append(RecordFailure(id: id, owner: owner, name: name))
                    }
                    continue
                }
                guard vault.needsResealing(row.sealed) else {
                    result.current += 1
                    continue
                }
                do throws(VaultError) {
                    batch.append(
                        VaultReplacement(id: row.id, expected: row.sealed, sealed: try vault.reseal(row.sealed, for: row.identity)))
                } catch {
                    result.failures.append(RecordFailure(row, error))
                }
            }
            guard !batch.isEmpty else { return }
            try await store.recordEncryptions(version: vault.keyring.primaryVersion, count: UInt64(batch.count))
            let applied = try await store.replace(batch, now: clock.now())
            result.resealed += applied
            result.changedMeanwhile += batch.count - applied
            progress(result)
        }
        return result
    }

    /// What `vault verify` found.
    public struct VerifyReport: Hashable, Sendable {
        /// Records checked.
        public var checked = 0
        /// Records by the key version that sealed them.
        public var byKeyVersion: [UInt32: Int] = [:]
        /// Records that do not open.
        public var failures: [RecordFailure] = []
    }

    /// Opens every record (lending the plaintext to nobody) and reports those that fail.
    public func verifyAll(batchSize: Int = 500) async throws -> VerifyReport {
        var report = VerifyReport()
        try await walkRecords(batchSize: batchSize) { items in
            for item in items {
                report.checked += 1
                guard case .record(let row) = item else {
                    if case .malformed(let id, let owner, let name) = item {
                        report.failures.append(RecordFailure(id: id, owner: owner, name: name))
                    }
                    continue
                }
                report.byKeyVersion[row.sealed.keyVersion, default: 0] += 1
                do throws(VaultError) {
                    try vault.check(row.sealed, for: row.identity)
                } catch {
                    report.failures.append(RecordFailure(row, error))
                }
            }
        }
        return report
    }

    /// Calls `body` with every record, `batchSize` at a time, in id order.
    private func walkRecords(batchSize: Int, _ body: ([VaultRecordScan]) async throws -> Void) async throws {
        var after: String?
        while true {
            let items = try await store.records(after: after, limit: max(1, batchSize))
            guard let last = items.last else { return }
            after = last.id
            try await body(items)
        }
    }
}
