#!/usr/bin/env python3
"""Tells where a fuzz crash happened, from the report a fuzz binary printed when it re-ran the
crashing input (tools/fuzz.sh runs it, and calls this on the log).

    classify.py LOG    prints one line: "libhdf5 | project<TAB>kind<TAB>top frame"

The crash is in libhdf5 when the innermost frame that is not the sanitizer's, libFuzzer's or
the C library's own lies in libhdf5 (or a library only it calls: zlib, szip), and — for a
buffer overflow — the overflowed memory was not allocated by the project (libhdf5 writing past
a buffer the project sized wrongly is the project's bug). Everything else, a report without a
stack among it, is the project's.
"""
import re
import sys

# Frames of the machinery around the crash, skipped to find where it happened.
INFRASTRUCTURE_FUNCTIONS = re.compile(
    r"^(__sanitizer|__asan|__lsan|__ubsan|__interceptor|___interceptor|__interception|fuzzer::|"
    r"StackTrace|__GI_|__libc_|__pthread|pthread_kill|raise|abort|gsignal|malloc|calloc|realloc|"
    r"free|posix_memalign|aligned_alloc|memcpy|memmove|memset|strlen|strnlen|strcpy|__mem|__str|"
    r"_start|__restore_rt|__fortify_fail|__stack_chk_fail|__chk_fail|__assert)"
)
INFRASTRUCTURE_OBJECTS = re.compile(r"(libc\.so|libpthread|ld-linux|libclang_rt|libgcc_s|libstdc\+\+|/compiler-rt/|"
                                    r"^(nptl|stdlib|signal|debug|string|libio|csu|malloc)/)")
HDF5_OBJECTS = re.compile(r"(libhdf5|libz\.so|libsz\.so|libaec\.so)")

FRAME = re.compile(r"^\s*#(\d+)\s+0x[0-9a-f]+\s+(?:in\s+(\S+)\s*)?(.*)$")


def stacks(lines):
    """The stacks of the report, in order, each a list of (function, location)."""
    result, current = [], None
    for line in lines:
        match = FRAME.match(line)
        if match:
            if match.group(1) == "0" or current is None:
                current = []
                result.append(current)
            current.append((match.group(2) or "", match.group(3).strip()))
        else:
            current = None if line.strip() == "" or not line.startswith(" ") else current
    return result


def innermost(stack):
    """The first frame (innermost) that is not infrastructure, or None."""
    for function, location in stack:
        if INFRASTRUCTURE_FUNCTIONS.match(function) or INFRASTRUCTURE_OBJECTS.search(location):
            continue
        return function, location
    return None


def describe(frame, stack):
    """A frame as one short line; an unnamed one (a static function of a stripped library)
    with the first named frame that called it."""
    function, location = frame
    location = re.sub(r"\s*\(BuildId: [0-9a-f]+\)", "", location)
    location = re.sub(r"^\(/\S*/([^/]+)\+(0x[0-9a-f]+)\)$", r"\1+\2", location)
    if function:
        return (function + " " + location).strip()
    caller = next((f for f, _ in stack[stack.index(frame) + 1:] if f), "")
    return location + (" (called from " + caller + ")" if caller else "")


def is_hdf5(frame):
    function, location = frame
    return bool(HDF5_OBJECTS.search(location)) or function.startswith(("H5", "H5_"))


def classify(text):
    lines = text.splitlines()
    kind = "crash"
    for line in lines:
        match = re.search(r"ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer): ([\w-]+)", line)
        if match:
            kind = {"deadly": "deadly signal"}.get(match.group(2), match.group(2))
            break
    fatal = next((line.strip() for line in lines if "Fatal error" in line or "FINDING:" in line), "")
    all_stacks = stacks(lines)
    if not all_stacks:
        return "project", kind, fatal or "no stack in the report"
    frame = innermost(all_stacks[0])
    if frame is None:
        return "project", kind, fatal or "no frame outside the sanitizer and libc"
    top = describe(frame, all_stacks[0])
    if fatal:
        top = fatal + " at " + top
    if not is_hdf5(frame):
        return "project", kind, top
    # A buffer overflow by libhdf5 into memory the project allocated is the project's.
    allocation = next((i for i, line in enumerate(lines) if re.search(r"(allocated|freed) by thread", line)), None)
    if allocation is not None:
        later = stacks(lines[allocation + 1:])
        if later:
            allocator = innermost(later[0])
            if allocator is not None and not is_hdf5(allocator):
                return "project", kind, top + " (into memory allocated at " + (allocator[0] or allocator[1]) + ")"
    return "libhdf5", kind, top


if __name__ == "__main__":
    with open(sys.argv[1], errors="replace") as f:
        print("\t".join(classify(f.read())))
