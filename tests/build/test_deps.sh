#!/usr/bin/env bash
# tests/build/test_deps.sh SOURCE_DIR: what a machine without heaplab's packages is told.
# scripts/deps.sh runs against a fake dpkg-query (and, as root, a fake apt-get) first on
# PATH, so nothing is installed; `make` and CMake run in temporary build directories.
set -u
SRC=${1:?usage: test_deps.sh SOURCE_DIR}
source "$(dirname "$0")/../check.sh"
TMP=$(mktemp -d /tmp/heaplab-deps.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP" # the non-root run reads its fakes
mkdir -p "$TMP/bin"

# dpkg-query -W -f=... PKG: installed unless PKG is in $FAKE_MISSING.
cat >"$TMP/bin/dpkg-query" <<'EOF'
#!/bin/sh
for p; do :; done
case " $FAKE_MISSING " in *" $p "*) exit 1 ;; esac
printf 'install ok installed'
EOF
# apt-get ...: logs its arguments and, during an install, what policy-rc.d says about
# starting redis-server (101: refused).
cat >"$TMP/bin/apt-get" <<'EOF'
#!/bin/sh
echo "apt-get $*" >>"$FAKE_LOG"
case " $* " in
*" install "*)
    if [ -x "$HEAPLAB_POLICY_RC_D" ]; then
        "$HEAPLAB_POLICY_RC_D" redis-server start
        echo "policy-rc.d: $?" >>"$FAKE_LOG"
    else
        echo "policy-rc.d: none" >>"$FAKE_LOG"
    fi
    ;;
esac
EOF
# systemctl ...: logged, so a machine running systemd keeps its services as they are.
cat >"$TMP/bin/systemctl" <<'EOF'
#!/bin/sh
echo "systemctl $*" >>"$FAKE_LOG"
EOF
chmod 755 "$TMP/bin/dpkg-query" "$TMP/bin/apt-get" "$TMP/bin/systemctl"
cp "$SRC/scripts/deps.sh" "$TMP/deps.sh"
chmod 755 "$TMP/deps.sh"
export FAKE_LOG=$TMP/apt.log
unset MAKEFLAGS MFLAGS MAKELEVEL # run from `make test`: the make below is a fresh one

# as_user CMD...: CMD as an unprivileged user (nobody when this test runs as root).
as_user() {
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
    else
        "$@"
    fi
}

# --- Not root: deps.sh names what is missing, the command that installs it, and fails.
FAKE_MISSING="libcjson-dev redis-server" PATH="$TMP/bin:$PATH" \
    as_user bash "$TMP/deps.sh" >"$TMP/out" 2>"$TMP/err"
rc=$?
check "not root, packages missing: exits non-zero" [ $rc -ne 0 ]
check "not root: names the missing packages" grep -q "missing.*libcjson-dev redis-server" "$TMP/err"
check "not root: gives the apt-get line" \
    grep -q "apt-get install -y libcjson-dev redis-server" "$TMP/err"
check "not root: mentions make deps" grep -q "make deps" "$TMP/err"
check "not root: installs nothing" [ ! -e "$FAKE_LOG" ]
FAKE_MISSING="" PATH="$TMP/bin:$PATH" as_user bash "$TMP/deps.sh" >"$TMP/out" 2>"$TMP/err"
check "not root, nothing missing: exits 0" [ $? -eq 0 ]
check "not root, nothing missing: says nothing" [ ! -s "$TMP/err" ]

# --- Root: redis-server is installed with a policy-rc.d that refuses to start services,
# which is removed afterwards.
if [ "$(id -u)" -eq 0 ]; then
    export HEAPLAB_POLICY_RC_D=$TMP/policy-rc.d
    FAKE_MISSING="redis-server clang" PATH="$TMP/bin:$PATH" bash "$TMP/deps.sh" \
        >"$TMP/out" 2>"$TMP/err"
    rc=$?
    check "root: exits 0 once installed" [ $rc -eq 0 ]
    check "root: installs the missing packages" grep -q "install.* redis-server clang" "$FAKE_LOG"
    check "root: services may not start during the install" grep -qx "policy-rc.d: 101" "$FAKE_LOG"
    check "root: its policy-rc.d is gone afterwards" [ ! -e "$HEAPLAB_POLICY_RC_D" ]
    rm -f "$FAKE_LOG"
    echo "exit 0" >"$HEAPLAB_POLICY_RC_D"
    FAKE_MISSING="redis-server" PATH="$TMP/bin:$PATH" bash "$TMP/deps.sh" >/dev/null 2>&1
    check "root: an existing policy-rc.d is left alone" grep -qx "exit 0" "$HEAPLAB_POLICY_RC_D"
    unset HEAPLAB_POLICY_RC_D
else
    skip "not root: the install with policy-rc.d is not tried"
fi

# --- A plain `make` on a machine without cmake: says what to install, runs no cmake.
FAKE_MISSING="cmake" PATH="$TMP/bin:$PATH" \
    make -C "$SRC" --no-print-directory build BUILD="$TMP/build1" >"$TMP/out" 2>&1
rc=$?
check "make without cmake: fails" [ $rc -ne 0 ]
check "make without cmake: names it" grep -q "missing.*cmake" "$TMP/out"
check "make without cmake: says make deps" grep -q "make deps" "$TMP/out"
check "make without cmake: gives the apt-get line" grep -q "apt-get install -y cmake" "$TMP/out"
check "make without cmake: configures nothing" [ ! -e "$TMP/build1" ]

# --- pkg-config cannot find cJSON (though dpkg says it is installed): CMake names the
# package and `make deps`, and the Makefile shows what cmake printed.
FAKE_MISSING="" PATH="$TMP/bin:$PATH" PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH="" \
    make -C "$SRC" --no-print-directory build BUILD="$TMP/build2" >"$TMP/out" 2>&1
rc=$?
check "make without cJSON: fails" [ $rc -ne 0 ]
check "make without cJSON: names libcjson-dev" grep -q "libcjson-dev" "$TMP/out"
check "make without cJSON: says make deps" grep -q "make deps" "$TMP/out"
check "make without cJSON: not CMake's generic error" \
    bash -c "! grep -q 'A required package was not found' '$TMP/out'"
check "make without cJSON: cmake's own lines are shown" \
    grep -q "Configuring incomplete" "$TMP/out"
[ $FAIL -eq 0 ] || sed 's/^/  | /' "$TMP/out" | tail -20 >&2

# --- No npm (CMake is pointed at one that does not exist): the viewer's build says what to
# install and `make deps`.
FAKE_MISSING="" PATH="$TMP/bin:$PATH" make -C "$SRC" --no-print-directory build \
    BUILD="$TMP/build3" CMAKE_ARGS="-DHL_NPM=$TMP/no-npm" >"$TMP/out" 2>&1
rc=$?
check "make without npm: fails" [ $rc -ne 0 ]
check "make without npm: names nodejs and npm" grep -q "apt-get install nodejs npm" "$TMP/out"
check "make without npm: says make deps" grep -q "make deps" "$TMP/out"
[ $FAIL -eq 0 ] || sed 's/^/  | /' "$TMP/out" | tail -20 >&2
finish
