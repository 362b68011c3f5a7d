#!/bin/sh
# The Debian packages the tests need beyond .venv, installed only when missing and only as root with apt-get
# (CI); elsewhere it says what to install. One apt-get run for all of them.
#   postgresql               initdb/pg_ctl for the throw-away server of tests/grading/test_postgres_gradebook.py
#   chromium-headless-shell  the browser tests/browser/ drives through Playwright's executable_path
# Usage: tools/system_deps.sh PACKAGE...
set -u

present() {
    case "$1" in
        postgresql) command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 ;;
        chromium-headless-shell) [ -x /usr/lib/chromium/chromium-headless-shell ] || [ -x /usr/bin/chromium ] ;;
        *) echo "tools/system_deps.sh: unknown package $1" >&2; exit 2 ;;
    esac
}

missing=""
for package in "$@"; do
    present "$package" || missing="$missing $package"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's$missing (for the tests)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null; }; then
        echo "error: apt-get could not install$missing" >&2
        exit 1
    fi
else
    echo "missing Debian packages:$missing. Install them (Debian/Ubuntu: sudo apt-get install$missing);" \
        "without them the PostgreSQL test fails and the browser tests skip"
fi
