import HALSim
import Posix

AsyncMain.run(blocking: HALSimCommand.stopSignals) {
    await HALSimCommand.main(Array(CommandLine.arguments.dropFirst()))
}
