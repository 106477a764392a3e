//! The history of runs: recorded one file per run, read back to say what changed, since when, on which versions.
//!
//! `store` writes a run (`record`), `load` reads them all (located errors, never a file skipped), `timeline` walks
//! them once per report, `upstream` sums them up for a bug, `markdown` renders what people read.

mod load;
mod markdown;
mod store;
mod timeline;
mod upstream;

use serde::Serialize;

pub use load::{Entry, Error, History, Problem, ResultFacts, Run, Track, load};
pub use markdown::versions;
pub use store::{FORMAT, ResultKind, RunMeta, git_revision, parse_rfc3339_utc, record, rfc3339_utc};
pub use timeline::{
    Alert, AlertChange, AlertState, Alerts, CellReport, FirstLast, Flakiness, Report, RunBrief, RunRef, Strip,
    Thresholds, alerts, is_bad, is_good, report, strips, wilson,
};
pub use upstream::{OnVersions, ScenarioStatus, reproduce_command, status};

/// The window of flips, in runs, unless told otherwise.
pub const DEFAULT_WINDOW: usize = 30;

/// Which report to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Per cell and step: changes first, then the table.
    Cells,
    /// The changes of the newest run, with thresholds.
    Alerts(Thresholds),
    /// A comment for the upstream bug.
    Upstream,
}

/// Renders `view` of `history`: Markdown, or JSON when `json` (the alerts and upstream JSON carry their Markdown in a
/// `markdown` field, for a workflow to post as it is).
pub fn render(history: &History, view: View, window: usize, json: bool) -> String {
    let thresholds = match view {
        View::Alerts(thresholds) => thresholds,
        _ => Thresholds::default(),
    };
    let cells = report(history, window, thresholds);
    match (view, json) {
        (View::Cells, false) => markdown::report(&cells),
        (View::Cells, true) => to_json(&cells),
        (View::Alerts(thresholds), json) => {
            let alerts = alerts(&cells, thresholds);
            let text = markdown::alerts(&alerts);
            if json {
                to_json(&WithMarkdown {
                    body: &alerts,
                    markdown: &text,
                })
            } else {
                text
            }
        }
        (View::Upstream, json) => {
            let statuses = status(history);
            let text = markdown::upstream(&statuses);
            if json {
                let body = Scenarios { scenarios: &statuses };
                to_json(&WithMarkdown {
                    body: &body,
                    markdown: &text,
                })
            } else {
                text
            }
        }
    }
}

/// The upstream status as JSON: one object per scenario.
#[derive(Serialize)]
struct Scenarios<'a> {
    scenarios: &'a [ScenarioStatus],
}

/// A JSON report with its Markdown beside it.
#[derive(Serialize)]
struct WithMarkdown<'a, T: Serialize> {
    #[serde(flatten)]
    body: &'a T,
    markdown: &'a str,
}

fn to_json(value: &impl Serialize) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}
