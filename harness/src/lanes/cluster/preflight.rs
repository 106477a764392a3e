//! Preflight: connect, find a node the scenario selects, read the versions it reports, check `requires`.

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};

use crate::lanes::cluster::connect::{self, Target};
use crate::lanes::cluster::{Connected, components};
use crate::lanes::{Unobserved, why};
use crate::outcome::{Evidence, Observation};
use crate::render;
use crate::scenario::matrix::Case;
use crate::scenario::version::{Requirement, names_release};
use crate::words::{Component, Environment};

/// Marks a node KWOK simulates: what runs there is not Windows.
const KWOK_NODE: &str = "kwok.x-k8s.io/node";

/// A connection and the first node the scenario selects; or the preflight observation that ends the case.
pub async fn preflight(case: &Case, target: &Target) -> Result<Connected, Box<Observation>> {
    let unobserved = |e: Unobserved| Box::new(Observation::of("preflight", e.into()));
    if let Some(reason) = &target.broken {
        return Err(unobserved(Unobserved::Api(format!(
            "cannot use context `{}`: {reason}",
            target.name
        ))));
    }
    let client = connect::client(target).await.map_err(|e| {
        unobserved(Unobserved::Api(format!(
            "cannot connect to context `{}`: {e}",
            target.name
        )))
    })?;
    let selector = selector(&case.loaded.scenario.cluster.node_selector);
    let nodes = connect::bounded(
        target.request_timeout,
        "cannot list nodes",
        Api::<Node>::all(client.clone()).list(&ListParams::default().labels(&selector)),
    )
    .await
    .map_err(|e| unobserved(Unobserved::Api(e)))?;
    let Some(node) = nodes.items.first() else {
        return Err(Box::new(Observation::skipped("preflight", why::no_node(&selector))));
    };
    let mut connected = Connected {
        context: target.name.clone(),
        client,
        timeout: target.request_timeout,
        evidence: evidence_of(node),
        observed: observed_environment(node),
        ledger: target.ledger.clone(),
        buildctl: target.buildctl.clone(),
    };
    // The scenario's own components known before anything runs (nodeInfo fields, images), for `requires` and cells.
    // Rendered only for a component read from an image: most scenarios declare none.
    let reads_images = case
        .loaded
        .scenario
        .cluster
        .components
        .values()
        .any(|s| s.image.is_some());
    let manifests = reads_images.then(|| render::render(case, "preflight", &Default::default()));
    let found = components::before_rollout(case, node, manifests.as_ref());
    connected.observed.components = found.into_iter().map(|(name, (version, _))| (name, version)).collect();
    match unmet_requirement(case, &connected.observed).or_else(|| cell_elsewhere(case, &connected.observed)) {
        Some(reason) => Err(Box::new(Observation {
            evidence: connected.evidence,
            observed: connected.observed.clone(),
            ..Observation::skipped("preflight", reason)
        })),
        None => Ok(connected),
    }
}

/// `key=value,...`: a label selector.
pub fn selector<'a>(labels: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    labels
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// What a node's results are: simulated when KWOK manages it.
pub fn evidence_of(node: &Node) -> Evidence {
    let simulated = node
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(KWOK_NODE));
    if simulated { Evidence::Simulated } else { Evidence::Real }
}

/// Why the observed environment does not meet the scenario's `requires`, if it does not.
fn unmet_requirement(case: &Case, observed: &Environment) -> Option<String> {
    case.loaded
        .scenario
        .cluster
        .requires
        .iter()
        .find_map(|(component, requirement)| {
            let found = observed.named(component).unwrap_or("unknown");
            (!Requirement::parse(requirement).is_ok_and(|r| r.matches(found)))
                .then(|| why::requirement_unmet(component, found, requirement))
        })
}

/// Why the case's matrix cell is not for this node, if it is not: an axis named after a component (`containerd:
/// [1.7.3, 1.7.4]`, or one of the scenario's own) selects the cells whose value names the release the node runs.
/// buildkit is observed only from buildkitd itself, later, and a component read from a command only once the
/// workload runs: where a version is not known yet, its axis does not select.
fn cell_elsewhere(case: &Case, observed: &Environment) -> Option<String> {
    let declared = &case.loaded.scenario.cluster.components;
    case.cell.iter().find_map(|(axis, value)| {
        let found = match (Component::named(axis), observed.named(axis)) {
            (_, Some(found)) => found,
            (Some(Component::Buildkit), None) => return None,
            (Some(_), None) => "unknown",
            // A component of the scenario's own read from a command is known only once the workload runs.
            (None, None) if declared.get(axis).is_some_and(|s| s.exec.is_some()) => return None,
            (None, None) if declared.contains_key(axis) => "unknown",
            (None, None) => return None,
        };
        (!names_release(value, found)).then(|| why::cell_elsewhere(axis, value, found))
    })
}

/// The versions a node reports: containerd, kubelet, the Windows build (`kernelVersion` 10.0.BUILD.UBR).
pub fn observed_environment(node: &Node) -> Environment {
    let info = node.status.as_ref().and_then(|s| s.node_info.as_ref());
    let kubelet = info.map(|i| i.kubelet_version.clone());
    Environment {
        k0s: kubelet.clone().filter(|v| v.contains("+k0s")),
        containerd: info.and_then(|i| {
            i.container_runtime_version
                .strip_prefix("containerd://")
                .map(str::to_owned)
        }),
        windows_build: info
            .filter(|i| i.operating_system == "windows")
            .map(|i| i.kernel_version.trim_start_matches("10.0.").to_owned()),
        kubelet,
        buildkit: None,
        components: Default::default(),
    }
}
