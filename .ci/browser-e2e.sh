#!/usr/bin/env bash
# The sandbox pay page, the approval page, the webhook inspector and the WhatsApp phones in headless Chromium:
# .ci/browser-e2e.sh path/to/switchboard
# Installs Debian's chromium (if missing) and playwright-core into target/ci-browser, and (through
# .ci/python-e2e.sh --install-only, reused when there) the official Python MCP SDK into target/ci-python: the
# WhatsApp flow's agent. Screenshots: target/browser/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${1:-target/debug/switchboard}
PLAYWRIGHT_VERSION=1.65.1
DIR=target/ci-browser

if [[ ! -x /usr/bin/chromium ]]; then
    echo "-- installing Debian's chromium"
    SUDO=$([[ $(id -u) == 0 ]] || echo sudo)
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y -q chromium >/dev/null || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null; }
fi
if ! grep -qs "\"version\": \"$PLAYWRIGHT_VERSION\"" "$DIR/node_modules/playwright-core/package.json"; then
    echo "-- installing playwright-core@$PLAYWRIGHT_VERSION into $DIR"
    mkdir -p "$DIR"
    echo '{"name": "switchboard-ci-browser", "private": true}' > "$DIR/package.json"
    (cd "$DIR" && npm install --silent --no-audit --no-fund "playwright-core@$PLAYWRIGHT_VERSION")
fi
echo "-- $(/usr/bin/chromium --version 2>/dev/null), playwright-core $PLAYWRIGHT_VERSION, node $(node --version)"
for test in pay_page approval_page inspector; do
    echo "-- tests/browser/$test.mjs"
    PLAYWRIGHT_CORE_DIR=$DIR timeout 300 node "tests/browser/$test.mjs" "$BIN"
done
.ci/python-e2e.sh --install-only
echo "-- tests/python/whatsapp_flow.py (the official Python MCP SDK as the agent, tests/browser/whatsapp_flow.mjs as the phones)"
PLAYWRIGHT_CORE_DIR=$DIR timeout 300 target/ci-python/bin/python -u tests/python/whatsapp_flow.py "$BIN" legacy auto
