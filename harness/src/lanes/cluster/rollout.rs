//! Rollout: the DaemonSet created in this run's namespace, its image pulled (a step of its own: Windows images are
//! gigabytes), then awaited until ready; the pod that runs it, or what was seen instead. Both waits watch the API
//! (no polling) and stop early when the kubelet gives up: an image it backs off pulling, a container it backs off
//! restarting. A failure's text carries the waiting reason, the last termination and the previous log's tail, so
//! the judge classifies the mechanism, not only the symptom.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ContainerStatus, Node, Pod};
use kube::api::{Api, ListParams, LogParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::runtime::{WatchStreamExt, watcher};

use crate::classify::Class;
use crate::lanes::Unobserved;
use crate::lanes::cluster::Connected;
use crate::lanes::cluster::connect;
use crate::lanes::cluster::preflight::selector;
use crate::outcome::{Failure, Seen};
use crate::render::Manifests;
use crate::scenario::matrix::Case;

/// How long the image may take to pull, unless the scenario says (`workload.pullTimeout`).
pub const PULL_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How long the workload may take to be ready once pulled, unless the scenario says (`workload.rolloutTimeout`).
pub const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(300);
/// The most lines of a crashed container's previous log put into the text the judge reads.
const PREVIOUS_LOG_LINES: i64 = 200;

/// Waiting reasons after which the kubelet will not get the image without a change.
const PULL_GAVE_UP: &[&str] = &["ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"];
/// Waiting reasons after which the container will not become ready without a change.
const START_GAVE_UP: &[&str] = &[
    "CrashLoopBackOff",
    "CreateContainerError",
    "CreateContainerConfigError",
    "RunContainerError",
];
/// Waiting reasons while the image is still on its way.
const PULLING: &[&str] = &["ContainerCreating", "PodInitializing", "ErrImagePull"];

/// The workload's objects as the waits need them.
pub struct Rolling<'a> {
    pub connected: &'a Connected,
    pub manifests: &'a Manifests,
    pub pods: Api<Pod>,
    pub container: &'a str,
}

impl Rolling<'_> {
    fn daemonset_name(&self) -> String {
        self.manifests.daemonset.metadata.name.clone().unwrap_or_default()
    }

    fn pod_selector(&self) -> String {
        let labels = self
            .manifests
            .daemonset
            .spec
            .as_ref()
            .and_then(|s| s.selector.match_labels.clone())
            .unwrap_or_default();
        selector(&labels)
    }
}

/// Creates the DaemonSet in `namespace` (this run's): its name and uid.
pub async fn create(rolling: &Rolling<'_>, namespace: &str) -> Result<(String, String), Seen> {
    let daemonsets = Api::<DaemonSet>::namespaced(rolling.connected.client.clone(), namespace);
    let params = PostParams {
        field_manager: Some("harness".to_owned()),
        ..PostParams::default()
    };
    let created = connect::bounded(
        rolling.connected.timeout,
        "cannot create the DaemonSet",
        daemonsets.create(&params, &rolling.manifests.daemonset),
    )
    .await
    .map_err(Unobserved::Api)?;
    Ok((rolling.daemonset_name(), created.metadata.uid.unwrap_or_default()))
}

/// Waits until a pod of the workload has its image (its container under test started, or at least created), or the
/// kubelet gave up pulling it, or `timeout` passed.
pub async fn pull(rolling: &Rolling<'_>, timeout: Duration) -> Seen {
    let config = watcher::Config::default().labels(&rolling.pod_selector());
    let mut last: Option<Pod> = None;
    let watch = async {
        let mut pods = std::pin::pin!(
            watcher(rolling.pods.clone(), config)
                .default_backoff()
                .applied_objects()
        );
        while let Some(pod) = pods.next().await {
            let pod = match pod {
                Ok(pod) => pod,
                Err(e) => return Unobserved::Api(format!("watching the workload's pods failed: {e}")).into(),
            };
            let status = container_status(&pod, rolling.container);
            match status.as_ref().and_then(waiting_reason) {
                Some(reason) if PULL_GAVE_UP.contains(&reason) => {
                    return gave_up(rolling, &pod, Class::ImagePullFailed).await;
                }
                Some(reason) if PULLING.contains(&reason) => {}
                // Running, terminated, or waiting for another reason than the image: the image is there.
                _ if status.is_some() => return Seen::Ok,
                _ => {}
            }
            last = Some(pod);
        }
        Unobserved::Api("the watch of the workload's pods ended".to_owned()).into()
    };
    let client = rolling.connected.client.clone();
    let watch = async {
        connect::while_answering(client, rolling.connected.timeout, watch)
            .await
            .unwrap_or_else(|gone| Unobserved::Api(gone).into())
    };
    match tokio::time::timeout(timeout, watch).await {
        Ok(seen) => seen,
        Err(_) => {
            let line = format!(
                "the image was not pulled within {}",
                humantime::format_duration(timeout)
            );
            let text = last.as_ref().map(describe).unwrap_or_default();
            Failure::text(line.clone(), format!("{text}\n{line}"), Class::StepTimeout).into()
        }
    }
}

/// Waits until the DaemonSet is ready: the pod that runs it; or the container's start failing for good, or
/// `timeout` passing, with what the pods showed.
pub async fn ready(rolling: &Rolling<'_>, namespace: &str, timeout: Duration) -> Result<Pod, Seen> {
    let daemonsets = Api::<DaemonSet>::namespaced(rolling.connected.client.clone(), namespace);
    let name = rolling.daemonset_name();
    let config = watcher::Config::default().labels(&rolling.pod_selector());
    let failing = async {
        let pods = watcher(rolling.pods.clone(), config)
            .default_backoff()
            .applied_objects();
        let mut pods = std::pin::pin!(pods.try_filter(|pod| {
            let reason = container_status(pod, rolling.container)
                .as_ref()
                .and_then(waiting_reason)
                .map(str::to_owned);
            std::future::ready(reason.is_some_and(|r| START_GAVE_UP.contains(&r.as_str())))
        }));
        match pods.next().await {
            Some(Ok(pod)) => gave_up(rolling, &pod, Class::CrashLoop).await,
            Some(Err(e)) => Unobserved::Api(format!("watching the workload's pods failed: {e}")).into(),
            None => Unobserved::Api("the watch of the workload's pods ended".to_owned()).into(),
        }
    };
    let both = async {
        tokio::select! {
            ready = await_condition(daemonsets, &name, is_ready) => ready.map(|_| ()).map_err(|e| {
                Seen::from(Unobserved::Api(format!("watching the DaemonSet failed: {e}")))
            }),
            seen = failing => Err(seen),
        }
    };
    let client = rolling.connected.client.clone();
    let outcome = tokio::time::timeout(timeout, async {
        match connect::while_answering(client, rolling.connected.timeout, both).await {
            Ok(result) => result,
            Err(gone) => Err(Unobserved::Api(gone).into()),
        }
    })
    .await;
    let listed = connect::bounded(
        rolling.connected.timeout,
        "cannot list the workload's pods",
        rolling
            .pods
            .list(&ListParams::default().labels(&rolling.pod_selector())),
    )
    .await
    .map_err(Unobserved::Api)?
    .items;
    match outcome {
        Ok(Ok(())) => listed
            .into_iter()
            .find(|p| p.metadata.name.is_some())
            .ok_or_else(|| Failure::unobserved(Class::RolloutTimeout, "the DaemonSet is ready but has no pod").into()),
        Ok(Err(seen)) => Err(seen),
        Err(_) => {
            let line = format!("not ready within {}", humantime::format_duration(timeout));
            let text: Vec<String> = listed.iter().map(describe).collect();
            Err(Failure::text(
                line.clone(),
                format!("{}\n{line}", text.join("\n")),
                Class::RolloutTimeout,
            )
            .into())
        }
    }
}

/// Ready: observed the newest generation, and every scheduled pod updated and ready (at least one).
fn is_ready(daemonset: Option<&DaemonSet>) -> bool {
    let Some(daemonset) = daemonset else { return false };
    let generation = daemonset.metadata.generation.unwrap_or(0);
    daemonset.status.as_ref().is_some_and(|s| {
        s.observed_generation.unwrap_or(0) >= generation
            && s.desired_number_scheduled > 0
            && s.updated_number_scheduled.unwrap_or(0) == s.desired_number_scheduled
            && s.number_ready == s.desired_number_scheduled
    })
}

/// The kubelet gave up on `pod`: its waiting reason, last termination and previous log, for the judge to classify
/// (`otherwise` when nothing in them is recognised).
async fn gave_up(rolling: &Rolling<'_>, pod: &Pod, otherwise: Class) -> Seen {
    let mut text = describe(pod);
    let restarted = container_status(pod, rolling.container).is_some_and(|s| s.restart_count > 0);
    if let (true, Some(name)) = (restarted, pod.metadata.name.as_deref()) {
        let params = LogParams {
            container: Some(rolling.container.to_owned()),
            previous: true,
            tail_lines: Some(PREVIOUS_LOG_LINES),
            ..LogParams::default()
        };
        if let Ok(log) = connect::bounded(rolling.connected.timeout, "", rolling.pods.logs(name, &params)).await {
            text.push_str("\nprevious log:\n");
            text.push_str(&log);
        }
    }
    let line = text.lines().next().unwrap_or_default().to_owned();
    Failure::text(line, text, otherwise).into()
}

/// A pod's container states as text: `Reason: message` while waiting, then the last termination.
fn describe(pod: &Pod) -> String {
    let statuses = pod.status.iter().flat_map(|s| s.container_statuses.iter().flatten());
    let mut lines = Vec::new();
    for status in statuses {
        if let Some(waiting) = status.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            lines.push(format!(
                "{}: {}",
                waiting.reason.as_deref().unwrap_or("Waiting"),
                waiting.message.as_deref().unwrap_or("")
            ));
        }
        if let Some(terminated) = status.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
            lines.push(format!(
                "last terminated: exit code {} ({}): {}",
                terminated.exit_code,
                terminated.reason.as_deref().unwrap_or("-"),
                terminated.message.as_deref().unwrap_or("").trim_end()
            ));
        }
    }
    lines.join("\n")
}

/// The status of container `name` in `pod`, once the kubelet reported one.
fn container_status(pod: &Pod, name: &str) -> Option<ContainerStatus> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == name)
        .cloned()
}

fn waiting_reason(status: &ContainerStatus) -> Option<&str> {
    status.state.as_ref()?.waiting.as_ref()?.reason.as_deref()
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
