// OpenBLAS's CBLAS interface. The enums import into Swift as they are; the thread-count
// controls and `openblas_get_corename()` are OpenBLAS extensions, declared in the same header.
#ifndef EQUIGLASS_CBLAS_SHIM_H
#define EQUIGLASS_CBLAS_SHIM_H
#include <cblas.h>

// The x86 vector extensions the build targets, as the C compiler that imports this header sees
// them (`-Xswiftc -target-cpu -Xswiftc haswell` reaches it too): what `bench --json` records.
static inline const char *equiglass_target_isa(void) {
#if defined(__AVX512F__)
    return "avx512f+avx2+fma";
#elif defined(__AVX2__) && defined(__FMA__)
    return "avx2+fma";
#elif defined(__AVX__)
    return "avx";
#elif defined(__x86_64__)
    return "sse2";
#else
    return "not x86-64";
#endif
}
#endif
