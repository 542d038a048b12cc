// Placeholder; replaced by the MPI layer.
import CMPI
