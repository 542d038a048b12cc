/* MPI probe for the Slurm harness: proves that the tasks started by a launch command form
   one MPI world. Each rank contributes rank+1 to an all-reduce; rank 0 prints
   "mpi_probe size=P sum=S" with S = P(P+1)/2 expected. Exits non-zero on any mismatch. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, size = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long mine = rank + 1, sum = 0;
    MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    int ok = sum == (long)size * (size + 1) / 2;
    if (rank == 0) printf("mpi_probe size=%d sum=%ld %s\n", size, sum, ok ? "ok" : "WRONG");
    MPI_Finalize();
    return ok ? 0 : 1;
}
