#!/bin/bash
# The npm packages of the browser SDK's test (t/51-browser-sdk.t), at fixed
# versions, into .cache/npm/node_modules (git-ignored): playwright-core
# drives Debian's chromium (it downloads no browser), terser measures the
# SDK minified.  A no-op when they are there.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${EVBUS_NPM_DIR:-$REPO/.cache/npm}
PKGS="playwright-core@1.65.1 terser@5.51.4"

[ "$(cat "$DIR/.installed" 2>/dev/null)" = "$PKGS" ] && exit 0

command -v npm >/dev/null || {
    echo "install.sh: npm not found (scripts/deps.sh browser)" >&2
    exit 1
}

mkdir -p "$DIR"
# no package.json or lock file: nothing that names the registry is written
# into the checkout
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$DIR" --no-save \
    --no-package-lock --no-audit --no-fund --loglevel=error $PKGS >&2
echo "$PKGS" > "$DIR/.installed"
