// OpenBLAS's CBLAS interface. The enums import into Swift as they are; the thread-count
// controls are OpenBLAS extensions, declared in the same header.
#ifndef EQUIGLASS_CBLAS_SHIM_H
#define EQUIGLASS_CBLAS_SHIM_H
#include <cblas.h>
#endif
