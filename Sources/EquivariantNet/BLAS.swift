// Placeholder.
import CBLAS
