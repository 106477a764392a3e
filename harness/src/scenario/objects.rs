//! The workload's objects: read from its manifests (files of one or more documents, `List`s, or inline), with what the
//! harness knows of each kind: its scope, its place in the apply order, where its pods' spec is.

use std::path::Path;
use std::sync::Arc;

use k8s_openapi::api::core::v1::PodSpec;
use serde_json::Value;

use crate::scenario::error::{Error, Problem, Source};
use crate::scenario::load::{self, Doc};
use crate::scenario::model::{ManifestSource, Scenario};
use crate::scenario::{manifest, validate};

/// Where an object lives: in the run's namespace, or in the cluster as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Namespaced,
    /// Renamed for the run (`<name>-<run namespace>`) unless its name is what others look it up by (a CRD's
    /// `<plural>.<group>`, a CSIDriver's driver name): then it keeps it, and a run only creates it where none exists.
    Cluster {
        keeps_name: bool,
    },
}

/// One object of the workload, as written.
#[derive(Debug, Clone)]
pub struct Object {
    /// The file it was written in, and the path of the object in it.
    pub doc: Doc,
    pub at: Vec<String>,
    pub value: Value,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub scope: Scope,
}

/// The workload: every object, and which one is under test (the probes run in its pod).
#[derive(Debug, Clone)]
pub struct Workload {
    pub objects: Vec<Object>,
    pub under_test: usize,
}

/// What the harness knows of a kind.
struct Known {
    group: &'static str,
    kind: &'static str,
    /// Lower comes first: CRDs, cluster-wide objects, service accounts, RBAC, configuration, claims, services,
    /// anything else, then what runs pods.
    order: u8,
    scope: Scope,
    /// The path of the pod spec in the object, for kinds that run pods.
    pods: Option<&'static [&'static str]>,
}

const NAMESPACED: Scope = Scope::Namespaced;
const RENAMED: Scope = Scope::Cluster { keeps_name: false };
const KEPT: Scope = Scope::Cluster { keeps_name: true };
const TEMPLATE: Option<&[&str]> = Some(&["spec", "template", "spec"]);

#[rustfmt::skip]
const KNOWN: &[Known] = &[
    Known { group: "apiextensions.k8s.io", kind: "CustomResourceDefinition", order: 0, scope: KEPT, pods: None },
    Known { group: "", kind: "Namespace", order: 1, scope: KEPT, pods: None },
    Known { group: "scheduling.k8s.io", kind: "PriorityClass", order: 1, scope: RENAMED, pods: None },
    Known { group: "storage.k8s.io", kind: "StorageClass", order: 1, scope: RENAMED, pods: None },
    Known { group: "storage.k8s.io", kind: "CSIDriver", order: 1, scope: KEPT, pods: None },
    Known { group: "node.k8s.io", kind: "RuntimeClass", order: 1, scope: RENAMED, pods: None },
    Known { group: "networking.k8s.io", kind: "IngressClass", order: 1, scope: RENAMED, pods: None },
    Known { group: "", kind: "PersistentVolume", order: 1, scope: RENAMED, pods: None },
    Known { group: "", kind: "ServiceAccount", order: 2, scope: NAMESPACED, pods: None },
    Known { group: "rbac.authorization.k8s.io", kind: "ClusterRole", order: 3, scope: RENAMED, pods: None },
    Known { group: "rbac.authorization.k8s.io", kind: "Role", order: 3, scope: NAMESPACED, pods: None },
    Known { group: "rbac.authorization.k8s.io", kind: "ClusterRoleBinding", order: 4, scope: RENAMED, pods: None },
    Known { group: "rbac.authorization.k8s.io", kind: "RoleBinding", order: 4, scope: NAMESPACED, pods: None },
    Known { group: "", kind: "ConfigMap", order: 5, scope: NAMESPACED, pods: None },
    Known { group: "", kind: "Secret", order: 5, scope: NAMESPACED, pods: None },
    Known { group: "", kind: "PersistentVolumeClaim", order: 6, scope: NAMESPACED, pods: None },
    Known { group: "", kind: "Service", order: 7, scope: NAMESPACED, pods: None },
    Known { group: "", kind: "Pod", order: 9, scope: NAMESPACED, pods: Some(&["spec"]) },
    Known { group: "batch", kind: "Job", order: 9, scope: NAMESPACED, pods: TEMPLATE },
    Known { group: "apps", kind: "Deployment", order: 9, scope: NAMESPACED, pods: TEMPLATE },
    Known { group: "apps", kind: "StatefulSet", order: 9, scope: NAMESPACED, pods: TEMPLATE },
    Known { group: "apps", kind: "DaemonSet", order: 9, scope: NAMESPACED, pods: TEMPLATE },
];

/// Where a kind the harness does not know comes: after services, before what runs pods.
const UNKNOWN_ORDER: u8 = 8;

/// Kinds the harness never makes: they belong to the cluster's operators.
const REFUSED: &[&str] = &[
    "Node",
    "APIService",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
];

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

fn known(api_version: &str, kind: &str) -> Option<&'static Known> {
    let group = group_of(api_version);
    KNOWN.iter().find(|k| k.kind == kind && k.group == group)
}

impl Object {
    /// `Kind/name`, as messages and `workload.underTest` name it.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// The path of its pod spec, if its kind runs pods.
    pub fn pods_at(&self) -> Option<&'static [&'static str]> {
        known(&self.api_version, &self.kind).and_then(|k| k.pods)
    }

    /// Its pod spec, if its kind runs pods.
    pub fn pod_spec(&self) -> Option<PodSpec> {
        pod_spec_at(&self.value, self.pods_at()?)
    }

    /// Its place in the apply order.
    pub fn order(&self) -> u8 {
        known(&self.api_version, &self.kind).map_or(UNKNOWN_ORDER, |k| k.order)
    }

    /// The namespace it was written for, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.value.pointer("/metadata/namespace").and_then(Value::as_str)
    }

    /// A problem at `rest` inside this object.
    pub fn problem(&self, rest: &[&str], message: impl Into<String>) -> Problem {
        let path: Vec<&str> = self.at.iter().map(String::as_str).chain(rest.iter().copied()).collect();
        self.doc.problem(&path, message)
    }
}

/// The pod spec at path `at` of an object's `value` (`spec.template.spec`, or a Pod's `spec`).
pub fn pod_spec_at(value: &Value, at: &[&str]) -> Option<PodSpec> {
    let spec = at.iter().try_fold(value, |value, key| value.get(key))?;
    serde_json::from_value(spec.clone()).ok()
}

impl Workload {
    /// The object under test.
    pub fn under_test(&self) -> &Object {
        &self.objects[self.under_test]
    }
}

/// Reads the workload's objects (`workload.daemonset`, or every `workload.manifests` entry) and checks each: what
/// it is, its name, the fields its kind has, and the object under test.
pub fn read(doc: &Doc, scenario: &Scenario, root: &Path) -> Result<Workload, Vec<Problem>> {
    let workload = &scenario.workload;
    let sources: Vec<(Vec<String>, &ManifestSource)> = match (&workload.daemonset, workload.manifests.as_slice()) {
        (Some(daemonset), []) => vec![(vec!["workload".into(), "daemonset".into()], daemonset)],
        (None, []) => {
            return Err(vec![
                doc.problem(&["@workload"], "`workload` has neither `manifests` nor `daemonset`")
                    .help("list the objects the bug report deploys: `manifests: [fixtures/my-bug/daemonset.yaml]`"),
            ]);
        }
        (None, manifests) => manifests
            .iter()
            .enumerate()
            .map(|(i, m)| (vec!["workload".into(), "manifests".into(), i.to_string()], m))
            .collect(),
        (Some(_), _) => {
            return Err(vec![
                doc.problem(
                    &["workload", "@daemonset"],
                    "`workload` has both `daemonset` and `manifests`",
                )
                .help("list the DaemonSet's file under `manifests` and remove `daemonset`"),
            ]);
        }
    };
    let mut problems = Vec::new();
    let mut objects = Vec::new();
    for (at, source) in sources {
        let at_str: Vec<&str> = at.iter().map(String::as_str).collect();
        let documents = match source {
            ManifestSource::Inline(value) => vec![(doc.clone(), at.clone(), value.clone())],
            ManifestSource::File(file) => {
                let mut checks = validate::Checks {
                    doc,
                    problems: Vec::new(),
                };
                let Some(real) = validate::fixture_path(&mut checks, &at_str, root, file) else {
                    problems.append(&mut checks.problems);
                    continue;
                };
                match fixture(&real, file) {
                    Ok(documents) => documents.into_iter().map(|(d, v)| (d, Vec::new(), v)).collect(),
                    Err(Error::Invalid {
                        problems: mut found, ..
                    }) => {
                        problems.append(&mut found);
                        continue;
                    }
                    Err(other) => {
                        problems.push(
                            doc.problem(&at_str, other.to_string())
                                .help("give a readable YAML file under fixtures/"),
                        );
                        continue;
                    }
                }
            }
        };
        for (object_doc, object_at, value) in documents {
            let items = value
                .get("items")
                .and_then(Value::as_array)
                .filter(|_| kind_of(&value).ends_with("List"));
            match items {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let mut item_at = object_at.clone();
                        item_at.extend(["items".to_owned(), i.to_string()]);
                        objects.push(object(&object_doc, item_at, item.clone(), &mut problems));
                    }
                }
                None => objects.push(object(&object_doc, object_at, value, &mut problems)),
            }
        }
    }
    let mut objects: Vec<Object> = objects.into_iter().flatten().collect();
    scopes_from_definitions(&mut objects);
    if workload.daemonset.is_some()
        && let Some(first) = objects.first()
        && (first.kind != "DaemonSet" || first.api_version != "apps/v1" || objects.len() > 1)
    {
        problems.push(
            first
                .problem(
                    &["kind"],
                    format!(
                        "`workload.daemonset` must be one apps/v1 DaemonSet, not {} {}",
                        first.api_version, first.kind
                    ),
                )
                .help(
                    "give `apiVersion: apps/v1` and `kind: DaemonSet`, or list every object under `workload.manifests`",
                ),
        );
    }
    duplicates(&objects, &mut problems);
    for object in &objects {
        problems.append(&mut typed(object));
    }
    let under_test = under_test(doc, scenario, &objects, &mut problems);
    if let Some(index) = under_test {
        for (i, object) in objects.iter().enumerate() {
            if let Some(at) = object.pods_at()
                && let Some(pod) = object.pod_spec()
            {
                let under = (i == index).then_some(scenario);
                problems.append(&mut validate::pod_object(object, at, &pod, under, doc));
            }
        }
    }
    match under_test {
        Some(under_test) if problems.is_empty() => Ok(Workload { objects, under_test }),
        _ => Err(problems),
    }
}

/// The kinds a CustomResourceDefinition of the workload defines take the scope it declares (a kind the harness does
/// not know is otherwise taken for namespaced; the cluster lane checks the API server's answer either way).
fn scopes_from_definitions(objects: &mut [Object]) {
    let defined: Vec<(String, String, Scope)> = objects
        .iter()
        .filter(|o| o.kind == "CustomResourceDefinition")
        .filter_map(|crd| {
            let spec = crd.value.get("spec")?;
            let group = spec.get("group")?.as_str()?.to_owned();
            let kind = spec.pointer("/names/kind")?.as_str()?.to_owned();
            let scope = match spec.get("scope")?.as_str()? {
                "Cluster" => Scope::Cluster { keeps_name: false },
                _ => Scope::Namespaced,
            };
            Some((group, kind, scope))
        })
        .collect();
    for object in objects.iter_mut() {
        if let Some((_, _, scope)) = defined
            .iter()
            .find(|(group, kind, _)| *kind == object.kind && group == group_of(&object.api_version))
        {
            object.scope = *scope;
        }
    }
}

fn kind_of(value: &Value) -> &str {
    value.get("kind").and_then(Value::as_str).unwrap_or_default()
}

/// One object's identity, checked: apiVersion, kind, a valid name, a kind the harness may make.
fn object(doc: &Doc, at: Vec<String>, value: Value, problems: &mut Vec<Problem>) -> Option<Object> {
    let locate = |rest: &[&str], message: String| {
        let path: Vec<&str> = at.iter().map(String::as_str).chain(rest.iter().copied()).collect();
        doc.problem(&path, message)
    };
    if !value.is_object() {
        problems.push(
            locate(&[], "a manifest must be a mapping (a Kubernetes object)".to_owned())
                .help("give apiVersion, kind, metadata and the rest of the object"),
        );
        return None;
    }
    let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    if api_version.is_empty() || kind.is_empty() {
        problems.push(
            locate(&[], "this object has no `apiVersion` or no `kind`".to_owned())
                .help("every manifest says what it is, e.g. `apiVersion: apps/v1` and `kind: DaemonSet`"),
        );
        return None;
    }
    if REFUSED.contains(&kind.as_str()) {
        problems.push(
            locate(&["kind"], format!("the harness never creates a {kind}"))
                .help("a scenario deploys workloads and what they need; nodes, API services and webhooks belong to the cluster's operators"),
        );
        return None;
    }
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !validate::object_name(&name) {
        let (path, message): (&[&str], String) = if name.is_empty() {
            (&["metadata"], format!("this {kind} has no metadata.name"))
        } else {
            (&["metadata", "name"], format!("`{name}` is not a valid {kind} name"))
        };
        problems.push(
            locate(path, message)
                .help("use lower-case letters, digits, dashes and dots (at most 253; `:` in RBAC names)"),
        );
        return None;
    }
    if let Some(namespace) = value.pointer("/metadata/namespace").and_then(Value::as_str)
        && !validate::is_name(namespace)
    {
        problems.push(
            locate(&["metadata", "namespace"], format!("`{namespace}` is not a valid namespace name")).help(
                "use lower-case letters, digits and dashes (at most 63); the harness deploys into a namespace of the run's own",
            ),
        );
    }
    let scope = known(&api_version, &kind).map_or(Scope::Namespaced, |k| k.scope);
    Some(Object {
        doc: doc.clone(),
        at,
        value,
        api_version,
        kind,
        name,
        scope,
    })
}

/// Two objects of one kind and name would be one object in the run's namespace.
fn duplicates(objects: &[Object], problems: &mut Vec<Problem>) {
    for (i, object) in objects.iter().enumerate() {
        if let Some(first) = objects[..i].iter().find(|o| {
            o.kind == object.kind && o.name == object.name && group_of(&o.api_version) == group_of(&object.api_version)
        }) {
            problems.push(
                object
                    .problem(&["metadata", "name"], format!("{} is given twice", object.id()))
                    .help(format!(
                        "every namespaced object goes into the run's own namespace, so two {}s named `{}` (the first in {}) would be one; rename or remove one",
                        object.kind, object.name, first.doc.source.name
                    )),
            );
        }
    }
}

/// The fields of a kind the harness knows, as Kubernetes reads them: wrong types and unknown fields, located.
fn typed(object: &Object) -> Vec<Problem> {
    use k8s_openapi::api::{
        apps::v1 as apps, batch::v1 as batch, core::v1 as core, rbac::v1 as rbac, storage::v1 as storage,
    };
    let at: Vec<&str> = object.at.iter().map(String::as_str).collect();
    fn check<T: serde::de::DeserializeOwned + serde::Serialize>(object: &Object, at: &[&str]) -> Vec<Problem> {
        manifest::typed::<T>(&object.doc, at, &object.value)
            .err()
            .unwrap_or_default()
    }
    match (group_of(&object.api_version), object.kind.as_str()) {
        ("apps", "DaemonSet") => check::<apps::DaemonSet>(object, &at),
        ("apps", "Deployment") => check::<apps::Deployment>(object, &at),
        ("apps", "StatefulSet") => check::<apps::StatefulSet>(object, &at),
        ("batch", "Job") => check::<batch::Job>(object, &at),
        ("", "Pod") => check::<core::Pod>(object, &at),
        ("", "ConfigMap") => check::<core::ConfigMap>(object, &at),
        ("", "Secret") => check::<core::Secret>(object, &at),
        ("", "ServiceAccount") => check::<core::ServiceAccount>(object, &at),
        ("", "Service") => check::<core::Service>(object, &at),
        ("", "PersistentVolumeClaim") => check::<core::PersistentVolumeClaim>(object, &at),
        ("", "PersistentVolume") => check::<core::PersistentVolume>(object, &at),
        ("", "Namespace") => check::<core::Namespace>(object, &at),
        ("rbac.authorization.k8s.io", "ClusterRole") => check::<rbac::ClusterRole>(object, &at),
        ("rbac.authorization.k8s.io", "Role") => check::<rbac::Role>(object, &at),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => check::<rbac::ClusterRoleBinding>(object, &at),
        ("rbac.authorization.k8s.io", "RoleBinding") => check::<rbac::RoleBinding>(object, &at),
        ("storage.k8s.io", "StorageClass") => check::<storage::StorageClass>(object, &at),
        ("storage.k8s.io", "CSIDriver") => check::<storage::CSIDriver>(object, &at),
        // A kind of its own (a custom resource, a newer API): passed on as written.
        _ => Vec::new(),
    }
}

/// The index of the object under test: `workload.underTest`, else the only object that runs pods.
fn under_test(doc: &Doc, scenario: &Scenario, objects: &[Object], problems: &mut Vec<Problem>) -> Option<usize> {
    let with_pods: Vec<usize> = (0..objects.len()).filter(|&i| objects[i].pods_at().is_some()).collect();
    let listed = || {
        with_pods
            .iter()
            .map(|&i| format!("`{}`", objects[i].id()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &scenario.workload.under_test {
        Some(named) => {
            let found = objects.iter().position(|o| &o.id() == named);
            match found {
                Some(i) if objects[i].pods_at().is_some() => Some(i),
                Some(_) => {
                    problems.push(
                        doc.problem(
                            &["workload", "underTest"],
                            format!("`{named}` runs no pods, so no probe can run in it"),
                        )
                        .help(format!(
                            "name a DaemonSet, Deployment, StatefulSet, Job or Pod of the workload: {}",
                            listed()
                        )),
                    );
                    None
                }
                None => {
                    problems.push(
                        doc.problem(
                            &["workload", "underTest"],
                            format!("the workload has no object `{named}`"),
                        )
                        .help(format!("write `Kind/name` of one of: {}", listed())),
                    );
                    None
                }
            }
        }
        None => {
            match with_pods.as_slice() {
                [one] => Some(*one),
                [] if problems.is_empty() => {
                    problems.push(doc.problem(&["@workload"], "no object of the workload runs pods").help(
                        "add the DaemonSet, Deployment, StatefulSet, Job or Pod under test to `workload.manifests`",
                    ));
                    None
                }
                [] => None,
                _ => {
                    problems.push(
                        doc.problem(
                            &["@workload"],
                            "several objects of the workload run pods and none is named as the one under test",
                        )
                        .help(format!(
                            "add `underTest: Kind/name` to `workload`, one of: {}",
                            listed()
                        )),
                    );
                    None
                }
            }
        }
    }
}

/// The documents of a fixture file, read and parsed once per process however many scenarios share it (keyed by its
/// path, size and modification time, so an edited file is read again). Each document's text keeps the file's line
/// numbers (the other documents blanked out), so a problem in it points at the file's own line.
fn fixture(real: &Path, name: &str) -> Result<Vec<(Doc, Value)>, Error> {
    type Key = (std::path::PathBuf, String, u64, Option<std::time::SystemTime>);
    type Parsed = std::collections::HashMap<Key, Vec<(Arc<Source>, Value)>>;
    static PARSED: std::sync::LazyLock<std::sync::Mutex<Parsed>> = std::sync::LazyLock::new(Default::default);
    let meta = std::fs::metadata(real).map_err(|source| Error::Read {
        path: real.to_owned(),
        source,
    })?;
    let key: Key = (real.to_owned(), name.to_owned(), meta.len(), meta.modified().ok());
    if let Some(documents) = PARSED.lock().ok().and_then(|parsed| parsed.get(&key).cloned()) {
        return Ok(documents
            .into_iter()
            .map(|(source, value)| (Doc::new(source), value))
            .collect());
    }
    let whole = load::read(real, name)?;
    let mut documents = Vec::new();
    for text in documents_of(&whole.text) {
        let source = Arc::new(Source {
            name: name.to_owned(),
            text,
        });
        let (_, value) = load::parse::<Value>(&source)?;
        if !value.is_null() {
            documents.push((source, value));
        }
    }
    if documents.is_empty() {
        return Err(Error::Invalid {
            file: name.to_owned(),
            problems: vec![
                Problem::at(&whole, 1, 1, 0, "this manifest file holds no object")
                    .help("give at least one Kubernetes object"),
            ],
        });
    }
    if let Ok(mut parsed) = PARSED.lock() {
        parsed.insert(key, documents.clone());
    }
    Ok(documents
        .into_iter()
        .map(|(source, value)| (Doc::new(source), value))
        .collect())
}

/// Each YAML document of `text` (split at its `---` lines, which always start a document), as the whole text with
/// every other line blank: line and column numbers stay the file's. Documents with nothing but comments are left out.
fn documents_of(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, line)| {
            let rest = line.strip_prefix("---").map(str::trim);
            rest.is_some_and(|rest| rest.is_empty() || rest.starts_with('#'))
        })
        .map(|(i, _)| i)
        .collect();
    let mut bounds = vec![0];
    bounds.extend(starts.iter().map(|s| s + 1));
    let ends: Vec<usize> = starts.iter().copied().chain([lines.len()]).collect();
    bounds
        .iter()
        .zip(ends)
        .filter(|(start, end)| {
            lines[**start..*end]
                .iter()
                .any(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        })
        .map(|(&start, end)| {
            lines
                .iter()
                .enumerate()
                .map(|(i, line)| {
                    if (start..end).contains(&i) {
                        (*line).to_owned()
                    } else if line.ends_with('\n') {
                        "\n".to_owned()
                    } else {
                        String::new()
                    }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_defined_in_the_workload_takes_its_definitions_scope() {
        let source = std::sync::Arc::new(Source {
            name: "t.yaml".into(),
            text: String::new(),
        });
        let object = |value: Value| Object {
            doc: Doc::new(source.clone()),
            at: Vec::new(),
            api_version: value["apiVersion"].as_str().unwrap().to_owned(),
            kind: value["kind"].as_str().unwrap().to_owned(),
            name: value["metadata"]["name"].as_str().unwrap().to_owned(),
            scope: Scope::Namespaced,
            value,
        };
        let mut objects = vec![
            object(
                serde_json::json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "widgets.example.com"},
                "spec": {"group": "example.com", "scope": "Cluster", "names": {"kind": "Widget"}}}),
            ),
            object(serde_json::json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})),
            object(serde_json::json!({"apiVersion": "other.com/v1", "kind": "Widget", "metadata": {"name": "w"}})),
        ];
        scopes_from_definitions(&mut objects);
        assert_eq!(objects[1].scope, Scope::Cluster { keeps_name: false });
        assert_eq!(objects[2].scope, Scope::Namespaced);
    }

    #[test]
    fn documents_keep_their_line_numbers() {
        let text = "# head\n---\na: 1\n---\n# only a comment\n---\nb: 2\n";
        let docs = documents_of(text);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].lines().nth(2), Some("a: 1"));
        assert_eq!(docs[1].lines().nth(6), Some("b: 2"));
        assert!(docs.iter().all(|d| d.lines().count() == text.lines().count()));
        assert_eq!(documents_of("a: 1\n"), vec!["a: 1\n".to_owned()]);
    }
}
