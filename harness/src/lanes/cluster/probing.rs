//! Probes: `bindprobe.exe` run in the workload's container, its report read as the host lane reads it.

use serde_json::json;

use crate::lanes::Unobserved;
use crate::lanes::cluster::exec::{Output, Workload, exec};
use crate::lanes::probe::{bind_args, layer_args, layer_stages, parse_report, pod_argv, seen};
use crate::outcome::Observation;
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
        Err(e) => return Observation::of(step, Unobserved::Exec(e).into()).detail(detail),
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
