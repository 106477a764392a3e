//! Reports: outcomes for machines (`outcomes.jsonl`, `junit.xml`) and for people (`summary.md`, the terminal
//! summary). Reports read outcomes only; they never talk to clusters.

mod html;
mod junit;
mod summary;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::outcome::Outcome;

pub use html::{HistoryStrip, StripRun, render as html};
pub use summary::{line, markdown, summary};

/// Makes `dir` ready for the reports before anything runs: a folder (created if missing), never a file.
pub fn prepare(dir: &Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err("is not a folder".to_owned()),
        Err(_) => std::fs::create_dir_all(dir).map_err(|e| format!("cannot be created: {e}")),
    }
}

/// A listener of a run: told of each outcome as it is judged, and of the end of the run. A new report format is one
/// more implementation.
pub trait Reporter {
    /// One outcome, as soon as it is known.
    fn outcome(&mut self, _outcome: &Outcome) -> std::io::Result<()> {
        Ok(())
    }

    /// The run is over (finished or interrupted): `outcomes` is all of it. Returns the files written.
    fn finish(&mut self, _outcomes: &[Outcome]) -> std::io::Result<Vec<PathBuf>> {
        Ok(Vec::new())
    }
}

/// Every reporter of a run, fed together.
pub struct Reporters(Vec<Box<dyn Reporter>>);

impl Reporters {
    /// The reports of a run into `dir` (`outcomes.jsonl` as it happens, `junit.xml`, `summary.md` and `report.html` at
    /// the end),
    /// and a progress line per outcome on stderr when `progress`.
    pub fn for_run(dir: &Path, progress: bool) -> std::io::Result<Reporters> {
        let mut reporters: Vec<Box<dyn Reporter>> = vec![Box::new(Jsonl::create(dir)?)];
        reporters.push(Box::new(AtEnd {
            path: dir.join("junit.xml"),
            render: junit::xml,
        }));
        reporters.push(Box::new(AtEnd {
            path: dir.join("summary.md"),
            render: markdown,
        }));
        reporters.push(Box::new(AtEnd {
            path: dir.join("report.html"),
            render: |outcomes| html(outcomes, None),
        }));
        if progress {
            reporters.push(Box::new(Progress));
        }
        Ok(Reporters(reporters))
    }

    /// Tells every reporter of `outcome`; the first error is returned after all were told.
    pub fn outcome(&mut self, outcome: &Outcome) -> std::io::Result<()> {
        self.0.iter_mut().map(|r| r.outcome(outcome)).fold(Ok(()), Result::and)
    }

    /// Ends every reporter; the files they wrote.
    pub fn finish(&mut self, outcomes: &[Outcome]) -> std::io::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for reporter in &mut self.0 {
            written.extend(reporter.finish(outcomes)?);
        }
        Ok(written)
    }
}

/// `outcomes.jsonl`: one line per outcome, appended and flushed as it happens, so an interrupted or killed run keeps
/// everything it saw.
struct Jsonl {
    path: PathBuf,
    file: std::fs::File,
}

impl Jsonl {
    /// A new, empty `outcomes.jsonl` in `dir` (whatever was there, a symlink included, is removed, never followed).
    fn create(dir: &Path) -> std::io::Result<Jsonl> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("outcomes.jsonl");
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
        Ok(Jsonl { path, file })
    }
}

impl Reporter for Jsonl {
    fn outcome(&mut self, outcome: &Outcome) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(outcome)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.flush()
    }

    fn finish(&mut self, _outcomes: &[Outcome]) -> std::io::Result<Vec<PathBuf>> {
        self.file.sync_all()?;
        Ok(vec![self.path.clone()])
    }
}

/// A report rendered from all outcomes once the run is over.
struct AtEnd {
    path: PathBuf,
    render: fn(&[Outcome]) -> String,
}

impl Reporter for AtEnd {
    fn finish(&mut self, outcomes: &[Outcome]) -> std::io::Result<Vec<PathBuf>> {
        replace(&self.path, (self.render)(outcomes).as_bytes())?;
        Ok(vec![self.path.clone()])
    }
}

/// A line per outcome on stderr while the run goes on.
struct Progress;

impl Reporter for Progress {
    fn outcome(&mut self, outcome: &Outcome) -> std::io::Result<()> {
        let mut stderr = std::io::stderr();
        let _ = stderr.write_all(crate::redact::printable(&line(outcome)).as_bytes());
        Ok(())
    }
}

/// Redraws `dir/report.html` with each cell's history: real strips, and simulated ones only where a cell has no real
/// history (a cell's strip is of the evidence its outcome has).
pub fn write_html_with_history(
    dir: &Path,
    outcomes: &[Outcome],
    strips: &[crate::history::Strip],
) -> std::io::Result<()> {
    let of = |strip: &crate::history::Strip| HistoryStrip {
        case: strip.case.clone(),
        lane: strip.lane.clone(),
        step: strip.step.clone(),
        runs: strip
            .runs
            .iter()
            .map(|(run, started, verdict)| StripRun {
                run: run.clone(),
                started: started.clone(),
                verdict: *verdict,
            })
            .collect(),
    };
    let real: Vec<HistoryStrip> = strips
        .iter()
        .filter(|s| s.evidence == crate::words::Evidence::Real)
        .map(of)
        .collect();
    let mut drawn = real.clone();
    drawn.extend(
        strips
            .iter()
            .filter(|s| s.evidence == crate::words::Evidence::Simulated)
            .filter(|s| {
                !real
                    .iter()
                    .any(|r| (&r.case, &r.lane, &r.step) == (&s.case, &s.lane, &s.step))
            })
            .map(of),
    );
    replace(&dir.join("report.html"), html(outcomes, Some(&drawn)).as_bytes())
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
