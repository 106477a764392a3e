//! The history's reports as Markdown: the per-cell report (changes first), the alerts of the newest run, and the
//! comment for an upstream bug.

use std::fmt::Write;

use super::timeline::{Alert, AlertChange, Alerts, CellReport, Report, RunBrief, RunRef};
use super::upstream::{OnVersions, ScenarioStatus};
use crate::words::Environment;

/// The observed versions in words: `containerd 1.7.29, k0s v1.34.2+k0s, Windows 20348.4773, buildkit v0.28.0`.
pub fn versions(observed: &Environment) -> String {
    let parts: Vec<String> = [
        ("containerd", &observed.containerd),
        ("k0s", &observed.k0s),
        ("Windows", &observed.windows_build),
        ("buildkit", &observed.buildkit),
        ("kubelet", &observed.kubelet),
    ]
    .iter()
    .filter_map(|(name, version)| version.as_ref().map(|v| format!("{name} {v}")))
    .collect();
    if parts.is_empty() {
        "no versions observed".to_owned()
    } else {
        parts.join(", ")
    }
}

/// Text safe in a table cell: pipes escaped, lines joined.
fn cell_text(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn run_in_words(run: &RunRef) -> String {
    format!("run `{}` ({}) on {}", run.run, run.started, versions(&run.observed))
}

fn brief_in_words(run: &RunBrief) -> String {
    format!("run `{}` ({}, {})", run.run, run.started, run.place)
}

fn percent(rate: f64) -> String {
    format!("{:.0}%", rate * 100.0)
}

fn cell_name(cell: &CellReport) -> String {
    format!("`{}` · {} · `{}`", cell.track.case, cell.track.lane, cell.track.step)
}

/// The per-cell report: what changed in the newest run, what no longer reproduces, what is not as expected, what is
/// flaky, then every cell; simulated evidence apart at the end.
pub fn report(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# History: {} runs\n", report.runs);
    match (&report.oldest, &report.newest) {
        (Some(oldest), Some(newest)) => {
            let _ = writeln!(
                out,
                "From {} to {}. Flips over the last {} runs. Real evidence only above the last section; simulated \
                 evidence is shown apart and never counted as real.\n",
                brief_in_words(oldest),
                brief_in_words(newest),
                report.window
            );
        }
        _ => {
            let _ = writeln!(out, "No runs recorded yet.");
            return out;
        }
    }
    changes(&mut out, &report.cells);
    no_longer_reproduces(&mut out, &report.cells);
    not_as_expected(&mut out, &report.cells);
    flaky(&mut out, &report.cells, report.window);
    out.push_str("## Cells\n\n");
    table(&mut out, &report.cells);
    if !report.simulated.is_empty() {
        out.push_str("\n## Simulated evidence (never counted as real)\n\n");
        table(&mut out, &report.simulated);
    }
    out
}

fn changes(out: &mut String, cells: &[CellReport]) {
    out.push_str("## Changes in the newest run\n\n");
    let changed: Vec<&CellReport> = cells.iter().filter(|c| c.changed_in_newest_run).collect();
    if changed.is_empty() {
        out.push_str("None: every step has the verdict it had before.\n\n");
        return;
    }
    for cell in changed {
        let (Some(previous), Some(current)) = (cell.previous, &cell.current) else {
            continue;
        };
        let _ = writeln!(
            out,
            "- {}: {} → **{}** ({}), in {}",
            cell_name(cell),
            previous.as_str(),
            current.verdict.as_str(),
            current.result,
            run_in_words(current)
        );
    }
    out.push('\n');
}

fn no_longer_reproduces(out: &mut String, cells: &[CellReport]) {
    let cells: Vec<&CellReport> = cells
        .iter()
        .filter(|c| c.no_longer_reproduces_since.is_some())
        .collect();
    if cells.is_empty() {
        return;
    }
    out.push_str("## No longer reproduces\n\n");
    for cell in cells {
        let Some(since) = &cell.no_longer_reproduces_since else {
            continue;
        };
        let _ = write!(
            out,
            "- {}: no longer reproduces since {} ({} runs)",
            cell_name(cell),
            run_in_words(since),
            cell.streak
        );
        match cell.seen.get("reproduced") {
            Some(seen) => {
                let _ = writeln!(out, "; last reproduced in {}", run_in_words(&seen.last));
            }
            None => out.push_str("; never reproduced here\n"),
        }
    }
    out.push('\n');
}

fn not_as_expected(out: &mut String, cells: &[CellReport]) {
    let cells: Vec<&CellReport> = cells
        .iter()
        .filter(|c| {
            c.current.as_ref().is_some_and(|r| {
                super::timeline::is_bad(r.verdict) && r.verdict != crate::outcome::Verdict::NoLongerReproduces
            })
        })
        .collect();
    if cells.is_empty() {
        return;
    }
    out.push_str("## Not as expected\n\n");
    for cell in cells {
        let Some(current) = &cell.current else { continue };
        let _ = write!(
            out,
            "- {}: **{}** ({}) for {} runs",
            cell_name(cell),
            current.verdict.as_str(),
            current.result,
            cell.streak
        );
        if let Some(good) = &cell.last_good {
            let _ = write!(out, "; last good {}", run_in_words(good));
        }
        if let Some(bad) = &cell.first_bad {
            let _ = write!(out, "; first bad {}", run_in_words(bad));
        }
        if let Some(error) = &current.first_error {
            let _ = write!(out, "; error: `{}`", cell_text(error).replace('`', "'"));
        }
        out.push('\n');
    }
    out.push('\n');
}

fn flaky(out: &mut String, cells: &[CellReport], window: usize) {
    let cells: Vec<&CellReport> = cells.iter().filter(|c| c.window.flaky).collect();
    if cells.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Flaky over the last {window} runs\n");
    for cell in cells {
        let w = &cell.window;
        let _ = writeln!(
            out,
            "- {}: {} flips in {} runs (rate {}, 95% interval {}–{})",
            cell_name(cell),
            w.flips,
            w.observations,
            percent(w.rate),
            percent(w.low),
            percent(w.high)
        );
    }
    out.push('\n');
}

fn table(out: &mut String, cells: &[CellReport]) {
    out.push_str(
        "| case | lane | step | verdict | streak | since | last good | first bad | flips | flake rate (95% CI) |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    let short = |run: &Option<RunRef>| {
        run.as_ref().map_or("-".to_owned(), |r| {
            format!("`{}` {}", cell_text(&r.run), cell_text(&r.started))
        })
    };
    for cell in cells {
        let verdict = cell.current.as_ref().map_or("skipped".to_owned(), |c| {
            format!("{} ({})", c.verdict.as_str(), cell_text(&c.result))
        });
        let w = &cell.window;
        let _ = writeln!(
            out,
            "| `{}` | {} | `{}` | {} | {} | {} | {} | {} | {}/{} | {} ({}–{}){} |",
            cell_text(&cell.track.case),
            cell.track.lane,
            cell_text(&cell.track.step),
            verdict,
            cell.streak,
            short(&cell.since),
            short(&cell.last_good),
            short(&cell.first_bad),
            w.flips,
            w.observations.saturating_sub(1),
            percent(w.rate),
            percent(w.low),
            percent(w.high),
            if w.flaky { " flaky" } else { "" }
        );
    }
}

/// The alerts of the newest run, as the body of a tracking issue.
pub fn alerts(alerts: &Alerts) -> String {
    let mut out = String::new();
    let newest = alerts.newest.as_ref().map_or("no run".to_owned(), brief_in_words);
    let _ = writeln!(
        out,
        "# Alerts after {newest}\n\nAn alert is raised after {} consecutive run(s) with the same unexpected verdict and \
         cleared after {} consecutive run(s) as expected. Real evidence only.\n",
        alerts.raise, alerts.clear
    );
    if alerts.alerts.is_empty() {
        out.push_str("No alerts: every step is as expected.\n");
        return out;
    }
    for (change, title) in [
        (AlertChange::Raised, "Raised"),
        (AlertChange::Changed, "Changed"),
        (AlertChange::Open, "Still open"),
        (AlertChange::Pending, "Pending (below the threshold)"),
        (AlertChange::Cleared, "Cleared"),
    ] {
        let group: Vec<&Alert> = alerts.alerts.iter().filter(|a| a.change == change).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(out, "## {title}\n");
        for alert in group {
            let _ = write!(
                out,
                "- `{}` · {} · `{}`: **{}**",
                alert.case,
                alert.lane,
                alert.step,
                alert.about.as_str()
            );
            if alert.now != alert.about {
                let _ = write!(out, " (now {})", alert.now.as_str());
            }
            let _ = write!(out, " for {} run(s)", alert.streak);
            if let Some(since) = &alert.since {
                let _ = write!(out, " since {}", run_in_words(since));
            }
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// A comment fit for the upstream bug of each scenario.
pub fn upstream(statuses: &[ScenarioStatus]) -> String {
    let mut out = String::new();
    if statuses.is_empty() {
        out.push_str("No runs recorded yet.\n");
    }
    for status in statuses {
        scenario_comment(&mut out, status);
    }
    out
}

fn scenario_comment(out: &mut String, status: &ScenarioStatus) {
    let _ = writeln!(out, "### `{}`: status from the harness\n", status.scenario);
    match (&status.oldest, &status.newest) {
        (Some(oldest), Some(newest)) => {
            let _ = writeln!(
                out,
                "{} runs with real evidence, from {} to {}.\n",
                status.runs, oldest.started, newest.started
            );
        }
        _ => out.push_str("No runs with real evidence yet.\n\n"),
    }
    versions_list(out, "**Still reproduces** on", &status.reproduces);
    versions_list(out, "**No longer reproduces** on", &status.no_longer_reproduces);
    versions_list(out, "**Fails differently** from the report on", &status.changed);
    versions_list(out, "**The workaround holds** on", &status.workaround_holds);
    versions_list(out, "**The workaround fails** on", &status.workaround_fails);
    if status.workaround_holds.is_empty() && status.workaround_fails.is_empty() {
        out.push_str("The workaround has not been tried with real evidence.\n\n");
    }
    let _ = writeln!(out, "To reproduce:\n\n```sh\n{}\n```\n", status.reproduce);
    if status.simulated_outcomes > 0 {
        let _ = writeln!(
            out,
            "{} simulated outcome(s) (the test bed) are not counted here.\n",
            status.simulated_outcomes
        );
    }
}

fn versions_list(out: &mut String, title: &str, list: &[OnVersions]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}:\n");
    for on in list {
        let _ = write!(
            out,
            "- {} ({} lane): {}",
            versions(&on.observed),
            on.lane,
            on.steps.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
        );
        if let Some(since) = &on.since {
            let _ = write!(out, "; since run `{}` ({})", since.run, since.started);
        }
        let _ = writeln!(out, "; last seen in run `{}` ({})", on.last.run, on.last.started);
    }
    out.push('\n');
}
