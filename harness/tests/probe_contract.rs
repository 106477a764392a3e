//! The test bed's bindprobe double (`fixtures/testbed/doubles/windows-double`) answers in bindprobe's own contract.
//!
//! Each answer must deserialise into `bindprobe::report::Report` and serialise back to the same JSON, key for key:
//! a field the double renames, drops or retypes fails here, not in a cluster run. The double's one addition is
//! `"simulated": true`. The double is a Python 3 script; without python3 its tests are reported as ignored with
//! the reason, never passed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use bindprobe::report::{BindInfo, Report};
use harness::classify::Class;
use harness::classify::Stage;
use harness::judge;
use harness::lanes::probe::{bind_args, layer_args, layer_stages, observed_environment, pod_argv, seen};
use harness::outcome::StepResult;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use serde_json::Value;

/// The result the harness reports for a probe's report.
fn step_result(report: &Report) -> StepResult {
    judge::result(seen(report))
}

type TestResult = Result<Completion, Failed>;

/// The double run as kwok runs it for an exec into a pod on the simulated Windows node: a state folder of its own,
/// the working directory in its simulated file system.
struct Double {
    state: tempfile::TempDir,
}

impl Double {
    fn new() -> Result<Self, Failed> {
        let state = tempfile::tempdir().map_err(|e| e.to_string())?;
        for dir in ["fs/C:/hpc", "bin"] {
            std::fs::create_dir_all(state.path().join(dir)).map_err(|e| e.to_string())?;
        }
        Ok(Self { state })
    }

    /// The JSON line the double prints for `argv` (a pod's command: `bindprobe.exe ...`).
    fn answer(&self, argv: &[String]) -> Result<Value, Failed> {
        let output = Command::new("python3")
            .arg(script())
            .args(argv)
            .current_dir(self.state.path().join("fs"))
            .env("TESTBED_WINDOWS_STATE", self.state.path())
            .env("TESTBED_WINDOWS_CWD", r"C:\hpc\")
            .env("CONTAINER_SANDBOX_MOUNT_POINT", r"C:\hpc\")
            .output()
            .map_err(|e| format!("the double did not start: {e}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut lines = stdout.lines();
        let (Some(line), None) = (lines.next(), lines.next()) else {
            return Err(format!("{argv:?}: expected one JSON line, got {stdout:?}").into());
        };
        serde_json::from_str(line).map_err(|e| format!("{argv:?}: not JSON ({e}): {line}").into())
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/testbed/doubles/windows-double")
}

/// Why the double cannot run here, if it cannot.
fn python_missing() -> Option<String> {
    match Command::new("python3").arg("--version").output() {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(format!(
            "python3 does not run here ({}); the test bed's double is a Python 3 script",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(e) => Some(format!(
            "python3 is missing ({e}); the test bed's double is a Python 3 script"
        )),
    }
}

/// Every key path in `value`: `steps[].name`, `bind.flag_names`, ...
fn key_paths(value: &Value, prefix: &str, paths: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                key_paths(inner, &path, paths);
                paths.insert(path);
            }
        }
        Value::Array(items) => {
            for item in items {
                key_paths(item, &format!("{prefix}[]"), paths);
            }
        }
        _ => {}
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    key_paths(value, "", &mut paths);
    paths
}

/// The double's answer as bindprobe's report, when bindprobe would have written exactly that JSON.
fn in_contract(answer: &Value) -> Result<Report, String> {
    let mut answer = answer.clone();
    let simulated = answer.as_object_mut().and_then(|fields| fields.remove("simulated"));
    if simulated != Some(Value::Bool(true)) {
        return Err(format!("the answer is not marked `\"simulated\": true`: {answer}"));
    }
    let report: Report =
        serde_json::from_value(answer.clone()).map_err(|e| format!("not a bindprobe report ({e}): {answer}"))?;
    let written = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    let (expected, found) = (keys(&written), keys(&answer));
    let missing: Vec<_> = expected.difference(&found).collect();
    let unknown: Vec<_> = found.difference(&expected).collect();
    if !missing.is_empty() || !unknown.is_empty() {
        return Err(format!(
            "fields bindprobe writes but the double does not: {missing:?}; fields bindprobe does not know: {unknown:?}"
        ));
    }
    if written != answer {
        return Err(format!(
            "bindprobe would have written\n{written}\nthe double wrote\n{answer}"
        ));
    }
    Ok(report)
}

fn check(cond: bool, message: impl FnOnce() -> String) -> Result<(), Failed> {
    if cond { Ok(()) } else { Err(message().into()) }
}

fn bind_is_denied_as_the_contract_says() -> TestResult {
    let double = Double::new()?;
    for read_write in [false, true] {
        let argv = pod_argv(None, &bind_args(r"C:\hpc\w\src", r"C:\hpc\w\dst", read_write));
        let report = in_contract(&double.answer(&argv)?)?;
        check(
            report.probe.as_deref() == Some("bind") && report.failed_step.as_deref() == Some("BfSetupFilter"),
            || format!("{argv:?}: {report:?}"),
        )?;
        check(report.bind.as_ref().is_some_and(|b| b.read_only != read_write), || {
            format!("{argv:?}: read_only is not the opposite of --rw: {:?}", report.bind)
        })?;
        check(step_result(&report).class() == Some(Class::BindfltAccessDenied), || {
            format!("{argv:?}: the harness reads {:?}", step_result(&report))
        })?;
    }
    Ok(Completion::Completed)
}

fn layer_goes_through_every_stage() -> TestResult {
    let double = Double::new()?;
    for parents in [vec![], vec![r"C:\snap\6".to_owned()]] {
        let argv = pod_argv(None, &layer_args(r"C:\snap\7", r"C:\hpc\mnt", &parents));
        let report = in_contract(&double.answer(&argv)?)?;
        let stages = layer_stages(&report);
        check(
            stages
                .keys()
                .map(String::as_str)
                .eq(Stage::LAYER.iter().map(|s| s.as_str())),
            || format!("{argv:?}: the stage table reads {stages:?} from {:?}", report.steps),
        )?;
        let bind = judge::result(stages["bind"].clone());
        check(bind.class() == Some(Class::BindfltAccessDenied), || {
            format!("{argv:?}: bind stage {:?}", stages["bind"])
        })?;
    }
    Ok(Completion::Completed)
}

fn context_describes_the_node() -> TestResult {
    let double = Double::new()?;
    let argv = pod_argv(None, &["context".to_owned()]);
    let report = in_contract(&double.answer(&argv)?)?;
    let build = observed_environment(&report).windows_build;
    check(report.ok && build.as_deref() == Some("20348.4773"), || {
        format!("context: ok {}, build {build:?}", report.ok)
    })?;
    Ok(Completion::Completed)
}

/// The check itself: a renamed, a missing and an unknown field are each caught.
fn the_check_catches_renamed_and_missing_fields() -> Result<(), Failed> {
    let mut report = Report::new(Some("bind"));
    report.bind = Some(BindInfo::default());
    let mut own = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    own["simulated"] = Value::Bool(true);
    in_contract(&own)?;
    let renamed = |from: &str, to: &str| {
        let mut v = own.clone();
        let fields = v["bind"].as_object_mut().expect("bind is an object");
        let value = fields.remove(from).expect("the field exists");
        if !to.is_empty() {
            fields.insert(to.to_owned(), value);
        }
        v
    };
    for (variant, what) in [
        (renamed("bind_source", "bindSource"), "a renamed field"),
        (renamed("removed", ""), "a missing optional field"),
        (renamed("source", ""), "a missing required field"),
    ] {
        check(in_contract(&variant).is_err(), || format!("{what} passed the check"))?;
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let missing = python_missing();
    let with_double = |name: &str, test: fn() -> TestResult| {
        let missing = missing.clone();
        Trial::ignorable_test(name, move || match missing {
            Some(reason) => Ok(Completion::ignored_with(reason)),
            None => test(),
        })
    };
    let trials = vec![
        with_double(
            "bind_is_denied_as_the_contract_says",
            bind_is_denied_as_the_contract_says,
        ),
        with_double("layer_goes_through_every_stage", layer_goes_through_every_stage),
        with_double("context_describes_the_node", context_describes_the_node),
        Trial::test(
            "the_check_catches_renamed_and_missing_fields",
            the_check_catches_renamed_and_missing_fields,
        ),
    ];
    libtest_mimic::run(&args, trials).exit();
}
