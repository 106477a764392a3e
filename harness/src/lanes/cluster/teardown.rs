//! Teardown: the workaround's service stopped, then this run's namespace deleted by uid and awaited.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;

use crate::lanes::cluster::exec::Workload;
use crate::lanes::cluster::ownership::{self, Claim};
use crate::lanes::cluster::{Connected, service};
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
) -> Seen {
    let registers_service = case.loaded.scenario.variants[case.variant.as_str()]
        .register_service
        .is_some();
    let service = match (registers_service, connected.evidence) {
        (true, Evidence::Real) => service::stop(workload).await,
        _ => Ok(()),
    };
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
