// libFuzzer's driver entry point (compiler-rt, linked by `-sanitize=fuzzer`). The fuzz
// executables have their own `main` (SwiftPM gives every executable one), which calls this.
#ifndef EQUIGLASS_CFUZZER_H
#define EQUIGLASS_CFUZZER_H
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
