//! The cluster lane: deploys a case's manifests to a kube context the user allowed, runs probes and builds, tears down.

use crate::lanes::Context;
use crate::scenario::matrix::Case;

/// Why the cluster lane cannot run `case` here, or `None` when it can.
pub fn unavailable(case: &Case, context: &Context) -> Option<String> {
    let allowed = &case.loaded.scenario.cluster.contexts;
    let named = match &context.kube_context {
        Some(name) if allowed.contains(name) => format!("context `{name}` was named"),
        Some(name) => {
            return Some(format!(
                "context `{name}` is not one this scenario may act on (allowed: {})",
                allowed.join(", ")
            ));
        }
        None => format!(
            "no kube context named (pass --context; this scenario allows {})",
            allowed.join(", ")
        ),
    };
    Some(format!("the cluster lane is not built into this harness yet ({named})"))
}
