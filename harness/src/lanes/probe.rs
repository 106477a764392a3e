//! The Windows probe as every lane sees it: its command lines, its report, and what a report means for a step.
//!
//! The report is bindprobe's own type (`probe/src/report.rs`, the JSON contract); its `error` is worded like
//! go-winio / hcsshim / containerd, so the classifier that reads buildkitd's logs classifies it.

use std::path::Path;

use bindprobe::report::{Report, exit};
use indexmap::IndexMap;

use crate::classify::{Class, Code, CodeSource, Stage};
use crate::outcome::{Failure, Seen};
use crate::words::Environment;

/// The probe in a Windows container, found on its PATH.
const POD_EXE: &str = "bindprobe.exe";

/// Seconds a probe may run inside the silo before `in-silo` terminates it.
const SILO_TIMEOUT_SECS: u32 = 300;

/// `bind SRC DST --rw|--ro`: the mode is always explicit (bindprobe's own default is the seed's read-only).
pub fn bind_args(src: &str, dst: &str, read_write: bool) -> Vec<String> {
    let mode = if read_write { "--rw" } else { "--ro" };
    vec!["bind".to_owned(), src.to_owned(), dst.to_owned(), mode.to_owned()]
}

/// `layer SNAPSHOT DST [--parent PARENT]...`.
pub fn layer_args(snapshot: &str, dst: &str, parents: &[String]) -> Vec<String> {
    let mut args = vec!["layer".to_owned(), snapshot.to_owned(), dst.to_owned()];
    for parent in parents {
        args.push("--parent".to_owned());
        args.push(parent.clone());
    }
    args
}

/// The arguments that run `args` through the probe at `exe`, natively or inside a fresh silo. `in-silo` starts
/// the probe the way hcsshim starts a HostProcess process (bindprobe's defaults); its report's `options` name
/// what still departs from that (see [`options_detail`]).
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

/// The options a result was observed with, for an observation's detail: the report's own (`in-silo`: the silo
/// and the child's start) and, inside a silo, the probe's (`bind`: read-only or not).
pub fn options_detail(report: &Report, effective: Option<&Report>) -> serde_json::Value {
    let own = serde_json::to_value(&report.options).unwrap_or_default();
    match effective {
        Some(inner) if !std::ptr::eq(inner, report) && inner.probe != report.probe => serde_json::json!({
            "silo": own,
            "probe": serde_json::to_value(&inner.options).unwrap_or_default(),
        }),
        _ => serde_json::json!({ "probe": own }),
    }
}

/// The command that runs `args` through the probe in a pod's container: the one delivered to `exe` on the node, else
/// the image's own (`bindprobe.exe` on the PATH hcsshim gives HostProcess processes).
pub fn pod_argv(exe: Option<&str>, args: &[String]) -> Vec<String> {
    std::iter::once(exe.unwrap_or(POD_EXE).to_owned())
        .chain(args.iter().cloned())
        .collect()
}

/// The report in what the probe printed: the last line that parses as one; else why the last line does not.
pub fn parse_report(stdout: &str) -> Result<Report, serde_json::Error> {
    let mut lines = stdout.lines().rev().filter(|line| !line.trim().is_empty());
    let last = serde_json::from_str(lines.next().unwrap_or_default());
    last.or_else(|error| lines.find_map(|line| serde_json::from_str(line).ok()).ok_or(error))
}

/// The code of the failing step, as the classifier prints codes.
fn failing_code(report: &Report) -> Option<String> {
    let failed = report.failed_step.as_deref()?;
    let step = report.steps.iter().find(|s| s.name == failed && !s.ok)?;
    let hex = step.hresult.as_deref()?.trim_start_matches("0x");
    let value = u32::from_str_radix(hex, 16).ok()?;
    Some(Code::new(value, CodeSource::Explicit).hex())
}

/// What a probe's report says of its step: ok; a failure in the probe's upstream wording (the judge classifies it, with
/// the failing call's own code and name); or, when the probe could not set up, the harness's own failure.
pub fn seen(report: &Report) -> Seen {
    if report.ok {
        return Seen::Ok;
    }
    let error = report
        .error
        .clone()
        .unwrap_or_else(|| "the probe failed without an error".to_owned());
    let mut failure = if report.exit_code == exit::SETUP {
        Failure::unobserved(Class::ExecFailed, error)
    } else {
        Failure::text(error.clone(), error, Class::Unknown)
    };
    failure.code = failing_code(report);
    failure.stage = report.failed_step.clone();
    failure.into()
}

/// The layer stage (one of [`Stage::LAYER`]) a `bindprobe layer` step belongs to; cleanup steps belong to none.
pub fn layer_stage(step: &str) -> Option<Stage> {
    match step {
        "load_vmcompute" | "ActivateLayer" => Some(Stage::Activate),
        "NameToGuid" | "PrepareLayer" => Some(Stage::Prepare),
        "GetLayerMountPath(length)" | "GetLayerMountPath(path)" | "stat_files" => Some(Stage::GetMountPath),
        "mkdir_root"
        | "load_bindfltapi"
        | "mkdir_root_parent"
        | "BfSetupFilter"
        | "write_source_stream"
        | "list_root"
        | "BfRemoveMapping" => Some(Stage::Bind),
        _ => None,
    }
}

/// Per-stage results of a layer probe, in containerd's order, up to the stage that failed.
pub fn layer_stages(report: &Report) -> IndexMap<String, Seen> {
    let mut stages = IndexMap::new();
    let failed_stage = report.failed_step.as_deref().and_then(layer_stage);
    for &stage in Stage::LAYER {
        if !report.steps.iter().any(|s| layer_stage(&s.name) == Some(stage)) {
            break;
        }
        if failed_stage == Some(stage) {
            stages.insert(stage.as_str().to_owned(), seen(report));
            break;
        }
        stages.insert(stage.as_str().to_owned(), Seen::Ok);
    }
    stages
}

/// Whether the probe's work directory can be deleted: nothing was bound, or the binding was removed. (Deleting a
/// directory that is still bound would delete the files it is bound to.)
pub fn safe_to_delete(report: &Report) -> bool {
    let bound = report.steps.iter().any(|s| s.name == "BfSetupFilter" && s.ok);
    let removed = report.steps.iter().any(|s| s.name == "BfRemoveMapping" && s.ok);
    !bound || removed
}

/// The Windows build as scenarios declare it (`20348.4773`), from a `bindprobe context` report.
pub fn observed_environment(context: &Report) -> Environment {
    let os = context.context.as_ref().and_then(|c| c.os.as_ref());
    let windows_build = os.map(|os| match os.ubr {
        Some(ubr) => format!("{}.{ubr}", os.build),
        None => os.build.to_string(),
    });
    Environment {
        windows_build,
        ..Environment::default()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::outcome::StepResult;

    /// The judged result of a report, as an outcome shows it.
    pub(crate) fn step_result(report: &Report) -> StepResult {
        crate::judge::result(seen(report))
    }

    /// The judged stages of a layer report.
    fn layer_stages(report: &Report) -> IndexMap<String, StepResult> {
        super::layer_stages(report)
            .into_iter()
            .map(|(stage, seen)| (stage, crate::judge::result(seen)))
            .collect()
    }

    pub(crate) fn report(json: Value) -> Report {
        serde_json::from_value(json).unwrap()
    }

    pub(crate) fn denied_bind() -> Value {
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
    fn every_stage_a_step_names_is_a_layer_stage() {
        let steps = [
            "load_vmcompute",
            "ActivateLayer",
            "NameToGuid",
            "PrepareLayer",
            "GetLayerMountPath(length)",
            "GetLayerMountPath(path)",
            "stat_files",
            "mkdir_root",
            "load_bindfltapi",
            "mkdir_root_parent",
            "BfSetupFilter",
            "write_source_stream",
            "list_root",
            "BfRemoveMapping",
        ];
        for step in steps {
            let stage = layer_stage(step).unwrap_or_else(|| panic!("{step} has no stage"));
            assert!(Stage::LAYER.contains(&stage), "{step}: {stage:?}");
        }
        assert_eq!(layer_stage("UnprepareLayer"), None);
    }

    #[test]
    fn the_same_probe_in_each_place() {
        let bind = bind_args(r"C:\w\src", r"C:\w\dst", true);
        assert_eq!(bind, ["bind", r"C:\w\src", r"C:\w\dst", "--rw"]);
        assert_eq!(bind_args("a", "b", false), ["bind", "a", "b", "--ro"]);
        let layer = layer_args(r"C:\snap\7", r"C:\mnt", &[r"C:\snap\6".to_owned()]);
        assert_eq!(layer, ["layer", r"C:\snap\7", r"C:\mnt", "--parent", r"C:\snap\6"]);
        assert_eq!(probe_args(Path::new("bp.exe"), false, &bind), bind);
        assert_eq!(
            probe_args(Path::new("bp.exe"), true, &bind)[..5],
            ["in-silo", "--timeout", "300", "--", "bp.exe"]
        );
        assert_eq!(
            pod_argv(None, &layer_args("S", "D", &[])),
            ["bindprobe.exe", "layer", "S", "D"]
        );
    }

    #[test]
    fn the_options_go_into_the_detail() {
        let inner = report(json!({
            "probe": "bind", "ok": true, "exit_code": 0, "steps": [],
            "options": {"read_only": false, "enable_privileges": false, "departures": []}
        }));
        let outer = report(json!({
            "probe": "in-silo", "ok": true, "exit_code": 0, "steps": [],
            "options": {"token": "inherit", "breakaway": true, "departures": ["--token inherit"]}
        }));
        let detail = options_detail(&outer, Some(&inner));
        assert_eq!(detail["silo"]["departures"], json!(["--token inherit"]));
        assert_eq!(detail["probe"]["read_only"], json!(false));
        assert_eq!(
            options_detail(&inner, Some(&inner)),
            json!({"probe": {"read_only": false, "enable_privileges": false, "departures": []}})
        );
        // A report from an older probe has no options.
        assert_eq!(options_detail(&report(denied_bind()), None), json!({"probe": null}));
    }

    #[test]
    fn the_report_is_the_last_line_that_parses() {
        let denied = denied_bind().to_string();
        let stdout = format!("starting\n{denied}\r\ntrailing noise\n\n");
        assert_eq!(
            parse_report(&stdout).unwrap().failed_step.as_deref(),
            Some("BfSetupFilter")
        );
        let context = json!({"probe": "context", "ok": true, "exit_code": 0, "steps": []}).to_string();
        let two = format!("{denied}\n{context}\n");
        assert_eq!(parse_report(&two).unwrap().probe.as_deref(), Some("context"));
        assert!(parse_report("").is_err());
        let e = parse_report("not json\n").unwrap_err();
        assert!(e.to_string().starts_with("expected"), "{e}");
    }

    #[test]
    fn the_build_comes_from_the_context() {
        let ctx = report(json!({
            "probe": "context", "ok": true, "exit_code": 0, "steps": [],
            "context": {"os": {"build": 20348, "ubr": null}}
        }));
        assert_eq!(observed_environment(&ctx).windows_build.as_deref(), Some("20348"));
        let bind = report(denied_bind());
        assert_eq!(observed_environment(&bind).windows_build, None);
    }
}
