extension AgentHostCLI {
    /// What `agenthost config check` reports: the effective settings, and why they are refused.
    package struct ConfigurationReport: Sendable {
        /// The settings as a configuration file, each with where it came from, secrets redacted.
        package var lines: [String]
        /// Errors and warnings, for standard error.
        package var problems: [String]
        /// Whether `serve` would start with these settings.
        package var valid: Bool
    }

    /// Reads the settings as `serve` does (without its options) and checks them: the policy file is
    /// loaded, every value parsed, every combination checked.
    package static func checkConfiguration(file: String?, environment: [String: String]) -> ConfigurationReport {
        let source = ServeSettings.Source(configFile: file, environment: environment)
        let settings: ServeSettings
        do {
            settings = try source.load()
        } catch {
            return ConfigurationReport(lines: [], problems: ["invalid: \(reason(error))"], valid: false)
        }
        var header = ["# agenthost serve settings, highest first: options, variables, \(source.file ?? "no configuration file"), defaults"]
        header.append("# (a database password is shown as REDACTED)")
        let warnings = settings.warnings().map { "warning: \($0)" }
        do {
            _ = try settings.resolve()
            return ConfigurationReport(lines: header + settings.rendered(), problems: warnings, valid: true)
        } catch {
            return ConfigurationReport(
                lines: header + settings.rendered(), problems: warnings + ["invalid: \(reason(error))"], valid: false)
        }
    }

    private static func reason(_ error: any Error) -> String {
        (error as? AgentHostError)?.reason ?? "\(error)"
    }
}
