//! Renders a case into the exact manifests the cluster lane applies: the harness's namespace and the DaemonSet under test.

mod winargs;
mod workaround;

use std::collections::BTreeMap;

use indexmap::IndexMap;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::scenario::matrix::Case;
use crate::scenario::params;

pub use workaround::{powershell, service_start_script, service_stop_script, single_quoted};

/// The label every object the harness creates carries, with the run that created it: how teardown and the janitor find them.
pub const RUN_LABEL: &str = "harness/run-id";
pub const SCENARIO_LABEL: &str = "harness/scenario";
pub const VARIANT_LABEL: &str = "harness/variant";
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "harness");
pub const CASE_ANNOTATION: &str = "harness/case";

/// The manifests of one case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Manifests {
    pub namespace: Namespace,
    pub daemonset: DaemonSet,
}

impl Manifests {
    /// Multi-document YAML, namespace first: what `harness render` prints.
    pub fn to_yaml(&self) -> String {
        let namespace = serde_saphyr::to_string(&self.namespace).unwrap_or_default();
        let daemonset = serde_saphyr::to_string(&self.daemonset).unwrap_or_default();
        format!("---\n{namespace}---\n{daemonset}")
    }
}

/// The namespace a case of a run deploys into: `harness-<run>-<hash of the case's name>`, at most 57 characters (a
/// run id has at most 40), the same for the same run and case, and different for every other.
pub fn namespace_for(run_id: &str, case: &Case) -> String {
    format!("harness-{run_id}-{}", case_hash(case))
}

/// The first 8 hex digits of the SHA-256 of the case's name: what tells a run's cases apart in the names of what
/// they make (namespaces, folders on a node).
pub fn case_hash(case: &Case) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(case.name().as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// Renders `case` for the run `run_id`, with `overrides` for its parameters.
pub fn render(case: &Case, run_id: &str, overrides: &IndexMap<String, String>) -> Manifests {
    let loaded = &case.loaded;
    let mut daemonset = loaded.daemonset.clone();
    // The manifest's namespace is replaced by the run's own: runs never collide, and nothing lands in a namespace
    // the harness did not make.
    let namespace_name = namespace_for(run_id, case);
    daemonset.metadata.namespace = Some(namespace_name.clone());
    let labels = BTreeMap::from([
        (MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()),
        (RUN_LABEL.to_owned(), run_id.to_owned()),
        (SCENARIO_LABEL.to_owned(), loaded.scenario.metadata.name.clone()),
        (VARIANT_LABEL.to_owned(), case.variant.clone()),
    ]);
    daemonset.metadata.labels.get_or_insert_default().extend(labels.clone());
    daemonset
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(CASE_ANNOTATION.to_owned(), case.name());

    let image = params::fill(&loaded.scenario.workload.image, &case.parameters(overrides));
    let pod = daemonset
        .spec
        .as_mut()
        .and_then(|s| s.template.spec.as_mut())
        .expect("validated: the DaemonSet has a pod spec");
    let index = match &loaded.scenario.workload.container {
        Some(name) => pod
            .containers
            .iter()
            .position(|c| &c.name == name)
            .expect("validated: the container exists"),
        None => 0,
    };
    pod.containers[index].image = Some(image);
    // The workload runs only on the nodes the scenario selects; its values win over the DaemonSet's.
    let node_selector = &loaded.scenario.cluster.node_selector;
    if !node_selector.is_empty() {
        pod.node_selector.get_or_insert_default().extend(node_selector.clone());
    }
    if let Some(service) = &loaded.scenario.variants[case.variant.as_str()].register_service {
        workaround::apply(pod, index, service, run_id);
        daemonset
            .metadata
            .annotations
            .get_or_insert_default()
            .extend(workaround::annotations());
    }

    let mut namespace_labels = labels;
    namespace_labels.remove(VARIANT_LABEL);
    // HostProcess pods are admitted only where Pod Security allows privileged pods.
    namespace_labels.insert("pod-security.kubernetes.io/enforce".to_owned(), "privileged".to_owned());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(namespace_name),
            labels: Some(namespace_labels),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Manifests { namespace, daemonset }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::scenario::{error::Source, from_source, matrix};
    use crate::words::Lane;

    #[test]
    fn the_scenarios_node_selector_is_merged_into_the_pod_and_wins() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/buildkit-6590.yaml");
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "  nodeSelector:\n    kubernetes.io/os: windows\n",
            "  nodeSelector:\n    kubernetes.io/os: windows-selected\n    harness/pool: builders\n",
        );
        let source = Arc::new(Source {
            name: "selector.yaml".into(),
            text,
        });
        let loaded = from_source(&source, &path).unwrap_or_else(|e| panic!("{}", e.render()));
        for case in matrix::cases(&loaded, &[Lane::Cluster]) {
            let manifests = render(&case, "run-1", &IndexMap::new());
            let pod = manifests.daemonset.spec.and_then(|s| s.template.spec).unwrap();
            assert_eq!(
                pod.node_selector.unwrap(),
                BTreeMap::from([
                    ("harness/pool".to_owned(), "builders".to_owned()),
                    ("kubernetes.io/os".to_owned(), "windows-selected".to_owned()),
                ]),
                "{}",
                case.name()
            );
        }
    }
}
