//! `harness report --history DIR`: what changed, since when, on which versions; the alerts of the newest run; a
//! comment for the upstream bug.

use std::io::Write;
use std::path::PathBuf;

use crate::exit::Exit;
use crate::history::{DEFAULT_WINDOW, Thresholds, View};

/// Arguments of `harness report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The history folder (its `runs/` holds one file per run, as `harness run --history DIR` records them).
    #[arg(long, value_name = "DIR")]
    history: PathBuf,
    /// Flips and flake rates over the last N runs.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_WINDOW as u64, value_parser = clap::value_parser!(u64).range(1..))]
    window: u64,
    /// Print JSON instead of Markdown.
    #[arg(long)]
    json: bool,
    /// Only the changes of the newest run, with thresholds, for a workflow to open or update a tracking issue.
    #[arg(long, conflicts_with = "upstream")]
    alerts: bool,
    /// Consecutive runs with a new unexpected verdict that raise an alert.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "alerts", value_parser = clap::value_parser!(u64).range(1..))]
    raise: u64,
    /// Consecutive runs as expected that clear an alert.
    #[arg(long, value_name = "M", default_value_t = 2, requires = "alerts", value_parser = clap::value_parser!(u64).range(1..))]
    clear: u64,
    /// A Markdown comment for the upstream bug: where it still reproduces, where not since when, the workaround.
    #[arg(long)]
    upstream: bool,
}

impl Args {
    fn view(&self) -> View {
        if self.alerts {
            View::Alerts(Thresholds {
                raise: self.raise as usize,
                clear: self.clear as usize,
            })
        } else if self.upstream {
            View::Upstream
        } else {
            View::Cells
        }
    }
}

/// Reads the history and prints the report. Exits 0, or 2 when the history cannot be read (every problem with its
/// file and line).
pub fn run(args: Args) -> Exit {
    let history = match crate::history::load(&args.history) {
        Ok(history) => history,
        Err(error) => {
            errln!(
                "harness report: the history cannot be read:\n{error}\n  help: every file under {}/runs must be a run \
                 file as `harness run --history` writes it; fix or remove the ones named",
                args.history.display()
            );
            return Exit::InvalidInput;
        }
    };
    let text = crate::history::render(&history, args.view(), args.window as usize, args.json);
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => Exit::Ok,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok,
        Err(e) => {
            errln!("harness report: cannot write the report: {e}");
            Exit::Infrastructure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(history: PathBuf) -> Args {
        Args {
            history,
            window: 30,
            json: false,
            alerts: false,
            raise: 1,
            clear: 2,
            upstream: false,
        }
    }

    #[test]
    fn a_missing_history_is_invalid_input() {
        assert_eq!(run(args(PathBuf::from("/nonexistent/history"))), Exit::InvalidInput);
    }

    #[test]
    fn an_empty_history_reports_no_runs() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(run(args(dir.path().to_owned())), Exit::Ok);
    }
}
