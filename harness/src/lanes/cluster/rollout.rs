//! Rollout: the DaemonSet created in this run's namespace, awaited until ready; the pod that runs it, or why not.

use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::wait::await_condition;

use crate::classify::Class;
use crate::lanes::Unobserved;
use crate::lanes::cluster::Connected;
use crate::lanes::cluster::connect;
use crate::lanes::cluster::preflight::selector;
use crate::outcome::{Failure, Seen};
use crate::render::Manifests;
use crate::scenario::matrix::Case;

const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(300);

/// Creates the DaemonSet in `namespace` (this run's) and waits until it is ready: the pod that runs it, or what was
/// seen instead.
pub async fn rollout(connected: &Connected, manifests: &Manifests, namespace: &str) -> Result<Pod, Seen> {
    let name = manifests.daemonset.metadata.name.clone().unwrap_or_default();
    let daemonsets = Api::<DaemonSet>::namespaced(connected.client.clone(), namespace);
    let params = PostParams {
        field_manager: Some("harness".to_owned()),
        ..PostParams::default()
    };
    connect::bounded(
        connected.timeout,
        "cannot create the DaemonSet",
        daemonsets.create(&params, &manifests.daemonset),
    )
    .await
    .map_err(Unobserved::Api)?;
    let ready = tokio::time::timeout(ROLLOUT_TIMEOUT, await_condition(daemonsets.clone(), &name, ready)).await;
    let pods = Api::<Pod>::namespaced(connected.client.clone(), namespace);
    let labels = manifests
        .daemonset
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    let listed = connect::bounded(
        connected.timeout,
        "cannot list the workload's pods",
        pods.list(&ListParams::default().labels(&selector(&labels))),
    )
    .await
    .map_err(Unobserved::Api)?
    .items;
    match ready {
        Ok(Ok(_)) => listed
            .into_iter()
            .find(|p| p.metadata.name.is_some())
            .ok_or_else(|| Failure::unobserved(Class::RolloutTimeout, "the DaemonSet is ready but has no pod").into()),
        Ok(Err(e)) => Err(Unobserved::Api(format!("watching the DaemonSet failed: {e}")).into()),
        Err(_) => Err(stuck(&listed)),
    }
}

/// Ready: observed the newest generation, and every scheduled pod updated and ready (at least one).
fn ready(daemonset: Option<&DaemonSet>) -> bool {
    let Some(daemonset) = daemonset else { return false };
    let generation = daemonset.metadata.generation.unwrap_or(0);
    daemonset.status.as_ref().is_some_and(|s| {
        s.observed_generation.unwrap_or(0) >= generation
            && s.desired_number_scheduled > 0
            && s.updated_number_scheduled.unwrap_or(0) == s.desired_number_scheduled
            && s.number_ready == s.desired_number_scheduled
    })
}

/// Why pods did not become ready: their containers' waiting states, for the judge to classify (a rollout that is
/// merely slow is a rollout timeout).
fn stuck(pods: &[Pod]) -> Seen {
    let waiting: Vec<String> = pods
        .iter()
        .flat_map(|p| p.status.iter().flat_map(|s| s.container_statuses.iter().flatten()))
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref())
        .map(|w| {
            format!(
                "{}: {}",
                w.reason.as_deref().unwrap_or("Waiting"),
                w.message.as_deref().unwrap_or("")
            )
        })
        .collect();
    let line = waiting
        .first()
        .cloned()
        .unwrap_or_else(|| format!("not ready after {}s", ROLLOUT_TIMEOUT.as_secs()));
    Failure::text(line, waiting.join("\n"), Class::RolloutTimeout).into()
}

/// The name of the container under test: `workload.container`, else the first (validation ensures it is the only).
pub fn container_under_test(case: &Case, daemonset: &DaemonSet) -> String {
    let first = daemonset
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first())
        .map(|c| c.name.clone());
    case.loaded
        .scenario
        .workload
        .container
        .clone()
        .or(first)
        .unwrap_or_default()
}

/// The node `pod` was scheduled to, if the API says.
pub async fn node_of(connected: &Connected, pod: &Pod) -> Option<Node> {
    let name = pod.spec.as_ref()?.node_name.as_ref()?;
    let nodes = Api::<Node>::all(connected.client.clone());
    connect::bounded(connected.timeout, "reading the pod's node", nodes.get(name))
        .await
        .ok()
}
