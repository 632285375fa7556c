//! MCP transports: stdio (how Claude Desktop launches us) and Streamable HTTP at `/mcp`.

pub mod http;
pub mod jsonrpc;
pub mod lines;
pub mod stdio;
