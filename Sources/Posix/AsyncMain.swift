#if canImport(Glibc)
import Glibc
#endif

/// Entry point for programs that handle signals through `SignalSource`.
///
/// With a top-level `await`, main.swift's main thread ends up in libdispatch's
/// `dispatch_main()`, which waits in `sigsuspend` with no signal blocked, so SIGTERM would
/// take its default action there before any signalfd saw it. This blocks the signals while
/// the process has one thread, runs `body` as a task, parks the main thread with the
/// signals still blocked, and exits with the code `body` returns.
public enum AsyncMain {
    public static func run(blocking signals: [Int32], _ body: @escaping @Sendable () async -> Int32) -> Never {
        SignalSource.block(signals)
        Task {
            let code = await body()
            exit(code)
        }
        while true { pause() }
    }
}
