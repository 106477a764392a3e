//! The offline lane: renders every case and checks that what it would apply reads back unchanged. Runs everywhere.

use std::time::Instant;

use serde_json::json;

use crate::classify::Class;
use crate::lanes::Context;
use crate::outcome::{Failure, Observation, Seen};
use crate::render;
use crate::scenario::matrix::Case;
use crate::scenario::objects::Scope;

/// Renders the case and records the `render` step.
pub fn run(case: &Case, context: &Context) -> Vec<Observation> {
    let started = Instant::now();
    let manifests = render::render(case, &context.run_id, &context.overrides);
    let unchanged = manifests.objects.iter().find_map(|object| {
        let yaml = serde_saphyr::to_string(&object.value).unwrap_or_default();
        match serde_saphyr::from_str::<serde_json::Value>(&yaml) {
            Ok(value) if value == object.value => None,
            Ok(_) => Some(format!(
                "the rendered {} does not read back as the same object",
                object.id()
            )),
            Err(e) => Some(format!("the rendered {} is not valid YAML: {e}", object.id())),
        }
    });
    let seen = match unchanged {
        None => Seen::Ok,
        Some(message) => failed(message),
    };
    let under_test = manifests.under_test();
    let pod = under_test.pod_spec();
    let containers: Vec<_> = pod.iter().flat_map(|p| p.containers.clone()).collect();
    let objects: Vec<String> = std::iter::once(format!(
        "Namespace/{}",
        manifests.namespace.metadata.name.as_deref().unwrap_or_default()
    ))
    .chain(manifests.objects.iter().map(|o| match o.scope {
        Scope::Namespaced => format!(
            "{}/{}/{}",
            o.kind,
            o.value.pointer("/metadata/namespace").and_then(|n| n.as_str()).unwrap_or_default(),
            o.name
        ),
        Scope::Cluster { .. } => o.id(),
    }))
    .collect();
    let detail = json!({
        "objects": objects,
        "underTest": under_test.id(),
        "images": containers.iter().filter_map(|c| c.image.clone()).collect::<Vec<_>>(),
        "hostProcess": pod.as_ref().and_then(|p| p.security_context.as_ref()).and_then(|s| s.windows_options.as_ref()).and_then(|w| w.host_process),
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
