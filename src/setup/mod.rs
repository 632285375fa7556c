//! `switchboard setup <client>`: the config block that makes an MCP client launch this very binary (its absolute
//! path, `serve`, and the Switchboard variables set in this shell), printed or, with `--write`, merged into the
//! client's config file after a backup. Secret values are never printed or written: each client gets its own
//! reference to them ([`clients`]).

pub mod clients;
pub mod json;
mod merge;
pub mod vars;

pub use clients::Client;
use std::io::Write;
use std::path::{Path, PathBuf};
use vars::Var;

/// Where Claude Desktop's approval page listens unless the user chose an address.
pub const APPROVAL_PAGE_ADDR: &str = "127.0.0.1:8787";

/// What `switchboard setup` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    pub client: Client,
    /// Merge into the client's config file instead of printing.
    pub write: bool,
    /// The file to merge into instead of the client's usual one.
    pub file: Option<PathBuf>,
    /// The server's name in the client's config.
    pub name: String,
}

/// How the client should start the server.
#[derive(Debug, Clone)]
pub struct Launch {
    pub command: String,
    pub args: Vec<String>,
    /// The variables to pass and their values (a secret's value is only used to know it is set).
    pub env: Vec<(&'static Var, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("this binary's path is not valid UTF-8 ({}); move it to a plain path and run setup from there", .0.display())]
    PathNotUtf8(PathBuf),
    #[error("no home directory to find {client}'s config file in; pass --file PATH")]
    NoDefaultFile { client: &'static str },
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "{} is not valid JSON ({reason}). Nothing was written: fix the file or move it aside and run again, or run \
         without --write and paste the block in yourself",
        path.display()
    )]
    NotJson { path: PathBuf, reason: String },
    #[error(
        "{} is JSON, but {what} is not an object as this client expects. Nothing was written: fix the file or move \
         it aside and run again",
        path.display()
    )]
    NotAnObject { path: PathBuf, what: String },
    #[error("cannot back up {} to {}: {source}. Nothing was written", path.display(), backup.display())]
    Backup { path: PathBuf, backup: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot print the block: {0}")]
    Output(#[from] std::io::Error),
}

/// A server name every client accepts (VS Code's rule, the strictest): a letter, then letters, digits, `-`, `_`.
pub fn parse_name(name: &str) -> Result<String, String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok { Ok(name.to_string()) } else { Err("use a letter, then letters, digits, '-' or '_'".to_string()) }
}

/// How `client` should launch the binary at `exe`: `serve`, with every Switchboard variable set in `env`.
/// Claude Desktop also gets the approval page's address unless one is set: it cannot ask in the chat.
pub fn launch(client: Client, exe: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Launch, SetupError> {
    let command = exe.to_str().ok_or_else(|| SetupError::PathNotUtf8(exe.to_path_buf()))?.to_string();
    let mut set = vars::set_in(env);
    let listen = crate::config::env::WEBHOOK_LISTEN;
    if client.needs_approval_page()
        && !set.iter().any(|(var, _)| var.name == listen)
        && let Some(var) = vars::find(listen)
    {
        set.push((var, APPROVAL_PAGE_ADDR.to_string()));
    }
    Ok(Launch { command, args: vec!["serve".to_string()], env: set })
}

/// Run `switchboard setup`: print the block on `out` (or merge it into the file) and say what to do next on
/// `notes`.
pub fn run(
    options: &Options,
    exe: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> Result<(), SetupError> {
    let client = options.client;
    let launch = launch(client, exe, env)?;
    let default_file = client.default_file(dirs::home_dir().as_deref(), dirs::config_dir().as_deref());
    if options.write {
        let path = match options.file.clone().or(default_file) {
            Some(path) => path,
            None => return Err(SetupError::NoDefaultFile { client: client.name() }),
        };
        let merged =
            merge::merge(&path, client.servers_key(), &options.name, client.entry(&launch), client.inputs(&launch))?;
        if let Some(backup) = &merged.backup {
            writeln!(notes, "Backed up {} to {}.", merged.path.display(), backup.display())?;
        }
        let verb = if merged.replaced { "Replaced the" } else { "Added the" };
        writeln!(notes, "{verb} '{}' server in {}.", options.name, merged.path.display())?;
    } else {
        out.write_all(client.document(&options.name, &launch).to_pretty().as_bytes())?;
        match default_file {
            Some(file) => writeln!(
                notes,
                "Merge this into {} (or run again with --write, which backs the file up first).",
                file.display()
            )?,
            None => writeln!(notes, "Merge this into {}'s config file.", client.name())?,
        }
    }
    for line in next_steps(client, &options.name, &launch) {
        writeln!(notes, "{line}")?;
    }
    Ok(())
}

/// What the user still has to do for `client` to start the server with their keys.
fn next_steps(client: Client, name: &str, launch: &Launch) -> Vec<String> {
    let mut lines = Vec::new();
    let secrets: Vec<&str> = launch.env.iter().filter(|(v, _)| v.secret).map(|(v, _)| v.name).collect();
    if launch.env.iter().all(|(var, _)| !is_provider(var)) {
        lines.push(
            "No provider is set in this shell: set the keys of the providers you use (e.g. STRIPE_API_KEY, or \
             RAZORPAY_KEY_ID and RAZORPAY_KEY_SECRET) and run setup again, or add them to the block's env."
                .to_string(),
        );
    }
    if !secrets.is_empty() {
        lines.push(match client {
            Client::ClaudeDesktop => format!(
                "Claude Desktop does not expand variables: replace each placeholder (${{{}}} …) with its value in the \
                 file (Settings → Developer → Edit Config); until then Switchboard treats it as unset. The .mcpb \
                 bundle avoids this: Claude Desktop asks for the keys and keeps them in the system keychain.",
                secrets[0]
            ),
            Client::ClaudeCode => format!(
                "Claude Code fills in ${{{}}} … from the environment it starts in: start claude from a shell where \
                 they are set. For all your projects instead: claude mcp add-json --scope user {name} '<the \
                 \"{name}\" entry above>'.",
                secrets[0]
            ),
            Client::Cursor => format!(
                "Cursor fills in ${{env:{}}} … from the environment it starts in: start Cursor from a shell where \
                 they are set.",
                secrets[0]
            ),
            Client::Vscode => "VS Code asks for each secret (${input:…}) the first time the server starts and keeps \
                               it in its secret storage."
                .to_string(),
        });
    }
    let listen = launch.env.iter().find(|(var, _)| var.name == crate::config::env::WEBHOOK_LISTEN);
    if let (true, Some((_, addr))) = (client.needs_approval_page(), listen) {
        lines.push(format!(
            "Claude Desktop cannot ask for approval in the chat, so payment links, cancellations, leads and \
             WhatsApp messages are approved on http://{addr}/approvals (SWITCHBOARD_WEBHOOK_LISTEN)."
        ));
    }
    if Path::new(&launch.command).components().any(|c| c.as_os_str() == "target") {
        lines.push(format!(
            "{} is a build inside a source tree: for daily use install it (cargo install --path . --locked \
             --profile dist) and run setup from the installed switchboard.",
            launch.command
        ));
    }
    lines
}

/// Whether `var` configures a provider (rather than a setting).
fn is_provider(var: &Var) -> bool {
    !var.name.starts_with("SWITCHBOARD_")
}
