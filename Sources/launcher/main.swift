import DistributedTraining
import EquivariantNet
import GlassData
print("launcher")
