#!/usr/bin/env bash
# Fuzzes EquiGlass's file readers with libFuzzer (Fuzz/README.md): builds the fuzz targets with
# `-sanitize=fuzzer,address` in .build-fuzz, runs each for a fixed time from the seed corpus
# (Fuzz/Corpus), and fails on any crash in the project's code.
#
#   tools/fuzz.sh [--seconds N] [--target T]... [--crashes DIR] [--no-build]
#
#   --seconds N    fuzzing time per target (default 60)
#   --target T     fuzz only T (repeatable; default all four: npy, npz, snapshot,
#                  snapshot-layout)
#   --crashes DIR  where crashing inputs are kept (default .build-fuzz/crashes), one folder per
#                  target: project/ for crashes in the project's code, libhdf5/ for crashes
#                  inside libhdf5 itself, unattributed/ for crashes without a stack that the
#                  input alone does not reproduce; each input beside its log (<input>.log)
#   --no-build     use the binaries already built
#
# Exit status: 0 when no target crashed in the project's code (crashes inside libhdf5, and
# unattributed ones, are reported and kept, not failed on), 1 when one did, 2 when the build
# or a fuzzer run failed.
# The corpus grown by a run is kept in .build-fuzz/corpus/<target> and used by the next one;
# each libFuzzer run's log is .build-fuzz/fuzz-<target>-<run>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=60
targets=()
crashes="$root/.build-fuzz/crashes"
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --seconds=*) seconds="${1#*=}"; shift ;;
        --target) targets+=("$2"); shift 2 ;;
        --target=*) targets+=("${1#*=}"); shift ;;
        --crashes) crashes="$2"; shift 2 ;;
        --crashes=*) crashes="${1#*=}"; shift ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fuzz.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(npy npz snapshot snapshot-layout)
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || { echo "fuzz.sh: --seconds needs a positive integer" >&2; exit 2; }
mkdir -p "$crashes"
crashes=$(cd "$crashes" && pwd)

say() { printf 'fuzz: %s\n' "$*"; }
scratch="$root/.build-fuzz"
bin="$scratch/release"
swift_flags=(--package-path Fuzz --scratch-path "$scratch" -c release
             -Xswiftc -sanitize=fuzzer,address --toolset "$root/Fuzz/toolset.json")
if [ "$build" = 1 ]; then
    say "building the fuzz targets (release, -sanitize=fuzzer,address) in .build-fuzz"
    start=$(date +%s)
    swift build "${swift_flags[@]}" 2>&1 | grep -v -E '^\[[0-9]+/[0-9]+\] (Compiling|Emitting|Wrapping|Write)' \
        || { echo "fuzz.sh: build failed" >&2; exit 2; }
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz.sh: build failed" >&2; exit 2; }
    say "built in $(( $(date +%s) - start )) s"
fi

# Leak checking is off: libhdf5 and Open MPI keep allocations until exit. Symbolised stacks
# are what tells a crash in libhdf5 from one in the project.
symbolizer=$(dirname "$(command -v swiftc)")/llvm-symbolizer
[ -x "$symbolizer" ] || symbolizer=$(command -v llvm-symbolizer || true)
export ASAN_OPTIONS="detect_leaks=0:symbolize=1:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer"
# Swift's own crash backtracer is off: libFuzzer's handler prints the stack (and saves the input).
export SWIFT_BACKTRACE=enable=no
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

binary_of() {
    case "$1" in npy) echo FuzzNpy ;; npz) echo FuzzNpz ;; snapshot) echo FuzzSnapshot ;;
        snapshot-layout) echo FuzzSnapshotLayout ;; *) return 1 ;; esac
}

# Reports one saved input: classifies its crash from the log of the run that found it,
# keeps it (with that log) under $crashes/<target>/{project,libhdf5}/, and prints it.
record() {
    local target=$1 exe=$2 input=$3 log=$4 where kind top name kept size
    name=$(basename "$input")
    IFS=$'\t' read -r where kind top < <(python3 Fuzz/classify.py "$log")
    if [ "$where" = project ] && [[ "$top" == "no stack"* || "$top" == "no frame"* ]]; then
        # No stack (say glibc's "stack smashing detected", where the sanitizer's own report
        # fails): run the input alone, three times. The readers keep no state from one input
        # to the next, libhdf5 does: a crash that the input alone does not reproduce came from
        # state an earlier input left inside libhdf5, and cannot be attributed.
        local again="$scratch/again-$name.log" i reproduced=0
        for i in 1 2 3; do
            if ! timeout 120 "$bin/$exe" -timeout=5 -rss_limit_mb=4096 -malloc_limit_mb=4096 "$input" >"$again" 2>&1; then
                reproduced=1; break
            fi
        done
        if [ "$reproduced" = 1 ]; then
            IFS=$'\t' read -r where kind top < <(python3 Fuzz/classify.py "$again")
            log=$again
        else
            where=unattributed
            top="$top; the input alone does not crash (3 runs): state left inside libhdf5 by earlier inputs"
        fi
    fi
    mkdir -p "$crashes/$target/$where"
    kept="$crashes/$target/$where/$name"
    cp "$input" "$kept"
    cp "$log" "$kept.log"
    size=$(stat -c %s "$input")
    if [ "$where" = libhdf5 ]; then
        libhdf5_crashes=$((libhdf5_crashes + 1))
        say "$target: CRASH INSIDE LIBHDF5 ($kind), recorded, not failed on: $kept"
    elif [ "$where" = unattributed ]; then
        unattributed_crashes=$((unattributed_crashes + 1))
        say "$target: CRASH WITHOUT A STACK THAT THE INPUT ALONE DOES NOT REPRODUCE ($kind), recorded, not failed on: $kept"
    else
        project_crashes=$((project_crashes + 1))
        say "$target: CRASH IN THE PROJECT'S CODE ($kind): $kept"
    fi
    say "    at: $top"
    say "    input: $size bytes, sha1 $(sha1sum "$input" | cut -c1-40); report: $kept.log"
    say "    reproduce: $bin/$exe $kept"
    # Small inputs go into the log too, so that a CI run's finding can be recovered from it.
    if [ "$size" -le 4096 ]; then
        echo "fuzz:     base64 (decode with base64 -d):"
        base64 -w 100 "$input" | sed 's/^/        /'
    fi
}

project_crashes=0
libhdf5_crashes=0
unattributed_crashes=0
failed_runs=0
for target in "${targets[@]}"; do
    exe=$(binary_of "$target") || { echo "fuzz.sh: unknown target $target (npy, npz, snapshot, snapshot-layout)" >&2; exit 2; }
    [ -x "$bin/$exe" ] || { echo "fuzz.sh: $bin/$exe is not built (run without --no-build)" >&2; exit 2; }
    corpus="$scratch/corpus/$target"
    found="$scratch/found/$target"
    mkdir -p "$corpus" "$crashes/$target/project" "$crashes/$target/libhdf5"
    say "$target: fuzzing $exe for $seconds s (corpus .build-fuzz/corpus/$target, seeds Fuzz/Corpus/$target)"
    # libFuzzer stops at the first crash (its log then has the whole stack). A crash inside
    # libhdf5 is recorded and fuzzing starts again for the time left; a crash in the
    # project's code is recorded and ends this target's run.
    deadline=$(( $(date +%s) + seconds ))
    runs=0 executed=0
    while :; do
        left=$(( deadline - $(date +%s) ))
        [ "$left" -gt 0 ] || break
        runs=$((runs + 1))
        rm -rf "$found"; mkdir -p "$found"
        log="$scratch/fuzz-$target-$runs.log"
        status=0
        dictionary=()
        [ -f "Fuzz/Dictionaries/$target.dict" ] && dictionary=(-dict="Fuzz/Dictionaries/$target.dict")
        "$bin/$exe" -max_total_time="$left" -timeout=5 -rss_limit_mb=4096 -malloc_limit_mb=4096 \
            "${dictionary[@]}" -artifact_prefix="$found/" -print_final_stats=1 \
            "$corpus" "Fuzz/Corpus/$target" >"$log" 2>&1 &
        pid=$!
        wait "$pid" || status=$?
        # The target's scratch file (removed at a normal exit, left by a crash).
        rm -f "/dev/shm/equiglass-fuzz-$pid".* "${TMPDIR:-/tmp}/equiglass-fuzz-$pid".*
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        executed=$(( executed + ${n:-0} ))
        input=$(ls -t "$found" 2>/dev/null | head -1)
        if [ -z "$input" ]; then
            if [ "$status" -ne 0 ]; then
                say "$target: the fuzzer exited $status without saving an input; the end of its log:"
                tail -30 "$log"
                failed_runs=$((failed_runs + 1))
            fi
            break
        fi
        before=$project_crashes
        record "$target" "$exe" "$found/$input" "$log"
        [ "$project_crashes" -eq "$before" ] || break
        if [ "$runs" -ge 30 ]; then
            say "$target: 30 runs ended by crashes inside libhdf5; stopping this target early"
            break
        fi
    done
    say "$target: $executed inputs executed in $runs run(s); corpus now $(ls "$corpus" | wc -l) inputs"
done

say "summary: ${#targets[@]} target(s), $seconds s each; $project_crashes crash(es) in the project's code, $libhdf5_crashes inside libhdf5, $unattributed_crashes unattributed (kept in $crashes)"
[ "$project_crashes" -eq 0 ] || exit 1
[ "$failed_runs" -eq 0 ] || exit 2
exit 0
