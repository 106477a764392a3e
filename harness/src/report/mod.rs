//! Reports: outcomes for machines (`outcomes.jsonl`, `junit.xml`) and for people (`summary.md`, the terminal
//! summary). Reports read outcomes only; they never talk to clusters.

mod junit;
mod summary;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::outcome::Outcome;

pub use summary::{markdown, summary};

/// Makes `dir` ready for the reports before anything runs: a folder (created if missing), never a file.
pub fn prepare(dir: &Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err("is not a folder".to_owned()),
        Err(_) => std::fs::create_dir_all(dir).map_err(|e| format!("cannot be created: {e}")),
    }
}

/// Writes every report into `dir`: `outcomes.jsonl`, `junit.xml` and `summary.md`; returns their paths.
pub fn write_all(dir: &Path, outcomes: &[Outcome]) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut jsonl = Vec::new();
    for outcome in outcomes {
        serde_json::to_writer(&mut jsonl, outcome)?;
        jsonl.write_all(b"\n")?;
    }
    let files = [
        ("outcomes.jsonl", jsonl),
        ("junit.xml", junit::xml(outcomes).into_bytes()),
        ("summary.md", markdown(outcomes).into_bytes()),
    ];
    files
        .into_iter()
        .map(|(name, bytes)| {
            let path = dir.join(name);
            replace(&path, &bytes)?;
            Ok(path)
        })
        .collect()
}

/// Writes `bytes` to a new file beside `path` and renames it over `path`: a symlink at `path` is replaced, never
/// followed, and a reader never sees half a report.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("report");
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}
