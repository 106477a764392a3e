//! The host lane: the Windows probe natively and inside a silo the probe creates, on an elevated Windows machine.
//!
//! Per case (variant `native` or `in-silo`) the lane runs `bindprobe context` and then every probe of the scenario
//! through `bindprobe` (see `probe/README.md` for its JSON contract), either directly or as
//! `bindprobe in-silo -- bindprobe ...`, and turns each report into an outcome: the probe's `error` is worded like
//! go-winio / hcsshim / containerd, so the same classifier that reads buildkitd's logs classifies it. The probe
//! is located next to the harness binary, through `BINDPROBE`, or built with cargo.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::classify::{self, Class, Code, CodeSource};
use crate::lanes::{Context, record, skipped};
use crate::outcome::{Evidence, Outcome, StepResult};
use crate::scenario::expect::LAYER_STAGES;
use crate::scenario::matrix::Case;
use crate::scenario::model::{Environment, Probe};

/// Seconds a probe may run inside the silo before `in-silo` terminates it.
const SILO_TIMEOUT_SECS: u32 = 300;

/// Where containerd keeps Windows snapshots: its default root, and k0s's.
const SNAPSHOT_ROOTS: &[&str] = &[
    r"C:\ProgramData\containerd\root\io.containerd.snapshotter.v1.windows\snapshots",
    r"C:\var\lib\k0s\containerd\io.containerd.snapshotter.v1.windows\snapshots",
];

/// The part of bindprobe's report (schema 1) the lane reads.
#[derive(Debug, Clone, Deserialize)]
pub struct ProbeReport {
    pub probe: Option<String>,
    pub ok: bool,
    pub exit_code: i32,
    pub error: Option<String>,
    pub failed_step: Option<String>,
    #[serde(default)]
    pub steps: Vec<ProbeStep>,
    #[serde(default)]
    pub context: Option<Value>,
    #[serde(default)]
    pub child: Option<ProbeChild>,
}

/// One step of a probe report.
#[derive(Debug, Clone, Deserialize)]
pub struct ProbeStep {
    pub name: String,
    pub ok: bool,
    pub hresult: Option<String>,
    pub win32: Option<u32>,
    pub message: Option<String>,
}

/// The child of `in-silo`.
#[derive(Debug, Clone, Deserialize)]
pub struct ProbeChild {
    pub exit_code: Option<u32>,
    pub report: Option<Value>,
    pub stdout: Option<String>,
    #[serde(default)]
    pub stderr: String,
}

/// bindprobe's exit code for "could not set up" (see probe/README.md).
const PROBE_SETUP: i32 = 3;

/// The located probe and what it saw of this machine.
#[derive(Debug)]
struct Located {
    exe: PathBuf,
    context: ProbeReport,
}

static LOCATED: OnceLock<Result<Located, String>> = OnceLock::new();

fn located() -> Result<&'static Located, String> {
    LOCATED.get_or_init(locate).as_ref().map_err(Clone::clone)
}

/// Why the host lane cannot run here, or `None` when it can.
pub fn unavailable() -> Option<String> {
    if !cfg!(windows) {
        return Some(format!(
            "the host lane needs an elevated Windows machine; this is {}",
            std::env::consts::OS
        ));
    }
    match located() {
        Err(reason) => Some(reason),
        Ok(l) => machine_unfit(&l.context),
    }
}

/// Why the machine `bindprobe context` describes cannot run the lane, if it cannot.
pub fn machine_unfit(context: &ProbeReport) -> Option<String> {
    let c = context.context.as_ref()?;
    if c["elevated"] == Value::Bool(false) {
        return Some("the host lane needs an elevated Windows machine; this process is not elevated".to_owned());
    }
    if c["bindfltapi_dll"]["exists"] == Value::Bool(false) {
        return Some(format!(
            "the bind filter API is not installed here ({} is missing)",
            c["bindfltapi_dll"]["path"].as_str().unwrap_or("bindfltapi.dll")
        ));
    }
    None
}

fn locate() -> Result<Located, String> {
    let exe = find_probe().or_else(build_probe)?;
    let context = run_probe(&exe, &["context".to_owned()])
        .map_err(|e| format!("bindprobe at {} did not run: {e}", exe.display()))?;
    Ok(Located { exe, context })
}

/// `BINDPROBE`, else `bindprobe.exe` beside the running binary (or its `release`/`debug` siblings, since tests
/// run from `target/<profile>/deps`).
fn find_probe() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("BINDPROBE") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("BINDPROBE names {}, which does not exist", path.display()))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the harness binary: {e}"))?;
    let name = format!("bindprobe{}", std::env::consts::EXE_SUFFIX);
    let mut dirs: Vec<PathBuf> = Vec::new();
    for dir in exe.ancestors().skip(1).take(2) {
        dirs.push(dir.to_path_buf());
        if let Some(target) = dir.parent() {
            dirs.push(target.join("release"));
            dirs.push(target.join("debug"));
        }
    }
    dirs.iter()
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
        .ok_or_else(|| "bindprobe was not found beside the harness".to_owned())
}

/// `cargo build -p bindprobe --release` in a target directory of its own (no wait on a running cargo's lock).
fn build_probe(not_found: String) -> Result<PathBuf, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no workspace directory")?
        .to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = workspace.join("target").join("bindprobe");
    let output = Command::new(cargo)
        .current_dir(&workspace)
        .args([
            "build",
            "-p",
            "bindprobe",
            "--release",
            "--message-format=json",
            "--target-dir",
        ])
        .arg(&target_dir)
        .output()
        .map_err(|e| format!("{not_found}, and cargo could not be started to build it: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{not_found}, and `cargo build -p bindprobe` failed: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        ));
    }
    executable_from_cargo_messages(&String::from_utf8_lossy(&output.stdout))
        .ok_or_else(|| format!("{not_found}, and cargo built no bindprobe executable"))
}

/// The `bindprobe` executable named in cargo's `--message-format=json` output.
pub fn executable_from_cargo_messages(messages: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "bindprobe")
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .next_back()
}

/// Runs bindprobe with `args` and parses its one JSON report.
fn run_probe(exe: &Path, args: &[String]) -> Result<ProbeReport, String> {
    let output = Command::new(exe)
        .args(args)
        .output()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).map_err(|e| {
        format!(
            "bindprobe printed no report ({e}); exit {:?}; stderr: {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).trim()
        )
    })
}

/// The command line for `args`, run natively or inside a fresh silo.
pub fn probe_args(exe: &Path, in_silo: bool, args: &[String]) -> Vec<String> {
    if !in_silo {
        return args.to_vec();
    }
    let mut all = vec![
        "in-silo".to_owned(),
        "--timeout".to_owned(),
        SILO_TIMEOUT_SECS.to_string(),
        "--".to_owned(),
        exe.display().to_string(),
    ];
    all.extend(args.iter().cloned());
    all
}

/// The report that describes the probed operation: the child's inside a silo, else the report itself.
/// `Err` when `in-silo` could not make the silo or start the child (the harness's infrastructure, not the bug).
pub fn effective_report(report: &ProbeReport, in_silo: bool) -> Result<ProbeReport, String> {
    if !in_silo {
        return Ok(report.clone());
    }
    if report.failed_step.is_some() {
        return Err(format!(
            "in-silo: {}",
            report.error.as_deref().unwrap_or("the silo could not be made")
        ));
    }
    let child = report.child.as_ref().ok_or("in-silo reported no child")?;
    let inner = child.report.clone().ok_or_else(|| {
        format!(
            "the probe inside the silo printed no report (exit {:?}): {}{}",
            child.exit_code,
            child.stdout.as_deref().unwrap_or_default().trim(),
            child.stderr.trim()
        )
    })?;
    serde_json::from_value(inner).map_err(|e| format!("the report from inside the silo is malformed: {e}"))
}

/// The code of the failing step, as the classifier prints codes.
fn failing_code(report: &ProbeReport) -> Option<String> {
    let failed = report.failed_step.as_deref()?;
    let step = report.steps.iter().find(|s| s.name == failed && !s.ok)?;
    let hex = step.hresult.as_deref()?.trim_start_matches("0x");
    let value = u32::from_str_radix(hex, 16).ok()?;
    Some(Code::new(value, CodeSource::Explicit).hex())
}

fn infra(message: String) -> StepResult {
    StepResult::Failed {
        class: Class::ExecFailed,
        code: None,
        stage: None,
        first_error: Some(message),
    }
}

/// A probe's step result: ok, a failure classified from its upstream-worded error, or an infrastructure failure
/// when the probe could not set up (exit 3).
pub fn step_result(report: &ProbeReport) -> StepResult {
    if report.ok {
        return StepResult::Ok;
    }
    let error = report
        .error
        .clone()
        .unwrap_or_else(|| "the probe failed without an error".to_owned());
    if report.exit_code == PROBE_SETUP {
        return StepResult::Failed {
            class: Class::ExecFailed,
            code: failing_code(report),
            stage: report.failed_step.clone(),
            first_error: Some(error),
        };
    }
    let classified = classify::classify(&error);
    StepResult::Failed {
        class: classified.class.unwrap_or(Class::Unknown),
        code: failing_code(report).or_else(|| classified.code.map(|c| c.hex())),
        stage: classified
            .stage
            .map(|s| s.as_str().to_owned())
            .or_else(|| report.failed_step.clone()),
        first_error: Some(error),
    }
}

/// The layer stage a `bindprobe layer` step belongs to (cleanup steps belong to none).
pub fn layer_stage(step: &str) -> Option<&'static str> {
    match step {
        "load_vmcompute" | "ActivateLayer" => Some("activate"),
        "NameToGuid" | "PrepareLayer" => Some("prepare"),
        "GetLayerMountPath(length)" | "GetLayerMountPath(path)" | "stat_files" => Some("get-mount-path"),
        "mkdir_root"
        | "load_bindfltapi"
        | "mkdir_root_parent"
        | "BfSetupFilter"
        | "write_source_stream"
        | "list_root"
        | "BfRemoveMapping" => Some("bind"),
        _ => None,
    }
}

/// Per-stage results of a layer probe, in containerd's order, up to the stage that failed.
pub fn layer_stages(report: &ProbeReport) -> IndexMap<String, StepResult> {
    let mut stages = IndexMap::new();
    let failed_stage = report.failed_step.as_deref().and_then(layer_stage);
    for &stage in LAYER_STAGES {
        if !report.steps.iter().any(|s| layer_stage(&s.name) == Some(stage)) {
            break;
        }
        if failed_stage == Some(stage) {
            stages.insert(stage.to_owned(), step_result(report));
            break;
        }
        stages.insert(stage.to_owned(), StepResult::Ok);
    }
    stages
}

/// Whether the probe's work directory can be deleted: nothing was bound, or the binding was removed. (Deleting a
/// directory that is still bound would delete the files it is bound to.)
pub fn safe_to_delete(report: &ProbeReport) -> bool {
    let bound = report.steps.iter().any(|s| s.name == "BfSetupFilter" && s.ok);
    let removed = report.steps.iter().any(|s| s.name == "BfRemoveMapping" && s.ok);
    !bound || removed
}

/// The Windows build as scenarios declare it (`20348.4773`), from a `bindprobe context` report.
pub fn observed_environment(context: &ProbeReport) -> Environment {
    let os = context.context.as_ref().map(|c| &c["os"]);
    let windows_build = os.and_then(|os| {
        let build = os["build"].as_u64()?;
        Some(match os["ubr"].as_u64() {
            Some(ubr) => format!("{build}.{ubr}"),
            None => build.to_string(),
        })
    });
    Environment {
        windows_build,
        ..Environment::default()
    }
}

/// Picks containerd's newest committed snapshot from `(folder name, has a Files folder)` entries: the highest
/// numeric name with `Files`.
pub fn latest_snapshot<'a>(entries: impl IntoIterator<Item = (&'a str, bool)>) -> Option<&'a str> {
    entries
        .into_iter()
        .filter(|(_, has_files)| *has_files)
        .filter_map(|(name, _)| name.parse::<u64>().ok().map(|n| (n, name)))
        .max_by_key(|(n, _)| *n)
        .map(|(_, name)| name)
}

/// The parent layers of a layer folder, from hcsshim's `layerchain.json` (none: a base layer).
pub fn parent_layers(layer: &Path) -> Result<Vec<String>, String> {
    let chain = layer.join("layerchain.json");
    match std::fs::read_to_string(&chain) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{} is not a JSON list: {e}", chain.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read {}: {e}", chain.display())),
    }
}

fn resolve_snapshot(spec: &str) -> Result<PathBuf, String> {
    if spec != "latest" {
        let path = PathBuf::from(spec);
        return if path.is_dir() {
            Ok(path)
        } else {
            Err(format!("the snapshot folder {spec} does not exist here"))
        };
    }
    for root in SNAPSHOT_ROOTS {
        let Ok(dir) = std::fs::read_dir(root) else { continue };
        let entries: Vec<(String, bool)> = dir
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.path().join("Files").is_dir(),
                )
            })
            .collect();
        if let Some(name) = latest_snapshot(entries.iter().map(|(n, f)| (n.as_str(), *f))) {
            return Ok(Path::new(root).join(name));
        }
    }
    Err(format!(
        "no containerd snapshot with a Files folder on this machine (looked in {})",
        SNAPSHOT_ROOTS.join(", ")
    ))
}

/// Runs `case` on this machine.
pub fn run(case: &Case, context: &Context) -> Vec<Outcome> {
    let located = match located() {
        Ok(l) => l,
        Err(reason) => return vec![skipped(case, "lane", reason)],
    };
    if let Some(reason) = machine_unfit(&located.context) {
        return vec![skipped(case, "lane", reason)];
    }
    let in_silo = case.variant == "in-silo";
    let work = std::env::temp_dir()
        .join(format!("harness-{}", context.run_id))
        .join(&case.variant);
    let mut outcomes = Vec::new();

    // Where the probe runs, as it sees it (inside the silo for in-silo).
    let started = Instant::now();
    let args = probe_args(&located.exe, in_silo, &["context".to_owned()]);
    let (context_outcome, observed) =
        match run_probe(&located.exe, &args).and_then(|r| effective_report(&r, in_silo).map(|e| (r, e))) {
            Ok((report, effective)) => {
                let observed = observed_environment(&effective);
                let detail = json!({ "command": args, "context": effective.context, "siloExitCode": report.exit_code });
                (
                    record(case, "context", StepResult::Ok, Evidence::Real, detail),
                    observed,
                )
            }
            Err(e) => (
                record(case, "context", infra(e), Evidence::Real, json!({ "command": args })),
                observed_environment(&located.context),
            ),
        };
    outcomes.push(with_duration(context_outcome, started));

    for (name, probe) in &case.loaded.scenario.probes {
        let step = format!("probe/{name}");
        let dir = work.join(name);
        let (args, layer) = match probe {
            Probe::Bind(b) => {
                let mut args = vec![
                    "bind".to_owned(),
                    dir.join("src").display().to_string(),
                    dir.join("dst").display().to_string(),
                ];
                if b.read_write {
                    args.push("--rw".to_owned());
                }
                (args, false)
            }
            Probe::Layer(l) => {
                let snapshot = match resolve_snapshot(&l.snapshot) {
                    Ok(s) => s,
                    Err(reason) => {
                        outcomes.push(skipped(case, &step, reason));
                        continue;
                    }
                };
                let parents = match parent_layers(&snapshot) {
                    Ok(p) => p,
                    Err(reason) => {
                        outcomes.push(skipped(case, &step, reason));
                        continue;
                    }
                };
                let mut args = vec![
                    "layer".to_owned(),
                    snapshot.display().to_string(),
                    dir.join("mnt").display().to_string(),
                ];
                for parent in parents {
                    args.push("--parent".to_owned());
                    args.push(parent);
                }
                (args, true)
            }
        };
        let started = Instant::now();
        let command = probe_args(&located.exe, in_silo, &args);
        let outcome = match run_probe(&located.exe, &command) {
            Err(e) => record(case, &step, infra(e), Evidence::Real, json!({ "command": command })),
            Ok(report) => {
                let raw = report_value(&report);
                match effective_report(&report, in_silo) {
                    Err(e) => record(
                        case,
                        &step,
                        infra(e),
                        Evidence::Real,
                        json!({ "command": command, "report": raw }),
                    ),
                    Ok(effective) => {
                        let removed = safe_to_delete(&effective) && std::fs::remove_dir_all(&dir).is_ok();
                        let detail = json!({
                            "command": command,
                            "report": raw,
                            "scenarioPaths": serde_json::to_value(probe).unwrap_or_default(),
                            "workDirRemoved": removed,
                        });
                        let mut outcome = record(case, &step, step_result(&effective), Evidence::Real, detail);
                        if layer {
                            outcome.stages = layer_stages(&effective);
                        }
                        outcome
                    }
                }
            }
        };
        outcomes.push(with_duration(outcome, started));
    }
    let _ = std::fs::remove_dir(&work);
    for outcome in &mut outcomes {
        outcome.observed = observed.clone();
    }
    outcomes
}

fn report_value(report: &ProbeReport) -> Value {
    json!({
        "probe": report.probe,
        "ok": report.ok,
        "exitCode": report.exit_code,
        "error": report.error,
        "failedStep": report.failed_step,
        "steps": report.steps.iter().map(|s| json!({
            "name": s.name, "ok": s.ok, "hresult": s.hresult, "win32": s.win32, "message": s.message,
        })).collect::<Vec<_>>(),
        "child": report.child.as_ref().map(|c| json!({ "exitCode": c.exit_code, "report": c.report })),
    })
}

fn with_duration(mut outcome: Outcome, started: Instant) -> Outcome {
    outcome.duration_ms = Some(started.elapsed().as_millis() as u64);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(json: Value) -> ProbeReport {
        serde_json::from_value(json).unwrap()
    }

    fn denied_bind() -> Value {
        json!({
            "probe": "bind", "schema": 1, "ok": false, "exit_code": 1,
            "error": r#"failed to bind target "C:\\src" to root "C:\\dst": Access is denied."#,
            "failed_step": "BfSetupFilter",
            "steps": [
                {"name": "mkdir_source", "ok": true, "hresult": null, "win32": null, "message": null},
                {"name": "BfSetupFilter", "ok": false, "hresult": "0x80070005", "win32": 5, "message": "Access is denied."}
            ]
        })
    }

    #[test]
    fn a_denied_bind_is_classified_like_buildkitd_s_error() {
        let r = report(denied_bind());
        match step_result(&r) {
            StepResult::Failed {
                class,
                code,
                stage,
                first_error,
            } => {
                assert_eq!(class, Class::BindfltAccessDenied);
                assert_eq!(code.as_deref(), Some("0x80070005"));
                assert_eq!(stage.as_deref(), Some("bind"));
                assert!(first_error.unwrap().starts_with("failed to bind target"));
            }
            other => panic!("{other:?}"),
        }
        assert!(safe_to_delete(&r));
    }

    #[test]
    fn in_silo_reads_the_child_s_report() {
        let outer = report(json!({
            "probe": "in-silo", "ok": false, "exit_code": 1, "error": null, "failed_step": null, "steps": [],
            "child": {"exit_code": 1, "stdout": null, "stderr": "", "report": denied_bind()}
        }));
        let inner = effective_report(&outer, true).unwrap();
        assert_eq!(inner.probe.as_deref(), Some("bind"));
        assert_eq!(step_result(&inner).class(), Some(Class::BindfltAccessDenied));
        // Natively the report is its own.
        assert_eq!(
            effective_report(&outer, false).unwrap().probe.as_deref(),
            Some("in-silo")
        );
    }

    #[test]
    fn a_silo_that_cannot_be_made_is_infrastructure() {
        let outer = report(json!({
            "probe": "in-silo", "ok": false, "exit_code": 3,
            "error": "failed to promote job to silo: Access is denied.",
            "failed_step": "SetInformationJobObject(JobObjectCreateSilo)",
            "steps": [{"name": "SetInformationJobObject(JobObjectCreateSilo)", "ok": false, "hresult": "0x80070005", "win32": 5, "message": "Access is denied."}],
            "child": {"exit_code": null, "stdout": "", "stderr": "", "report": null}
        }));
        let e = effective_report(&outer, true).unwrap_err();
        assert!(e.starts_with("in-silo: failed to promote job to silo"), "{e}");
        let setup = report(json!({
            "probe": "bind", "ok": false, "exit_code": 3, "error": "Failed to load bindfltapi.dll: x",
            "failed_step": "load_bindfltapi", "steps": []
        }));
        assert_eq!(step_result(&setup).class(), Some(Class::ExecFailed));
    }

    #[test]
    fn layer_stages_stop_at_the_failing_one() {
        let r = report(json!({
            "probe": "layer", "ok": false, "exit_code": 1,
            "error": r#"failed to set volume mount path for layer C:\snap\117263: failed to bind target "C:\\snap\\117263\\Files" to root "C:\\mnt": Access is denied."#,
            "failed_step": "BfSetupFilter",
            "steps": [
                {"name": "load_vmcompute", "ok": true, "hresult": null, "win32": null, "message": null},
                {"name": "ActivateLayer", "ok": true, "hresult": null, "win32": null, "message": null},
                {"name": "PrepareLayer", "ok": true, "hresult": null, "win32": null, "message": null},
                {"name": "GetLayerMountPath(length)", "ok": true, "hresult": null, "win32": null, "message": null},
                {"name": "GetLayerMountPath(path)", "ok": true, "hresult": null, "win32": null, "message": null},
                {"name": "stat_files", "ok": true, "hresult": null, "win32": null, "message": null},
                {"name": "BfSetupFilter", "ok": false, "hresult": "0x80070005", "win32": 5, "message": "Access is denied."},
                {"name": "UnprepareLayer", "ok": true, "hresult": null, "win32": null, "message": null},
                {"name": "DeactivateLayer", "ok": true, "hresult": null, "win32": null, "message": null}
            ]
        }));
        let stages = layer_stages(&r);
        assert_eq!(
            stages.keys().collect::<Vec<_>>(),
            ["activate", "prepare", "get-mount-path", "bind"]
        );
        assert_eq!(stages["activate"], StepResult::Ok);
        assert_eq!(stages["bind"].class(), Some(Class::BindfltAccessDenied));

        let early = report(json!({
            "probe": "layer", "ok": false, "exit_code": 1,
            "error": r"failed to activate layer C:\snap\1: hcsshim::ActivateLayer failed in Win32: Access is denied. (0x5)",
            "failed_step": "ActivateLayer",
            "steps": [
                {"name": "load_vmcompute", "ok": true, "hresult": null, "win32": null, "message": null},
                {"name": "ActivateLayer", "ok": false, "hresult": "0x80070005", "win32": 5, "message": "Access is denied."},
                {"name": "DeactivateLayer", "ok": true, "hresult": null, "win32": null, "message": null}
            ]
        }));
        let stages = layer_stages(&early);
        assert_eq!(stages.len(), 1);
        assert!(matches!(stages["activate"], StepResult::Failed { .. }));
    }

    #[test]
    fn a_bound_directory_is_never_deleted() {
        let still_bound = report(json!({
            "probe": "bind", "ok": false, "exit_code": 1, "error": "removing file binding: x", "failed_step": "BfRemoveMapping",
            "steps": [
                {"name": "BfSetupFilter", "ok": true, "hresult": null, "win32": null, "message": null},
                {"name": "BfRemoveMapping", "ok": false, "hresult": "0x80070005", "win32": 5, "message": "x"}
            ]
        }));
        assert!(!safe_to_delete(&still_bound));
    }

    #[test]
    fn environment_skips_and_snapshots() {
        let ctx = report(json!({
            "probe": "context", "ok": true, "exit_code": 0, "error": null, "failed_step": null, "steps": [],
            "context": {"elevated": false, "os": {"build": 20348, "ubr": 4773}, "bindfltapi_dll": {"path": "x", "exists": true}}
        }));
        assert_eq!(observed_environment(&ctx).windows_build.as_deref(), Some("20348.4773"));
        assert!(machine_unfit(&ctx).unwrap().contains("not elevated"));
        assert_eq!(
            latest_snapshot([("9", true), ("120494", true), ("120495", false), ("tmp", true)]),
            Some("120494")
        );
        assert_eq!(latest_snapshot([("1", false)]), None);
        let exe = Path::new(r"C:\h\bindprobe.exe");
        assert_eq!(
            probe_args(exe, true, &["context".to_owned()]),
            ["in-silo", "--timeout", "300", "--", r"C:\h\bindprobe.exe", "context"]
        );
        assert_eq!(probe_args(exe, false, &["context".to_owned()]), ["context"]);
        let messages = r#"{"reason":"compiler-artifact","target":{"name":"bindprobe"},"executable":"/t/release/bindprobe"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            executable_from_cargo_messages(messages),
            Some(PathBuf::from("/t/release/bindprobe"))
        );
        if !cfg!(windows) {
            assert!(unavailable().unwrap().contains("needs an elevated Windows machine"));
        }
    }
}
