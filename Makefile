# EquiGlass: the two commands of the README, and a build.
#
#   make demo    install what is missing, build (release), run the main job
#   make test    install what is missing, build (debug), run every test
#   make build   build (debug)
#
# SWIFTPM_FLAGS passes options to swift build/test, e.g. SWIFTPM_FLAGS="--scratch-path .build-x".
# MPIRUN_FLAGS passes options to mpirun in the demo (--oversubscribe lets 2 ranks share 1 core).

SHELL := /bin/bash
SWIFT ?= swift
SWIFTPM_FLAGS ?=
MPIRUN ?= mpirun
MPIRUN_FLAGS ?= --oversubscribe

# Open MPI refuses to run as root unless told it is intended (containers, CI machines).
export OMPI_ALLOW_RUN_AS_ROOT = 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM = 1

.PHONY: demo test build deps

deps:
	bash tools/install-deps.sh

build: deps
	$(SWIFT) build $(SWIFTPM_FLAGS)

# The last line counts test cases of both XCTest and Swift Testing ("tests: N passed, N failed"):
# swift test otherwise closes on Swift Testing's own line, which reads "0 tests" when every test
# is an XCTest.
test: deps
	$(SWIFT) build $(SWIFTPM_FLAGS)
	@log=$$(mktemp); set -o pipefail; \
	$(SWIFT) test $(SWIFTPM_FLAGS) 2>&1 | tee "$$log"; status=$$?; \
	awk '/^Test Case .* passed \(/ { passed++ } /^Test Case .* failed \(/ { failed++ } \
	     / Test .* passed after / && !/Test run with/ { passed++ } \
	     / Test .* failed after / && !/Test run with/ { failed++ } \
	     END { printf "tests: %d passed, %d failed\n", passed, failed }' "$$log"; \
	rm -f "$$log"; exit $$status

demo: deps
	$(SWIFT) build -c release $(SWIFTPM_FLAGS)
	@bin="$$($(SWIFT) build -c release $(SWIFTPM_FLAGS) --show-bin-path)"; \
	set -e; \
	echo "== mpirun -np 2 launcher selftest: every MPI collective across 2 ranks, checked"; \
	$(MPIRUN) -np 2 $(MPIRUN_FLAGS) "$$bin/launcher" selftest; \
	echo; \
	echo "== launcher version (no mpirun: rank 0 of 1)"; \
	"$$bin/launcher" version; \
	echo; \
	echo "NOT YET AVAILABLE: training on the bundled Kob-Andersen dataset over 2 MPI ranks and"; \
	echo "the per-time correlation table. The model, the data set and the trainer are still being"; \
	echo "written; this demo runs what exists so far (the MPI layer and its checks)."
