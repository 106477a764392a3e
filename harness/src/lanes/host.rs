//! The host lane: the Windows probe natively and inside a silo the probe creates, on an elevated Windows machine.
//!
//! Per case (variant `native` or `in-silo`) the lane runs `bindprobe context` and then every probe of the scenario
//! through `bindprobe`, either directly or as `bindprobe in-silo -- bindprobe ...`, and turns each report into an
//! outcome (the command lines and the report's meaning are in `lanes::probe`). `in-silo` starts the probe the way
//! hcsshim starts a HostProcess process (bindprobe's defaults). A bind probe runs read-write (`--rw`, as buildkit
//! mounts) as step `probe/<name>`, then read-only (`--ro`, the seed's test) as step `probe/<name>/ro`. Each
//! observation's detail records the options the result was observed with. The probe is located next to the
//! harness binary, through `BINDPROBE`, or built with cargo.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use bindprobe::report::Report;
use serde_json::{Value, json};

use crate::lanes::probe::{
    bind_args, layer_args, layer_stages, observed_environment, options_detail, parse_report, probe_args,
    safe_to_delete, seen,
};
use crate::lanes::{Context, Unobserved, why};
use crate::outcome::{Observation, Seen};
use crate::scenario::matrix::Case;
use crate::scenario::model::Probe;

/// Where containerd keeps Windows snapshots: its default root, and k0s's.
const SNAPSHOT_ROOTS: &[&str] = &[
    r"C:\ProgramData\containerd\root\io.containerd.snapshotter.v1.windows\snapshots",
    r"C:\var\lib\k0s\containerd\io.containerd.snapshotter.v1.windows\snapshots",
];

/// The located probe and what it saw of this machine.
#[derive(Debug)]
struct Located {
    exe: PathBuf,
    context: Report,
}

static LOCATED: OnceLock<Result<Located, String>> = OnceLock::new();

fn located() -> Result<&'static Located, String> {
    LOCATED.get_or_init(locate).as_ref().map_err(Clone::clone)
}

/// Why the host lane cannot run here, or `None` when it may: decided without running or building anything (`plan`
/// calls it); whether the machine is elevated and has the bind filter is the run's first observation.
pub fn unavailable() -> Option<String> {
    (!cfg!(windows)).then(|| why::not_windows(std::env::consts::OS))
}

/// Why the machine `bindprobe context` describes cannot run the lane, if it cannot.
pub fn machine_unfit(context: &Report) -> Option<String> {
    let c = context.context.as_ref()?;
    if c.elevated == Some(false) {
        return Some(why::NOT_ELEVATED.to_owned());
    }
    let dll = c.bindfltapi_dll.as_ref().filter(|dll| !dll.exists)?;
    Some(why::no_bind_filter(&dll.path))
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

/// Runs bindprobe with `args` and parses its JSON report.
fn run_probe(exe: &Path, args: &[String]) -> Result<Report, String> {
    let output = Command::new(exe)
        .args(args)
        .output()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    parse_report(&String::from_utf8_lossy(&output.stdout)).map_err(|e| {
        format!(
            "bindprobe printed no report ({e}); exit {:?}; stderr: {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).trim()
        )
    })
}

/// The report that describes the probed operation: the child's inside a silo, else the report itself.
/// `Err` when `in-silo` could not make the silo or start the child (the harness's infrastructure, not the bug).
pub fn effective_report(report: &Report, in_silo: bool) -> Result<Report, String> {
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
            Err(why::no_snapshot_folder(spec))
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
    Err(why::no_snapshot(SNAPSHOT_ROOTS))
}

/// Runs `case` on this machine.
pub fn run(case: &Case, context: &Context) -> Vec<Observation> {
    let located = match located() {
        Ok(l) => l,
        Err(reason) => return vec![Observation::skipped("lane", reason)],
    };
    if let Some(reason) = machine_unfit(&located.context) {
        return vec![Observation::skipped("lane", reason)];
    }
    let in_silo = case.variant == "in-silo";
    let work = std::env::temp_dir()
        .join(format!("harness-{}", context.run_id))
        .join(&case.variant);
    let mut observations = Vec::new();

    // Where the probe runs, as it sees it (inside the silo for in-silo).
    let started = Instant::now();
    let args = probe_args(&located.exe, in_silo, &["context".to_owned()]);
    let (context_observation, observed) =
        match run_probe(&located.exe, &args).and_then(|r| effective_report(&r, in_silo).map(|e| (r, e))) {
            Ok((report, effective)) => {
                let observed = observed_environment(&effective);
                let detail = json!({
                    "command": args,
                    "context": effective.context,
                    "siloExitCode": report.exit_code,
                    "options": options_detail(&report, Some(&effective)),
                });
                (Observation::of("context", Seen::Ok).detail(detail), observed)
            }
            Err(e) => (
                Observation::of("context", Unobserved::Exec(e).into()).detail(json!({ "command": args })),
                observed_environment(&located.context),
            ),
        };
    observations.push(context_observation.timed(started));

    for (name, probe) in &case.loaded.scenario.probes {
        let step = format!("probe/{name}");
        let dir = work.join(name);
        match probe {
            Probe::Exec(_) | Probe::Program(_) | Probe::Logs(_) => {
                observations.push(Observation::skipped(&step, why::cluster_only(probe.kind())))
            }
            Probe::Bind(_) => {
                // Read-write first (buildkit's mount), then read-only (the seed's test-bind.exe), each in its own
                // directories so a binding left behind by one cannot answer for the other.
                for (step, dir, read_write) in [
                    (step.clone(), dir.clone(), true),
                    (format!("{step}/ro"), work.join(format!("{name}.ro")), false),
                ] {
                    let src = dir.join("src").display().to_string();
                    let dst = dir.join("dst").display().to_string();
                    let args = bind_args(&src, &dst, read_write);
                    let observation = observe(&located.exe, &step, &dir, probe, &args, in_silo, false);
                    observations.push(observation);
                }
            }
            Probe::Layer(l) => {
                let snapshot = match resolve_snapshot(&l.snapshot) {
                    Ok(s) => s,
                    Err(reason) => {
                        observations.push(Observation::skipped(&step, reason));
                        continue;
                    }
                };
                let parents = match parent_layers(&snapshot) {
                    Ok(p) => p,
                    Err(reason) => {
                        observations.push(Observation::skipped(&step, reason));
                        continue;
                    }
                };
                let snapshot = snapshot.display().to_string();
                let mnt = dir.join("mnt").display().to_string();
                let args = layer_args(&snapshot, &mnt, &parents);
                observations.push(observe(&located.exe, &step, &dir, probe, &args, in_silo, true));
            }
        }
    }
    let _ = std::fs::remove_dir(&work);
    for observation in &mut observations {
        observation.observed = observed.clone();
    }
    observations
}

/// Runs one probe command (natively or in a silo) and makes its observation; removes `dir` when nothing is bound.
fn observe(
    exe: &Path,
    step: &str,
    dir: &Path,
    probe: &Probe,
    args: &[String],
    in_silo: bool,
    layer: bool,
) -> Observation {
    let started = Instant::now();
    let command = probe_args(exe, in_silo, args);
    let observation = match run_probe(exe, &command) {
        Err(e) => Observation::of(step, Unobserved::Exec(e).into()).detail(json!({ "command": command })),
        Ok(report) => {
            let raw = report_value(&report);
            match effective_report(&report, in_silo) {
                Err(e) => Observation::of(step, Unobserved::Exec(e).into()).detail(json!({
                    "command": command,
                    "report": raw,
                    "options": options_detail(&report, None),
                })),
                Ok(effective) => {
                    let removed = safe_to_delete(&effective) && std::fs::remove_dir_all(dir).is_ok();
                    let detail = json!({
                        "command": command,
                        "report": raw,
                        "options": options_detail(&report, Some(&effective)),
                        "scenarioPaths": serde_json::to_value(probe).unwrap_or_default(),
                        "workDirRemoved": removed,
                    });
                    let mut observation = Observation::of(step, seen(&effective)).detail(detail);
                    if layer {
                        observation.stages = layer_stages(&effective);
                    }
                    observation
                }
            }
        }
    };
    observation.timed(started)
}

fn report_value(report: &Report) -> Value {
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
        "filterInstances": report.filter_instances,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Class;
    use crate::lanes::probe::tests::{denied_bind, report, step_result};

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
