#!/usr/bin/env bash
# Installs what EquiGlass needs on Debian/Ubuntu, and only what is missing. Safe to run again:
# with everything present it changes nothing and touches no network.
#
#   apt:  libopenmpi-dev openmpi-bin libopenblas-dev libhdf5-openmpi-dev hdf5-tools lammps
#         make pkg-config git python3-pip (the last only when pip is missing)
#   pip:  numpy h5py pytest (only when python3 cannot import them)
#   Swift: not installed here; a Swift 6 toolchain must already be on PATH.
#
# Needs root, or sudo for the apt and pip steps.
set -euo pipefail

say() { printf 'install-deps: %s\n' "$*"; }
fail() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    as_root=()  # decided below, only if something is missing
fi

need_root() {
    if [ "$(id -u)" -ne 0 ] && [ ${#as_root[@]} -eq 0 ]; then
        fail "missing packages ($*) and neither root nor sudo: run as root or install them yourself"
    fi
}

# --- apt packages ---------------------------------------------------------------------------
packages=(libopenmpi-dev openmpi-bin libopenblas-dev libhdf5-openmpi-dev hdf5-tools lammps
          make pkg-config git)
if ! python3 -m pip --version >/dev/null 2>&1; then
    packages+=(python3-pip)
fi

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || fail "apt-get not found: install ${missing[*]} with your system's package manager"
    need_root "${missing[*]}"
    say "installing ${missing[*]}"
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    say "system packages present"
fi

# --- Python packages (the data tools use numpy and h5py; their tests use pytest) ----------
python_missing=()
for module in numpy h5py pytest; do
    python3 -c "import $module" >/dev/null 2>&1 || python_missing+=("$module")
done
if [ ${#python_missing[@]} -gt 0 ]; then
    need_root "${python_missing[*]}"
    pip_flags=(--quiet)
    # Debian 12+ and Ubuntu 23.04+ mark the system Python as externally managed (PEP 668).
    if python3 -m pip install --help 2>/dev/null | grep -q -- '--break-system-packages'; then
        pip_flags+=(--break-system-packages)
    fi
    say "pip-installing ${python_missing[*]}"
    "${as_root[@]}" python3 -m pip install "${pip_flags[@]}" "${python_missing[@]}"
else
    say "python packages present (numpy, h5py, pytest)"
fi

# --- Swift -----------------------------------------------------------------------------------
if ! command -v swift >/dev/null 2>&1; then
    hint=""
    [ -x /opt/swift/usr/bin/swift ] && hint=" (one is at /opt/swift/usr/bin: export PATH=/opt/swift/usr/bin:\$PATH)"
    fail "no 'swift' on PATH: install a Swift 6 toolchain for Linux and put its usr/bin on PATH$hint"
fi
swift_version=$(swift --version 2>/dev/null | sed -n 's/.*Swift version \([0-9][0-9]*\)\..*/\1/p' | head -n 1)
if [ -n "$swift_version" ] && [ "$swift_version" -lt 6 ]; then
    fail "swift on PATH is version $swift_version; EquiGlass needs Swift 6 or later"
fi
say "swift: $(swift --version 2>/dev/null | head -n 1)"
