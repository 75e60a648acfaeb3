import Daemon
import Posix

AsyncMain.run(blocking: QlinkDaemon.handledSignals) {
    await QlinkDaemon.main(arguments: CommandLine.arguments)
}
