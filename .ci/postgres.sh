# Sourced by .ci/run before `cargo test`: make sure a PostgreSQL server answers on 127.0.0.1:5432 and export
# SWITCHBOARD_TEST_DATABASE_URL, so the store contract tests also run against PostgreSQL (each test creates and
# drops its own database). Starts the local Debian cluster if it is stopped; fails if no server can be reached.
#
# Another server: set SWITCHBOARD_TEST_DATABASE_URL yourself before running .ci/run (a role that may CREATE DATABASE).

: "${SWITCHBOARD_TEST_DATABASE_URL:=postgres://postgres@127.0.0.1:5432/postgres}"
export SWITCHBOARD_TEST_DATABASE_URL

pg_answers() {
    psql "$SWITCHBOARD_TEST_DATABASE_URL" -Atqc 'SELECT 1' >/dev/null 2>&1
}

if ! command -v psql >/dev/null 2>&1; then
    echo "PostgreSQL client (psql) not found: install postgresql (Debian: apt-get install postgresql)" >&2
    return 1 2>/dev/null || exit 1
fi

if ! pg_answers; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
        for version in /etc/postgresql/*; do
            echo "starting PostgreSQL $(basename "$version") (cluster main)"
            pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
        done
    fi
    for _ in $(seq 1 50); do
        pg_answers && break
        sleep 0.2
    done
fi

if ! pg_answers; then
    echo "no PostgreSQL server answers at ${SWITCHBOARD_TEST_DATABASE_URL%%@*}@…${SWITCHBOARD_TEST_DATABASE_URL##*@}" >&2
    return 1 2>/dev/null || exit 1
fi
echo "PostgreSQL: $(psql "$SWITCHBOARD_TEST_DATABASE_URL" -Atqc 'SHOW server_version'), store tests run against it"
