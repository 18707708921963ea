#!/usr/bin/env bash
# scripts/deps.sh: install what heaplab needs on Debian 12 with apt-get, if anything is
# missing. As root it installs; otherwise it prints the one apt-get line to run and carries
# on with what is installed. Safe to run again: it does nothing when all is present.
set -u

# Build tools and libraries, then the peer allocators' runtime libraries.
# clang and libclang-rt-14-dev: the trace reader's fuzzer (libFuzzer, tests/fuzz).
PKGS=(build-essential cmake pkg-config libcjson-dev python3 python3-jsonschema
      libjemalloc2 libjemalloc-dev libtcmalloc-minimal4 libmimalloc2.0
      redis-server git clang libclang-rt-14-dev)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "heaplab: missing packages: ${missing[*]}" >&2
    echo "heaplab: run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 0
fi
echo "heaplab: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq >/dev/null || ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "heaplab: apt-get install failed for: ${missing[*]}" >&2
    exit 1
fi
