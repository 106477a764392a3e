//! Reaching a kube context safely: the context checked before anything runs, the test bed recognised by what it is
//! (its kubeconfig and the marker it writes into its cluster), and every API call bounded in time.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::exit::Exit;
use crate::redact;

/// Where the test bed writes its marker ConfigMap, and under which key.
const MARKER: (&str, &str, &str) = ("kube-public", "harness-testbed-marker", "marker");

/// Why a context cannot be used; each says whether the user or the infrastructure is at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("context `{name}` is not in the kubeconfig (it has: {known})")]
    UnknownContext { name: String, known: String },
    #[error(
        "context `{name}` is neither allowed by a scenario (cluster.contexts: {allowed}) nor the harness's test bed; nothing was done"
    )]
    NotAllowed { name: String, allowed: String },
    #[error("cannot read the kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("{0}")]
    Api(String),
}

impl Error {
    /// Usage errors exit 2 before anything runs; a cluster or kubeconfig that cannot be read exits 3.
    pub fn exit(&self) -> Exit {
        match self {
            Error::UnknownContext { .. } | Error::NotAllowed { .. } => Exit::InvalidInput,
            Error::Kubeconfig(_) | Error::Api(_) => Exit::Infrastructure,
        }
    }

    /// What the user can do about it.
    pub fn help(&self) -> &'static str {
        match self {
            Error::UnknownContext { .. } => "check `--context` against `kubectl config get-contexts` and KUBECONFIG",
            Error::NotAllowed { .. } => {
                "add the context to the scenario's cluster.contexts, or bring the test bed up with `harness testbed up`"
            }
            Error::Kubeconfig(_) => "check KUBECONFIG (or ~/.kube/config): it must exist and be a valid kubeconfig",
            Error::Api(_) => "check that the cluster is reachable and answers; nothing was changed on it",
        }
    }
}

/// A kube context this run may act on, checked once before any case runs.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    /// The kubeconfig the context is read from; none: `KUBECONFIG`, else `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// A `buildctl` that comes with this context (the test bed's, from its run folder), used when neither
    /// `BUILDCTL` nor `PATH` has one.
    pub buildctl: Option<PathBuf>,
    /// The harness's own test bed (recognised by its marker), which every scenario may use.
    pub testbed: bool,
    /// The longest any single API request may take.
    pub request_timeout: Duration,
    /// Why the context could not be checked (its kubeconfig or cluster failed): every case records it as an
    /// infrastructure error instead of running.
    pub broken: Option<String>,
    /// What this run made on this cluster and has not removed yet: what an interruption tears down.
    pub ledger: crate::lanes::cluster::Ledger,
}

impl Target {
    /// A context that could not be checked, for `reason`.
    pub fn broken(name: &str, request_timeout: Duration, reason: String) -> Target {
        Target {
            name: name.to_owned(),
            kubeconfig: None,
            buildctl: None,
            testbed: false,
            request_timeout,
            broken: Some(reason),
            ledger: Default::default(),
        }
    }
}

/// Checks `name` before anything runs: it must be in the kubeconfig, and either allowed by a scenario or the test bed.
pub async fn check(name: &str, allowed: &[String], request_timeout: Duration) -> Result<Target, Error> {
    check_in(None, name, allowed, request_timeout).await
}

/// [`check`], reading the context from the kubeconfig at `path` (none: `KUBECONFIG`, else `~/.kube/config`).
pub async fn check_in(
    path: Option<PathBuf>,
    name: &str,
    allowed: &[String],
    request_timeout: Duration,
) -> Result<Target, Error> {
    let kubeconfig = read_kubeconfig(path.as_deref())?;
    if !kubeconfig.contexts.iter().any(|c| c.name == name) {
        let known: Vec<&str> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
        return Err(Error::UnknownContext {
            name: name.to_owned(),
            known: if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            },
        });
    }
    let mut target = Target {
        name: name.to_owned(),
        kubeconfig: path,
        buildctl: None,
        testbed: false,
        request_timeout,
        broken: None,
        ledger: Default::default(),
    };
    target.testbed = is_testbed(&target, &kubeconfig).await?;
    if target.testbed {
        target.buildctl = Some(testbed_run_dir().join("buildctl")).filter(|path| path.is_file());
    }
    if target.testbed || allowed.iter().any(|a| a == name) {
        return Ok(target);
    }
    Err(Error::NotAllowed {
        name: name.to_owned(),
        allowed: if allowed.is_empty() {
            "none".to_owned()
        } else {
            allowed.join(", ")
        },
    })
}

/// A client for `target`, with connection and request timeouts.
pub async fn client(target: &Target) -> Result<Client, Error> {
    client_from(read_kubeconfig(target.kubeconfig.as_deref())?, target).await
}

/// A client for `target` from a kubeconfig already read.
async fn client_from(kubeconfig: Kubeconfig, target: &Target) -> Result<Client, Error> {
    let options = KubeConfigOptions {
        context: Some(target.name.clone()),
        ..KubeConfigOptions::default()
    };
    let mut config = bounded(
        target.request_timeout,
        "reading the kubeconfig's credentials",
        Config::from_custom_kubeconfig(kubeconfig, &options),
    )
    .await
    .map_err(Error::Kubeconfig)?;
    config.connect_timeout = Some(target.request_timeout);
    config.write_timeout = Some(target.request_timeout);
    Client::try_from(config).map_err(|e| Error::Kubeconfig(redact::secrets(&e.to_string()).into_owned()))
}

/// Runs one API call within `timeout`; its error (redacted) says `what` was being done.
pub async fn bounded<T, E: std::fmt::Display>(
    timeout: Duration,
    what: &str,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(redact::secrets(&format!("{what}: {e}")).into_owned()),
        Err(_) => Err(format!("{what}: no answer within {}s", timeout.as_secs_f32())),
    }
}

/// Runs `wait` (a watch, an exec stream: requests a stopped API server leaves open and silent) while the API server
/// answers: a bounded request every `timeout`. The reason, when the server stops answering first, so a wait ends
/// within two request timeouts of the server going away.
pub async fn while_answering<T>(client: Client, timeout: Duration, wait: impl Future<Output = T>) -> Result<T, String> {
    let alive = async {
        loop {
            tokio::time::sleep(timeout).await;
            if let Err(e) = bounded(timeout, "the API server stopped answering", client.apiserver_version()).await {
                return e;
            }
        }
    };
    tokio::select! {
        done = wait => Ok(done),
        gone = alive => Err(gone),
    }
}

/// Runs `step` while node `node` stays Ready (watched, not polled): the node's Ready condition as a reason, when
/// it stops being true first.
pub async fn while_node_ready<T>(client: Client, node: &str, step: impl Future<Output = T>) -> Result<T, String> {
    use futures::StreamExt;
    use kube::runtime::{WatchStreamExt, watcher};
    let nodes = Api::<k8s_openapi::api::core::v1::Node>::all(client);
    let config = watcher::Config::default().fields(&format!("metadata.name={node}"));
    let not_ready = async {
        let mut seen = std::pin::pin!(watcher(nodes, config).default_backoff().applied_objects());
        while let Some(found) = seen.next().await {
            let Ok(found) = found else { continue };
            let ready = found
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
            if let Some(ready) = ready.filter(|c| c.status != "True") {
                return format!(
                    "node {node} went NotReady ({}: {})",
                    ready.reason.as_deref().unwrap_or(&ready.status),
                    ready.message.as_deref().unwrap_or("no message")
                );
            }
        }
        std::future::pending().await
    };
    tokio::select! {
        done = step => Ok(done),
        reason = not_ready => Err(reason),
    }
}

fn read_kubeconfig(path: Option<&std::path::Path>) -> Result<Kubeconfig, Error> {
    path.map_or_else(Kubeconfig::read, Kubeconfig::read_from)
        .map_err(|e| Error::Kubeconfig(redact::secrets(&e.to_string()).into_owned()))
}

/// The test bed's run folder: where its kubeconfig and marker live.
fn testbed_run_dir() -> PathBuf {
    match std::env::var_os("TESTBED_RUN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HARNESS_CACHE").unwrap_or_else(|| "/var/cache/harness".into()))
            .join("testbed/run"),
    }
}

/// Whether `target` is the test bed: its server is the one in the test bed's own kubeconfig (whatever the context is
/// called), and the cluster holds the marker that only the test bed's run folder knows.
async fn is_testbed(target: &Target, kubeconfig: &Kubeconfig) -> Result<bool, Error> {
    let run = testbed_run_dir();
    let Ok(token) = std::fs::read_to_string(run.join("marker")) else {
        return Ok(false);
    };
    let Ok(testbed_kubeconfig) = Kubeconfig::read_from(run.join("kubeconfig")) else {
        return Ok(false);
    };
    let testbed_servers: Vec<&str> = testbed_kubeconfig
        .clusters
        .iter()
        .filter_map(|c| c.cluster.as_ref()?.server.as_deref())
        .collect();
    if !server(kubeconfig, &target.name).is_some_and(|s| testbed_servers.contains(&s.as_str())) {
        return Ok(false);
    }
    let client = client_from(kubeconfig.clone(), target).await?;
    let (namespace, name, key) = MARKER;
    let found = bounded(
        target.request_timeout,
        "reading the test bed's marker",
        Api::<ConfigMap>::namespaced(client, namespace).get_opt(name),
    )
    .await
    .map_err(Error::Api)?;
    let value = found.and_then(|c| c.data).and_then(|mut d| d.remove(key));
    Ok(value.is_some_and(|v| !v.is_empty() && v == token.trim()))
}

/// The server URL of context `name` in `kubeconfig`.
fn server(kubeconfig: &Kubeconfig, name: &str) -> Option<String> {
    let context = kubeconfig.contexts.iter().find(|c| c.name == name)?.context.as_ref()?;
    let cluster = kubeconfig.clusters.iter().find(|c| c.name == context.cluster)?;
    cluster.cluster.as_ref()?.server.clone()
}
