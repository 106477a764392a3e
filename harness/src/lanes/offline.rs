//! The offline lane: renders every case and checks that what it would apply reads back unchanged. Runs everywhere.

use std::time::Instant;

use k8s_openapi::api::apps::v1::DaemonSet;
use serde_json::json;

use crate::lanes::{Context, record};
use crate::outcome::{Evidence, Outcome, StepResult};
use crate::render;
use crate::scenario::matrix::Case;

/// Renders the case and records the `render` step.
pub fn run(case: &Case, context: &Context) -> Vec<Outcome> {
    let started = Instant::now();
    let manifests = render::render(case, &context.run_id, &context.overrides);
    let yaml = serde_saphyr::to_string(&manifests.daemonset).unwrap_or_default();
    let reread: Result<DaemonSet, _> = serde_saphyr::from_str(&yaml);
    let result = match reread {
        Ok(daemonset) if daemonset == manifests.daemonset => StepResult::Ok,
        Ok(_) => failed("the rendered DaemonSet does not read back as the same object".to_owned()),
        Err(e) => failed(format!("the rendered DaemonSet is not valid YAML: {e}")),
    };
    let pod = manifests.daemonset.spec.as_ref().and_then(|s| s.template.spec.as_ref());
    let containers: Vec<_> = pod.iter().flat_map(|p| &p.containers).collect();
    let detail = json!({
        "objects": [
            format!("Namespace/{}", manifests.namespace.metadata.name.as_deref().unwrap_or_default()),
            format!(
                "DaemonSet/{}/{}",
                manifests.daemonset.metadata.namespace.as_deref().unwrap_or_default(),
                manifests.daemonset.metadata.name.as_deref().unwrap_or_default()
            ),
        ],
        "images": containers.iter().filter_map(|c| c.image.clone()).collect::<Vec<_>>(),
        "hostProcess": pod.and_then(|p| p.security_context.as_ref()).and_then(|s| s.windows_options.as_ref()).and_then(|w| w.host_process),
        "preStop": containers.iter().any(|c| c.lifecycle.as_ref().is_some_and(|l| l.pre_stop.is_some())),
    });
    let mut outcome = record(case, "render", result, Evidence::Real, detail);
    outcome.duration_ms = Some(started.elapsed().as_millis() as u64);
    vec![outcome]
}

fn failed(message: String) -> StepResult {
    StepResult::Failed {
        class: crate::classify::Class::Unknown,
        code: None,
        stage: Some("render".to_owned()),
        first_error: Some(message),
    }
}
