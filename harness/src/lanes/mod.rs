//! Where a case runs: `offline` always, `host` on an elevated Windows machine, `cluster` against a kube context.

use crate::words::Lane;

pub mod cluster;
pub mod evidence;
pub mod host;
pub mod offline;
pub mod probe;
pub mod why;

use indexmap::IndexMap;

use crate::classify::Class;
use crate::outcome::{Failure, Observation, Seen};
use crate::scenario::matrix::Case;

/// What every lane is given besides the case.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Labels everything this run creates.
    pub run_id: String,
    /// `--set name=value` parameter overrides.
    pub overrides: IndexMap<String, String>,
    /// The kube context the cluster lane acts on, checked before the run ([`cluster::check`]).
    pub cluster: Option<cluster::Target>,
    /// The contexts scenarios map matrix cells to (`cluster.cells`), checked the same way.
    pub mapped: Vec<cluster::Target>,
    /// Contexts `cluster.cells` names that this run cannot use (not in the kubeconfig, not allowed), and why.
    pub unusable: std::collections::BTreeMap<String, String>,
    /// The run's output folder, where steps keep their evidence files (`evidence/`); none: nothing is kept.
    pub out: Option<std::path::PathBuf>,
    /// The Windows probe the cluster lane copies onto the node, or why there is none.
    pub probe: Delivery,
    /// Which cluster cases may share a node at once.
    pub nodes: cluster::Nodes,
    /// Set once a cluster case has a pod running on a node (it may then leave files or a service there).
    pub touched_nodes: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Held by a host-lane case: they run one at a time (the bind filter and silos are the machine's).
    pub host: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// The probe to deliver, or why there is none (then the image's own `bindprobe.exe` runs).
#[derive(Debug, Clone)]
pub struct Delivery(pub Result<cluster::Probe, String>);

impl Default for Delivery {
    fn default() -> Delivery {
        Delivery(Err("no probe was given to deliver".to_owned()))
    }
}

impl Context {
    /// The kube context `case` runs on: the one its scenario maps its cell to (`cluster.cells`), else `--context`.
    /// A cell whose mapped context this run cannot use runs on `--context` only when the cell is bound to an
    /// environment (an axis named after a component): preflight then runs it only on a node of its release.
    pub fn target_for(&self, case: &Case) -> Option<&cluster::Target> {
        match case.loaded.scenario.cluster.context_of(&case.cell) {
            Some(name) if self.unusable.contains_key(name) && bound_to_environment(case) => self.cluster.as_ref(),
            Some(name) => self.mapped.iter().chain(self.cluster.as_ref()).find(|t| t.name == name),
            None => self.cluster.as_ref(),
        }
    }

    /// Why `case`'s mapped context cannot be used here, when it runs nowhere else.
    pub fn unusable_for(&self, case: &Case) -> Option<String> {
        let name = case.loaded.scenario.cluster.context_of(&case.cell)?;
        let reason = self.unusable.get(name)?;
        (self.cluster.is_none() || !bound_to_environment(case)).then(|| why::mapped_context_unusable(name, reason))
    }

    /// Every kube context of the run.
    pub fn targets(&self) -> impl Iterator<Item = &cluster::Target> {
        self.cluster.iter().chain(&self.mapped)
    }

    /// The evidence folder of `case`; none when the run keeps no files.
    pub fn evidence_folder(&self, case: &Case) -> Option<evidence::Folder> {
        Some(evidence::Folder::of(self.out.as_ref()?, case))
    }
}

/// Whether one of `case`'s matrix axes is named after a component (built-in or the scenario's own): its cell runs
/// only on a node of that release.
fn bound_to_environment(case: &Case) -> bool {
    let components = &case.loaded.scenario.cluster.components;
    case.cell
        .keys()
        .any(|axis| crate::words::Component::named(axis).is_some() || components.contains_key(axis))
}

/// Why `lane` cannot run here for `case`, or `None` when it can.
pub fn unavailable(lane: Lane, case: &Case, context: &Context) -> Option<String> {
    match lane {
        Lane::Offline => None,
        Lane::Host => host::unavailable(),
        Lane::Cluster => cluster::unavailable(case, context),
    }
}

/// Observes every step of `case` on its lane, in step order (one `lane` step, skipped, when the lane cannot run).
pub async fn run(case: &Case, context: &Context) -> Vec<Observation> {
    match unavailable(case.lane, case, context) {
        Some(reason) => vec![Observation::skipped("lane", reason)],
        None => match case.lane {
            Lane::Offline => offline::run(case, context),
            Lane::Host => {
                let _alone = context.host.lock().await;
                host::run(case, context)
            }
            Lane::Cluster => cluster::run(case, context).await,
        },
    }
}

/// After an interruption: undoes what the run made and has not undone yet, on every lane that makes anything (only
/// the cluster lane does: its namespaces, by the uids it recorded, then its services and files on the nodes, if a
/// case got that far). What was removed.
pub async fn clean_up(
    context: &Context,
    scenarios: &[std::sync::Arc<crate::scenario::Loaded>],
) -> Result<Vec<String>, String> {
    let mut removed = Vec::new();
    for target in context.targets() {
        removed.extend(cluster::release_standing(target).await?);
        // A step dropped mid-way may have left a service or files on a node: the janitor's pod removes this run's.
        if context.touched_nodes.load(std::sync::atomic::Ordering::SeqCst) {
            removed.extend(cluster::janitor::nodes(target, scenarios, Some(&context.run_id)).await?);
        }
    }
    Ok(removed)
}

/// Why a lane could not observe a step. Each kind is one infrastructure class and one what-to-do (`why::unobserved`):
/// the only place that mapping is made.
#[derive(Debug, thiserror::Error)]
pub enum Unobserved {
    /// The API server erred, refused or did not answer.
    #[error("{0} ({help})", help = why::unobserved::API)]
    Api(String),
    /// Something the harness could not prove this run made, or could not tell; nothing was changed.
    #[error("{0} ({help})", help = why::unobserved::NOT_OWNED)]
    NotOwned(String),
    /// A command (the probe, a service command) could not run, or printed nothing usable.
    #[error("{0} ({help})", help = why::unobserved::EXEC)]
    Exec(String),
    /// A wait ran out.
    #[error("{0} ({help})", help = why::unobserved::TIMEOUT)]
    Timeout(String),
    /// The node stopped being Ready while the step ran.
    #[error("{0} ({help})", help = why::unobserved::NODE_NOT_READY)]
    NodeNotReady(String),
}

impl Unobserved {
    pub fn class(&self) -> Class {
        match self {
            Unobserved::Api(_) | Unobserved::Exec(_) => Class::ExecFailed,
            Unobserved::NotOwned(_) => Class::NotOwned,
            Unobserved::Timeout(_) => Class::StepTimeout,
            Unobserved::NodeNotReady(_) => Class::NodeNotReady,
        }
    }
}

impl From<Unobserved> for Seen {
    fn from(unobserved: Unobserved) -> Seen {
        Failure::unobserved(unobserved.class(), unobserved.to_string()).into()
    }
}
