//! The install channels agree with the binary and with each other: the Claude Desktop bundle's manifest
//! (`packaging/mcpb/manifest.json`), the MCP Registry entry (`server.json`), `Cargo.toml`, the README, and the
//! variables `switchboard setup` knows. Each test says which file to change when it fails.

use rmcp::model::GetPromptRequestParams;
use serde_json::Value;
use sha2::Digest;
use std::collections::BTreeSet;
use switchboard::server::{Switchboard, prompts};
use switchboard::setup::vars;

const MANIFEST: &str = "packaging/mcpb/manifest.json";
const SERVER_JSON: &str = "server.json";

fn read(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

fn json(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `io.github.<owner>/<crate>`, from Cargo.toml's repository URL.
fn registry_name() -> String {
    let repository = env!("CARGO_PKG_REPOSITORY");
    let owner = repository.strip_prefix("https://github.com/").and_then(|rest| rest.split('/').next());
    format!(
        "io.github.{}/{}",
        owner.expect("Cargo.toml: repository = \"https://github.com/OWNER/NAME\""),
        env!("CARGO_PKG_NAME")
    )
}

/// The manifest's `env`: (variable, user_config key) pairs, each value exactly `${user_config.KEY}`.
fn manifest_env(manifest: &Value) -> Vec<(String, String)> {
    let env = manifest["server"]["mcp_config"]["env"].as_object().unwrap();
    env.iter()
        .map(|(var, value)| {
            let value = value.as_str().unwrap();
            let key = value.strip_prefix("${user_config.").and_then(|k| k.strip_suffix('}'));
            let key = key.unwrap_or_else(|| panic!("{MANIFEST}: env {var} = {value}, not one ${{user_config.KEY}}"));
            (var.clone(), key.to_string())
        })
        .collect()
}

#[test]
fn versions_agree_across_cargo_toml_server_json_and_the_manifest() {
    let version = env!("CARGO_PKG_VERSION");
    let manifest = json(MANIFEST);
    let server = json(SERVER_JSON);
    assert_eq!(manifest["version"], version, "{MANIFEST}: version must be Cargo.toml's");
    assert_eq!(server["version"], version, "{SERVER_JSON}: version must be Cargo.toml's");
    for package in server["packages"].as_array().unwrap() {
        assert_eq!(package["version"], version, "{SERVER_JSON}: {}", package["identifier"]);
        if package["registryType"] == "mcpb" {
            let url = package["identifier"].as_str().unwrap();
            let release =
                format!("{}/releases/download/v{version}/switchboard-{version}-", env!("CARGO_PKG_REPOSITORY"));
            assert!(url.starts_with(&release) && url.ends_with(".mcpb"), "{SERVER_JSON}: {url} is not {release}…");
        }
    }
}

#[test]
fn the_registry_name_comes_from_the_repository_and_the_readme_shows_it() {
    let name = registry_name();
    let server = json(SERVER_JSON);
    assert_eq!(server["name"], name.as_str(), "{SERVER_JSON}: name must match Cargo.toml's repository");
    assert_eq!(server["repository"]["url"], env!("CARGO_PKG_REPOSITORY"), "{SERVER_JSON}: repository.url");
    assert_eq!(server["repository"]["source"], "github");
    let cargo = server["packages"].as_array().unwrap().iter().find(|p| p["registryType"] == "cargo").unwrap();
    assert_eq!(cargo["identifier"], env!("CARGO_PKG_NAME"), "{SERVER_JSON}: the crate's name");
    assert!(cargo.get("runtimeHint").is_none(), "cargo installs a binary on PATH: no runtime hint");

    // crates.io strips HTML comments, so the registry's ownership check needs visible text, ending at a boundary.
    let readme = read("README.md");
    let token = format!("mcp-name: {name}");
    let at = readme.find(&token).unwrap_or_else(|| panic!("README.md must show `{token}` as visible text"));
    let next = readme[at + token.len()..].chars().next();
    assert!(next.is_some_and(|c| c.is_whitespace() || c == '`' || c == '<'), "`{token}` must end at a boundary");
    assert!(!readme[..at].ends_with("<!-- "), "not in an HTML comment: crates.io strips those");

    let manifest = json(MANIFEST);
    assert_eq!(manifest["repository"]["url"], env!("CARGO_PKG_REPOSITORY"), "{MANIFEST}: repository.url");
    assert_eq!(manifest["name"], env!("CARGO_PKG_NAME"));
}

#[test]
fn the_manifest_lists_exactly_the_tools_the_binary_serves() {
    let served: Vec<Value> = Switchboard::catalog()
        .iter()
        .map(|t| serde_json::json!({"name": t.name, "description": t.description.as_deref().unwrap_or_default()}))
        .collect();
    assert_eq!(
        json(MANIFEST)["tools"],
        Value::Array(served),
        "{MANIFEST}: tools must be each served tool's name and description, in catalog order (`switchboard tools`)"
    );
    assert_eq!(json(MANIFEST)["tools_generated"], false);
}

#[test]
fn the_manifest_prompts_are_the_servers_prompts_word_for_word() {
    let manifest = json(MANIFEST);
    let listed = manifest["prompts"].as_array().unwrap();
    let served = prompts::list().prompts;
    assert_eq!(listed.len(), served.len(), "{MANIFEST}: one entry per prompt");
    for (entry, prompt) in listed.iter().zip(&served) {
        assert_eq!(entry["name"], prompt.name.as_str(), "{MANIFEST}: prompt order");
        assert_eq!(entry["description"], prompt.description.as_deref().unwrap_or_default(), "{}", prompt.name);
        let arguments: Vec<&str> = prompt.arguments.iter().flatten().map(|a| a.name.as_str()).collect();
        assert_eq!(entry["arguments"], serde_json::json!(arguments), "{}", prompt.name);

        // The manifest's text, filled in the way a client fills it, is what the server answers prompts/get with.
        let samples = [("phone", "+919820012345"), ("email", "asha.rao@kaveri-foods.example")];
        let mut text = entry["text"].as_str().unwrap().to_string();
        let mut params = GetPromptRequestParams::new(prompt.name.clone());
        let mut args = serde_json::Map::new();
        for name in &arguments {
            let sample = samples.iter().find(|(n, _)| n == name).map(|(_, v)| *v).unwrap();
            assert!(
                text.contains(&format!("${{arguments.{name}}}")),
                "{}: text uses ${{arguments.{name}}}",
                prompt.name
            );
            text = text.replace(&format!("${{arguments.{name}}}"), sample);
            args.insert(name.to_string(), sample.into());
        }
        params.arguments = Some(args);
        let got = prompts::get(params).unwrap();
        let served_text = serde_json::to_value(&got.messages[0].content).unwrap()["text"].as_str().unwrap().to_string();
        assert_eq!(text, served_text, "{MANIFEST}: prompt {} text differs from the server's", prompt.name);
    }
}

#[test]
fn every_credential_is_a_sensitive_setting_and_every_setting_reaches_one_variable() {
    let manifest = json(MANIFEST);
    let user_config = manifest["user_config"].as_object().unwrap();
    let env = manifest_env(&manifest);
    let keys: Vec<&str> = env.iter().map(|(_, k)| k.as_str()).collect();
    let unique: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(unique.len(), keys.len(), "{MANIFEST}: a setting feeds one variable");
    assert_eq!(unique, user_config.keys().map(String::as_str).collect(), "{MANIFEST}: every setting is used");
    for (name, key) in &env {
        let var = vars::find(name).unwrap_or_else(|| panic!("{MANIFEST}: {name} is not a variable Switchboard reads"));
        let option = &user_config[key];
        assert_eq!(option["sensitive"].as_bool().unwrap_or(false), var.secret, "{MANIFEST}: {key} ({name}) sensitive");
        assert_eq!(option["required"], false, "{MANIFEST}: {key}: every provider is optional");
        assert!(option.get("default").is_some(), "{MANIFEST}: {key} needs a default, or ${{user_config.{key}}} stays");
    }
    // Every credential and webhook secret can be given (the HTTP token guards --http, which a bundle does not serve).
    for var in vars::VARS.iter().filter(|v| v.secret && v.name != "SWITCHBOARD_HTTP_TOKEN") {
        assert!(env.iter().any(|(name, _)| name == var.name), "{MANIFEST}: no setting for {}", var.name);
    }
    for name in ["SWITCHBOARD_READ_ONLY", "SWITCHBOARD_CONFIRM", "SWITCHBOARD_WEBHOOK_LISTEN", "SWITCHBOARD_DATA_DIR"] {
        assert!(env.iter().any(|(n, _)| n == name), "{MANIFEST}: no setting for {name}");
    }
    let kind = |name: &str| user_config[&env.iter().find(|(n, _)| n == name).unwrap().1]["type"].clone();
    assert_eq!(kind("SWITCHBOARD_READ_ONLY"), "boolean");
    assert_eq!(kind("SWITCHBOARD_DATA_DIR"), "directory");
}

#[test]
fn the_manifests_defaults_make_a_configuration_that_loads() {
    // What Claude Desktop passes when the user fills in nothing: each default, booleans as "true"/"false".
    let manifest = json(MANIFEST);
    let defaults: Vec<(String, String)> = manifest_env(&manifest)
        .into_iter()
        .map(|(name, key)| {
            let value = match &manifest["user_config"][&key]["default"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (name, value)
        })
        .collect();
    let env = |name: &str| defaults.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let config = switchboard::config::Config::load_with(None, &env).unwrap();
    assert!(!config.read_only);
    assert_eq!(config.webhooks.listen, Some("127.0.0.1:8787".parse().unwrap()), "Desktop needs the approval page");
}

#[test]
fn server_json_offers_the_manifests_variables_the_same_way() {
    let server = json(SERVER_JSON);
    let manifest = json(MANIFEST);
    let cargo = server["packages"].as_array().unwrap().iter().find(|p| p["registryType"] == "cargo").unwrap();
    assert_eq!(cargo["packageArguments"][0]["value"], "serve");
    assert_eq!(cargo["transport"]["type"], "stdio");
    let offered: BTreeSet<(String, bool)> = cargo["environmentVariables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap().to_string(), v["isSecret"].as_bool().unwrap_or(false)))
        .collect();
    let bundled: BTreeSet<(String, bool)> = manifest_env(&manifest)
        .into_iter()
        .map(|(name, _)| (name.clone(), vars::find(&name).unwrap().secret))
        .collect();
    assert_eq!(offered, bundled, "{SERVER_JSON}: the cargo package offers the manifest's variables, secrets marked");
    let confirm = cargo["environmentVariables"].as_array().unwrap().iter().find(|v| v["name"] == "SWITCHBOARD_CONFIRM");
    assert_eq!(confirm.unwrap()["choices"], serde_json::json!(["elicit", "page", "never"]));
    for choice in ["elicit", "page", "never"] {
        let env = |name: &str| (name == "SWITCHBOARD_CONFIRM").then(|| choice.to_string());
        switchboard::config::Config::load_with(None, &env).unwrap();
    }
}

#[test]
fn the_mcpb_package_records_a_real_sha256() {
    let server = json(SERVER_JSON);
    for package in server["packages"].as_array().unwrap().iter().filter(|p| p["registryType"] == "mcpb") {
        let sha = package["fileSha256"].as_str().unwrap();
        assert!(sha.len() == 64 && sha.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')), "{sha}");
        assert!(sha.chars().any(|c| c != '0'), "{SERVER_JSON}: run packaging/bundle.sh --server-json");
    }
}

#[test]
fn setup_knows_every_variable_the_configuration_reads() {
    // Every `pub const NAME: &str = "VALUE";` in config/mod.rs's `pub mod env`.
    let config = read("src/config/mod.rs");
    let start = config.find("pub mod env {").unwrap();
    let block = &config[start..start + config[start..].find("\n}").unwrap()];
    let names: Vec<&str> = block
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub const ")?.split_once("= \"")?.1.strip_suffix("\";"))
        .collect();
    assert!(names.len() >= 30, "read {names:?}");
    for name in names {
        assert!(vars::find(name).is_some(), "src/setup/vars.rs: add {name} (and say whether it is secret)");
    }
}

#[test]
fn the_vendored_registry_schema_is_the_published_one() {
    let schema =
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/schemas/server.schema.json"))
            .unwrap();
    let sha = hex::encode(sha2::Sha256::digest(&schema));
    assert!(read("packaging/schemas/README.md").contains(&sha), "packaging/schemas/server.schema.json was edited");
    let id = &serde_json::from_slice::<Value>(&schema).unwrap()["$id"];
    assert_eq!(json(SERVER_JSON)["$schema"], *id, "{SERVER_JSON}: $schema must be the vendored schema's $id");
}
