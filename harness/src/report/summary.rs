//! Summaries for people: a line per outcome on the terminal, and `summary.md` with simulated results shown apart.

use crate::outcome::{Evidence, Outcome, Verdict};

/// One outcome as a line: verdict, lane, case, step, what was observed, what was expected; simulated ones marked. The
/// terminal's progress and the summary print the same line.
pub fn line(o: &Outcome) -> String {
    let evidence = if o.evidence == Evidence::Simulated {
        " [simulated]"
    } else {
        ""
    };
    let expected = o
        .expected
        .as_deref()
        .map(|e| format!(" (expected {e})"))
        .unwrap_or_default();
    format!(
        "{:<22} {:<8} {} {}: {}{expected}{evidence}\n",
        o.verdict.as_str(),
        o.lane.as_str(),
        o.case,
        o.step,
        o.observed_text()
    )
}

/// What ran (its first line), one line per outcome and a count per verdict; simulated results are marked and counted
/// apart.
pub fn summary(outcomes: &[Outcome]) -> String {
    let mut out = what_ran(outcomes);
    out.push('\n');
    out.extend(outcomes.iter().map(line));
    let mut totals = Vec::new();
    for verdict in Verdict::ALL {
        for (evidence, label) in [(Evidence::Real, ""), (Evidence::Simulated, " (simulated)")] {
            let count = outcomes
                .iter()
                .filter(|o| o.verdict == verdict && o.evidence == evidence)
                .count();
            if count > 0 {
                totals.push(format!("{count} {}{label}", verdict.as_str()));
            }
        }
    }
    out.push_str(&format!("{} outcome(s): {}\n", outcomes.len(), totals.join(", ")));
    out
}

/// What ran and what did not, per lane, in one line: a run that looked at nothing on Windows says so.
pub fn what_ran(outcomes: &[Outcome]) -> String {
    let mut parts = Vec::new();
    for lane in crate::words::Lane::ALL {
        let of_lane: Vec<&Outcome> = outcomes.iter().filter(|o| o.lane == *lane).collect();
        if of_lane.is_empty() {
            continue;
        }
        let observed: Vec<&&Outcome> = of_lane.iter().filter(|o| o.result.observed()).collect();
        if observed.is_empty() {
            let reason = of_lane.iter().find_map(|o| o.result.skip_reason());
            parts.push(format!(
                "{lane} did not run ({})",
                reason.unwrap_or("every step skipped")
            ));
        } else if observed.iter().all(|o| o.evidence == Evidence::Simulated) {
            parts.push(format!("{lane} ran, on a simulated node"));
        } else {
            parts.push(format!("{lane} ran"));
        }
    }
    let windows = outcomes
        .iter()
        .any(|o| o.lane != crate::words::Lane::Offline && o.evidence == Evidence::Real && o.result.observed());
    let suffix = if windows { "" } else { "; nothing ran on Windows" };
    format!("{}{suffix}", parts.join("; "))
}

/// How many verdicts differ from the scenario's expectations (infrastructure errors apart), and how many of them on a
/// simulated node only, or `None` when none differs.
pub fn differing_line(outcomes: &[Outcome]) -> Option<String> {
    let differing: Vec<&Outcome> = outcomes.iter().filter(|o| o.verdict.differs()).collect();
    let simulated = differing.iter().filter(|o| o.evidence == Evidence::Simulated).count();
    let of_them = match simulated {
        0 => String::new(),
        n if n == differing.len() => ", all on a simulated node: not evidence about Windows".to_owned(),
        n => format!(", {n} of them on a simulated node: not evidence about Windows"),
    };
    (!differing.is_empty()).then(|| {
        format!(
            "{} verdict(s) differ from the scenario's expectations{of_them}",
            differing.len()
        )
    })
}

/// `summary.md`: verdicts that differ first, then a table per kind of evidence (simulated results never mixed in).
pub fn markdown(outcomes: &[Outcome]) -> String {
    let mut md = format!("# Harness run\n\n{}.\n\n", crate::redact::one_line(&what_ran(outcomes)));
    let infra = outcomes.iter().filter(|o| o.verdict == Verdict::InfraError).count();
    let differing = outcomes.iter().filter(|o| o.verdict.differs()).count();
    if infra > 0 {
        md.push_str(&format!(
            "**{infra} step(s) could not be observed (infrastructure error): this run is not evidence either way.**\n\n"
        ));
    }
    if let Some(line) = differing_line(outcomes) {
        md.push_str(&format!("**{line}.**\n\n"));
    }
    if infra == 0 && differing == 0 {
        md.push_str("Every verdict is as expected.\n\n");
    }
    // What changed first (a reader of $GITHUB_STEP_SUMMARY sees it without scrolling), then every result.
    let changes: Vec<&Outcome> = outcomes.iter().filter(|o| !o.verdict.as_expected()).collect();
    if !changes.is_empty() {
        md.push_str("## What changed\n\n");
        md.push_str(&table(&changes));
    }
    for (evidence, title) in [
        (Evidence::Real, "Real results"),
        (
            Evidence::Simulated,
            "Simulated results (test doubles; not evidence about Windows)",
        ),
    ] {
        let rows: Vec<&Outcome> = outcomes.iter().filter(|o| o.evidence == evidence).collect();
        if !rows.is_empty() {
            md.push_str(&format!("## {title}\n\n"));
            md.push_str(&table(&rows));
        }
    }
    md
}

/// A Markdown table of `rows`: verdict, lane, case, step, what was observed (and on which versions), what was
/// expected, and what was accepted when the run was checked against accepted outcomes.
fn table(rows: &[&Outcome]) -> String {
    let cell = crate::redact::one_line;
    let mut md = String::from(
        "| verdict | lane | case | step | observed | on | expected | accepted |\n|---|---|---|---|---|---|---|---|\n",
    );
    for o in rows {
        let evidence = if o.evidence == Evidence::Simulated {
            " (simulated)"
        } else {
            ""
        };
        let on: Vec<String> = o.observed.versions().iter().map(|(c, v)| format!("{c} {v}")).collect();
        md.push_str(&format!(
            "| {}{evidence} | {} | {} | {} | {} | {} | {} | {} |\n",
            o.verdict.as_str(),
            o.lane,
            cell(&o.case),
            cell(&o.step),
            cell(&o.observed_text()),
            cell(&on.join(", ")),
            cell(o.expected.as_deref().unwrap_or("")),
            cell(o.accepted.as_deref().unwrap_or(""))
        ));
    }
    md.push('\n');
    md
}
