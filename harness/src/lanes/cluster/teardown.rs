//! Teardown: the probe removed from the node, the workaround's service stopped, then this run's namespace deleted by
//! uid and awaited.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;

use crate::lanes::cluster::exec::Workload;
use crate::lanes::cluster::ownership::{self, Claim};
use crate::lanes::cluster::{Connected, deliver, service};
use crate::lanes::{Context, Unobserved};
use crate::outcome::{Evidence, Seen};
use crate::scenario::matrix::Case;

/// How long a namespace may take to go.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(120);

/// Undoes what the case made: the service (on a real node), then the namespace.
pub async fn teardown(
    case: &Case,
    workload: &Workload,
    connected: &Connected,
    namespaces: &Api<Namespace>,
    claim: &Claim,
    context: &Context,
    delivered: bool,
) -> Seen {
    // The files the run copied onto the node go first, while the pod that can reach them still runs.
    let files = match (&workload.pod, delivered) {
        (Some(pod), true) => deliver::remove(workload, pod, &context.run_id).await,
        _ => Ok(()),
    };
    let registers_service = case.loaded.scenario.variants[case.variant.as_str()]
        .register_service
        .is_some();
    let service = match (registers_service, connected.evidence) {
        (true, Evidence::Real) => service::stop(workload).await,
        _ => Ok(()),
    }
    .and(files);
    let released = ownership::release(namespaces, claim, &context.ledger, connected.timeout, DELETE_TIMEOUT).await;
    match (released, service) {
        (Ok(()), Ok(())) => Seen::Ok,
        (Ok(()), Err(note)) => Unobserved::Exec(note).into(),
        (Err(e), _) => Unobserved::Timeout(format!(
            "{e}; remove what is left with `harness janitor --context {} --run-id {}`",
            connected.context, context.run_id
        ))
        .into(),
    }
}
