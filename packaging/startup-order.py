#!/usr/bin/env python3
"""Regenerate packaging/startup.ld: the functions a stdio server runs from spawn to answering `tools/list`, which
build.rs has the linker place next to each other.

Usage: packaging/startup-order.py BINARY MAP [OUT]
  BINARY  a `dist` build linked without the current order, and
  MAP     the linker's map of it (function names: BINARY is stripped), both from
          SWITCHBOARD_NO_STARTUP_ORDER=1 SWITCHBOARD_LINK_MAP=/tmp/switchboard.map cargo build --locked --profile dist
          (the same profile settings as what ships: changing any, even `strip`, changes the names)
  OUT     where to write the linker script (default: packaging/startup.ld next to this file)
Needs valgrind. Runs BINARY under callgrind twice, as the start-up benchmark does (`serve` over stdio, three providers
and two webhook sources configured; initialize, initialized and tools/list written at once): with a fresh data
directory, then with an existing database (which start-up opens to reconcile). Every code section (one per function)
an instruction ran in is listed by name, and again with its hash (`17h*E`) or crates' disambiguators (`Cs*_`) left
out, so that a later build whose hashes moved (a version bump, a dependency update) still finds most of them.

Why: the kernel maps the 64 KiB around every page of the executable a process faults in. Scattered through 9.5 MiB
of code, the ~1 MiB that start-up runs touched ~95 such windows, ~6 MiB resident; together they take ~17.
"""
import bisect
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# Legacy mangling ends in a hash of the crate and the instance; v0 (the standard library's) names each crate with a
# disambiguator, and back-references count bytes, so a moved disambiguator may still hide a name.
HASH = re.compile(r"17h[0-9a-f]{16}E$")
CRATE = re.compile(r"Cs[0-9A-Za-z]+_")


def hash_free(section):
    if "._R" in section:
        return CRATE.sub("Cs*_", section)
    return HASH.sub("17h*E", section)


def config(home):
    data = os.path.join(home, "data")
    path = os.path.join(home, "switchboard.toml")
    stub = "127.0.0.1:9"
    with open(path, "w") as f:
        f.write(
            f'data_dir = "{data}"\n'
            f'[razorpay]\nkey_id = "rzp_test_Order0001"\nkey_secret = "order-secret"\nbase_url = "http://{stub}"\n'
            f'[stripe]\napi_key = "sk_test_Order0001"\nbase_url = "http://{stub}"\n'
            f'[hubspot]\naccess_token = "pat-na1-order-0001"\nbase_url = "http://{stub}"\n'
            '[webhooks.sources.razorpay]\nsecrets = ["order-webhook-secret"]\n'
            '[webhooks.sources.stripe]\nsecrets = ["whsec_orderwebhooksecret"]\n'
        )
    return path


def session(command, home, last):
    """Run `command` (switchboard serve …) on a pipe, send the start-up batch plus `last`, wait for `last`'s answer."""
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "startup-order", "version": "0"}}}
    batch = [init, {"jsonrpc": "2.0", "method": "notifications/initialized"}, last]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": home}
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             env=env)
    child.stdin.write("".join(json.dumps(m) + "\n" for m in batch).encode())
    child.stdin.flush()
    while True:
        line = child.stdout.readline()
        if not line:
            sys.exit(f"startup-order: {command[0]} closed stdout before answering {last['method']}")
        if b'"id":2' in line:
            break
    child.stdin.close()
    child.wait()


def profiled(binary, home, cfg, out):
    command = ["valgrind", "--tool=callgrind", "--dump-instr=yes", "--compress-pos=no", "--compress-strings=no",
               f"--callgrind-out-file={out}", binary, "serve", "--config", cfg]
    session(command, home, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    return instructions_run(out, os.path.realpath(binary))


def instructions_run(callgrind_out, binary):
    """The addresses (as in the ELF file) of the instructions of `binary` that callgrind saw run."""
    ran, ours = set(), False
    with open(callgrind_out, errors="replace") as f:
        for line in f:
            if line.startswith("ob="):
                ours = os.path.realpath(line[3:].strip()) == binary
            elif ours and line.startswith("0x"):
                ran.add(int(line.split()[0], 16))
    return ran


def code_sections(link_map):
    """Every code section the linker placed: (address, size, name), by address. lld's map: VMA, LMA, size, alignment,
    then `file:(section)` for an input section."""
    line = re.compile(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s+.*:\((\.text\.[^)]+)\)$")
    found = []
    with open(link_map, errors="replace") as f:
        for text in f:
            m = line.match(text)
            if m and int(m.group(2), 16) > 0:
                found.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)))
    return sorted(found)


def containing(sections, addresses):
    """The names of the sections that hold `addresses`."""
    starts = [address for address, _, _ in sections]
    names = set()
    for address in addresses:
        i = bisect.bisect_right(starts, address) - 1
        if i >= 0 and address < sections[i][0] + sections[i][1]:
            names.add(sections[i][2])
    return names


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    binary, link_map = sys.argv[1], sys.argv[2]
    out = sys.argv[3] if len(sys.argv) > 3 else os.path.join(HERE, "startup.ld")
    headers = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout
    if ".text.startup_order" in headers:
        sys.exit(f"startup-order: {binary} is already ordered (build it with SWITCHBOARD_NO_STARTUP_ORDER=1)")
    sections = code_sections(link_map)
    where = {name: address for address, _, name in sections}
    if not sections:
        sys.exit(f"startup-order: {link_map} places no .text.* sections (an LLD map of BINARY is needed)")
    with tempfile.TemporaryDirectory() as home:
        cfg = config(home)
        fresh = containing(sections, profiled(binary, home, cfg, os.path.join(home, "fresh.callgrind")))
        # A database, as anyone has who has received a webhook: one list_events call creates it.
        session([binary, "serve", "--config", cfg], home,
                {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_events", "arguments": {}}})
        existing = containing(sections, profiled(binary, home, cfg, os.path.join(home, "existing.callgrind")))
    ran = sorted(fresh | existing, key=lambda name: where[name])
    started = [name for name in ran if name in fresh]
    database = [name for name in ran if name not in fresh]
    stems = list(dict.fromkeys(hash_free(name) for name in ran if hash_free(name) != name))
    with open(out, "w") as f:
        f.write(
            "/* Generated by packaging/startup-order.py from a profile of `switchboard serve` answering initialize\n"
            "   and tools/list over stdio; used by build.rs. The functions start-up runs go together before the rest\n"
            "   of the code, so that it faults in few pages of the executable: first those a fresh data directory\n"
            "   runs, then those an existing database adds, then the same names with their hash (17h...E) or crate\n"
            "   disambiguators (Cs..._) left out, which a build whose hashes moved (a version bump, an updated\n"
            "   dependency) still matches. A name the build lacks matches nothing. */\n"
            "SECTIONS\n{\n  .text.startup_order :\n  {\n"
        )
        for names in (started, database, stems):
            f.write("    *(\n")
            for name in names:
                f.write(f"      {name}\n")
            f.write("    )\n")
        f.write("  }\n}\nINSERT BEFORE .text;\n")
    print(f"startup-order: {len(started)} functions, {len(database)} more with a database, {len(stems)} hash-free "
          f"patterns -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
