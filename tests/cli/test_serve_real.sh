#!/usr/bin/env bash
# heaplab serve's real allocators view (docs/serve.md, "Real allocators"): real runs under
# glibc and hlmalloc, their streamed heap maps, bad messages, stop / page gone / SIGTERM,
# and a missing allocator, in serve_real_test.py (a client on python3's standard library).
source "$(dirname "$0")/lib.sh"

timeout 400 python3 "$TESTS_DIR/cli/serve_real_test.py" "$HEAPLAB" "$TMP"
check "serve_real_test.py" [ $? -eq 0 ]
finish
