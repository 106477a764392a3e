//! Rules for `.github/workflows/*.yml` and `.github/scripts/*`: the workflows are the only runs on Windows this
//! project gets, so what would make them quietly green is refused here, before they run.
//!
//! - pwsh: every pwsh `run:` (explicit, or the default on a Windows job) starts with
//!   `$PSNativeCommandUseErrorActionPreference = $true`; the runner's wrapper only checks the last exit code. A
//!   `.github/scripts/*.ps1` sets it and `$ErrorActionPreference = 'Stop'` itself (`pwsh -File` inherits neither).
//!   `shell: powershell` (Windows PowerShell 5.1, which ignores the variable) is refused.
//! - controls: a step whose `id` contains `control` is a control (it must succeed for the run to mean anything),
//!   and neither it nor its job carries `continue-on-error`.
//! - `uses:` is pinned to a 40-hex commit with the version in a comment (`@<sha> # v1.2.3`); local actions are fine.
//! - every step of a job that runs on Windows has `timeout-minutes`.
//! - `actions/checkout` has `persist-credentials: false`; nothing installs a floating `stable` toolchain.
//! - windows.yml's host-lane guard names exactly the probes and host variants of the scenario it runs.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Every file of a `.github` folder, sorted (none when the folder does not exist).
fn files(dir: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

struct Workflow {
    name: String,
    text: String,
    doc: Value,
}

fn workflows() -> Vec<Workflow> {
    let all: Vec<Workflow> = files(".github/workflows")
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            let doc = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name} is not YAML: {e}"));
            Workflow { name, text, doc }
        })
        .collect();
    assert!(
        all.iter().any(|w| w.name == "windows.yml"),
        "no .github/workflows/windows.yml"
    );
    all
}

/// `(workflow, job id, job, step index, step)` for every step of every workflow.
fn steps(all: &[Workflow]) -> Vec<(&Workflow, &str, &Value, usize, &Value)> {
    let mut out = Vec::new();
    for w in all {
        for (id, job) in w.doc["jobs"].as_object().into_iter().flatten() {
            for (i, step) in job["steps"].as_array().into_iter().flatten().enumerate() {
                out.push((w, id.as_str(), job, i, step));
            }
        }
    }
    out
}

fn label(w: &Workflow, job: &str, i: usize, step: &Value) -> String {
    let name = step["name"].as_str().or(step["id"].as_str()).or(step["uses"].as_str());
    format!("{} jobs.{job}.steps[{i}] ({})", w.name, name.unwrap_or("unnamed"))
}

fn runs_on_windows(job: &Value) -> bool {
    let runs_on = job["runs-on"].to_string();
    runs_on.contains("windows")
        || (runs_on.contains("matrix.") && job["strategy"]["matrix"].to_string().contains("windows"))
}

/// The shell a `run:` step uses: its own, the job's default, the workflow's, else the runner OS's default.
fn shell(w: &Workflow, job: &Value, step: &Value) -> String {
    let default = |v: &Value| v["defaults"]["run"]["shell"].as_str().map(str::to_owned);
    step["shell"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| default(job))
        .or_else(|| default(&w.doc))
        .unwrap_or_else(|| if runs_on_windows(job) { "pwsh" } else { "bash" }.to_owned())
}

const NATIVE_ERRORS: &str = "$PSNativeCommandUseErrorActionPreference = $true";

#[test]
fn pwsh_steps_fail_on_failing_native_commands() {
    let all = workflows();
    let mut bad = Vec::new();
    for (w, job_id, job, i, step) in steps(&all) {
        let Some(run) = step["run"].as_str() else { continue };
        let shell = shell(w, job, step);
        let first = run
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'));
        if shell.split_whitespace().next() == Some("powershell") {
            bad.push(format!(
                "{}: shell powershell (5.1) ignores {NATIVE_ERRORS}; use pwsh",
                label(w, job_id, i, step)
            ));
        } else if shell.starts_with("pwsh") && first != Some(NATIVE_ERRORS) {
            bad.push(format!(
                "{}: the first line must be {NATIVE_ERRORS}",
                label(w, job_id, i, step)
            ));
        }
    }
    for path in files(".github/scripts")
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "ps1"))
    {
        let text = std::fs::read_to_string(&path).unwrap().to_lowercase();
        for needed in [NATIVE_ERRORS, "$erroractionpreference = 'stop'"] {
            if !text.contains(&needed.to_lowercase()) {
                bad.push(format!("{}: does not set {needed}", path.display()));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn controls_never_continue_on_error() {
    let all = workflows();
    let mut bad = Vec::new();
    let mut controls = 0;
    for (w, job_id, job, i, step) in steps(&all) {
        if !step["id"].as_str().is_some_and(|id| id.contains("control")) {
            continue;
        }
        controls += 1;
        for (what, v) in [("step", step), ("job", job)] {
            if !v["continue-on-error"].is_null() && v["continue-on-error"] != Value::Bool(false) {
                bad.push(format!(
                    "{}: a control whose {what} has continue-on-error",
                    label(w, job_id, i, step)
                ));
            }
        }
    }
    // The naming is the rule's only hook: windows.yml without controls would pass it vacuously.
    assert!(
        controls > 0,
        "no step id contains `control` in any workflow; windows.yml's native probes are controls"
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn actions_are_pinned_by_commit() {
    let mut bad = Vec::new();
    for w in workflows() {
        for (n, line) in w.text.lines().enumerate() {
            let Some(rest) = line.trim_start().trim_start_matches("- ").strip_prefix("uses:") else {
                continue;
            };
            let (target, comment) = rest.split_once('#').unwrap_or((rest, ""));
            let target = target.trim().trim_matches(['"', '\'']);
            if target.starts_with("./") {
                continue;
            }
            let sha = target.rsplit_once('@').map(|(_, r)| r).unwrap_or("");
            let pinned = sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !pinned || !comment.trim().starts_with('v') {
                bad.push(format!(
                    "{}:{}: `{target}` is not `owner/repo@<40-hex sha> # vX.Y.Z`",
                    w.name,
                    n + 1
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn windows_steps_have_timeouts() {
    let all = workflows();
    let bad: Vec<String> = steps(&all)
        .into_iter()
        .filter(|(_, _, job, _, step)| runs_on_windows(job) && step["timeout-minutes"].is_null())
        .map(|(w, job_id, _, i, step)| format!("{}: no timeout-minutes", label(w, job_id, i, step)))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn checkout_keeps_no_credentials_and_toolchains_are_pinned() {
    let all = workflows();
    let mut bad = Vec::new();
    for (w, job_id, _, i, step) in steps(&all) {
        let uses = step["uses"].as_str().unwrap_or("");
        if uses.starts_with("actions/checkout@") && step["with"]["persist-credentials"] != Value::Bool(false) {
            bad.push(format!(
                "{}: checkout without persist-credentials: false",
                label(w, job_id, i, step)
            ));
        }
        let run = step["run"].as_str().unwrap_or("");
        if run.contains("toolchain install stable") || run.contains("default stable") {
            bad.push(format!(
                "{}: a floating stable toolchain; rust-toolchain.toml pins it",
                label(w, job_id, i, step)
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn host_lane_guard_names_the_scenario_s_probes() {
    let all = workflows();
    let windows = all.iter().find(|w| w.name == "windows.yml").unwrap();
    let env = &windows.doc["jobs"]["harness-host-lane"]["env"];
    let scenario_path = env["SCENARIO"].as_str().expect("harness-host-lane env SCENARIO");
    let text = std::fs::read_to_string(repo().join(scenario_path)).unwrap();
    let scenario: Value = serde_saphyr::from_str(&text).unwrap();
    let words = |key: &str| -> Vec<String> {
        let mut v: Vec<String> = env[key]
            .as_str()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    };
    let keys = |v: &Value, keep: &dyn Fn(&Value) -> bool| -> Vec<String> {
        let mut k: Vec<String> = v
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, x)| keep(x))
            .map(|(k, _)| k.clone())
            .collect();
        k.sort();
        k
    };
    assert_eq!(
        words("HOST_PROBES"),
        keys(&scenario["probes"], &|_| true),
        "HOST_PROBES vs {scenario_path} probes"
    );
    // A bind probe runs on any elevated Windows machine; a layer probe needs a containerd snapshot.
    assert_eq!(
        words("HOST_PROBES_MUST_RUN"),
        keys(&scenario["probes"], &|p| !p["bind"].is_null()),
        "HOST_PROBES_MUST_RUN vs the bind probes of {scenario_path}"
    );
    assert_eq!(
        words("HOST_VARIANTS"),
        keys(&scenario["expect"]["host"], &|_| true),
        "HOST_VARIANTS vs expect.host"
    );
}
