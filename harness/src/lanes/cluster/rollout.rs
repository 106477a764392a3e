//! Rollout: the workload's image pulled (a step of its own: Windows images are gigabytes), then every object of it
//! that runs pods awaited until ready, each by its kind's rule; the pod under test, or what was seen instead. Both
//! waits watch the API (no polling) and stop early when the kubelet gives up on any pod of the run's namespace: an
//! image it backs off pulling, a container it backs off restarting. A failure's text carries the waiting reason, the
//! last termination and the previous log's tail, so the judge classifies the mechanism, not only the symptom.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ContainerStatus, Event, Node, Pod};
use kube::api::{Api, DynamicObject, ListParams, LogParams};
use kube::runtime::wait::await_condition;
use kube::runtime::{WatchStreamExt, watcher};

use crate::classify::Class;
use crate::lanes::Unobserved;
use crate::lanes::cluster::Connected;
use crate::lanes::cluster::apply::Made;
use crate::lanes::cluster::connect;
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
    /// The pods of the run's namespace: the workload's, and nothing else.
    pub pods: Api<Pod>,
    pub container: &'a str,
}

impl Rolling<'_> {
    /// Whether `pod` belongs to the object under test.
    fn is_under_test(&self, pod: &Pod) -> bool {
        let object = self.manifests.under_test();
        if object.kind == "Pod" {
            return pod.metadata.name.as_deref() == Some(object.name.as_str());
        }
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let selector = object.pod_labels();
        !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
}

/// Waits until a pod under test has its image (its container under test started, or at least created), or the
/// kubelet gave up pulling an image of any pod of the workload, or `timeout` passed.
pub async fn pull(rolling: &Rolling<'_>, timeout: Duration) -> Seen {
    let config = watcher::Config::default();
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
            if let Some(container) = waiting_for(&pod, PULL_GAVE_UP) {
                return gave_up(rolling, &pod, &container, Class::ImagePullFailed).await;
            }
            if !rolling.is_under_test(&pod) {
                continue;
            }
            let status = container_status(&pod, rolling.container);
            match status.as_ref().and_then(waiting_reason) {
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

/// Waits until every object of the workload that runs pods is ready: the pod under test; or a container's start
/// failing for good, or `timeout` passing, with what the pods showed.
pub async fn ready(rolling: &Rolling<'_>, made: &Made, timeout: Duration) -> Result<Pod, Seen> {
    let failing = async {
        let pods = watcher(rolling.pods.clone(), watcher::Config::default())
            .default_backoff()
            .applied_objects();
        let mut pods =
            std::pin::pin!(pods.try_filter(|pod| std::future::ready(waiting_for(pod, START_GAVE_UP).is_some())));
        match pods.next().await {
            Some(Ok(pod)) => {
                let container = waiting_for(&pod, START_GAVE_UP).unwrap_or_default();
                gave_up(rolling, &pod, &container, Class::CrashLoop).await
            }
            Some(Err(e)) => Unobserved::Api(format!("watching the workload's pods failed: {e}")).into(),
            None => Unobserved::Api("the watch of the workload's pods ended".to_owned()).into(),
        }
    };
    let namespace = rolling.manifests.namespace.metadata.name.clone().unwrap_or_default();
    let all_ready = futures::future::try_join_all(made.objects.iter().filter(|o| o.runs_pods).map(|object| {
        let api = Api::<DynamicObject>::namespaced_with(rolling.connected.client.clone(), &namespace, &object.resource);
        let kind = object.resource.kind.clone();
        async move {
            await_condition(api, &object.name, move |o: Option<&DynamicObject>| {
                o.is_some_and(|o| is_ready(&kind, o))
            })
            .await
            .map_err(|e| {
                Seen::from(Unobserved::Api(format!(
                    "watching {}/{} failed: {e}",
                    object.resource.kind, object.name
                )))
            })
        }
    }));
    let both = async {
        tokio::select! {
            ready = all_ready => ready.map(|_| ()),
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
        rolling.pods.list(&ListParams::default()),
    )
    .await
    .map_err(Unobserved::Api)?
    .items;
    match outcome {
        Ok(Ok(())) => {
            let mut under_test: Vec<Pod> = listed.into_iter().filter(|p| rolling.is_under_test(p)).collect();
            // A ready pod first, then a running one, then any.
            under_test.sort_by_key(|p| {
                let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                (!pod_ready(p), !running)
            });
            under_test
                .into_iter()
                .find(|p| p.metadata.name.is_some())
                .ok_or_else(|| {
                    Failure::unobserved(
                        Class::RolloutTimeout,
                        "the workload is ready but its object under test has no pod",
                    )
                    .into()
                })
        }
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

/// Whether an object that runs pods is ready, by its kind's rule: a DaemonSet, Deployment or StatefulSet has seen
/// its newest generation and every pod it wants is updated and ready (at least one, for a DaemonSet); a Job has a
/// ready or a succeeded pod; a Pod is ready, or has run to completion.
fn is_ready(kind: &str, object: &DynamicObject) -> bool {
    let status = &object.data["status"];
    let number = |key: &str| status.get(key).and_then(serde_json::Value::as_i64).unwrap_or(0);
    let current = number("observedGeneration") >= object.metadata.generation.unwrap_or(0);
    let wanted = object.data["spec"]
        .get("replicas")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(1);
    match kind {
        "DaemonSet" => {
            let desired = number("desiredNumberScheduled");
            current && desired > 0 && number("updatedNumberScheduled") == desired && number("numberReady") == desired
        }
        "Deployment" => current && number("updatedReplicas") == wanted && number("availableReplicas") == wanted,
        "StatefulSet" => current && number("readyReplicas") == wanted,
        "Job" => number("ready") > 0 || number("succeeded") > 0,
        "Pod" => {
            let ready = status
                .get("conditions")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
            ready || status["phase"] == "Succeeded"
        }
        _ => true,
    }
}

/// Whether the pod's `Ready` condition is true.
fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The first container of `pod` waiting for one of `reasons`.
fn waiting_for(pod: &Pod, reasons: &[&str]) -> Option<String> {
    let status = pod.status.as_ref()?;
    status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .find(|c| waiting_reason(c).is_some_and(|r| reasons.contains(&r)))
        .map(|c| c.name.clone())
}

/// The kubelet gave up on `container` of `pod`: its waiting reason, last termination, previous log and the pod's
/// warning events, for the judge to classify (`otherwise` when nothing in them is recognised).
async fn gave_up(rolling: &Rolling<'_>, pod: &Pod, container: &str, otherwise: Class) -> Seen {
    let mut text = describe(pod);
    let restarted = container_status(pod, container).is_some_and(|s| s.restart_count > 0);
    if let (true, Some(name)) = (restarted, pod.metadata.name.as_deref()) {
        let params = LogParams {
            container: Some(container.to_owned()),
            previous: true,
            tail_lines: Some(PREVIOUS_LOG_LINES),
            ..LogParams::default()
        };
        if let Ok(log) = connect::bounded(rolling.connected.timeout, "", rolling.pods.logs(name, &params)).await {
            text.push_str("\nprevious log:\n");
            text.push_str(&log);
        }
    }
    // What the kubelet said of the pod in events (a failed start's full error is often only there).
    if let Some(name) = pod.metadata.name.as_deref() {
        let events = Api::<Event>::namespaced(
            rolling.connected.client.clone(),
            &pod.metadata.namespace.clone().unwrap_or_default(),
        );
        let params = ListParams::default().fields(&format!("involvedObject.name={name}"));
        if let Ok(listed) = connect::bounded(rolling.connected.timeout, "", events.list(&params)).await {
            for event in listed.items.iter().filter(|e| e.type_.as_deref() == Some("Warning")) {
                text.push_str(&format!(
                    "\nevent {}: {}",
                    event.reason.as_deref().unwrap_or("-"),
                    event.message.as_deref().unwrap_or("").trim_end()
                ));
            }
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
    let status = pod.status.as_ref()?;
    status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
        .find(|c| c.name == name)
        .cloned()
}

fn waiting_reason(status: &ContainerStatus) -> Option<&str> {
    status.state.as_ref()?.waiting.as_ref()?.reason.as_deref()
}

/// The name of the container under test: `workload.container`, else the first of the object under test.
pub fn container_under_test(case: &Case, manifests: &Manifests) -> String {
    let first = manifests
        .under_test()
        .pod_spec()
        .and_then(|p| p.containers.first().map(|c| c.name.clone()));
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
