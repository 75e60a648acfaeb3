import OperatorCLI

// Blocks SIGINT/SIGTERM before any thread starts (they go to a signalfd), ignores SIGPIPE,
// runs the command and exits with its status.
System.runProgram {
    await QlinkCtl.main(
        arguments: Array(CommandLine.arguments.dropFirst()),
        output: StandardStream.output,
        error: StandardStream.error,
        interrupt: .signals
    )
}
