// The entry point. Parsing, help and errors of plain commands are ArgumentParser's; commands
// that run on MPI ranks go through `RankCommand.run()` (RankCommand.swift), which owns MPI's
// lifetime and turns any error on any rank into an abort of the whole job.
Launcher.main()
