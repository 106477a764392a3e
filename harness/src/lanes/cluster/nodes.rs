//! Which cases may share a node at once. A case holds the nodes its selector picks: to itself by default (HostProcess
//! work is SYSTEM on the node), or, when its scenario says `parallel: true`, together with other such cases while
//! each holds what it binds there alone (its endpoint port, its service's name). Locks are taken in one order, so
//! cases never wait on each other in a cycle.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedMutexGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use crate::scenario::matrix::Case;

/// The run's locks, by node selector and by what is bound on those nodes.
#[derive(Debug, Clone, Default)]
pub struct Nodes {
    nodes: Arc<Mutex<BTreeMap<String, Arc<RwLock<()>>>>>,
    bound: Arc<Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

/// What a case holds on its nodes until its workload is gone from them.
#[derive(Debug)]
pub enum Held {
    Alone(OwnedRwLockWriteGuard<()>),
    Shared(OwnedRwLockReadGuard<()>, Vec<OwnedMutexGuard<()>>),
}

impl Nodes {
    /// Waits until `case` may run on its nodes, and holds them for it.
    pub async fn hold(&self, case: &Case) -> Held {
        let scenario = &case.loaded.scenario;
        let selector: Vec<String> = scenario
            .cluster
            .node_selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let selector = selector.join(",");
        let node = entry(&self.nodes, &selector);
        if !scenario.cluster.parallel {
            return Held::Alone(node.write_owned().await);
        }
        let shared = node.read_owned().await;
        // Without an endpoint the workload binds no port the harness knows of: only its service's name is held.
        let mut bound: Vec<String> = scenario
            .workload
            .endpoint
            .iter()
            .map(|endpoint| format!("{selector} port {}", endpoint.port))
            .collect();
        if let Some(service) = &scenario.variants[case.variant.as_str()].register_service {
            bound.push(format!("{selector} service {}", service.name.to_ascii_lowercase()));
        }
        bound.sort();
        let mut guards = Vec::new();
        for key in bound {
            guards.push(entry(&self.bound, &key).lock_owned().await);
        }
        Held::Shared(shared, guards)
    }
}

fn entry<T: Default>(map: &Mutex<BTreeMap<String, Arc<T>>>, key: &str) -> Arc<T> {
    let mut map = map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry(key.to_owned()).or_default().clone()
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::scenario::{error::Source, from_source, matrix};
    use crate::words::Lane;

    /// The seed's two cluster cases (reproduction, workaround), with `edit` applied to the scenario's text.
    fn cases(edit: impl Fn(String) -> String) -> Vec<Case> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/buildkit-6590.yaml");
        let source = Arc::new(Source {
            name: "nodes.yaml".into(),
            text: edit(std::fs::read_to_string(&path).unwrap()),
        });
        let loaded = from_source(&source, &path).unwrap_or_else(|e| panic!("{}", e.render()));
        matrix::cases(&loaded, &[Lane::Cluster])
    }

    /// Whether `second` can be held while `first` is.
    async fn overlap(first: &Case, second: &Case) -> bool {
        let nodes = Nodes::default();
        let _first = nodes.hold(first).await;
        tokio::time::timeout(Duration::from_millis(200), nodes.hold(second))
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn cases_have_their_nodes_to_themselves_unless_their_scenario_says_parallel() {
        let alone = cases(|text| text);
        assert!(
            !overlap(&alone[0], &alone[1]).await,
            "two cases shared a node by default"
        );

        let parallel = cases(|text| text.replace("  nodeSelector:\n", "  parallel: true\n  nodeSelector:\n"));
        assert!(
            !overlap(&parallel[0], &parallel[1]).await,
            "two parallel cases bound the same port at once"
        );
        // The same DaemonSet inline, listening on another port.
        let manifest = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/daemonsets/buildkitd-hostprocess.yaml"),
        )
        .unwrap()
        .replace("tcp://0.0.0.0:1234", "tcp://0.0.0.0:4321");
        let inline: String = manifest.lines().map(|l| format!("    {l}\n")).collect();
        let other_port = cases(|text| {
            text.replace("  nodeSelector:\n", "  parallel: true\n  nodeSelector:\n")
                .replace("port: 1234", "port: 4321")
                .replace(
                    "  daemonset: fixtures/daemonsets/buildkitd-hostprocess.yaml\n",
                    &format!("  daemonset:\n{inline}"),
                )
        });
        assert!(
            overlap(&parallel[0], &other_port[1]).await,
            "parallel cases on different ports waited for each other"
        );
        assert!(
            !overlap(&alone[0], &other_port[1]).await,
            "a parallel case ran beside one that has the node to itself"
        );
        let elsewhere = cases(|text| {
            text.replace(
                "kubernetes.io/os: windows\n",
                "kubernetes.io/os: windows\n    pool: b\n",
            )
        });
        assert!(
            overlap(&alone[0], &elsewhere[1]).await,
            "cases on other nodes waited for each other"
        );
    }
}
