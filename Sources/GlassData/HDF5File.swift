// Placeholder.
import CHDF5
import ZIPFoundation
