//! Puts every object of a case where the run owns it: namespaced objects into the run's namespace, cluster-wide ones
//! renamed for the run, and every reference to either rewritten (binding subjects, role references, class names).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::scenario::objects::{Object, Scope};

/// The keys whose string value names a cluster-wide object of the given kind.
const NAMED_BY: &[(&str, &str)] = &[
    ("storageClassName", "StorageClass"),
    ("priorityClassName", "PriorityClass"),
    ("runtimeClassName", "RuntimeClass"),
    ("ingressClassName", "IngressClass"),
    ("volumeName", "PersistentVolume"),
];

/// How a case's objects are renamed and moved.
pub struct Placement {
    /// The run's namespace.
    pub namespace: String,
    /// The namespaces the manifests were written for (`default` when none says): references to them now mean the
    /// run's namespace.
    pub written_for: BTreeSet<String>,
    /// `(kind, written name) -> name in this run` of every renamed cluster-wide object.
    pub renamed: BTreeMap<(String, String), String>,
}

impl Placement {
    /// The placement of `objects` in the run's `namespace`.
    pub fn of(objects: &[Object], namespace: &str) -> Placement {
        let mut written_for: BTreeSet<String> = objects
            .iter()
            .filter_map(|o| match (o.kind.as_str(), o.scope) {
                ("Namespace", _) => Some(o.name.clone()),
                (_, Scope::Namespaced) => o.namespace().map(str::to_owned),
                _ => None,
            })
            .collect();
        if written_for.is_empty() {
            written_for.insert("default".to_owned());
        }
        let renamed = objects
            .iter()
            .filter(|o| o.scope == Scope::Cluster { keeps_name: false })
            .map(|o| ((o.kind.clone(), o.name.clone()), renamed(&o.name, namespace)))
            .collect();
        Placement {
            namespace: namespace.to_owned(),
            written_for,
            renamed,
        }
    }

    /// `value` (an object of `scope`) placed: its namespace and name, and every reference in it.
    pub fn place(&self, value: &mut Value, kind: &str, scope: Scope) {
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let metadata = &mut value["metadata"];
        match scope {
            Scope::Namespaced => metadata["namespace"] = Value::from(self.namespace.clone()),
            Scope::Cluster { .. } => {
                if let Some(metadata) = metadata.as_object_mut() {
                    metadata.remove("namespace");
                }
                if let Some(new) = self.renamed.get(&(kind.to_owned(), name)) {
                    metadata["name"] = Value::from(new.clone());
                }
            }
        }
        // Configuration (`data`) is the workload's own text: left as written.
        for key in ["spec", "subjects", "roleRef"] {
            if let Some(part) = value.get_mut(key) {
                self.references(part);
            }
        }
    }

    /// Rewrites references below `value`: `namespace:` values the manifests were written for, role references and
    /// class names of renamed objects.
    fn references(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                if let (Some(Value::String(kind)), Some(Value::String(name))) = (map.get("kind"), map.get("name"))
                    && map.contains_key("apiGroup")
                    && let Some(new) = self.renamed.get(&(kind.clone(), name.clone()))
                {
                    map.insert("name".to_owned(), Value::from(new.clone()));
                }
                for (key, child) in map.iter_mut() {
                    match (key.as_str(), &*child) {
                        ("namespace", Value::String(namespace)) if self.written_for.contains(namespace) => {
                            *child = Value::from(self.namespace.clone());
                        }
                        (key, Value::String(name)) => {
                            if let Some((_, kind)) = NAMED_BY.iter().find(|(k, _)| *k == key)
                                && let Some(new) = self.renamed.get(&((*kind).to_owned(), name.clone()))
                            {
                                *child = Value::from(new.clone());
                            }
                        }
                        _ => self.references(child),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.references(item)),
            _ => {}
        }
    }
}

/// A cluster-wide object's name in a run: the written name and the run's namespace, within 253 characters.
fn renamed(name: &str, namespace: &str) -> String {
    let keep = 253usize.saturating_sub(namespace.len() + 1);
    format!("{}-{namespace}", &name[..name.len().min(keep)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value, scope: Scope) -> Object {
        let source = std::sync::Arc::new(crate::scenario::error::Source {
            name: "t.yaml".into(),
            text: String::new(),
        });
        Object {
            doc: crate::scenario::load::Doc::new(source),
            at: Vec::new(),
            api_version: value["apiVersion"].as_str().unwrap().to_owned(),
            kind: value["kind"].as_str().unwrap().to_owned(),
            name: value["metadata"]["name"].as_str().unwrap().to_owned(),
            value,
            scope,
        }
    }

    #[test]
    fn bindings_follow_their_roles_and_service_accounts_into_the_run() {
        let rbac = "rbac.authorization.k8s.io/v1";
        let objects = [
            object(
                json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "flannel", "namespace": "kube-system"}}),
                Scope::Namespaced,
            ),
            object(
                json!({"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": "flannel"}}),
                Scope::Cluster { keeps_name: false },
            ),
            object(
                json!({"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": {"name": "flannel"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "flannel"},
                "subjects": [
                    {"kind": "ServiceAccount", "name": "flannel", "namespace": "kube-system"},
                    {"kind": "ServiceAccount", "name": "other", "namespace": "elsewhere"}
                ]}),
                Scope::Cluster { keeps_name: false },
            ),
        ];
        let placement = Placement::of(&objects, "harness-r1-0a0b0c0d");
        let mut binding = objects[2].value.clone();
        placement.place(&mut binding, "ClusterRoleBinding", objects[2].scope);
        assert_eq!(binding["metadata"]["name"], "flannel-harness-r1-0a0b0c0d");
        assert_eq!(binding["roleRef"]["name"], "flannel-harness-r1-0a0b0c0d");
        assert_eq!(binding["subjects"][0]["namespace"], "harness-r1-0a0b0c0d");
        assert_eq!(
            binding["subjects"][1]["namespace"], "elsewhere",
            "not the manifests' namespace"
        );
        let mut account = objects[0].value.clone();
        placement.place(&mut account, "ServiceAccount", Scope::Namespaced);
        assert_eq!(account["metadata"]["namespace"], "harness-r1-0a0b0c0d");
    }

    #[test]
    fn a_claim_follows_its_renamed_storage_class() {
        let objects = [
            object(
                json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "ebs-sc"}}),
                Scope::Cluster { keeps_name: false },
            ),
            object(
                json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
                    "spec": {"storageClassName": "ebs-sc"}}),
                Scope::Namespaced,
            ),
        ];
        let placement = Placement::of(&objects, "harness-r1-0a0b0c0d");
        assert!(placement.written_for.contains("default"));
        let mut claim = objects[1].value.clone();
        placement.place(&mut claim, "PersistentVolumeClaim", Scope::Namespaced);
        assert_eq!(claim["spec"]["storageClassName"], "ebs-sc-harness-r1-0a0b0c0d");
        assert_eq!(claim["metadata"]["namespace"], "harness-r1-0a0b0c0d");
    }
}
