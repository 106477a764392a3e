//! The cluster lane: deploys a case's manifests to a kube context the user allowed, waits for the rollout, runs the
//! probes inside the workload's pod, and tears down what it made. Results from KWOK-managed nodes are simulated.

mod connect;
mod ownership;

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::Client;
use kube::api::{Api, AttachParams, ListParams, PostParams};
use kube::runtime::wait::await_condition;
use serde_json::json;
use tokio::io::AsyncReadExt;

use crate::classify::Class;
use crate::lanes::probe::{bind_args, layer_args, layer_stages, parse_report, pod_argv, step_result};
use crate::lanes::{Context, record, skipped};
use crate::outcome::{Evidence, Outcome, StepResult};
use crate::render::{self, MANAGED_BY};
use crate::scenario::matrix::Case;
use crate::scenario::model::{Environment, Probe};
use crate::scenario::version::Requirement;

pub use connect::{Error as ContextError, Target, check};
pub use ownership::Ledger;

/// Marks a node KWOK simulates: what runs there is not Windows.
const KWOK_NODE: &str = "kwok.x-k8s.io/node";
const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(300);
const EXEC_TIMEOUT: Duration = Duration::from_secs(120);
const DELETE_TIMEOUT: Duration = Duration::from_secs(120);

/// Why the cluster lane cannot run `case` here, or `None` when it can.
pub fn unavailable(case: &Case, context: &Context) -> Option<String> {
    let allowed = &case.loaded.scenario.cluster.contexts;
    match &context.cluster {
        Some(target) if target.testbed || target.broken.is_some() || allowed.contains(&target.name) => None,
        Some(target) => Some(format!(
            "context `{}` is not one this scenario may act on (allowed: {}, and the harness's test bed)",
            target.name,
            allowed.join(", ")
        )),
        None => Some(format!(
            "no kube context named (pass --context; this scenario allows {}, and the harness's test bed)",
            allowed.join(", ")
        )),
    }
}

/// A connection to the allowed context and what the lane found on the target node.
struct Connected {
    /// The kube context's name.
    context: String,
    client: Client,
    timeout: Duration,
    evidence: Evidence,
    observed: Environment,
}

/// Runs `case` against the context in `context` (which [`unavailable`] has checked).
pub async fn run(case: &Case, context: &Context) -> Vec<Outcome> {
    let Some(target) = &context.cluster else {
        return vec![skipped(case, "lane", "no kube context".to_owned())];
    };
    let mut connected = match preflight(case, target).await {
        Ok(connected) => connected,
        Err(outcome) => return vec![*outcome],
    };
    let mut outcomes = deploy_probe_teardown(case, context, &mut connected).await;
    for outcome in &mut outcomes {
        outcome.evidence = connected.evidence;
        outcome.observed = connected.observed.clone();
    }
    outcomes
}

/// Connects, finds a node the scenario selects, and checks the scenario's preconditions against what it reports.
async fn preflight(case: &Case, target: &Target) -> Result<Connected, Box<Outcome>> {
    let infra = |message: String| {
        Box::new(record(
            case,
            "preflight",
            failed(Class::ExecFailed, message),
            Evidence::Real,
            json!(null),
        ))
    };
    if let Some(reason) = &target.broken {
        return Err(infra(format!("cannot use context `{}`: {reason}", target.name)));
    }
    let client = connect::client(target)
        .await
        .map_err(|e| infra(format!("cannot connect to context `{}`: {e}", target.name)))?;
    let selector = selector(&case.loaded.scenario.cluster.node_selector);
    let nodes = connect::bounded(
        target.request_timeout,
        "cannot list nodes",
        Api::<Node>::all(client.clone()).list(&ListParams::default().labels(&selector)),
    )
    .await
    .map_err(infra)?;
    let Some(node) = nodes.items.first() else {
        return Err(Box::new(skipped(
            case,
            "preflight",
            format!("no node matches the nodeSelector {selector}"),
        )));
    };
    let evidence = evidence_of(node);
    let observed = observed_environment(node);
    if let Some(outcome) = unmet_requirement(case, &observed) {
        return Err(Box::new(Outcome {
            evidence,
            observed,
            ..outcome
        }));
    }
    Ok(Connected {
        context: target.name.clone(),
        client,
        timeout: target.request_timeout,
        evidence,
        observed,
    })
}

/// `key=value,...`: a label selector.
fn selector<'a>(labels: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    labels
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// What a node's results are: simulated when KWOK manages it.
fn evidence_of(node: &Node) -> Evidence {
    let simulated = node
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(KWOK_NODE));
    if simulated { Evidence::Simulated } else { Evidence::Real }
}

/// The skipped preflight of a case whose `requires` the observed environment does not meet.
fn unmet_requirement(case: &Case, observed: &Environment) -> Option<Outcome> {
    case.loaded
        .scenario
        .cluster
        .requires
        .iter()
        .find_map(|(component, requirement)| {
            let found = observed.get(*component).unwrap_or("unknown");
            (!Requirement::parse(requirement).is_ok_and(|r| r.matches(found))).then(|| {
                skipped(
                    case,
                    "preflight",
                    format!(
                        "{} is {found} here; the scenario requires {requirement}",
                        component.as_str()
                    ),
                )
            })
        })
}

/// The versions a node reports: containerd, kubelet, the Windows build (`kernelVersion` 10.0.BUILD.UBR).
fn observed_environment(node: &Node) -> Environment {
    let info = node.status.as_ref().and_then(|s| s.node_info.as_ref());
    let kubelet = info.map(|i| i.kubelet_version.clone());
    Environment {
        k0s: kubelet.clone().filter(|v| v.contains("+k0s")),
        containerd: info.and_then(|i| {
            i.container_runtime_version
                .strip_prefix("containerd://")
                .map(str::to_owned)
        }),
        windows_build: info
            .filter(|i| i.operating_system == "windows")
            .map(|i| i.kernel_version.trim_start_matches("10.0.").to_owned()),
        kubelet,
        buildkit: None,
    }
}

/// The workload as it runs: its namespace's pods, the pod that runs it, and the container under test.
struct Workload {
    pods: Api<Pod>,
    pod: Option<String>,
    container: String,
}

async fn deploy_probe_teardown(case: &Case, context: &Context, connected: &mut Connected) -> Vec<Outcome> {
    let manifests = render::render(case, &context.run_id, &context.overrides);
    let namespace = manifests.namespace.metadata.name.clone().unwrap_or_default();
    let namespaces = Api::<Namespace>::all(connected.client.clone());
    let detail = json!({ "namespace": namespace });
    let started = Instant::now();
    // Safety: act only inside a namespace this run created; any doubt stops the case with nothing changed.
    let claim = match ownership::claim(&namespaces, &manifests.namespace, &context.ledger, connected.timeout).await {
        Ok(claim) => claim,
        Err(reason) => {
            let result = failed(Class::NotOwned, reason);
            return vec![timed(
                record(case, "rollout", result, connected.evidence, detail),
                started,
            )];
        }
    };
    let mut outcomes = Vec::new();
    let rollout = rollout(connected, &manifests, &namespace).await;
    let mut workload = Workload {
        pods: Api::<Pod>::namespaced(connected.client.clone(), &namespace),
        pod: None,
        container: container_under_test(case, &manifests.daemonset),
    };
    let result = match rollout {
        Ok(pod) => {
            workload.pod = pod.metadata.name.clone();
            // The versions that matter are those of the node the workload runs on.
            if let Some(node) = node_of(connected, &pod).await {
                connected.evidence = evidence_of(&node);
                connected.observed = observed_environment(&node);
            }
            StepResult::Ok
        }
        Err(result) => result,
    };
    outcomes.push(timed(
        record(case, "rollout", result, connected.evidence, detail.clone()),
        started,
    ));

    for (name, probe) in &case.loaded.scenario.probes {
        let step = format!("probe/{name}");
        let Some(pod) = &workload.pod else {
            outcomes.push(skipped(case, &step, "the workload did not roll out".to_owned()));
            continue;
        };
        let started = Instant::now();
        outcomes.push(timed(
            run_probe(case, &workload, pod, &step, probe, connected.evidence).await,
            started,
        ));
    }
    if case.loaded.scenario.variants[case.variant.as_str()]
        .register_service
        .is_some()
    {
        outcomes.push(service(case, &workload, connected.evidence).await);
    }
    for name in case.loaded.scenario.builds.keys() {
        let reason = "sending builds to the workload's buildkitd through the cluster lane is not built yet".to_owned();
        outcomes.push(skipped(case, &format!("build/{name}"), reason));
    }
    let started = Instant::now();
    let result = teardown(case, &workload, connected, &namespaces, &claim, context).await;
    outcomes.push(timed(
        record(case, "teardown", result, connected.evidence, detail),
        started,
    ));
    outcomes
}

/// The name of the container under test: `workload.container`, else the first (validation ensures it is the only).
fn container_under_test(case: &Case, daemonset: &DaemonSet) -> String {
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
async fn node_of(connected: &Connected, pod: &Pod) -> Option<Node> {
    let name = pod.spec.as_ref()?.node_name.as_ref()?;
    let nodes = Api::<Node>::all(connected.client.clone());
    connect::bounded(connected.timeout, "reading the pod's node", nodes.get(name))
        .await
        .ok()
}

/// Creates the DaemonSet in this run's namespace and waits until it is ready; the pod that runs it, or why not.
async fn rollout(connected: &Connected, manifests: &render::Manifests, namespace: &str) -> Result<Pod, StepResult> {
    let daemonset_name = manifests.daemonset.metadata.name.clone().unwrap_or_default();
    let daemonsets = Api::<DaemonSet>::namespaced(connected.client.clone(), namespace);
    let params = PostParams {
        field_manager: Some("harness".to_owned()),
        ..PostParams::default()
    };
    connect::bounded(
        connected.timeout,
        "cannot create the DaemonSet",
        daemonsets.create(&params, &manifests.daemonset),
    )
    .await
    .map_err(|e| failed(Class::ExecFailed, e))?;
    let ready = tokio::time::timeout(
        ROLLOUT_TIMEOUT,
        await_condition(daemonsets.clone(), &daemonset_name, daemonset_ready),
    )
    .await;
    let pods = Api::<Pod>::namespaced(connected.client.clone(), namespace);
    let labels = manifests
        .daemonset
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    let listed = connect::bounded(
        connected.timeout,
        "cannot list the workload's pods",
        pods.list(&ListParams::default().labels(&selector(&labels))),
    )
    .await
    .map(|l| l.items);
    match (ready, listed) {
        (_, Err(e)) => Err(failed(Class::ExecFailed, e)),
        (Ok(Ok(_)), Ok(listed)) => listed.into_iter().find(|p| p.metadata.name.is_some()).ok_or_else(|| {
            failed(
                Class::RolloutTimeout,
                "the DaemonSet is ready but has no pod".to_owned(),
            )
        }),
        (Ok(Err(e)), _) => Err(failed(
            Class::ExecFailed,
            crate::redact::secrets(&format!("watching the DaemonSet failed: {e}")).into_owned(),
        )),
        (Err(_), Ok(listed)) => Err(stuck(&listed)),
    }
}

/// Ready: observed the newest generation, and every scheduled pod updated and ready (at least one).
fn daemonset_ready(daemonset: Option<&DaemonSet>) -> bool {
    let Some(daemonset) = daemonset else { return false };
    let generation = daemonset.metadata.generation.unwrap_or(0);
    daemonset.status.as_ref().is_some_and(|s| {
        s.observed_generation.unwrap_or(0) >= generation
            && s.desired_number_scheduled > 0
            && s.updated_number_scheduled.unwrap_or(0) == s.desired_number_scheduled
            && s.number_ready == s.desired_number_scheduled
    })
}

/// Why pods did not become ready, from their container states, classified like any other text.
fn stuck(pods: &[Pod]) -> StepResult {
    let waiting: Vec<String> = pods
        .iter()
        .flat_map(|p| p.status.iter().flat_map(|s| s.container_statuses.iter().flatten()))
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref())
        .map(|w| {
            format!(
                "{}: {}",
                w.reason.as_deref().unwrap_or("Waiting"),
                w.message.as_deref().unwrap_or("")
            )
        })
        .collect();
    let text = waiting.join("\n");
    let class = match crate::classify::classify(&text).class {
        Some(class @ (Class::ImagePullFailed | Class::CrashLoop)) => class,
        _ => Class::RolloutTimeout,
    };
    let first = waiting
        .first()
        .cloned()
        .unwrap_or_else(|| format!("not ready after {}s", ROLLOUT_TIMEOUT.as_secs()));
    failed(class, first)
}

async fn run_probe(
    case: &Case,
    workload: &Workload,
    pod: &str,
    step: &str,
    probe: &Probe,
    evidence: Evidence,
) -> Outcome {
    let args = match probe {
        Probe::Bind(bind) => bind_args(&bind.src, &bind.dst, bind.read_write),
        Probe::Layer(layer) if layer.snapshot == "latest" => {
            let reason =
                "finding the newest containerd snapshot on a node is not built yet: give a snapshot folder".to_owned();
            return skipped(case, step, reason);
        }
        Probe::Layer(layer) => layer_args(&layer.snapshot, &layer.dst, &[]),
    };
    let argv = pod_argv(&args);
    let Output { stdout, stderr, .. } = match exec(workload, pod, argv.clone()).await {
        Ok(output) => output,
        Err(e) => {
            return record(
                case,
                step,
                failed(Class::ExecFailed, e),
                evidence,
                json!({ "command": argv }),
            );
        }
    };
    let Ok(report) = parse_report(&stdout) else {
        let message = format!(
            "bindprobe printed no report: {}",
            stderr.lines().next().unwrap_or(stdout.trim())
        );
        return record(
            case,
            step,
            failed(Class::ExecFailed, message),
            evidence,
            json!({ "command": argv }),
        );
    };
    let mut outcome = record(case, step, step_result(&report), evidence, json!({ "command": argv }));
    if matches!(probe, Probe::Layer(_)) {
        outcome.stages = layer_stages(&report);
    }
    outcome
}

/// The workaround's service: running, as `sc.exe` reports it. A simulated node runs no container command, so
/// nothing there registers the service: the step is skipped rather than failed.
async fn service(case: &Case, workload: &Workload, evidence: Evidence) -> Outcome {
    let Some(service) = &case.loaded.scenario.variants[case.variant.as_str()].register_service else {
        return skipped(case, "service", "this variant registers no service".to_owned());
    };
    if evidence == Evidence::Simulated {
        return skipped(
            case,
            "service",
            "a simulated node runs no container command, so nothing registered the service".to_owned(),
        );
    }
    let Some(pod) = &workload.pod else {
        return skipped(case, "service", "the workload did not roll out".to_owned());
    };
    let result = match exec(
        workload,
        pod,
        vec!["sc.exe".into(), "query".into(), service.name.clone()],
    )
    .await
    {
        Ok(output) if output.stdout.contains("RUNNING") => StepResult::Ok,
        Ok(output) => {
            let text = format!("{}\n{}", output.stdout, output.stderr);
            let class = crate::classify::classify(&text).class.unwrap_or(Class::Unknown);
            failed(
                class,
                text.lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("not running")
                    .trim()
                    .to_owned(),
            )
        }
        Err(e) => failed(Class::ExecFailed, e),
    };
    record(case, "service", result, evidence, json!({ "service": service.name }))
}

/// Stops and unregisters the workaround's service (the workload's own stop script, which touches only a service the
/// harness marked as its own), then deletes this run's namespace (by uid) and waits until it is gone.
async fn teardown(
    case: &Case,
    workload: &Workload,
    connected: &Connected,
    namespaces: &Api<Namespace>,
    claim: &ownership::Claim,
    context: &Context,
) -> StepResult {
    let (ledger, run_id) = (&context.ledger, &context.run_id);
    let mut notes = Vec::new();
    let service = &case.loaded.scenario.variants[case.variant.as_str()].register_service;
    if let (Some(_), Some(pod), Evidence::Real) = (service, &workload.pod, connected.evidence) {
        let stop = render::powershell(&render::service_stop_script());
        match exec(workload, pod, stop).await {
            Ok(output) if output.success == Some(true) => {}
            Ok(output) => notes.push(format!(
                "the service may still be registered: {}",
                format!("{}\n{}", output.stdout, output.stderr).trim()
            )),
            Err(e) => notes.push(format!("cannot stop the service: {e}")),
        }
    }
    let released = ownership::release(namespaces, claim, ledger, connected.timeout, DELETE_TIMEOUT).await;
    match (released, notes.is_empty()) {
        (Ok(()), true) => StepResult::Ok,
        (Ok(()), false) => failed(Class::ExecFailed, notes.join("; ")),
        (Err(e), _) => failed(
            Class::StepTimeout,
            format!(
                "{e}; remove what is left with `harness janitor --context {} --run-id {}`",
                connected.context, run_id
            ),
        ),
    }
}

/// What a command run in the workload printed, and whether it exited 0 (when the API says).
struct Output {
    stdout: String,
    stderr: String,
    success: Option<bool>,
}

/// Runs `argv` in the container under test; what it printed, or why it could not run.
async fn exec(workload: &Workload, pod: &str, argv: Vec<String>) -> Result<Output, String> {
    let run = async {
        let params = AttachParams::default()
            .container(workload.container.clone())
            .stdin(false)
            .stdout(true)
            .stderr(true);
        let mut attached = workload
            .pods
            .exec(pod, argv.clone(), &params)
            .await
            .map_err(|e| crate::redact::secrets(&e.to_string()).into_owned())?;
        let (mut stdout, mut stderr) = (String::new(), String::new());
        let status = attached.take_status();
        let (out, err) = (attached.stdout(), attached.stderr());
        let read_out = async {
            if let Some(mut s) = out {
                let _ = s.read_to_string(&mut stdout).await;
            }
        };
        let read_err = async {
            if let Some(mut s) = err {
                let _ = s.read_to_string(&mut stderr).await;
            }
        };
        tokio::join!(read_out, read_err);
        let success = match status {
            Some(status) => status.await.map(|s| s.status.as_deref() == Some("Success")),
            None => None,
        };
        let _ = attached.join().await;
        Ok::<_, String>(Output {
            stdout,
            stderr,
            success,
        })
    };
    let shown = argv.first().cloned().unwrap_or_default();
    tokio::time::timeout(EXEC_TIMEOUT, run)
        .await
        .map_err(|_| format!("`{shown}` did not finish within {}s", EXEC_TIMEOUT.as_secs()))?
}

fn failed(class: Class, message: String) -> StepResult {
    StepResult::Failed {
        class,
        code: None,
        stage: None,
        first_error: Some(message),
    }
}

fn timed(mut outcome: Outcome, started: Instant) -> Outcome {
    outcome.duration_ms = Some(started.elapsed().as_millis() as u64);
    outcome
}

/// Releases every claim of this run still standing (after an interruption): only namespaces this run created, by uid.
pub async fn release_standing(target: &Target, ledger: &Ledger) -> Result<Vec<String>, String> {
    let client = connect::client(target).await.map_err(|e| e.to_string())?;
    let namespaces = Api::<Namespace>::all(client);
    ledger.settle(target.request_timeout).await;
    let mut released = Vec::new();
    for claim in ledger.standing() {
        ownership::release(&namespaces, &claim, ledger, target.request_timeout, DELETE_TIMEOUT).await?;
        released.push(claim.namespace);
    }
    Ok(released)
}

/// Deletes the namespaces earlier runs of the harness left on `target` (only those of `run_id`, when given), waits
/// until they are gone, and returns their names. A namespace without the harness's run label is never touched, and
/// each is deleted with its uid as a precondition, so one replaced since it was listed is left alone.
pub async fn janitor(target: &Target, run_id: Option<&str>) -> Result<Vec<String>, String> {
    let client = connect::client(target).await.map_err(|e| e.to_string())?;
    let namespaces = Api::<Namespace>::all(client);
    let mut selector = format!("{}={},{}", MANAGED_BY.0, MANAGED_BY.1, render::RUN_LABEL);
    if let Some(run_id) = run_id {
        selector.push_str(&format!("={run_id}"));
    }
    let found = connect::bounded(
        target.request_timeout,
        "cannot list the harness's namespaces",
        namespaces.list(&ListParams::default().labels(&selector)),
    )
    .await?;
    let ledger = Ledger::default();
    let mut removed = Vec::new();
    for namespace in found.items {
        let (Some(name), Some(uid)) = (namespace.metadata.name, namespace.metadata.uid) else {
            continue;
        };
        let claim = ownership::Claim { namespace: name, uid };
        ownership::release(&namespaces, &claim, &ledger, target.request_timeout, DELETE_TIMEOUT).await?;
        removed.push(claim.namespace);
    }
    Ok(removed)
}
