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

// Ask for the cache lines of [p, p + bytes) ahead of use (a hint; no fault on any address):
// the tensor-product backward reads and writes per-edge rows in an order (by sender) the
// hardware prefetcher cannot guess. Here because Swift has no prefetch intrinsic.
static inline void equiglass_prefetch(const void *p, long bytes, int forWriting) {
    const char *c = (const char *)p;
    for (long k = 0; k < bytes; k += 64) {
        if (forWriting) { __builtin_prefetch(c + k, 1, 3); } else { __builtin_prefetch(c + k, 0, 3); }
    }
}
#endif
