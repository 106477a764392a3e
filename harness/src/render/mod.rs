//! Renders a case into the exact objects the cluster lane applies: the run's namespace, then the workload's objects
//! in dependency order, each moved into the run (`scope`), changed by the variant (`patch`, `workaround`).

mod patch;
mod scope;
mod winargs;
mod workaround;

use std::collections::BTreeMap;

use indexmap::IndexMap;
use k8s_openapi::api::core::v1::{EnvVar, Namespace, PodSpec, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::scenario::matrix::Case;
use crate::scenario::model::{Patch, Variant};
use crate::scenario::objects::{Object, Scope, pod_spec_at};
use crate::scenario::params;

pub use workaround::{powershell, service_start_script, service_stop_script, single_quoted};

/// The label every object the harness creates carries, with the run that created it: how teardown and the janitor find them.
pub const RUN_LABEL: &str = "harness/run-id";
pub const SCENARIO_LABEL: &str = "harness/scenario";
pub const VARIANT_LABEL: &str = "harness/variant";
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "harness");
pub const CASE_ANNOTATION: &str = "harness/case";

/// The manifests of one case.
#[derive(Debug, Clone)]
pub struct Manifests {
    pub namespace: Namespace,
    /// The workload's objects in the order they are applied (the manifests' own Namespaces folded into the run's).
    pub objects: Vec<Rendered>,
    /// Which of `objects` is under test.
    pub under_test: usize,
}

/// One object as the case applies it.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub value: Value,
    pub api_version: String,
    pub kind: String,
    /// Its name in this run.
    pub name: String,
    pub scope: Scope,
    /// Where its pod spec is, if it runs pods.
    pub pods_at: Option<&'static [&'static str]>,
}

impl Rendered {
    /// `Kind/name` as applied.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// Its pod spec, if it runs pods.
    pub fn pod_spec(&self) -> Option<PodSpec> {
        pod_spec_at(&self.value, self.pods_at?)
    }

    /// The labels of its pods, if it runs pods through a template.
    pub fn pod_labels(&self) -> BTreeMap<String, String> {
        let labels = match self.kind.as_str() {
            "Pod" => self.value.pointer("/metadata/labels"),
            _ => self.value.pointer("/spec/selector/matchLabels"),
        };
        serde_json::from_value(labels.cloned().unwrap_or(Value::Null)).unwrap_or_default()
    }
}

impl Manifests {
    /// The object under test.
    pub fn under_test(&self) -> &Rendered {
        &self.objects[self.under_test]
    }

    /// Multi-document YAML, namespace first, then the objects in apply order: what `harness render` prints.
    pub fn to_yaml(&self) -> String {
        let mut yaml = format!("---\n{}", serde_saphyr::to_string(&self.namespace).unwrap_or_default());
        for object in &self.objects {
            yaml.push_str("---\n");
            yaml.push_str(&serde_saphyr::to_string(&object.value).unwrap_or_default());
        }
        yaml
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

/// The workload's objects with `variant`'s patches applied (validation applies them once, so here they apply).
pub fn patched(objects: &[Object], under_test: usize, patches: &[Patch]) -> Result<Vec<Value>, (usize, String)> {
    let mut values: Vec<Value> = objects.iter().map(|o| o.value.clone()).collect();
    for (i, patch) in patches.iter().enumerate() {
        let target = match &patch.target {
            Some(id) => objects
                .iter()
                .position(|o| &o.id() == id)
                .ok_or((i, format!("the workload has no object `{id}`")))?,
            None => under_test,
        };
        values[target] = patch::apply(&values[target], patch).map_err(|e| (i, e))?;
    }
    Ok(values)
}

/// Renders `case` for the run `run_id`, with `overrides` for its parameters.
pub fn render(case: &Case, run_id: &str, overrides: &IndexMap<String, String>) -> Manifests {
    let loaded = &case.loaded;
    let scenario = &loaded.scenario;
    let variant = &scenario.variants[case.variant.as_str()];
    let workload = &loaded.workload;
    let mut values = patched(&workload.objects, workload.under_test, &variant.patches)
        .expect("validated: the variant's patches apply");
    let namespace_name = namespace_for(run_id, case);
    let parameters = case.parameters(overrides);
    for (i, object) in workload.objects.iter().enumerate() {
        let Some(at) = object.pods_at() else { continue };
        let Some(mut pod) = pod_spec_at(&values[i], at) else {
            continue;
        };
        let under_test = i == workload.under_test;
        // The workload runs only on the nodes the scenario selects; its values win over the manifest's.
        if under_test || pins_windows(&pod) {
            pod.node_selector
                .get_or_insert_default()
                .extend(scenario.cluster.node_selector.clone());
        }
        if under_test {
            container_under_test(&mut pod, case, variant, &parameters, run_id);
        }
        set_pod_spec(&mut values[i], at, &pod);
    }

    let labels = BTreeMap::from([
        (MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()),
        (RUN_LABEL.to_owned(), run_id.to_owned()),
        (SCENARIO_LABEL.to_owned(), scenario.metadata.name.clone()),
        (VARIANT_LABEL.to_owned(), case.variant.clone()),
    ]);
    let placement = scope::Placement::of(&workload.objects, &namespace_name);
    let mut namespace_labels: BTreeMap<String, String> = BTreeMap::new();
    // Each placed object with its rank in the apply order and whether it is the one under test.
    let mut placed: Vec<(u8, bool, Rendered)> = Vec::new();
    for (i, (object, mut value)) in workload.objects.iter().zip(values).enumerate() {
        if object.kind == "Namespace" && object.api_version == "v1" {
            // The manifests' namespace is the run's own: its labels (Pod Security's, say) go onto that.
            let written: BTreeMap<String, String> =
                serde_json::from_value(value.pointer("/metadata/labels").cloned().unwrap_or(Value::Null))
                    .unwrap_or_default();
            namespace_labels.extend(written);
            continue;
        }
        placement.place(&mut value, &object.kind, object.scope);
        let metadata = &mut value["metadata"];
        let mut all: BTreeMap<String, String> = serde_json::from_value(metadata["labels"].take()).unwrap_or_default();
        all.extend(labels.clone());
        metadata["labels"] = serde_json::to_value(all).unwrap_or_default();
        let mut annotations: BTreeMap<String, String> =
            serde_json::from_value(metadata["annotations"].take()).unwrap_or_default();
        annotations.insert(CASE_ANNOTATION.to_owned(), case.name());
        if i == workload.under_test && variant.register_service.is_some() {
            annotations.extend(workaround::annotations());
        }
        metadata["annotations"] = serde_json::to_value(annotations).unwrap_or_default();
        let rendered = Rendered {
            name: value
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            value,
            api_version: object.api_version.clone(),
            kind: object.kind.clone(),
            scope: object.scope,
            pods_at: object.pods_at(),
        };
        placed.push((object.order(), i == workload.under_test, rendered));
    }
    // Dependency order; the sort is stable, so objects of one rank keep the order they were written in.
    placed.sort_by_key(|(order, ..)| *order);
    let under_test = placed
        .iter()
        .position(|(_, under_test, _)| *under_test)
        .unwrap_or_default();
    let objects: Vec<Rendered> = placed.into_iter().map(|(.., rendered)| rendered).collect();

    namespace_labels.extend(labels);
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
    Manifests {
        namespace,
        objects,
        under_test,
    }
}

/// The container under test as the variant runs it: its image, arguments and environment, and the service
/// workaround.
fn container_under_test(
    pod: &mut PodSpec,
    case: &Case,
    variant: &Variant,
    parameters: &IndexMap<String, String>,
    run_id: &str,
) {
    let scenario = &case.loaded.scenario;
    let index = match &scenario.workload.container {
        Some(name) => pod
            .containers
            .iter()
            .position(|c| &c.name == name)
            .expect("validated: the container exists"),
        None => 0,
    };
    let container = &mut pod.containers[index];
    if let Some(image) = variant.image.as_ref().or(scenario.workload.image.as_ref()) {
        container.image = Some(params::fill(image, parameters));
    }
    if let Some(args) = &variant.args {
        container.args = Some(args.iter().map(|a| params::fill(a, parameters)).collect());
    }
    for (name, value) in &variant.env {
        let env = container.env.get_or_insert_default();
        env.retain(|e| &e.name != name);
        env.push(EnvVar {
            name: name.clone(),
            value: Some(params::fill(value, parameters)),
            value_from: None,
        });
    }
    for (volume, path) in &variant.mounts {
        let mounts = container.volume_mounts.get_or_insert_default();
        match mounts.iter_mut().find(|m| &m.name == volume) {
            Some(mount) => mount.mount_path = path.clone(),
            None => mounts.push(VolumeMount {
                name: volume.clone(),
                mount_path: path.clone(),
                ..VolumeMount::default()
            }),
        }
    }
    if let Some(service) = &variant.register_service {
        workaround::apply(pod, index, service, run_id);
    }
}

/// Whether a pod spec is pinned to Windows nodes by its node selector or `os`.
fn pins_windows(pod: &PodSpec) -> bool {
    pod.node_selector
        .as_ref()
        .and_then(|s| s.get("kubernetes.io/os"))
        .is_some_and(|os| os == "windows")
        || pod.os.as_ref().is_some_and(|os| os.name == "windows")
}

fn set_pod_spec(value: &mut Value, at: &[&str], pod: &PodSpec) {
    let slot = at.iter().fold(value, |v, key| &mut v[*key]);
    *slot = serde_json::to_value(pod).unwrap_or_default();
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
            let pod = manifests.under_test().pod_spec().unwrap();
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
