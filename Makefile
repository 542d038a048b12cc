# EquiGlass: the two commands of the README, and a build.
#
#   make demo    install what is missing, build (release), run the main job
#   make test    install what is missing, build (debug), run every test
#   make build   build (debug)
#   make example build and run Examples/TrainFewSteps (the libraries from another package)
#
# SWIFTPM_FLAGS passes options to swift build/test, e.g. SWIFTPM_FLAGS="--scratch-path .build-x".
# MPIRUN_FLAGS passes options to mpirun in the demo (--oversubscribe lets 2 ranks share 1 core).
# TARGET_CPU is the CPU the build is tuned for (see below); `make TARGET_CPU=` builds portably.

SHELL := /bin/bash
SWIFT ?= swift
SWIFTPM_FLAGS ?=

# Host-tuned kernels. Swift builds for plain x86-64 (SSE2) by default; when this machine's
# /proc/cpuinfo lists avx2 and fma, the builds target `haswell` (AVX2 + FMA) and compile the
# tensor-product kernels' 8-wide FMA arithmetic (EQUIGLASS_AVX2, Core/ChannelLanes.swift).
# Such a binary stops with an illegal instruction on a CPU without AVX2/FMA: where the login
# and compute nodes differ, build on a compute node or portably with `make TARGET_CPU=`.
# TARGET_CPU names an AVX2 + FMA CPU (haswell, skylake-avx512, znver3, …) or is empty.
HOST_AVX2_FMA := $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && echo yes)
TARGET_CPU ?= $(if $(HOST_AVX2_FMA),haswell,)
CPU_FLAGS := $(if $(TARGET_CPU),-Xswiftc -target-cpu -Xswiftc $(TARGET_CPU) -Xswiftc -DEQUIGLASS_AVX2,)
override SWIFTPM_FLAGS += $(CPU_FLAGS)
MPIRUN ?= mpirun
MPIRUN_FLAGS ?= --oversubscribe

# Open MPI refuses to run as root unless told it is intended (containers, CI machines).
export OMPI_ALLOW_RUN_AS_ROOT = 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM = 1

.PHONY: demo test build deps show-flags example

# The flags the builds pass (for the commands in docs/benchmarks.md).
show-flags:
	@echo $(SWIFTPM_FLAGS)

deps:
	bash tools/install-deps.sh

build: deps
	$(SWIFT) build $(SWIFTPM_FLAGS)

# Every test: the Swift suites (XCTest and Swift Testing), then the Python tools' tests (pytest:
# the LAMMPS generator on a tiny system, the LAMMPS and Bapst importers). The last line counts
# them all ("tests: N passed, N failed"): swift test otherwise closes on Swift Testing's own
# line, which reads "0 tests" when every test is an XCTest.
test: deps
	$(SWIFT) build $(SWIFTPM_FLAGS)
	@log=$$(mktemp); set -o pipefail; \
	$(SWIFT) test $(SWIFTPM_FLAGS) 2>&1 | tee "$$log"; status=$$?; \
	python3 -m pytest -q Tests/python 2>&1 | tee -a "$$log"; pystatus=$$?; \
	awk '/^Test Case .* passed \(/ { passed++ } /^Test Case .* failed \(/ { failed++ } \
	     / Test .* passed after / && !/Test run with/ { passed++ } \
	     / Test .* failed after / && !/Test run with/ { failed++ } \
	     /^[0-9]+ (passed|failed).* in [0-9.]+s/ { for (i = 1; i < NF; i++) { \
	         if ($$(i+1) ~ /^passed/) passed += $$i; if ($$(i+1) ~ /^failed/) failed += $$i } } \
	     END { printf "tests: %d passed, %d failed\n", passed, failed }' "$$log"; \
	rm -f "$$log"; [ $$status -eq 0 ] && [ $$pystatus -eq 0 ]

# The libraries used from another Swift package: Examples/TrainFewSteps depends on this one by
# path (the EquiGlass library product), trains a small network 2 steps on one rank on the bundled
# test file and evaluates it.
example: deps
	cd Examples/TrainFewSteps && $(SWIFT) build $(SWIFTPM_FLAGS) && $(SWIFT) run $(SWIFTPM_FLAGS) TrainFewSteps

# The main job: training over 2 MPI ranks on the bundled dataset (configs/demo.json), then the
# per-time correlation table on the held-out snapshots. DEMO_OUT is the run directory; a second
# `make demo` continues it (--resume) or, when it is finished, just evaluates it again.
DEMO_TRAIN ?= data/ka-N1000-T0.60-train.h5
DEMO_TEST ?= data/ka-N1000-T0.60-test.h5
DEMO_CONFIG ?= configs/demo.json
DEMO_OUT ?= runs/demo

demo: deps
	@for f in $(DEMO_TRAIN) $(DEMO_TEST); do \
	    if [[ ! -f $$f ]]; then \
	        echo "make demo: the dataset file $$f is missing (see data/README.md for how it is made);"; \
	        echo "the demo trains on it and cannot run without it."; \
	        exit 1; \
	    fi; \
	done
	$(SWIFT) build -c release $(SWIFTPM_FLAGS)
	@bin="$$($(SWIFT) build -c release $(SWIFTPM_FLAGS) --show-bin-path)"; \
	set -e; \
	echo "== mpirun -np 2 launcher train ($(DEMO_CONFIG)) -> $(DEMO_OUT)"; \
	$(MPIRUN) -np 2 $(MPIRUN_FLAGS) "$$bin/launcher" train --data $(DEMO_TRAIN) --validation $(DEMO_TEST) \
	    --out $(DEMO_OUT) --config $(DEMO_CONFIG) --resume; \
	echo; \
	echo "== launcher evaluate: held-out snapshots, Pearson rho per species and time"; \
	"$$bin/launcher" evaluate --checkpoint $(DEMO_OUT) --data $(DEMO_TEST)
