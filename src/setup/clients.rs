//! The clients `switchboard setup` knows: where each keeps its MCP servers, the shape of one server's entry, and
//! how each refers to a secret so that none is ever written by value.

use super::Launch;
use super::json::Json;
use super::vars::Var;
use std::path::{Path, PathBuf};

/// An MCP client whose config file `switchboard setup` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Client {
    /// Claude Desktop: `claude_desktop_config.json` (`mcpServers`). It expands no variables.
    ClaudeDesktop,
    /// Claude Code: the project's `.mcp.json` (`mcpServers`), which expands `${VAR}`.
    ClaudeCode,
    /// Cursor: `~/.cursor/mcp.json` (`mcpServers`), which expands `${env:VAR}`.
    Cursor,
    /// VS Code: the workspace's `.vscode/mcp.json` (`servers` and `inputs`), which prompts for `${input:ID}`.
    Vscode,
}

impl Client {
    pub const ALL: [Client; 4] = [Client::ClaudeDesktop, Client::ClaudeCode, Client::Cursor, Client::Vscode];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Client::ClaudeDesktop => "claude-desktop",
            Client::ClaudeCode => "claude-code",
            Client::Cursor => "cursor",
            Client::Vscode => "vscode",
        }
    }

    /// The top-level key that maps server names to their entries.
    pub fn servers_key(self) -> &'static str {
        match self {
            Client::Vscode => "servers",
            _ => "mcpServers",
        }
    }

    /// Claude Desktop cannot ask the user in the chat (no elicitation), so it needs the approval page.
    pub fn needs_approval_page(self) -> bool {
        self == Client::ClaudeDesktop
    }

    /// The file `--write` merges into when no `--file` is given: Claude Desktop's and Cursor's per-user files,
    /// Claude Code's and VS Code's files in the current project.
    pub fn default_file(self, home: Option<&Path>, config_dir: Option<&Path>) -> Option<PathBuf> {
        match self {
            Client::ClaudeDesktop => config_dir.map(|d| d.join("Claude").join("claude_desktop_config.json")),
            Client::ClaudeCode => Some(PathBuf::from(".mcp.json")),
            Client::Cursor => home.map(|h| h.join(".cursor").join("mcp.json")),
            Client::Vscode => Some(PathBuf::from(".vscode").join("mcp.json")),
        }
    }

    /// How this client's file refers to a secret (never its value). Claude Desktop expands nothing: its
    /// `${NAME}` stays literal, and Switchboard reads an unexpanded placeholder as unset until the user pastes the
    /// value over it.
    pub fn secret_reference(self, var: &Var) -> String {
        match self {
            Client::ClaudeDesktop | Client::ClaudeCode => format!("${{{}}}", var.name),
            Client::Cursor => format!("${{env:{}}}", var.name),
            Client::Vscode => format!("${{input:{}}}", input_id(var)),
        }
    }

    /// One server's entry: the command, its arguments and its environment.
    pub fn entry(self, launch: &Launch) -> Json {
        let mut members = Vec::new();
        if matches!(self, Client::ClaudeCode | Client::Vscode) {
            members.push(("type".to_string(), Json::string("stdio")));
        }
        members.push(("command".to_string(), Json::string(&launch.command)));
        members.push(("args".to_string(), Json::Array(launch.args.iter().map(Json::string).collect())));
        if !launch.env.is_empty() {
            let env = launch.env.iter().map(|(var, value)| {
                let value = if var.secret { self.secret_reference(var) } else { value.clone() };
                (var.name, Json::String(value))
            });
            members.push(("env".to_string(), Json::object(env)));
        }
        Json::Object(members)
    }

    /// VS Code's `inputs`: one password prompt per secret the entry refers to. Other clients have none.
    pub fn inputs(self, launch: &Launch) -> Vec<Json> {
        if self != Client::Vscode {
            return Vec::new();
        }
        let secrets = launch.env.iter().filter(|(var, _)| var.secret);
        secrets
            .map(|(var, _)| {
                Json::object([
                    ("type", Json::string("promptString")),
                    ("id", Json::String(input_id(var))),
                    ("description", Json::String(format!("{}: {}", var.name, var.about))),
                    ("password", Json::Bool(true)),
                ])
            })
            .collect()
    }

    /// A whole config file holding just this server, as `setup` prints it.
    pub fn document(self, name: &str, launch: &Launch) -> Json {
        let mut members = vec![(self.servers_key().to_string(), Json::object([(name, self.entry(launch))]))];
        let inputs = self.inputs(launch);
        if !inputs.is_empty() {
            members.push(("inputs".to_string(), Json::Array(inputs)));
        }
        Json::Object(members)
    }
}

/// VS Code input ids are shared by every server in the file, hence the prefix.
pub fn input_id(var: &Var) -> String {
    format!("switchboard-{}", var.name.to_ascii_lowercase().replace('_', "-"))
}
