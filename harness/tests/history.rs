//! The history of runs, from generated runs: flips with their first run and versions, flaky cells, alerts with
//! thresholds, located errors, simulated evidence kept apart, and `harness report`'s exit codes.

use std::path::Path;

use assert_cmd::Command;
use harness::history::{self, AlertChange, Alerts, History, RunMeta, Thresholds, View};
use harness::outcome::{Outcome, Verdict};
use harness::words::Evidence;

const CASE: &str = "buildkit-6590/buildkit=v0.28.0/variant=reproduction";
const WORKAROUND: &str = "buildkit-6590/buildkit=v0.28.0/variant=workaround";

/// An outcome of the cluster lane, built from JSON so that fields this test does not name keep their defaults.
fn outcome(case: &str, step: &str, verdict: Verdict, containerd: &str) -> Outcome {
    let variant = case.rsplit_once("variant=").map_or("reproduction", |(_, v)| v);
    let result = match verdict {
        Verdict::Reproduced | Verdict::Regressed | Verdict::Changed => serde_json::json!({
            "result": "failed", "class": "bindflt-access-denied", "code": "0x80070005",
            "firstError": "failed to bind target: Access is denied."
        }),
        Verdict::InfraError => serde_json::json!({"result": "failed", "class": "rollout-timeout"}),
        Verdict::Skipped => serde_json::json!({"result": "skipped", "reason": "no node"}),
        _ => serde_json::json!({"result": "ok"}),
    };
    let mut value = serde_json::json!({
        "case": case, "scenario": "buildkit-6590", "lane": "cluster", "variant": variant,
        "cell": {"buildkit": "v0.28.0"}, "step": step, "expected": "bindflt-access-denied",
        "verdict": verdict, "evidence": "real",
        "observed": {"k0s": "v1.34.2+k0s", "containerd": containerd, "windowsBuild": "20348.4773"},
    });
    value
        .as_object_mut()
        .unwrap()
        .extend(result.as_object().unwrap().clone());
    serde_json::from_value(value).unwrap()
}

fn simulated(mut outcome: Outcome) -> Outcome {
    outcome.evidence = Evidence::Simulated;
    outcome
}

fn meta(run: usize) -> RunMeta {
    RunMeta {
        id: format!("run-{run:02}"),
        started: history::rfc3339_utc(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_772_337_600 + run as u64 * 86_400),
        ),
        revision: Some("0123abcd".to_owned()),
        place: "k0s-windows".to_owned(),
        harness: "0.1.0".to_owned(),
    }
}

/// Records one run per element of `runs` into `dir`.
fn record_runs(dir: &Path, runs: &[Vec<Outcome>]) {
    for (index, outcomes) in runs.iter().enumerate() {
        history::record(dir, &meta(index), outcomes).unwrap();
    }
}

fn loaded(runs: &[Vec<Outcome>]) -> (tempfile::TempDir, History) {
    let dir = tempfile::tempdir().unwrap();
    record_runs(dir.path(), runs);
    let history = history::load(dir.path()).unwrap();
    (dir, history)
}

/// Five runs that reproduce on containerd 1.7.29, then five that no longer do on containerd 2.3.3.
fn fixed_in_run_five() -> Vec<Vec<Outcome>> {
    (0..10)
        .map(|run| {
            let (verdict, containerd) = if run < 5 {
                (Verdict::Reproduced, "1.7.29")
            } else {
                (Verdict::NoLongerReproduces, "2.3.3")
            };
            vec![
                outcome(CASE, "build/hello", verdict, containerd),
                outcome(WORKAROUND, "build/hello", Verdict::Passed, containerd),
            ]
        })
        .collect()
}

#[test]
fn a_flip_is_reported_with_its_first_run_and_versions() {
    let (_dir, history) = loaded(&fixed_in_run_five());
    let report = history::report(&history, 30, Thresholds::default());
    let cell = report.cells.iter().find(|c| c.track.case == CASE).unwrap();
    let since = cell.no_longer_reproduces_since.as_ref().unwrap();
    assert_eq!(since.run, "run-05");
    assert_eq!(since.started, "2026-03-06T04:00:00Z");
    assert_eq!(since.observed.containerd.as_deref(), Some("2.3.3"));
    assert_eq!(cell.streak, 5);
    assert_eq!(cell.previous, Some(Verdict::Reproduced));
    assert_eq!(cell.seen["reproduced"].last.run, "run-04");
    assert_eq!(cell.seen["reproduced"].first.run, "run-00");
    assert_eq!(cell.last_good.as_ref().unwrap().run, "run-04");
    assert_eq!(cell.first_bad.as_ref().unwrap().run, "run-05");
    assert_eq!(cell.window.flips, 1);
    assert!(!cell.window.flaky, "one flip is a change, not a flake");

    let markdown = history::render(&history, View::Cells, 30, false);
    assert!(
        markdown.contains("no longer reproduces since run `run-05` (2026-03-06T04:00:00Z) on containerd 2.3.3"),
        "{markdown}"
    );
    assert!(markdown.find("## No longer reproduces").unwrap() < markdown.find("## Cells").unwrap());

    let upstream = history::render(&history, View::Upstream, 30, false);
    let still = upstream.find("**Still reproduces** on").unwrap();
    let no_longer = upstream.find("**No longer reproduces** on").unwrap();
    assert!(upstream[still..no_longer].contains("containerd 1.7.29"), "{upstream}");
    assert!(upstream[no_longer..].contains("containerd 2.3.3"), "{upstream}");
    assert!(upstream.contains("since run `run-05`"), "{upstream}");
    assert!(upstream.contains("**The workaround holds** on"), "{upstream}");
    assert!(
        upstream.contains("harness run scenarios/buildkit-6590.yaml --lane cluster --context k0s-windows"),
        "{upstream}"
    );
}

#[test]
fn an_alternating_cell_is_flaky_with_its_rate() {
    let runs: Vec<Vec<Outcome>> = (0..40)
        .map(|run| {
            let verdict = if run % 2 == 0 {
                Verdict::Reproduced
            } else {
                Verdict::NoLongerReproduces
            };
            vec![
                outcome(CASE, "probe/hcs-layer", verdict, "1.7.29"),
                outcome(CASE, "rollout", Verdict::Passed, "1.7.29"),
            ]
        })
        .collect();
    let (_dir, history) = loaded(&runs);
    let report = history::report(&history, 30, Thresholds::default());
    let flaky = report.cells.iter().find(|c| c.track.step == "probe/hcs-layer").unwrap();
    assert_eq!((flaky.window.observations, flaky.window.flips), (30, 29));
    assert!(flaky.window.flaky && flaky.window.rate == 1.0 && flaky.window.low > 0.85);
    let steady = report.cells.iter().find(|c| c.track.step == "rollout").unwrap();
    assert!(!steady.window.flaky && steady.window.flips == 0);
    let markdown = history::render(&history, View::Cells, 30, false);
    assert!(
        markdown.contains("`probe/hcs-layer`: 29 flips in 30 runs (rate 100%"),
        "{markdown}"
    );
}

fn alerts_after(verdicts: &[Verdict], thresholds: Thresholds) -> Alerts {
    let runs: Vec<Vec<Outcome>> = verdicts
        .iter()
        .map(|v| vec![outcome(WORKAROUND, "build/hello", *v, "1.7.29")])
        .collect();
    let (_dir, history) = loaded(&runs);
    let json = history::render(&history, View::Alerts(thresholds), 30, true);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(value["markdown"].as_str().unwrap().starts_with("# Alerts after run `"));
    history::alerts(&history::report(&history, 30, thresholds), thresholds)
}

fn change(alerts: &Alerts) -> Option<AlertChange> {
    alerts.alerts.first().map(|a| a.change)
}

#[test]
fn alerts_raise_after_n_runs_and_clear_after_m() {
    let thresholds = Thresholds { raise: 2, clear: 2 };
    let (ok, bad) = (Verdict::Passed, Verdict::Regressed);
    assert_eq!(
        change(&alerts_after(&[ok, bad], thresholds)),
        Some(AlertChange::Pending)
    );
    let raised = alerts_after(&[ok, bad, bad], thresholds);
    assert_eq!(change(&raised), Some(AlertChange::Raised));
    assert!(raised.open && raised.changed);
    assert_eq!(raised.alerts[0].since.as_ref().unwrap().run, "run-01");
    assert_eq!(
        change(&alerts_after(&[ok, bad, bad, bad], thresholds)),
        Some(AlertChange::Open)
    );
    assert_eq!(
        change(&alerts_after(&[bad, bad, ok], thresholds)),
        Some(AlertChange::Open)
    );
    let cleared = alerts_after(&[bad, bad, ok, ok], thresholds);
    assert_eq!(change(&cleared), Some(AlertChange::Cleared));
    assert!(!cleared.open && cleared.changed);
    assert_eq!(change(&alerts_after(&[bad, bad, ok, ok, ok], thresholds)), None);
    // The defaults: raise at once, clear after two.
    let defaults = Thresholds::default();
    assert_eq!(change(&alerts_after(&[ok, bad], defaults)), Some(AlertChange::Raised));
    assert_eq!(change(&alerts_after(&[bad, ok], defaults)), Some(AlertChange::Open));
}

#[test]
fn a_corrupt_run_file_gives_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    record_runs(dir.path(), &fixed_in_run_five());
    let file = std::fs::read_dir(dir.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("{\"case\": \"x\", \"verdict\": \"maybe\"}\n");
    std::fs::write(&file, text).unwrap();
    let error = history::load(dir.path()).unwrap_err();
    assert_eq!(error.problems.len(), 1);
    assert_eq!(error.problems[0].file, file);
    assert_eq!(error.problems[0].line, 4);
    let shown = error.to_string();
    assert!(
        shown.starts_with(&format!("{}:4: corrupt record", file.display())),
        "{shown}"
    );

    std::fs::write(dir.path().join("runs/notes.txt"), "hello").unwrap();
    std::fs::write(&file, "not json\n").unwrap();
    let error = history::load(dir.path()).unwrap_err();
    let shown = error.to_string();
    assert!(shown.contains(":1: not a run header"), "{shown}");
    assert!(shown.contains("notes.txt: is not a run file"), "{shown}");
}

#[test]
fn simulated_outcomes_never_appear_as_real_evidence() {
    let runs: Vec<Vec<Outcome>> = (0..4)
        .map(|run| {
            let verdict = if run < 2 {
                Verdict::Reproduced
            } else {
                Verdict::NoLongerReproduces
            };
            vec![
                simulated(outcome(CASE, "build/hello", verdict, "1.7.29")),
                simulated(outcome(WORKAROUND, "build/hello", Verdict::Regressed, "1.7.29")),
                outcome(CASE, "rollout", Verdict::Passed, "1.7.29"),
            ]
        })
        .collect();
    let (_dir, history) = loaded(&runs);
    let report = history::report(&history, 30, Thresholds::default());
    assert!(
        report
            .cells
            .iter()
            .all(|c| c.track.evidence == Evidence::Real && c.track.step == "rollout")
    );
    assert_eq!(report.simulated.len(), 2);
    let alerts = history::alerts(&report, Thresholds::default());
    assert!(alerts.alerts.is_empty(), "{alerts:?}");
    let statuses = history::status(&history);
    assert!(statuses[0].reproduces.is_empty() && statuses[0].no_longer_reproduces.is_empty());
    assert!(statuses[0].workaround_fails.is_empty());
    assert_eq!(statuses[0].simulated_outcomes, 8);
    let markdown = history::render(&history, View::Cells, 30, false);
    let simulated_section = markdown.find("## Simulated evidence (never counted as real)").unwrap();
    assert!(!markdown[..simulated_section].contains("build/hello"), "{markdown}");
    let upstream = history::render(&history, View::Upstream, 30, false);
    assert!(!upstream.contains("Still reproduces") && upstream.contains("8 simulated outcome(s)"));
}

#[test]
fn a_run_file_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let outcomes = vec![outcome(CASE, "build/hello", Verdict::Reproduced, "1.7.29")];
    let path = history::record(dir.path(), &meta(0), &outcomes).unwrap();
    assert_eq!(path, dir.path().join("runs/20260301T040000Z-run-00.jsonl"));
    let before = std::fs::read(&path).unwrap();
    let error = history::record(dir.path(), &meta(0), &[]).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let names: Vec<_> = std::fs::read_dir(dir.path().join("runs")).unwrap().collect();
    assert_eq!(names.len(), 1, "no temporary file left behind");
    let mut bad = meta(1);
    bad.started = "yesterday".to_owned();
    assert_eq!(
        history::record(dir.path(), &bad, &[]).unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
}

#[test]
fn strips_hold_the_last_runs_oldest_first() {
    let (_dir, history) = loaded(&fixed_in_run_five());
    let strips = history::strips(&history, 3);
    let strip = strips.iter().find(|s| s.case == CASE).unwrap();
    assert_eq!((strip.lane.as_str(), strip.step.as_str()), ("cluster", "build/hello"));
    let ids: Vec<&str> = strip.runs.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids, ["run-07", "run-08", "run-09"]);
    assert!(strip.runs.iter().all(|(_, _, v)| *v == Verdict::NoLongerReproduces));
}

fn harness() -> Command {
    let mut command = Command::cargo_bin("harness").unwrap();
    command.env("NO_COLOR", "1").timeout(std::time::Duration::from_secs(20));
    command
}

#[test]
fn report_exits_0_on_a_history_and_2_on_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    record_runs(dir.path(), &fixed_in_run_five());
    let history = dir.path().to_str().unwrap();
    for extra in [
        &[][..],
        &["--json"],
        &["--alerts"],
        &["--alerts", "--json", "--raise", "2"],
        &["--upstream"],
    ] {
        let output = harness()
            .args(["report", "--history", history])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{extra:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.stdout.is_empty());
    }
    let json = harness()
        .args(["report", "--json", "--history", history])
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["runs"], 10);

    for bad in [
        &["report", "--history", "/nonexistent/history"][..],
        &["report", "--history", history, "--window", "0"],
        &["report", "--history", history, "--alerts", "--upstream"],
        &["report", "--history", history, "--raise", "2"],
        &["report"],
    ] {
        let output = harness().args(bad).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
    }

    std::fs::write(
        dir.path().join("runs/20990101T000000Z-broken.jsonl"),
        "{\"format\": 1}\n",
    )
    .unwrap();
    let output = harness().args(["report", "--history", history]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("20990101T000000Z-broken.jsonl:1: not a run header"),
        "{stderr}"
    );
}
