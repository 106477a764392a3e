//! The scenario format, version 1: what one file says about a bug, its cluster, workload, probes, builds and expectations.
//!
//! Every struct rejects unknown fields, so a misspelt key is an error that points at it, not a silent default.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scenario::expect::Expectations;
pub use crate::words::{Component, Environment};

/// The value of `apiVersion` this harness reads.
pub const API_VERSION: &str = "harness/v1";

/// One scenario file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    title = "Scenario",
    description = "A harness/v1 scenario: one bug turned into a repeatable experiment."
)]
pub struct Scenario {
    /// Always `harness/v1`.
    pub api_version: String,
    /// Always `Scenario`.
    pub kind: String,
    pub metadata: Metadata,
    pub cluster: Cluster,
    /// Default values for `${name}` placeholders; matrix values override them, `--set name=value` overrides both.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub parameters: IndexMap<String, String>,
    /// Axes that expand one file into several cases, e.g. `buildkit: [v0.28.0, v0.27.1]`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub matrix: IndexMap<String, Vec<String>>,
    pub workload: Workload,
    /// Named ways to deploy the workload: `reproduction` as the bug report deploys it, `workaround` and others.
    pub variants: IndexMap<String, Variant>,
    /// Small programs run inside the workload's context (the seed's test-bind.exe and test-mount.exe).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub probes: IndexMap<String, Probe>,
    /// Image builds sent to the workload's buildkitd.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub builds: IndexMap<String, Build>,
    /// What the bug report claims, per lane, variant and step.
    #[serde(default)]
    pub expect: Expectations,
    /// Expectations that differ in some matrix cells, e.g. where a version is known not to have the bug.
    /// The last override whose `when` matches a case's cell decides a step; otherwise `expect` does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<Override>,
    /// Classes this scenario adds to the built-in ones: rules that name a class of its own, tried on a failure the
    /// built-in rules do not recognise (`unknown`). A repository's `classes/*.yaml` files declare shared ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClassRule>,
}

/// One rule of a declared class: every condition given must hold on one failure record.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClassRule {
    /// The class this rule gives: a kebab-case name of its own, never a built-in class's.
    pub class: String,
    /// A Windows code the failure carries (printed, or inferred from its system message): hex (`0x8007010b`),
    /// decimal (`267`) or a constant name (`ERROR_DIRECTORY`). A Win32 code and its HRESULT are the same code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<CodeSpec>,
    /// A stage of the failure's wrapper chain, e.g. `create-container` (see docs/scenario.md for the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// A regular expression (Rust `regex` syntax) found in the failure's text, every escaping level undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Whether the class says the harness or its infrastructure failed (`infra-error`, exit 3, unless expected).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub infrastructure: bool,
}

/// A Windows code as a scenario writes it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CodeSpec {
    /// A decimal value (a negative one is read as the 32 bits of an HRESULT).
    Number(i64),
    /// Hex (`0x8007010b`), decimal, or a constant name (`ERROR_DIRECTORY`).
    Text(String),
}

/// Expectations for the matrix cells that `when` selects.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Override {
    /// Matrix axis -> version requirement, e.g. `containerd: "<1.7"`; every entry must hold.
    pub when: IndexMap<String, String>,
    /// Why these cells behave differently (shown in reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub expect: Expectations,
}

/// Who the scenario is about.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// Lower-case letters, digits and dashes; the first part of every case name.
    pub name: String,
    /// The upstream bug this scenario tracks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bug: Option<String>,
    /// One line saying what goes wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// The cluster the scenario targets and the environment it expects to find there.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cluster {
    pub distribution: Distribution,
    /// The only kube contexts the scenario may act on (the test bed's context is always allowed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contexts: Vec<String>,
    /// Which context a matrix cell runs on: `"containerd=1.7.3": eks-1733` (several parts: `"a=1,b=2"`). A run
    /// connects to every context named here; cells not named run on `--context`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub cells: IndexMap<String, String>,
    /// The environment the bug was reported on. Preflight records what it really finds and reports drift.
    #[serde(default)]
    pub expects: Environment,
    /// Preconditions on the observed environment, e.g. `containerd: ">=1.7"` (any component, built-in or declared in
    /// `components`); unmet, the case is skipped with the value found.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requires: BTreeMap<String, String>,
    /// Components of the scenario's own, beyond k0s, kubelet, containerd, windowsBuild and buildkit: each observed
    /// on the node (a nodeInfo field, an image's tag, or a command's output), recorded with where it came from, and
    /// usable in `expects.components`, `requires` and as a matrix axis.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub components: IndexMap<String, ComponentSource>,
    /// Which nodes the workload and probes run on.
    pub node_selector: BTreeMap<String, String>,
    /// Whether this scenario's cases may share a node with other cases at once. By default a case has the nodes its
    /// selector picks to itself (HostProcess work is SYSTEM on the node); with `parallel: true` it holds only what it
    /// binds there: its endpoint port and its service's name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub parallel: bool,
}

/// Where a component of the scenario's own is observed. Give exactly one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComponentSource {
    /// A field of the node's `status.nodeInfo`, e.g. `kernelVersion`, `osImage`, `kubeProxyVersion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_info: Option<String>,
    /// `Kind/name` of an object of the workload: the tag of its first container's image, as deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// A command run in the container under test once it is ready: the first version in what it prints, e.g.
    /// `[containerd-shim-runhcs-v1.exe, --version]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<Vec<String>>,
}

/// The Kubernetes distribution the bug was reported on. The cluster lane drives any of them through the kube context
/// alone; `none` says the scenario needs no cluster at all (its cluster lane is skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Distribution {
    K0s,
    Kubeadm,
    Aks,
    Eks,
    Gke,
    Rke2,
    /// Any other conformant distribution.
    Generic,
    /// No cluster: a host-only scenario, whose cluster lane is skipped.
    #[serde(rename = "none")]
    NoCluster,
}

impl Cluster {
    /// The context `cell` is mapped to in `cells`, if any: the first entry whose every `axis=value` part the cell has.
    pub fn context_of(&self, cell: &IndexMap<String, String>) -> Option<&str> {
        self.cells.iter().find_map(|(selector, context)| {
            let parts = cell_selector(selector)?;
            parts
                .iter()
                .all(|(axis, value)| cell.get(*axis).is_some_and(|v| v == value))
                .then_some(context.as_str())
        })
    }
}

/// The `axis=value` parts of a `cells` key, or `None` when one is not of that form.
pub fn cell_selector(selector: &str) -> Option<Vec<(&str, &str)>> {
    selector
        .split(',')
        .map(|part| {
            let (axis, value) = part.trim().split_once('=')?;
            (!axis.trim().is_empty() && !value.trim().is_empty()).then(|| (axis.trim(), value.trim()))
        })
        .collect()
}

impl Distribution {
    /// Whether the scenario has a cluster to run its cluster lane on.
    pub fn has_cluster(self) -> bool {
        self != Distribution::NoCluster
    }
}

/// The workload under test: the objects the bug report deploys, and which of them the probes run in.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Workload {
    /// Every object the workload needs, in any order: paths under `fixtures/` (relative to the repository root; a file
    /// may hold several documents, or a `List`) or objects written inline. They are applied in dependency order,
    /// every namespaced one in the run's own namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<ManifestSource>,
    /// The short form for a workload of one DaemonSet: a path under `fixtures/` or the manifest inline (use
    /// `manifests` for anything else).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemonset: Option<ManifestSource>,
    /// `Kind/name` of the object whose pod the probes run in (a DaemonSet, Deployment, StatefulSet, Job or Pod);
    /// needed only when several objects run pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub under_test: Option<String>,
    /// The image of the container under test; `${name}` placeholders come from parameters and the matrix. Without
    /// it the manifest's image stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Which container of the object under test is under test (default: the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Where buildkitd listens on the node: needed only where `builds` are declared (they are sent there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    /// How long the image may take to pull (the `pull` step), e.g. `45m`; default 30m (Windows images are gigabytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_timeout: Option<String>,
    /// How long the workload may take to be ready once its image is there (the `rollout` step); default 5m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_timeout: Option<String>,
    /// How long one command the lane runs in the container under test may take (a probe, the probe's delivery, a
    /// service query), e.g. `30s`; default 2m. One that takes longer ends its step as `step-timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_timeout: Option<String>,
}

/// A manifest given by path or inline.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ManifestSource {
    /// A YAML file of one or more documents, relative to the repository root; it must stay inside `fixtures/`.
    File(String),
    /// The object itself.
    Inline(serde_json::Value),
}

/// A TCP endpoint on the node.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Endpoint {
    pub port: u16,
}

/// One way of deploying the workload: the reproduction as the bug report deploys it, or a change to it (a
/// workaround, a fix, a version pin).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Variant {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The image of the container under test in this variant (`${name}` placeholders allowed); wins over
    /// `workload.image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The container under test's arguments in this variant: they replace the manifest's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Environment variables of the container under test in this variant: added, or replacing one of the same name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: IndexMap<String, String>,
    /// Where the container under test mounts its volumes in this variant: volume name -> mount path (the
    /// mount of that volume moves there, or is added when the container does not mount it yet).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub mounts: IndexMap<String, String>,
    /// Changes to the workload's objects, applied in order before anything else the harness does to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Patch>,
    /// The matrix cells this variant runs in: axis -> value or version requirement (`containerd: "<1.7"`); in the
    /// other cells it has no case (a version pin: the workaround that is an older release).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub cells: IndexMap<String, String>,
    /// Run buildkitd as a Windows service registered from a host folder, outside the HostProcess silo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register_service: Option<RegisterService>,
}

impl Variant {
    /// This variant's deployment, without what only describes or places it.
    pub fn deployment(&self) -> Variant {
        Variant {
            description: None,
            cells: IndexMap::new(),
            ..self.clone()
        }
    }
}

/// A change to one object of the workload: a JSON patch or a merge patch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Patch {
    /// `Kind/name` of the object, as written in the manifests (default: the object under test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// JSON patch operations (RFC 6902), e.g. `[{op: replace, path: /spec/template/spec/hostNetwork, value: true}]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<serde_json::Value>,
    /// A merge patch: mappings merge, `null` removes a key, a list of mappings that all have a `name` merges item by
    /// item by name (containers, env, volumes, volumeMounts), any other value replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<serde_json::Value>,
}

/// The service workaround: the container under test's program copied to a host folder, registered as a Windows
/// service from there, started; stopped and unregistered on the way out. buildkitd's `--register-service` is one
/// way of registering (`register: self`), `sc.exe create` the other (`register: sc`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterService {
    /// The Windows service name.
    pub name: String,
    /// A real host folder the program is copied to (the sandbox mount is visible only inside the silo).
    pub host_dir: String,
    /// Where the service writes its log: passed as `--log-file` when the program registers itself, and kept as
    /// evidence when a step fails (a service logs nowhere else).
    pub log_file: String,
    /// How the service is registered: `self`, the program's own `--register-service --service-name NAME` (buildkitd,
    /// containerd, dockerd; the default), or `sc`, `sc.exe create NAME binPath= "PROGRAM ARGS"` (a program that is a
    /// Windows service of its own, such as csi-proxy).
    #[serde(default, skip_serializing_if = "Registration::is_self")]
    pub register: Registration,
    /// The program's arguments as a service (default: the container's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
}

/// How a service is registered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Registration {
    /// `PROGRAM --register-service --service-name NAME ARGS --log-file=LOG`.
    #[default]
    #[serde(rename = "self")]
    Itself,
    /// `sc.exe create NAME binPath= "PROGRAM ARGS" start= demand`.
    Sc,
}

impl Registration {
    fn is_self(&self) -> bool {
        *self == Registration::Itself
    }
}

/// A probe, run inside the workload's context or on a Windows host.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Probe {
    /// Bind one fresh host directory onto another, exactly as go-winio `ApplyFileBinding` does.
    Bind(BindProbe),
    /// Activate, prepare and mount a containerd snapshot, then bind its `Files`, as containerd does.
    Layer(LayerProbe),
    /// A command of the bug report's own, run in the container under test (cluster lane): ok when it exits with
    /// `status`, else what it printed is classified.
    Exec(ExecProbe),
    /// A program of the report's own (a reproducer `.exe` under `fixtures/`), copied onto the node through the
    /// container under test, checked by SHA-256 and run there (cluster lane): judged like `exec`.
    Program(ProgramProbe),
    /// The workload's own log, current and previous (after a restart): ok unless the classifier recognises a
    /// failure in it, whose class it then is.
    Logs(LogsProbe),
}

/// A program copied onto the node and run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProgramProbe {
    /// The program, relative to the repository root, inside `fixtures/`.
    pub file: String,
    /// Its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// The exit status that means the step worked (default 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub status: i32,
    /// A Linux program (a script with a `#!` line) the test bed runs in this one's place, under the same name: its
    /// node is simulated and cannot run a Windows program. Used only there; its outcomes stay simulated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twin: Option<String>,
    /// How many times the step runs (1 to 1000, default 1); a rate expectation counts the results over them.
    #[serde(default = "one_try", skip_serializing_if = "is_one_try")]
    #[schemars(range(min = 1, max = 1000))]
    pub tries: u32,
}

/// The log of a container of the workload.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogsProbe {
    /// `Kind/name` of the workload's object whose pod's log is read (default: the object under test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// The container (default: the container under test, or the object's first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// A command run in the container under test.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecProbe {
    /// The program and its arguments, as the container runs them (no shell in between), e.g.
    /// `[ctr.exe, -n, k8s.io, images, ls]`.
    pub argv: Vec<String>,
    /// The exit status that means the step worked (default 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub status: i32,
    /// How many times the step runs (1 to 1000, default 1); a rate expectation counts the results over them.
    #[serde(default = "one_try", skip_serializing_if = "is_one_try")]
    #[schemars(range(min = 1, max = 1000))]
    pub tries: u32,
}

fn is_zero(status: &i32) -> bool {
    *status == 0
}

/// Seed test 1.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BindProbe {
    /// The backing directory ("target" in go-winio's error text).
    pub src: String,
    /// The mount point ("root" in go-winio's error text).
    pub dst: String,
    /// Bind read-write instead of read-only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_write: bool,
    /// How many times the step runs (1 to 1000, default 1); a rate expectation counts the results over them.
    #[serde(default = "one_try", skip_serializing_if = "is_one_try")]
    #[schemars(range(min = 1, max = 1000))]
    pub tries: u32,
}

/// Seed test 2.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LayerProbe {
    /// `latest` (the newest containerd snapshot on the node) or a snapshot folder.
    pub snapshot: String,
    pub dst: String,
    /// How many times the step runs (1 to 1000, default 1); a rate expectation counts the results over them.
    #[serde(default = "one_try", skip_serializing_if = "is_one_try")]
    #[schemars(range(min = 1, max = 1000))]
    pub tries: u32,
}

/// One image build.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Build {
    /// The build context folder, relative to the repository root, inside `fixtures/`.
    pub context: String,
    /// The Dockerfile, relative to the context.
    #[serde(default = "default_dockerfile")]
    pub dockerfile: String,
    /// e.g. `windows/amd64`.
    pub platform: String,
    /// How long the build may take, e.g. `10m`.
    pub timeout: String,
    /// A Linux build the test bed sends in this one's place: its Windows node is simulated and its buildkitd is
    /// Linux, so a Windows context cannot build there. Used only on a simulated node; its outcomes stay simulated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twin: Option<Twin>,
    /// How many times the step runs (1 to 1000, default 1); a rate expectation counts the results over them.
    #[serde(default = "one_try", skip_serializing_if = "is_one_try")]
    #[schemars(range(min = 1, max = 1000))]
    pub tries: u32,
}

/// The Linux stand-in of a build on the test bed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Twin {
    /// The build context folder, relative to the repository root, inside `fixtures/`.
    pub context: String,
    /// The Dockerfile, relative to the context.
    #[serde(default = "default_dockerfile")]
    pub dockerfile: String,
    /// What the twin's build is expected to do (`ok`, a class, `observe`). Without it the twin's outcome is observed,
    /// never held against the Windows build's expectation: a Linux build shows the way a build takes, not what the
    /// Windows node does to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<crate::scenario::expect::Expected>,
}

fn one_try() -> u32 {
    1
}

fn is_one_try(tries: &u32) -> bool {
    *tries == 1
}

/// The most tries a step may have.
pub const MAX_TRIES: u32 = 1000;

impl Probe {
    /// The word that names the probe's kind in a scenario.
    pub fn kind(&self) -> &'static str {
        match self {
            Probe::Bind(_) => "bind",
            Probe::Layer(_) => "layer",
            Probe::Exec(_) => "exec",
            Probe::Program(_) => "program",
            Probe::Logs(_) => "logs",
        }
    }

    /// Whether bindprobe runs it (and must be on the node).
    pub fn runs_bindprobe(&self) -> bool {
        matches!(self, Probe::Bind(_) | Probe::Layer(_))
    }

    /// How many times the probe runs.
    pub fn tries(&self) -> u32 {
        match self {
            Probe::Bind(bind) => bind.tries,
            Probe::Layer(layer) => layer.tries,
            Probe::Exec(exec) => exec.tries,
            Probe::Program(program) => program.tries,
            Probe::Logs(_) => 1,
        }
    }
}

fn default_dockerfile() -> String {
    "Dockerfile".to_owned()
}
