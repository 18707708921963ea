#!/usr/bin/env bash
# scripts/deps.sh: what heaplab needs on Debian 12.
#   scripts/deps.sh          (make deps, make test, make bench) everything. As root it installs
#                            what is missing with apt-get; otherwise it prints the one apt-get
#                            line to run and exits 1, so the make target stops there.
#   scripts/deps.sh --build  (make) only what building needs; never installs: prints what is
#                            missing and how to install it, and exits 1.
# Safe to run again: it does nothing when all is present. Without dpkg-query (not Debian)
# it checks nothing; CMake then says what it cannot find.
set -u

# Building: the compiler, CMake, cJSON through pkg-config, civetweb (heaplab serve), python3
# (generators), and node with npm (the viewer's uPlot, web/). Debian's nodejs and npm only
# where no npm is found: a machine whose node comes from elsewhere (NodeSource's bundles npm)
# keeps it.
BUILD_PKGS=(build-essential cmake pkg-config libcjson-dev libcivetweb-dev python3)
command -v npm >/dev/null 2>&1 || BUILD_PKGS+=(nodejs npm)
# Testing and benchmarking: the peer allocators' runtime libraries; python3 and jsonschema
# (results checks); redis-server and git (real programs under hlmalloc); clang and
# libclang-rt-14-dev (the trace reader's fuzzer, libFuzzer, tests/fuzz); chromium (the
# viewer's browser tests, web/test, run headless).
RUN_PKGS=(python3 python3-jsonschema libjemalloc2 libjemalloc-dev libtcmalloc-minimal4
          libmimalloc2.0 redis-server git clang libclang-rt-14-dev chromium)
# Services the packages above would start on install (redis-server): the tests start their
# own on private ports, so none is started (policy-rc.d, honoured by invoke-rc.d and
# deb-systemd-invoke) or enabled.
SERVICES=(redis-server)
POLICY_RC_D=${HEAPLAB_POLICY_RC_D:-/usr/sbin/policy-rc.d} # tests point it elsewhere

mode=all
case ${1:-} in
"") PKGS=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}") ;;
--build)
    mode=build
    PKGS=("${BUILD_PKGS[@]}")
    ;;
*)
    echo "usage: scripts/deps.sh [--build]" >&2
    exit 2
    ;;
esac

command -v dpkg-query >/dev/null || exit 0
missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

line="sudo apt-get update && sudo apt-get install -y ${missing[*]}"
if [ $mode = build ]; then
    echo "heaplab: cannot build: missing packages: ${missing[*]}" >&2
    echo "heaplab: install them with 'make deps' (as root), or: $line" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "heaplab: missing packages: ${missing[*]}" >&2
    echo "heaplab: run 'make deps' as root, or: $line" >&2
    exit 1
fi

# A policy-rc.d of our own while apt-get runs, unless the machine has one (containers do).
policy_ours=0
if [ ! -e "$POLICY_RC_D" ]; then
    printf '#!/bin/sh\n# heaplab scripts/deps.sh: no service starts during its install\nexit 101\n' \
        >"$POLICY_RC_D" && chmod 755 "$POLICY_RC_D" && policy_ours=1
    trap '[ $policy_ours -eq 1 ] && rm -f "$POLICY_RC_D"' EXIT
fi

echo "heaplab: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq >/dev/null || ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "heaplab: apt-get install failed for: ${missing[*]}" >&2
    exit 1
fi
# Under systemd, a service installed just now stays disabled (it would start at boot).
if [ -d /run/systemd/system ]; then
    for s in "${SERVICES[@]}"; do
        case " ${missing[*]} " in
        *" $s "*) systemctl disable --quiet "$s" 2>/dev/null ;;
        esac
    done
fi
exit 0
