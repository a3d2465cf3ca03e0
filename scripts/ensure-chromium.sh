#!/usr/bin/env bash
# Make sure Debian's headless Chromium is installed for the browser tests (tests/browser/):
# they drive /usr/bin/chromium with Playwright and fail, not skip, without it. Safe to run
# again: when the browser and its fonts are present it only says so.
#
#   1. /usr/bin/chromium runs and the fonts are there -> nothing to do
#   2. otherwise -> apt-get install chromium (and fonts) from the distribution's packages,
#                   as root, or with `sudo -n` when not root
#
# No browser is ever downloaded by a test tool (`playwright install` is not used).
# Override the browser with KOHTAANTO_CHROMIUM (a path); then this script only checks it.
set -euo pipefail

CHROMIUM=${KOHTAANTO_CHROMIUM:-/usr/bin/chromium}
PACKAGES=(chromium fonts-dejavu-core fonts-liberation)

say() { echo "ensure-chromium: $*"; }

runs() {
    [ -x "$CHROMIUM" ] && "$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1
}

missing_packages() {
    local package
    for package in "${PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
            echo "$package"
        fi
    done
}

if [ -n "${KOHTAANTO_CHROMIUM:-}" ]; then
    if runs; then
        say "using $("$CHROMIUM" --headless --no-sandbox --version 2>/dev/null) at $CHROMIUM"
        exit 0
    fi
    say "KOHTAANTO_CHROMIUM=$CHROMIUM does not run"
    exit 1
fi

if runs && { ! command -v dpkg-query >/dev/null 2>&1 || [ -z "$(missing_packages)" ]; }; then
    say "$("$CHROMIUM" --headless --no-sandbox --version 2>/dev/null) is installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    say "Chromium is missing and this is not a Debian-like system (no apt-get);"
    say "install Chromium yourself and set KOHTAANTO_CHROMIUM to its path"
    exit 1
fi

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        say "root is needed to install Chromium: run as root or allow sudo for: $*"
        exit 1
    fi
}

read -r -a WANTED <<<"$(missing_packages | tr '\n' ' ')"
if [ "${#WANTED[@]}" = 0 ]; then
    WANTED=(chromium)
fi
say "installing ${WANTED[*]} from the distribution's packages"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${WANTED[@]}" >/dev/null
if ! runs; then
    say "$CHROMIUM does not run after installing ${WANTED[*]}"
    exit 1
fi
say "installed $("$CHROMIUM" --headless --no-sandbox --version 2>/dev/null)"
