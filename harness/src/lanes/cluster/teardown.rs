//! Teardown: the probe removed from the node, the workaround's service stopped, the objects that run pods deleted
//! and awaited (which frees the node), then this run's namespace deleted by uid and awaited, then the cluster-wide
//! objects this run created, each by uid.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DynamicObject};

use crate::lanes::cluster::apply::{self, Applied};
use crate::lanes::cluster::exec::Workload;
use crate::lanes::cluster::nodes::Held;
use crate::lanes::cluster::ownership::{self, Claim};
use crate::lanes::cluster::{Connected, deliver, service};
use crate::lanes::{Context, Unobserved};
use crate::outcome::Seen;
use crate::scenario::matrix::Case;

/// How long a namespace may take to go.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(120);

/// What a case made and holds, for teardown to undo.
pub struct Made {
    /// This run's namespace.
    pub claim: Claim,
    /// The objects applied in it, and the cluster-wide ones claimed.
    pub made: apply::Made,
    /// Whether the probe was copied onto the node.
    pub delivered: bool,
    /// The nodes the case holds until its workload is gone from them.
    pub held: Option<Held>,
    /// The container under test's environment (what a simulated node's stand-in for the stop script needs).
    pub service_env: Vec<(String, String)>,
}

/// Undoes what the case made: the files copied onto the node and the service (on a real node) while the pod runs;
/// then the DaemonSet, awaited until its pods are gone, which frees the node for the next case; then the namespace.
pub async fn teardown(
    case: &Case,
    workload: &Workload,
    connected: &Connected,
    namespaces: &Api<Namespace>,
    made: Made,
    context: &Context,
) -> Seen {
    let files = match (&workload.pod, made.delivered) {
        (Some(pod), true) => deliver::remove(workload, pod, &deliver::case_folder(&context.run_id, case)).await,
        _ => Ok(()),
    };
    let registers_service = case.loaded.scenario.variants[case.variant.as_str()]
        .register_service
        .is_some();
    let service = match registers_service {
        true => service::stop(workload, connected.evidence, &made.service_env).await,
        false => Ok(()),
    }
    .and(files);
    let mut workload_gone = Ok(());
    for object in made.made.objects.iter().filter(|o| o.runs_pods) {
        workload_gone = workload_gone.and(gone(connected, &made.claim.namespace, object).await);
    }
    drop(made.held);
    let mut released = ownership::release(
        namespaces,
        &made.claim,
        &connected.ledger,
        connected.timeout,
        DELETE_TIMEOUT,
    )
    .await;
    for claim in &made.made.claims {
        let api = Api::<DynamicObject>::all_with(connected.client.clone(), &claim.resource);
        let object = ownership::release_object(&api, claim, &connected.ledger, connected.timeout, DELETE_TIMEOUT).await;
        released = released.and(object);
    }
    match (released.and(workload_gone), service) {
        (Ok(()), Ok(())) => Seen::Ok,
        (Ok(()), Err(note)) => Unobserved::Exec(note).into(),
        (Err(e), _) => Unobserved::Timeout(format!(
            "{e}; remove what is left with `harness janitor --context {} --run-id {}`",
            connected.context, context.run_id
        ))
        .into(),
    }
}

/// Deletes `object` (if it is still the one this run created) and its pods first, and waits until it is gone.
async fn gone(connected: &Connected, namespace: &str, object: &Applied) -> Result<(), String> {
    let api = Api::<DynamicObject>::namespaced_with(connected.client.clone(), namespace, &object.resource);
    let what = format!("{} `{}`", object.resource.kind, object.name);
    let names = (object.name.as_str(), object.uid.as_str());
    ownership::delete_by_uid(&api, &what, names, true, (connected.timeout, DELETE_TIMEOUT))
        .await?
        .into_result(&what)
}
