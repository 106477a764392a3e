//! Probes: `bindprobe.exe` run in the workload's container, its report read as the host lane reads it; a command
//! or a delivered program run there, judged by its exit status; a container's log, read for what it shows.

use serde_json::json;

use crate::classify::Class;
use crate::lanes::Unobserved;
use crate::lanes::cluster::exec::{Output, Workload, exec};
use crate::lanes::probe::{bind_args, layer_args, layer_stages, parse_report, pod_argv, seen};
use crate::outcome::{Failure, Observation, Seen};
use crate::scenario::model::Probe;

/// Which bindprobe a probe step runs.
#[derive(Clone, Copy)]
pub enum Exe<'a> {
    /// The one the lane delivered to this path on the node.
    Delivered(&'a str, &'a Result<super::Probe, String>),
    /// The image's own, because none could be delivered (why).
    Image(&'a str),
}

/// Runs `probe` in `pod` with `exe` and observes step `step`.
pub async fn probe(workload: &Workload, pod: &str, step: &str, probe: &Probe, exe: Exe<'_>) -> Observation {
    let mut snapshot = serde_json::Value::Null;
    let args = match probe {
        Probe::Exec(command) => return run_command(workload, pod, step, &command.argv, command.status).await,
        Probe::Program(_) | Probe::Logs(_) => {
            return Observation::of(step, Unobserved::Exec("not a bindprobe probe".to_owned()).into());
        }
        Probe::Bind(bind) => bind_args(&bind.src, &bind.dst, bind.read_write),
        Probe::Layer(layer) if layer.snapshot == "latest" => match super::snapshot::newest(workload, pod).await {
            Ok(found) => {
                snapshot = json!({ "snapshot": found.folder, "root": found.root });
                layer_args(&found.folder, &layer.dst, &[])
            }
            Err(e) => return Observation::of(step, Unobserved::Exec(e).into()),
        },
        Probe::Layer(layer) => layer_args(&layer.snapshot, &layer.dst, &[]),
    };
    let (path, source) = match exe {
        Exe::Delivered(path, Ok(sent)) => (
            Some(path),
            json!({ "delivered": path, "from": sent.path.display().to_string(), "sha256": sent.sha256 }),
        ),
        Exe::Delivered(path, Err(_)) => (Some(path), json!({ "delivered": path })),
        Exe::Image(why) => (None, json!({ "image": true, "why": why })),
    };
    let argv = pod_argv(path, &args);
    let mut detail = json!({ "command": argv, "probe": source });
    if !snapshot.is_null() {
        detail["latest"] = snapshot;
    }
    let Output { stdout, stderr, .. } = match exec(workload, pod, argv).await {
        Ok(output) => output,
        Err(e) => return Observation::of(step, Unobserved::from(e).into()).detail(detail),
    };
    let Ok(report) = parse_report(&stdout) else {
        let message = format!(
            "bindprobe printed no report: {}",
            stderr.lines().next().unwrap_or(stdout.trim())
        );
        return Observation::of(step, Unobserved::Exec(message).into()).detail(detail);
    };
    let mut observation = Observation::of(step, seen(&report)).detail(detail);
    if matches!(probe, Probe::Layer(_)) {
        observation.stages = layer_stages(&report);
    }
    observation
}

/// A command in the container (an exec probe, a delivered program): ok when it exits with `expected`; otherwise
/// what it printed, to classify.
pub async fn run_command(workload: &Workload, pod: &str, step: &str, argv: &[String], expected: i32) -> Observation {
    let mut detail = json!({ "command": argv, "expected_status": expected });
    let output = match exec(workload, pod, argv.to_vec()).await {
        Ok(output) => output,
        Err(e) => return Observation::of(step, Unobserved::from(e).into()).detail(detail),
    };
    // The test bed's doubles cannot pass an exit status through kwok's exec; they print it as their last line.
    let status = output.exit_code.or_else(|| {
        output
            .stderr
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("simulated: exit code ")?.parse().ok())
    });
    detail["status"] = json!(status);
    let Some(status) = status else {
        let message = format!("`{}` ended without an exit status", argv.join(" "));
        return Observation::of(step, Unobserved::Exec(message).into()).detail(detail);
    };
    if status == expected {
        return Observation::of(step, Seen::Ok).detail(detail);
    }
    let ended = format!("`{}` exited with {status}, expected {expected}", argv.join(" "));
    let text = format!("{}\n{}\n{ended}", output.stdout, output.stderr);
    let line = match output.first_line() {
        line if line == "no answer" => ended,
        line => line,
    };
    Observation::of(step, Failure::text(line, text, Class::Unknown).into()).detail(detail)
}
