//! The house's layout as a test: no dependency cycle between top-level modules of `src/`, and `tools/` never
//! reaches into a provider's wire types. Reads the source (`use crate::…` and `crate::…` paths), so it fails on
//! the commit that adds the edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Code lines of a file, without comments and without its `#[cfg(test)]` tail (tests may reach anywhere).
fn code(text: &str) -> String {
    let body = text.split("#[cfg(test)]").next().unwrap_or("");
    body.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Every `crate::a::b…` path in `code`, with `use crate::{x, y::z}` groups expanded one level.
fn crate_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            paths.extend(group[..end].split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()));
        } else {
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
            paths.push(rest[..end].to_string());
        }
    }
    paths
}

fn top_module(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
    /// (file, path) of every `crate::` path, for the wire-type rule.
    paths: Vec<(PathBuf, String)>,
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut paths = Vec::new();
    for file in files {
        let from = top_module(&src, &file);
        if ["main", "lib"].contains(&from.as_str()) {
            continue;
        }
        for path in crate_paths(&code(&std::fs::read_to_string(&file).unwrap())) {
            let to = path.split("::").next().unwrap_or("").to_string();
            let is_module = src.join(&to).is_dir() || src.join(format!("{to}.rs")).is_file();
            if is_module && !to.is_empty() && to != from {
                edges.entry(from.clone()).or_default().insert(to);
            }
            paths.push((file.clone(), path));
        }
    }
    Graph { edges, paths }
}

/// Modules reachable from `start`.
fn reachable(edges: &BTreeMap<String, BTreeSet<String>>, start: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![start.to_string()];
    while let Some(m) = todo.pop() {
        for next in edges.get(&m).into_iter().flatten() {
            if seen.insert(next.clone()) {
                todo.push(next.clone());
            }
        }
    }
    seen
}

#[test]
fn top_level_modules_form_no_cycle() {
    let g = graph();
    let mut cycles = Vec::new();
    for (from, tos) in &g.edges {
        for to in tos {
            if reachable(&g.edges, to).contains(from) {
                cycles.push(format!("{from} -> {to} -> … -> {from}"));
            }
        }
    }
    assert!(cycles.is_empty(), "module cycles:\n{}\nedges: {:#?}", cycles.join("\n"), g.edges);
}

#[test]
fn tools_never_touch_a_providers_wire_format() {
    let g = graph();
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tools");
    let wire: Vec<_> = g
        .paths
        .iter()
        .filter(|(file, _)| file.starts_with(&tools))
        .filter(|(_, path)| ["providers::razorpay", "providers::stripe"].iter().any(|p| path.starts_with(p)))
        .map(|(file, path)| format!("{}: crate::{path}", file.display()))
        .collect();
    assert!(wire.is_empty(), "tools/ imports provider internals:\n{}", wire.join("\n"));
}

#[test]
fn the_dependency_reader_sees_grouped_and_inline_paths() {
    let paths = crate_paths("use crate::{domain::Money, store};\nlet x = crate::tools::once::run();");
    assert_eq!(paths, ["domain::Money", "store", "tools::once::run"]);
    assert_eq!(code("use a;\n// crate::x\n#[cfg(test)]\nuse crate::y;"), "use a;");
}

#[test]
fn only_webhook_sources_make_storable_events_and_stores_read_rows_without_panicking() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut offences = Vec::new();
    for file in files {
        let text = code(&std::fs::read_to_string(&file).unwrap());
        let relative = file.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        if text.contains("NewEvent::new(") && !relative.starts_with("webhooks/sources/") {
            offences.push(format!("{relative}: makes a NewEvent outside webhooks/sources"));
        }
        // sqlx's Row::get panics on a missing column or a type mismatch; try_get reports it.
        if relative.starts_with("store/") && (text.contains(".get(\"") || text.contains(".get::<")) {
            offences.push(format!("{relative}: panicking Row::get"));
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}
