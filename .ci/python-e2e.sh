#!/usr/bin/env bash
# The demo flows driven by the official Python MCP SDK: .ci/python-e2e.sh path/to/switchboard
# (payment link and approval page: tests/python/demo_flow.py; the Notion invoice book: tests/python/notion_flow.py;
# one 2025-11-25 session served by two instances on PostgreSQL: tests/python/sessions_across_instances.py)
# Installs the SDK into a virtualenv under target/ci-python (reused when the pinned version is there).
# `.ci/python-e2e.sh --install-only` just installs it (.ci/browser-e2e.sh does, for the WhatsApp flow).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${1:-target/debug/switchboard}
MCP_VERSION=2.3.0
PROMETHEUS_CLIENT_VERSION=0.26.0
VENV=target/ci-python

if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mcp') != '$MCP_VERSION' or m.version('prometheus_client') != '$PROMETHEUS_CLIENT_VERSION')" 2>/dev/null; then
    echo "-- installing mcp==$MCP_VERSION into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "mcp==$MCP_VERSION" "prometheus_client==$PROMETHEUS_CLIENT_VERSION"
fi
[[ $BIN == --install-only ]] && exit 0
timeout 300 "$VENV/bin/python" tests/python/demo_flow.py "$BIN"
timeout 300 "$VENV/bin/python" tests/python/notion_flow.py "$BIN"
timeout 120 "$VENV/bin/python" tests/python/metrics_check.py "$BIN"
timeout 120 "$VENV/bin/python" tests/python/sessions_across_instances.py "$BIN"
