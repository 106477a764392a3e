//! The offline lane: renders every case and checks that what it would apply reads back unchanged. Runs everywhere.

use std::time::Instant;

use k8s_openapi::api::apps::v1::DaemonSet;
use serde_json::json;

use crate::classify::Class;
use crate::lanes::Context;
use crate::outcome::{Failure, Observation, Seen};
use crate::render;
use crate::scenario::matrix::Case;

/// Renders the case and records the `render` step.
pub fn run(case: &Case, context: &Context) -> Vec<Observation> {
    let started = Instant::now();
    let manifests = render::render(case, &context.run_id, &context.overrides);
    let yaml = serde_saphyr::to_string(&manifests.daemonset).unwrap_or_default();
    let reread: Result<DaemonSet, _> = serde_saphyr::from_str(&yaml);
    let seen = match reread {
        Ok(daemonset) if daemonset == manifests.daemonset => Seen::Ok,
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
    vec![Observation::of("render", seen).detail(detail).timed(started)]
}

/// The harness's own rendering failed: nothing in its message is a Windows failure to classify.
fn failed(message: String) -> Seen {
    let mut failure = Failure::unobserved(Class::Unknown, message);
    failure.stage = Some("render".to_owned());
    failure.into()
}
