//! MCP transports: stdio (how Claude Desktop launches us) and Streamable HTTP at `/mcp`.

pub mod health;
pub mod http;
pub mod lines;
pub mod metrics;
pub mod sessions;
pub mod stdio;
