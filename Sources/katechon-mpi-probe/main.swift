import Foundation
import KatechonDistributed

// A small MPI program that the KatechonDistributed tests launch under mpirun. Each
// subcommand checks its own results against values computed locally and ends the whole
// job with a non-zero status on a mismatch.

let usage = """
    usage: katechon-mpi-probe SUBCOMMAND [--thread-level multiple|serialized|funneled|single]
                              [--name value ...]
      info                                   print rank, size, local rank and thread level
      allreduce [--cases COUNT:BYTES,...] [--count N] [--bucket-bytes B | --bucket-mb X]
                [--compression none|fp16|bf16] [--steps S]
                [--tolerance REL [--absolute-tolerance ABS]]
                                             average rank-dependent gradients with GradientReducer
      broadcast                              broadcast floats, bytes and Data from the last rank
      gather                                 gather arrays of different lengths on rank 0
      reduce-scalars                         all-reduce Double and Int64 sums and an Int32 maximum
      mismatched-reducer                     create reducers of different sizes; must abort
      fail-on-rank --rank R                  rank R aborts while the others wait in an all-reduce
      sleep-in-allreduce --pid-dir DIR       write DIR/rank-R.pid, then ranks above 0 wait in an
                                             all-reduce while rank 0 sleeps 120 s before joining
    """

let options: ProbeOptions
do {
    options = try ProbeOptions(arguments: Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("katechon-mpi-probe: \(error)\n\(usage)\n".utf8))
    exit(2)
}

let communicator: Communicator
do {
    communicator = try Communicator.initialize(requesting: try options.threadLevel())
} catch {
    FileHandle.standardError.write(Data("katechon-mpi-probe: \(error)\n".utf8))
    exit(1)
}

do {
    let probe = Probe(communicator: communicator, options: options)
    switch options.subcommand {
    case "info": probe.info()
    case "allreduce": try probe.allReduce()
    case "broadcast": probe.broadcast()
    case "gather": probe.gather()
    case "reduce-scalars": probe.reduceScalars()
    case "mismatched-reducer": probe.mismatchedReducer()
    case "fail-on-rank": try probe.failOnRank()
    case "sleep-in-allreduce": try probe.sleepInAllReduce()
    default:
        throw ProbeOptions.InvalidOption(description: "unknown subcommand \(options.subcommand)")
    }
} catch {
    communicator.fatal("katechon-mpi-probe: \(error)\n\(usage)", code: 2)
}

communicator.finalize()
