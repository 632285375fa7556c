//! The committed tool catalog (`tools/`) is the public contract: it must match the binary, and every tool
//! must carry honest, complete annotations.

use crate::helpers::{config, connect};
use std::path::PathBuf;

fn tools_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools")
}

#[test]
fn committed_catalog_matches_the_binary() {
    let files = switchboard::catalog::files(&switchboard::server::Switchboard::catalog()).unwrap();
    let mut drift = Vec::new();
    for (name, expected) in &files {
        match std::fs::read_to_string(tools_dir().join(name)) {
            Ok(actual) if &actual == expected => {}
            _ => drift.push(name.clone()),
        }
    }
    for entry in std::fs::read_dir(tools_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if name.ends_with(".json") && !files.iter().any(|(f, _)| *f == name) {
            drift.push(format!("{name} (no such tool)"));
        }
    }
    assert!(
        drift.is_empty(),
        "tools/ is out of date for {drift:?}: run `cargo run -- tools --write tools/` and review the diff"
    );
}

/// The binary serves the compiled-in catalog: it must describe exactly the tools the types derive, each bound
/// to its own handler (the tool tests call every one of them through the served router).
#[test]
fn served_tools_equal_the_derived_ones() {
    let served = switchboard::server::Switchboard::served_catalog()
        .expect("the compiled-in catalog must name every tool once (see COMMITTED in src/catalog.rs)");
    let derived = switchboard::server::Switchboard::catalog();
    let json = |tools: &[rmcp::model::Tool]| serde_json::to_value(tools).unwrap();
    assert_eq!(json(&served), json(&derived), "run `cargo run -- tools --write tools/` and review the diff");
}

#[tokio::test]
async fn tools_list_over_the_wire_equals_the_committed_catalog() {
    let client = connect(config(None, None)).await;
    let listed = client.list_all_tools().await.unwrap();
    assert!(!listed.is_empty());
    for tool in listed {
        let committed = std::fs::read_to_string(tools_dir().join(format!("{}.json", tool.name))).unwrap();
        let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
        assert_eq!(serde_json::to_value(&tool).unwrap(), committed, "{}", tool.name);
    }
}

#[test]
fn every_tool_has_a_title_all_hints_and_a_portable_schema() {
    for tool in switchboard::server::Switchboard::catalog() {
        let name = tool.name.to_string();
        assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name}");
        assert!(tool.description.as_deref().is_some_and(|d| d.len() > 40), "{name}: describe it for the model");
        let a = tool.annotations.clone().unwrap_or_else(|| panic!("{name}: no annotations"));
        assert!(a.title.is_some(), "{name}: title");
        assert!(a.read_only_hint.is_some(), "{name}: read_only_hint");
        assert!(a.destructive_hint.is_some(), "{name}: destructive_hint");
        assert!(a.idempotent_hint.is_some(), "{name}: idempotent_hint");
        assert!(a.open_world_hint.is_some(), "{name}: open_world_hint");
        for key in ["anyOf", "oneOf", "allOf"] {
            assert!(!tool.input_schema.contains_key(key), "{name}: top-level {key} breaks some clients");
        }
        assert_eq!(tool.input_schema.get("type").and_then(|t| t.as_str()), Some("object"), "{name}");
        assert!(tool.output_schema.is_some(), "{name}: structured output needs an outputSchema");
        let input = serde_json::Value::Object((*tool.input_schema).clone());
        assert!(!has_type_array(&input), "{name}: a `type` array in the input schema breaks single-type dialects");
    }
}

/// Whether any schema node uses `"type": [..]` (rejected by some model providers' schema dialects).
fn has_type_array(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Object(map) => {
            map.get("type").is_some_and(|t| t.is_array()) || map.values().any(has_type_array)
        }
        serde_json::Value::Array(items) => items.iter().any(has_type_array),
        _ => false,
    }
}
