import Testing
@testable import Logging

struct LoggingTests {
    @Test func thresholdFiltersAndChildKeepsHandler() {
        let memory = InMemoryLogHandler()
        let logger = Logger(label: "a", level: .notice, handler: memory)
        logger.info("hidden")
        logger.warning("shown")
        logger.child("b").error("child")
        #expect(memory.entries == [.init(level: .warning, label: "a", message: "shown"), .init(level: .error, label: "b", message: "child")])
    }

    @Test func levelFilterChangesAtRunTime() {
        let memory = InMemoryLogHandler()
        let filter = LevelFilter(.warning, next: memory)
        let logger = Logger(label: "x", level: .debug, handler: filter)
        logger.info("before")
        filter.level = .debug
        logger.info("after")
        #expect(memory.entries.map(\.message) == ["after"])
    }

    @Test func levelsMatchSyslogPriorities() {
        #expect(LogLevel.error.rawValue == 3 && LogLevel.debug.rawValue == 7)
        #expect(LogLevel(name: "WARNING") == .warning)
        #expect(LogLevel.error > LogLevel.info)
    }
}
