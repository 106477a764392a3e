//! Reports: outcomes for machines (`outcomes.jsonl`, `junit.xml`) and for people (`summary.md`, the terminal
//! summary). Reports read outcomes only; they never talk to clusters.

mod junit;
mod summary;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::outcome::Outcome;

pub use summary::{markdown, summary};

/// Writes every report into `dir`: `outcomes.jsonl`, `junit.xml` and `summary.md`; returns their paths.
pub fn write_all(dir: &Path, outcomes: &[Outcome]) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let jsonl = dir.join("outcomes.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&jsonl)?);
    for outcome in outcomes {
        serde_json::to_writer(&mut file, outcome)?;
        file.write_all(b"\n")?;
    }
    file.flush()?;
    let junit = dir.join("junit.xml");
    std::fs::write(&junit, junit::xml(outcomes))?;
    let summary = dir.join("summary.md");
    std::fs::write(&summary, markdown(outcomes))?;
    Ok(vec![jsonl, junit, summary])
}
