#if canImport(Glibc)
import Glibc
#endif
import Daemon
import Posix

// Before any thread exists, so the signals queue for the daemon's signalfd.
SignalSource.block(QlinkDaemon.handledSignals)
exit(await QlinkDaemon.main(arguments: CommandLine.arguments))
