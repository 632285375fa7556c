#!/usr/bin/env bash
# Build Switchboard's Claude Desktop bundle (.mcpb) for this machine's platform, checked and packed by the
# official MCPB CLI.
#
#   packaging/bundle.sh                  # cargo build --locked --profile dist, then validate and pack that binary
#   packaging/bundle.sh --bin PATH       # pack this binary instead (CI packs the debug build its tests made)
#   packaging/bundle.sh --out DIR        # where the bundle goes (default: target/bundle)
#   packaging/bundle.sh --server-json    # also record the bundle's SHA-256 in server.json (a release does)
#
# Output: DIR/switchboard-VERSION-OS-ARCH.mcpb (OS: linux, darwin or win32; ARCH: x64 or arm64) and its .sha256.
# Needs node (20 or later) and npm: the pinned CLI (packaging/package.json, package-lock.json) is installed into
# target/packaging-tools once. The manifest is packaging/mcpb/manifest.json with this platform filled in; the
# binary must report the version in Cargo.toml and serve exactly the tools the manifest lists.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

die() {
    echo "bundle.sh: $*" >&2
    exit 1
}

BIN=
OUT=target/bundle
SERVER_JSON=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --bin) BIN=${2:?--bin needs a path}; shift 2 ;;
        --out) OUT=${2:?--out needs a directory}; shift 2 ;;
        --server-json) SERVER_JSON=1; shift ;;
        -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bundle.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

# Platform names as MCPB spells them (Node's process.platform and process.arch).
case $(uname -s) in
    Linux) OS=linux ;;
    Darwin) OS=darwin ;;
    MINGW* | MSYS* | CYGWIN*) OS=win32 ;;
    *) die "unsupported OS $(uname -s): MCPB knows darwin, linux and win32" ;;
esac
case $(uname -m) in
    x86_64 | amd64) ARCH=x64 ;;
    aarch64 | arm64) ARCH=arm64 ;;
    *) die "unsupported CPU $(uname -m)" ;;
esac
EXE=
[[ $OS == win32 ]] && EXE=.exe

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
[[ -n $VERSION ]] || die "no version in Cargo.toml"

if [[ -z $BIN ]]; then
    echo "-- cargo build --locked --profile dist (whole-program optimised: several minutes)"
    cargo build --locked --profile dist
    BIN=target/dist/switchboard$EXE
fi
[[ -f $BIN && -x $BIN ]] || die "not an executable: $BIN"
REPORTED=$("$BIN" --version)
[[ $REPORTED == "switchboard $VERSION" ]] ||
    die "$BIN reports '$REPORTED', but Cargo.toml says $VERSION: rebuild it, or pass the binary of this checkout"

command -v node >/dev/null && command -v npm >/dev/null || die "needs node (20 or later) and npm on PATH"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
((NODE_MAJOR >= 20)) || die "needs node 20 or later, found $(node --version)"
TOOLS=target/packaging-tools
if ! cmp -s packaging/package-lock.json "$TOOLS/package-lock.json" || [[ ! -x $TOOLS/node_modules/.bin/mcpb ]]; then
    echo "-- installing the pinned MCPB CLI into $TOOLS"
    rm -rf "$TOOLS"
    mkdir -p "$TOOLS"
    cp packaging/package.json packaging/package-lock.json "$TOOLS/"
    (cd "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error)
fi
MCPB=$TOOLS/node_modules/.bin/mcpb

STAGE=$OUT/switchboard-$OS-$ARCH
BUNDLE=$OUT/switchboard-$VERSION-$OS-$ARCH.mcpb
rm -rf "$STAGE" "$BUNDLE" "$BUNDLE.sha256"
mkdir -p "$STAGE/server"
cp "$BIN" "$STAGE/server/switchboard$EXE"
chmod 755 "$STAGE/server/switchboard$EXE"
"$BIN" tools >"$OUT/served-tools.json"
node packaging/stage-manifest.mjs packaging/mcpb/manifest.json "$STAGE/manifest.json" "$OS" "$EXE" "$OUT/served-tools.json"
rm "$OUT/served-tools.json"

echo "-- mcpb validate"
"$MCPB" validate "$STAGE/manifest.json"
echo "-- mcpb pack"
"$MCPB" pack "$STAGE" "$BUNDLE"

if command -v sha256sum >/dev/null; then
    SHA=$(sha256sum "$BUNDLE" | cut -d' ' -f1)
else
    SHA=$(shasum -a 256 "$BUNDLE" | cut -d' ' -f1)
fi
echo "$SHA  $(basename "$BUNDLE")" >"$BUNDLE.sha256"
if ((SERVER_JSON)); then
    node packaging/server-json.mjs record server.json "$BUNDLE" "$SHA"
fi
echo
echo "bundle  $BUNDLE ($(du -h "$BUNDLE" | cut -f1))"
echo "sha256  $SHA"
