-- MCP protocol sessions any instance may serve (2025-11-25 clients' `Mcp-Session-Id`; 2026-07-28 has none): an
-- instance that gets a session id it does not hold loads the client's `initialize` parameters from here and replays
-- the handshake (src/transport/sessions/store.rs). Only what the client declared about itself is kept (protocol
-- version, capabilities, name and version; not its `_meta`), never a header or a token.
--
-- A row goes on DELETE /mcp (on any instance). Each instance holding the session moves `expires_ms` on while the
-- session is in use there, to its last use plus that instance's `[http] session_idle_secs`; past it the session is
-- not restored, and any instance's reaper deletes the row. Times are milliseconds since the epoch by the
-- database's clock, the one clock every instance shares.
CREATE TABLE mcp_sessions (
    id         TEXT PRIMARY KEY,
    initialize TEXT NOT NULL,              -- the client's initialize params, JSON
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX mcp_sessions_expires ON mcp_sessions (expires_ms);
