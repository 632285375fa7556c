//! `setup --write`: merge one server into a client's config file. The file is backed up first, every other
//! server and setting in it is kept in its order, and a file that is not a JSON object is left alone.

use super::SetupError;
use super::json::Json;
use std::path::{Path, PathBuf};

/// What a merge did.
#[derive(Debug)]
pub struct Merged {
    pub path: PathBuf,
    /// Where the file was copied before it changed (none when it did not exist).
    pub backup: Option<PathBuf>,
    /// Whether an entry of the same name was replaced (rather than added).
    pub replaced: bool,
}

/// Put `entry` under `servers_key`.`name` in the JSON file at `path` (created with its directory if missing) and
/// add `inputs` to its `inputs` array, replacing inputs with the same `id`.
pub fn merge(path: &Path, servers_key: &str, name: &str, entry: Json, inputs: Vec<Json>) -> Result<Merged, SetupError> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(SetupError::Read { path: path.to_path_buf(), source }),
    };
    let mut members = match existing.as_deref().map(str::trim) {
        None | Some("") => Vec::new(),
        Some(text) => match serde_json::from_str::<Json>(text) {
            Ok(Json::Object(members)) => members,
            Ok(_) => return Err(not_an_object(path, "the file")),
            Err(e) => return Err(SetupError::NotJson { path: path.to_path_buf(), reason: e.to_string() }),
        },
    };

    let mut servers = match members.iter().find(|(k, _)| k == servers_key).map(|(_, v)| v) {
        None => Vec::new(),
        Some(Json::Object(servers)) => servers.clone(),
        Some(_) => return Err(not_an_object(path, &format!("\"{servers_key}\""))),
    };
    let replaced = Json::set(&mut servers, name, entry);
    Json::set(&mut members, servers_key, Json::Object(servers));
    if !inputs.is_empty() {
        let mut all = match members.iter().find(|(k, _)| k == "inputs").map(|(_, v)| v) {
            None => Vec::new(),
            Some(Json::Array(all)) => all.clone(),
            Some(_) => return Err(not_an_object(path, "\"inputs\" (an array)")),
        };
        all.retain(|old| !inputs.iter().any(|new| new.get("id").is_some() && new.get("id") == old.get("id")));
        all.extend(inputs);
        Json::set(&mut members, "inputs", Json::Array(all));
    }

    let backup = match existing {
        Some(_) => Some(back_up(path)?),
        None => None,
    };
    write(path, &Json::Object(members).to_pretty())?;
    Ok(Merged { path: path.to_path_buf(), backup, replaced })
}

fn not_an_object(path: &Path, what: &str) -> SetupError {
    SetupError::NotAnObject { path: path.to_path_buf(), what: what.to_string() }
}

/// Copy `path` to the first free `<path>.bak`, `<path>.bak.1`, …: an earlier backup is never overwritten.
fn back_up(path: &Path) -> Result<PathBuf, SetupError> {
    let mut n = 0u32;
    let backup = loop {
        let suffix = if n == 0 { ".bak".to_string() } else { format!(".bak.{n}") };
        let mut candidate = path.as_os_str().to_owned();
        candidate.push(suffix);
        let candidate = PathBuf::from(candidate);
        if !candidate.exists() {
            break candidate;
        }
        n += 1;
    };
    std::fs::copy(path, &backup).map_err(|source| SetupError::Backup {
        path: path.to_path_buf(),
        backup: backup.clone(),
        source,
    })?;
    Ok(backup)
}

/// Write through a temporary file in the same directory, then rename: a crash leaves the old file or the new
/// one, never half of either. The new file keeps the old one's permissions.
fn write(path: &Path, text: &str) -> Result<(), SetupError> {
    let failed = |source| SetupError::Write { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(failed)?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{file_name}.switchboard-setup.tmp"));
    std::fs::write(&temp, text).map_err(failed)?;
    if let Ok(old) = std::fs::metadata(path) {
        std::fs::set_permissions(&temp, old.permissions()).map_err(failed)?;
    }
    std::fs::rename(&temp, path).map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        failed(source)
    })
}
