//! `switchboard setup <client>`, run as a user runs it: each client's block parses as that client's config, launches
//! this very binary with `serve` and the variables set in the shell, and never carries a secret's value; `--write`
//! merges after a backup, keeps everything else in the file, and leaves a file that is not JSON alone.

use crate::helpers::serve_binary;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const STRIPE_SECRET: &str = "sk_test_setup_never_printed_51Hx9";
const RAZORPAY_SECRET: &str = "rzp_secret_never_printed_7Qe2";
const SECRETS: [&str; 2] = [STRIPE_SECRET, RAZORPAY_SECRET];

/// A shell with Stripe and Razorpay keys, one plain setting, and an empty variable (which counts as unset).
const SHELL: [(&str, &str); 5] = [
    ("STRIPE_API_KEY", STRIPE_SECRET),
    ("RAZORPAY_KEY_ID", "rzp_test_visible"),
    ("RAZORPAY_KEY_SECRET", RAZORPAY_SECRET),
    ("SWITCHBOARD_READ_ONLY", "1"),
    ("HUBSPOT_ACCESS_TOKEN", ""),
];

/// `switchboard setup ARGS` in `home` (also its current directory and config directory) with only `env` set.
fn setup(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("setup")
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .envs(env.iter().copied())
        .current_dir(home)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_no_secret(place: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{place} shows a secret:\n{text}");
    }
}

fn this_binary() -> PathBuf {
    std::fs::canonicalize(env!("CARGO_BIN_EXE_switchboard")).unwrap()
}

/// The `${…}` references in `value`.
fn references(value: &str) -> Vec<&str> {
    value.match_indices("${").filter_map(|(at, _)| value[at + 2..].split_once('}').map(|(r, _)| r)).collect()
}

#[test]
fn every_clients_block_launches_this_binary_and_parses_as_its_config() {
    let home = tempfile::tempdir().unwrap();
    for client in ["claude-desktop", "claude-code", "cursor", "vscode"] {
        let out = setup(home.path(), &[client], &SHELL);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "{client}: {stderr}");
        assert_no_secret(&format!("{client} stdout"), &stdout);
        assert_no_secret(&format!("{client} stderr"), &stderr);

        let doc: Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{client}: not JSON ({e}):\n{stdout}"));
        let servers_key = if client == "vscode" { "servers" } else { "mcpServers" };
        let top: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
        let expected_top: &[&str] = if client == "vscode" { &["inputs", "servers"] } else { &["mcpServers"] };
        assert_eq!(top, expected_top, "{client}");
        let entry = &doc[servers_key]["switchboard"];
        let fields: Vec<&str> = entry.as_object().unwrap().keys().map(String::as_str).collect();
        let expected_fields: &[&str] = match client {
            "claude-code" | "vscode" => &["args", "command", "env", "type"],
            _ => &["args", "command", "env"],
        };
        assert_eq!(fields, expected_fields, "{client}");
        if expected_fields.contains(&"type") {
            assert_eq!(entry["type"], "stdio", "{client}");
        }
        let command = Path::new(entry["command"].as_str().unwrap());
        assert!(command.is_absolute(), "{client}: {command:?}");
        assert_eq!(std::fs::canonicalize(command).unwrap(), this_binary(), "{client}");
        assert_eq!(entry["args"], serde_json::json!(["serve"]), "{client}");

        let env = entry["env"].as_object().unwrap();
        assert_eq!(env["RAZORPAY_KEY_ID"], "rzp_test_visible", "{client}: plain values are copied");
        assert_eq!(env["SWITCHBOARD_READ_ONLY"], "1", "{client}");
        assert!(!env.contains_key("HUBSPOT_ACCESS_TOKEN"), "{client}: an empty variable is not set");
        let (stripe, razorpay) = match client {
            "claude-desktop" | "claude-code" => ("${STRIPE_API_KEY}", "${RAZORPAY_KEY_SECRET}"),
            "cursor" => ("${env:STRIPE_API_KEY}", "${env:RAZORPAY_KEY_SECRET}"),
            _ => ("${input:switchboard-stripe-api-key}", "${input:switchboard-razorpay-key-secret}"),
        };
        assert_eq!(env["STRIPE_API_KEY"], stripe, "{client}");
        assert_eq!(env["RAZORPAY_KEY_SECRET"], razorpay, "{client}");
        let listen = env.get("SWITCHBOARD_WEBHOOK_LISTEN").and_then(Value::as_str);
        if client == "claude-desktop" {
            assert_eq!(listen, Some("127.0.0.1:8787"), "Desktop cannot elicit: it gets the approval page");
            assert!(stderr.contains("/approvals"), "{stderr}");
        } else {
            assert_eq!(listen, None, "{client}");
        }

        // Every reference is in the client's own syntax and resolvable by it.
        let inputs = doc.get("inputs").and_then(Value::as_array).cloned().unwrap_or_default();
        for value in env.values().filter_map(Value::as_str) {
            for reference in references(value) {
                match client {
                    "claude-desktop" | "claude-code" => {
                        assert!(switchboard::setup::vars::find(reference).is_some_and(|v| v.secret), "{reference}")
                    }
                    "cursor" => {
                        assert!(reference.strip_prefix("env:").is_some_and(|n| SHELL.iter().any(|(k, _)| *k == n)))
                    }
                    _ => {
                        let id = reference.strip_prefix("input:").unwrap();
                        let input = inputs.iter().find(|i| i["id"] == id).unwrap_or_else(|| panic!("no input {id}"));
                        assert_eq!((&input["type"], &input["password"]), (&"promptString".into(), &true.into()));
                        let var = id.trim_start_matches("switchboard-").replace('-', "_").to_ascii_uppercase();
                        assert!(input["description"].as_str().unwrap().starts_with(&format!("{var}: ")), "{input}");
                    }
                }
            }
        }
        assert_eq!(inputs.len(), if client == "vscode" { 2 } else { 0 }, "{client}: one prompt per secret");
    }
}

#[test]
fn with_nothing_set_the_block_still_starts_the_server_and_says_what_to_set() {
    let home = tempfile::tempdir().unwrap();
    let out = setup(home.path(), &["cursor"], &[]);
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = &doc["mcpServers"]["switchboard"];
    assert_eq!(entry["args"], serde_json::json!(["serve"]));
    assert!(entry.get("env").is_none(), "{entry}");
    assert!(text(&out.stderr).contains("No provider is set"), "{}", text(&out.stderr));
}

#[test]
fn write_merges_after_a_backup_keeping_other_servers_settings_and_their_order() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("claude_desktop_config.json");
    let original = r#"{
  "mcpServers": {
    "zeta": { "command": "zeta-server", "args": ["--port", "1"], "env": { "ZETA_TOKEN": "kept-as-is" } },
    "switchboard": { "command": "/old/switchboard", "args": ["serve"] },
    "alpha": { "command": "alpha-server" }
  },
  "globalShortcut": "Ctrl+Space"
}
"#;
    std::fs::write(&file, original).unwrap();
    let out = setup(home.path(), &["claude-desktop", "--write", "--file", file.to_str().unwrap()], &SHELL);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty(), "--write prints nothing on stdout");
    assert!(stderr.contains("Backed up") && stderr.contains("Replaced the 'switchboard' server"), "{stderr}");

    let backup = home.path().join("claude_desktop_config.json.bak");
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), original, "the backup is the file as it was");
    let written = std::fs::read_to_string(&file).unwrap();
    assert_no_secret("the written file", &written);
    assert_no_secret("stderr", &stderr);
    let doc: Value = serde_json::from_str(&written).unwrap();
    assert_eq!(doc["mcpServers"]["zeta"]["env"]["ZETA_TOKEN"], "kept-as-is");
    assert_eq!(doc["mcpServers"]["alpha"]["command"], "alpha-server");
    assert_eq!(doc["globalShortcut"], "Ctrl+Space");
    let command = doc["mcpServers"]["switchboard"]["command"].as_str().unwrap();
    assert_eq!(std::fs::canonicalize(command).unwrap(), this_binary());
    assert_eq!(doc["mcpServers"]["switchboard"]["env"]["STRIPE_API_KEY"], "${STRIPE_API_KEY}");
    let at = |needle: &str| written.find(needle).unwrap_or_else(|| panic!("{needle} missing:\n{written}"));
    assert!(at("\"zeta\"") < at("\"switchboard\"") && at("\"switchboard\"") < at("\"alpha\""), "order:\n{written}");
    assert!(at("\"mcpServers\"") < at("\"globalShortcut\""), "order:\n{written}");

    // Again: the first backup is never overwritten.
    let again = setup(home.path(), &["claude-desktop", "--write", "--file", file.to_str().unwrap()], &SHELL);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), original);
    assert_eq!(std::fs::read_to_string(home.path().join("claude_desktop_config.json.bak.1")).unwrap(), written);
}

#[test]
fn write_leaves_a_file_that_is_not_a_json_object_alone_and_says_which_and_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    for (name, content, says) in [
        ("trailing-comma.json", "{\"mcpServers\": {\"other\": {\"command\": \"x\",}}}\n", "is not valid JSON"),
        ("comments.json", "// my servers\n{\"mcpServers\": {}}\n", "is not valid JSON"),
        ("array.json", "[]\n", "is not an object"),
        ("servers-list.json", "{\"mcpServers\": []}\n", "\"mcpServers\" is not an object"),
    ] {
        let file = home.path().join(name);
        std::fs::write(&file, content).unwrap();
        let out = setup(home.path(), &["claude-code", "--write", "--file", file.to_str().unwrap()], &SHELL);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{name}: {stderr}");
        assert!(stderr.contains(file.to_str().unwrap()) && stderr.contains(says), "{name}: {stderr}");
        assert!(stderr.contains("Nothing was written") && stderr.contains("fix the file or move it aside"), "{stderr}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), content, "{name} is untouched");
        assert!(!home.path().join(format!("{name}.bak")).exists(), "{name}: no backup of an untouched file");
    }
}

#[test]
fn vscode_write_replaces_its_own_inputs_and_keeps_the_others() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".vscode");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("mcp.json"),
        r#"{"servers": {"other": {"type": "stdio", "command": "other"}},
            "inputs": [{"type": "promptString", "id": "other-token", "password": true},
                       {"type": "promptString", "id": "switchboard-stripe-api-key", "description": "stale"}]}"#,
    )
    .unwrap();
    let out = setup(home.path(), &["vscode", "--write"], &SHELL);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("mcp.json")).unwrap()).unwrap();
    assert_eq!(doc["servers"]["other"]["command"], "other");
    assert_eq!(doc["servers"]["switchboard"]["env"]["STRIPE_API_KEY"], "${input:switchboard-stripe-api-key}");
    let ids: Vec<&str> = doc["inputs"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["other-token", "switchboard-razorpay-key-secret", "switchboard-stripe-api-key"]);
    assert_eq!(doc["inputs"][2]["password"], true);
    assert_ne!(doc["inputs"][2]["description"], "stale");
    assert!(dir.join("mcp.json.bak").exists());
}

#[test]
fn write_creates_the_clients_usual_file_when_there_is_none() {
    let home = tempfile::tempdir().unwrap();
    let out = setup(home.path(), &["cursor", "--write"], &SHELL);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let file = home.path().join(".cursor").join("mcp.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["mcpServers"]["switchboard"]["env"]["STRIPE_API_KEY"], "${env:STRIPE_API_KEY}");
    assert!(!home.path().join(".cursor").join("mcp.json.bak").exists(), "nothing to back up");
    assert!(text(&out.stderr).contains("Added the 'switchboard' server"));
}

#[test]
fn an_unknown_client_or_a_bad_name_is_refused_with_what_is_valid() {
    let home = tempfile::tempdir().unwrap();
    let out = setup(home.path(), &["windsurf"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    for name in ["claude-desktop", "claude-code", "cursor", "vscode"] {
        assert!(stderr.contains(name), "{stderr}");
    }
    let out = setup(home.path(), &["cursor", "--name", "my server"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("letters, digits"), "{}", text(&out.stderr));
}

/// Claude Desktop's placeholders stay literal, and a bundle passes an unset optional setting as "": both must
/// leave the setting unset, not stop the server (`--config` used to take SWITCHBOARD_CONFIG="" as a path).
#[tokio::test]
async fn a_variable_a_client_leaves_empty_or_unexpanded_does_not_stop_the_server() {
    for value in ["", "${user_config.config_file}"] {
        let served = serve_binary(&[("SWITCHBOARD_CONFIG", value)]).await;
        let tools = served.client.list_all_tools().await.unwrap();
        assert_eq!(tools.len(), switchboard::server::Switchboard::catalog().len(), "SWITCHBOARD_CONFIG={value:?}");
        served.log().await;
    }
}
