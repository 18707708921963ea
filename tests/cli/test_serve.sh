#!/usr/bin/env bash
# heaplab serve: usage errors and start-up failures here; the server itself (HTTP, the
# WebSocket, races against `heaplab race --ticks`, a stalled client, uploads, --ticks,
# signals) in serve_test.py, a client on python3's standard library.
source "$(dirname "$0")/lib.sh"

expect_usage "serve bad port" serve --port 70000
expect_usage "serve stray argument" serve extra
expect_usage "serve --ticks with --trace-dir" serve --ticks x --trace-dir y
check "serve --help names --ticks" bash -c "'$HEAPLAB' serve --help | grep -q -- --ticks"
"$HEAPLAB" serve --port 0 --web "$TMP/nosuch" >/dev/null 2>"$TMP/err"
check "serve --web of no directory fails" [ $? -eq 1 ]
check "... and says which" grep -q "^heaplab: --web $TMP/nosuch" "$TMP/err"
"$HEAPLAB" serve --port 0 --bind ::1 >/dev/null 2>"$TMP/err"
check "serve --bind of an IPv6 address says why" grep -q "IPv4" "$TMP/err"
"$HEAPLAB" serve --port 0 --ticks "$TMP/nosuch.ticks" >/dev/null 2>"$TMP/err"
check "serve --ticks of no file fails" grep -q "nosuch.ticks" "$TMP/err"

# --web DIR: its files, nothing outside it (a symbolic link out is refused).
mkdir -p "$TMP/web/assets"
echo '<title>dev</title>' >"$TMP/web/index.html"
echo 'console.log(1)' >"$TMP/web/assets/app.js"
echo secret >"$TMP/secret.txt"
ln -s "$TMP/secret.txt" "$TMP/web/assets/leak.txt"
"$HEAPLAB" serve --port 0 --web "$TMP/web" >"$TMP/out" 2>"$TMP/err" &
pid=$!
for _ in $(seq 50); do grep -q serving "$TMP/out" && break; sleep 0.1; done
port=$(sed -n 's|^heaplab: serving on http://127.0.0.1:\([0-9]*\)/$|\1|p' "$TMP/out")
check "serve prints the URL" [ -n "$port" ]
# get PATH: "STATUS CONTENT-TYPE" then the body, into $TMP/got.
get() {
    python3 -c "import sys; sys.path.insert(0, sys.argv[1]); import wsclient as w
s, h, b = w.http(int(sys.argv[2]), 'GET', sys.argv[3])
sys.stdout.buffer.write(('%d %s\n' % (s, h.get('content-type', ''))).encode() + b)" \
        "$TESTS_DIR/cli" "$port" "$1" >"$TMP/got"
}
get /
check "--web serves DIR/index.html" grep -q '<title>dev' "$TMP/got"
get /assets/app.js
check "--web serves assets with their type" grep -q '^200 text/javascript' "$TMP/got"
get /assets/leak.txt
check "--web refuses a link out of DIR" grep -q '^404' "$TMP/got"
get /assets/.x
check "--web refuses a hidden file" grep -q '^404' "$TMP/got"
kill -INT $pid
wait $pid
check "SIGINT: exit 130" [ $? -eq 130 ]

# A non-loopback address is served with a warning.
"$HEAPLAB" serve --port 0 --bind 0.0.0.0 >"$TMP/out" 2>"$TMP/err" &
pid=$!
for _ in $(seq 50); do grep -q serving "$TMP/out" && break; sleep 0.1; done
check "--bind 0.0.0.0 warns" grep -q "^heaplab: warning: --bind 0.0.0.0 is not a loopback" "$TMP/err"
kill -TERM $pid
wait $pid
check "SIGTERM: exit 143" [ $? -eq 143 ]

# --open runs xdg-open with the URL (a stand-in here), and only warns when it cannot.
mkdir -p "$TMP/bin"
printf '#!/bin/sh\necho "$1" >"%s/opened"\n' "$TMP" >"$TMP/bin/xdg-open"
chmod +x "$TMP/bin/xdg-open"
PATH="$TMP/bin:$PATH" "$HEAPLAB" serve --port 0 --open >"$TMP/out" 2>"$TMP/err" &
pid=$!
for _ in $(seq 50); do [ -s "$TMP/opened" ] && break; sleep 0.1; done
check "--open opens the URL it prints" grep -qx "$(sed -n 's/^heaplab: serving on //p' "$TMP/out")" "$TMP/opened"
kill -TERM $pid
wait $pid
PATH=/nonexistent "$HEAPLAB" serve --port 0 --open >"$TMP/out" 2>"$TMP/err" &
pid=$!
for _ in $(seq 50); do grep -q xdg-open "$TMP/err" && break; sleep 0.1; done
check "--open without xdg-open warns" grep -q "^heaplab: warning: --open: cannot run xdg-open" "$TMP/err"
kill -TERM $pid
wait $pid
check "... and serves on" [ $? -eq 143 ]

timeout 300 python3 "$TESTS_DIR/cli/serve_test.py" "$HEAPLAB" "$TMP"
check "serve_test.py" [ $? -eq 0 ]
finish
