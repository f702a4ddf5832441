import Foundation
import KatechonTraining

exit(Commands.main(Array(CommandLine.arguments.dropFirst())))
