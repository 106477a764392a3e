//! The cluster lane: deploys a case's manifests to a kube context the user allowed, waits for the rollout, runs the
//! probes inside the workload's pod, and tears down what it made. Results from KWOK-managed nodes are simulated.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, AttachParams, DeleteParams, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, Config};
use serde_json::json;
use tokio::io::AsyncReadExt;

use crate::classify::Class;
use crate::lanes::host::{ProbeReport, layer_stages, step_result};
use crate::lanes::{Context, record, skipped};
use crate::outcome::{Evidence, Outcome, StepResult};
use crate::render::{self, MANAGED_BY};
use crate::scenario::matrix::Case;
use crate::scenario::model::{Environment, Probe};
use crate::scenario::version::Requirement;

/// The test bed's kube context (fixtures/testbed): always allowed, besides the scenario's own.
pub const TESTBED_CONTEXT: &str = "harness-testbed";
/// Marks a node KWOK simulates: what runs there is not Windows.
const KWOK_NODE: &str = "kwok.x-k8s.io/node";
const FIELD_MANAGER: &str = "harness";
const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(300);
const EXEC_TIMEOUT: Duration = Duration::from_secs(120);
const DELETE_TIMEOUT: Duration = Duration::from_secs(120);

/// Why the cluster lane cannot run `case` here, or `None` when it can.
pub fn unavailable(case: &Case, context: &Context) -> Option<String> {
    let allowed = &case.loaded.scenario.cluster.contexts;
    match &context.kube_context {
        Some(name) if allowed.contains(name) || name == TESTBED_CONTEXT => None,
        Some(name) => Some(format!(
            "context `{name}` is not one this scenario may act on (allowed: {}, and the test bed's `{TESTBED_CONTEXT}`)",
            allowed.join(", ")
        )),
        None => Some(format!(
            "no kube context named (pass --context; this scenario allows {}, and the test bed's `{TESTBED_CONTEXT}`)",
            allowed.join(", ")
        )),
    }
}

/// A connection to the allowed context and what the lane found on the target node.
struct Target {
    client: Client,
    evidence: Evidence,
    observed: Environment,
}

/// Runs `case` against the context named in `context` (which [`unavailable`] has checked).
pub async fn run(case: &Case, context: &Context) -> Vec<Outcome> {
    let name = context.kube_context.clone().unwrap_or_default();
    let target = match preflight(case, &name).await {
        Ok(target) => target,
        Err(outcome) => return vec![*outcome],
    };
    let mut outcomes = deploy_probe_teardown(case, context, &target).await;
    for outcome in &mut outcomes {
        outcome.evidence = target.evidence;
        outcome.observed = target.observed.clone();
    }
    outcomes
}

/// Connects, finds a node the scenario selects, and checks the scenario's preconditions against what it reports.
async fn preflight(case: &Case, context_name: &str) -> Result<Target, Box<Outcome>> {
    let infra = |message: String| {
        Box::new(record(
            case,
            "preflight",
            failed(Class::ExecFailed, message),
            Evidence::Real,
            json!(null),
        ))
    };
    let client = connect(context_name)
        .await
        .map_err(|e| infra(format!("cannot connect to context `{context_name}`: {e}")))?;
    let selector: Vec<String> = case
        .loaded
        .scenario
        .cluster
        .node_selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default().labels(&selector.join(",")))
        .await
        .map_err(|e| infra(format!("cannot list nodes: {e}")))?;
    let Some(node) = nodes.items.first() else {
        return Err(Box::new(skipped(
            case,
            "preflight",
            format!("no node matches the nodeSelector {}", selector.join(",")),
        )));
    };
    let simulated = node
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(KWOK_NODE));
    let evidence = if simulated { Evidence::Simulated } else { Evidence::Real };
    let observed = observed_environment(node);
    for (component, requirement) in &case.loaded.scenario.cluster.requires {
        let found = observed.get(*component).unwrap_or("unknown");
        if !Requirement::parse(requirement).is_ok_and(|r| r.matches(found)) {
            let mut outcome = skipped(
                case,
                "preflight",
                format!(
                    "{} is {found} here; the scenario requires {requirement}",
                    component.as_str()
                ),
            );
            outcome.evidence = evidence;
            outcome.observed = observed;
            return Err(Box::new(outcome));
        }
    }
    Ok(Target {
        client,
        evidence,
        observed,
    })
}

async fn connect(context_name: &str) -> Result<Client, String> {
    let kubeconfig = Kubeconfig::read().map_err(|e| e.to_string())?;
    let options = KubeConfigOptions {
        context: Some(context_name.to_owned()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| e.to_string())?;
    Client::try_from(config).map_err(|e| e.to_string())
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

async fn deploy_probe_teardown(case: &Case, context: &Context, target: &Target) -> Vec<Outcome> {
    let manifests = render::render(case, &context.run_id, &context.overrides);
    let namespace = manifests.namespace.metadata.name.clone().unwrap_or_default();
    let namespaces = Api::<Namespace>::all(target.client.clone());
    // Safety: act only inside a namespace the harness made.
    if let Ok(Some(existing)) = namespaces.get_opt(&namespace).await {
        let ours = existing
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(MANAGED_BY.0))
            .is_some_and(|v| v == MANAGED_BY.1);
        if !ours {
            let reason = format!("namespace `{namespace}` exists and was not made by the harness; nothing was changed");
            return vec![skipped(case, "rollout", reason)];
        }
    }
    let mut outcomes = Vec::new();
    let started = Instant::now();
    let rollout = rollout(target, &manifests, &namespace).await;
    let pod = rollout.as_ref().ok().cloned();
    let result = rollout.err().unwrap_or(StepResult::Ok);
    outcomes.push(timed(
        record(
            case,
            "rollout",
            result,
            target.evidence,
            json!({ "namespace": namespace }),
        ),
        started,
    ));

    let pods = Api::<Pod>::namespaced(target.client.clone(), &namespace);
    for (name, probe) in &case.loaded.scenario.probes {
        let step = format!("probe/{name}");
        let Some(pod) = &pod else {
            outcomes.push(skipped(case, &step, "the workload did not roll out".to_owned()));
            continue;
        };
        let started = Instant::now();
        outcomes.push(timed(
            run_probe(case, &pods, pod, &step, probe, target.evidence).await,
            started,
        ));
    }
    if case.loaded.scenario.variants[case.variant.as_str()]
        .register_service
        .is_some()
    {
        outcomes.push(service(case, &pods, pod.as_deref(), target).await);
    }
    for name in case.loaded.scenario.builds.keys() {
        let reason = "sending builds to the workload's buildkitd through the cluster lane is not built yet".to_owned();
        outcomes.push(skipped(case, &format!("build/{name}"), reason));
    }
    let started = Instant::now();
    outcomes.push(timed(
        teardown(case, &pods, pod.as_deref(), target, &namespace).await,
        started,
    ));
    outcomes
}

/// Applies the manifests and waits until the DaemonSet is ready; the pod that runs the workload, or why not.
async fn rollout(target: &Target, manifests: &render::Manifests, namespace: &str) -> Result<String, StepResult> {
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    let daemonset_name = manifests.daemonset.metadata.name.clone().unwrap_or_default();
    let infra = |what: &str, e: kube::Error| failed(Class::ExecFailed, format!("cannot apply the {what}: {e}"));
    Api::<Namespace>::all(target.client.clone())
        .patch(namespace, &apply, &Patch::Apply(&manifests.namespace))
        .await
        .map_err(|e| infra("namespace", e))?;
    let daemonsets = Api::<DaemonSet>::namespaced(target.client.clone(), namespace);
    daemonsets
        .patch(&daemonset_name, &apply, &Patch::Apply(&manifests.daemonset))
        .await
        .map_err(|e| infra("DaemonSet", e))?;
    let ready = tokio::time::timeout(
        ROLLOUT_TIMEOUT,
        await_condition(daemonsets.clone(), &daemonset_name, daemonset_ready),
    )
    .await;
    let pods = Api::<Pod>::namespaced(target.client.clone(), namespace);
    let selector = manifests
        .daemonset
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.as_ref())
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let listed = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    match ready {
        Ok(Ok(_)) => listed.iter().find_map(|p| p.metadata.name.clone()).ok_or_else(|| {
            failed(
                Class::RolloutTimeout,
                "the DaemonSet is ready but has no pod".to_owned(),
            )
        }),
        Ok(Err(e)) => Err(failed(Class::ExecFailed, format!("watching the DaemonSet failed: {e}"))),
        Err(_) => Err(stuck(&listed)),
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

async fn run_probe(case: &Case, pods: &Api<Pod>, pod: &str, step: &str, probe: &Probe, evidence: Evidence) -> Outcome {
    let argv: Vec<String> = match probe {
        Probe::Bind(bind) => {
            let mut argv = vec![
                "bindprobe.exe".to_owned(),
                "bind".to_owned(),
                bind.src.clone(),
                bind.dst.clone(),
            ];
            if bind.read_write {
                argv.push("--rw".to_owned());
            }
            argv
        }
        Probe::Layer(layer) if layer.snapshot == "latest" => {
            let reason =
                "finding the newest containerd snapshot on a node is not built yet: give a snapshot folder".to_owned();
            return skipped(case, step, reason);
        }
        Probe::Layer(layer) => vec![
            "bindprobe.exe".into(),
            "layer".into(),
            layer.snapshot.clone(),
            layer.dst.clone(),
        ],
    };
    let (stdout, stderr) = match exec(pods, pod, argv.clone()).await {
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
    let Some(report) = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<ProbeReport>(line).ok())
    else {
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
async fn service(case: &Case, pods: &Api<Pod>, pod: Option<&str>, target: &Target) -> Outcome {
    let Some(service) = &case.loaded.scenario.variants[case.variant.as_str()].register_service else {
        return skipped(case, "service", "this variant registers no service".to_owned());
    };
    if target.evidence == Evidence::Simulated {
        return skipped(
            case,
            "service",
            "a simulated node runs no container command, so nothing registered the service".to_owned(),
        );
    }
    let Some(pod) = pod else {
        return skipped(case, "service", "the workload did not roll out".to_owned());
    };
    let result = match exec(pods, pod, vec!["sc.exe".into(), "query".into(), service.name.clone()]).await {
        Ok((stdout, _)) if stdout.contains("RUNNING") => StepResult::Ok,
        Ok((stdout, stderr)) => {
            let text = format!("{stdout}\n{stderr}");
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
    record(
        case,
        "service",
        result,
        target.evidence,
        json!({ "service": service.name }),
    )
}

/// Stops and unregisters the workaround's service (argv commands only), deletes the namespace, and waits until it is gone.
async fn teardown(case: &Case, pods: &Api<Pod>, pod: Option<&str>, target: &Target, namespace: &str) -> Outcome {
    let mut notes = Vec::new();
    if let (Some(service), Some(pod), Evidence::Real) = (
        &case.loaded.scenario.variants[case.variant.as_str()].register_service,
        pod,
        target.evidence,
    ) {
        let exe = format!("{}\\buildkitd.exe", service.host_dir.trim_end_matches(['\\', '/']));
        for argv in [
            vec!["sc.exe".to_owned(), "stop".to_owned(), service.name.clone()],
            vec![
                exe,
                "--unregister-service".to_owned(),
                "--service-name".to_owned(),
                service.name.clone(),
            ],
        ] {
            if let Err(e) = exec(pods, pod, argv.clone()).await {
                notes.push(format!("{}: {e}", argv.join(" ")));
            }
        }
        match exec(pods, pod, vec!["sc.exe".into(), "query".into(), service.name.clone()]).await {
            Ok((stdout, stderr)) if format!("{stdout}{stderr}").contains("1060") => {}
            Ok((stdout, _)) => notes.push(format!("the service is still registered: {}", stdout.trim())),
            Err(e) => notes.push(format!("cannot check the service: {e}")),
        }
    }
    let namespaces = Api::<Namespace>::all(target.client.clone());
    let uid = namespaces
        .get_opt(namespace)
        .await
        .ok()
        .flatten()
        .and_then(|n| n.metadata.uid);
    let deleted = match (namespaces.delete(namespace, &DeleteParams::foreground()).await, uid) {
        (Err(e), _) => Err(format!("cannot delete namespace `{namespace}`: {e}")),
        (Ok(_), None) => Ok(()),
        (Ok(_), Some(uid)) => {
            let gone = await_condition(namespaces.clone(), namespace, conditions::is_deleted(&uid));
            match tokio::time::timeout(DELETE_TIMEOUT, gone).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!(
                    "namespace `{namespace}` still exists after {}s",
                    DELETE_TIMEOUT.as_secs()
                )),
            }
        }
    };
    let result = match (deleted, notes.is_empty()) {
        (Ok(()), true) => StepResult::Ok,
        (Ok(()), false) => failed(Class::ExecFailed, notes.join("; ")),
        (Err(e), _) => failed(Class::StepTimeout, e),
    };
    record(
        case,
        "teardown",
        result,
        target.evidence,
        json!({ "namespace": namespace }),
    )
}

/// Runs `argv` in the pod's first container; its stdout and stderr, or why it could not run.
async fn exec(pods: &Api<Pod>, pod: &str, argv: Vec<String>) -> Result<(String, String), String> {
    let run = async {
        let params = AttachParams::default().stdin(false).stdout(true).stderr(true);
        let mut attached = pods.exec(pod, argv.clone(), &params).await.map_err(|e| e.to_string())?;
        let (mut out, mut err) = (String::new(), String::new());
        let (stdout, stderr) = (attached.stdout(), attached.stderr());
        let read_out = async {
            if let Some(mut s) = stdout {
                let _ = s.read_to_string(&mut out).await;
            }
        };
        let read_err = async {
            if let Some(mut s) = stderr {
                let _ = s.read_to_string(&mut err).await;
            }
        };
        tokio::join!(read_out, read_err);
        let _ = attached.join().await;
        Ok::<_, String>((out, err))
    };
    tokio::time::timeout(EXEC_TIMEOUT, run)
        .await
        .map_err(|_| format!("`{}` did not finish within {}s", argv.join(" "), EXEC_TIMEOUT.as_secs()))?
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

/// Deletes the namespaces the harness made on `context_name` (only those of `run_id`, when given), waits until they
/// are gone, and returns their names. Namespaces without the harness's label are never touched.
pub async fn janitor(context_name: &str, run_id: Option<&str>) -> Result<Vec<String>, String> {
    let client = connect(context_name).await?;
    let namespaces = Api::<Namespace>::all(client);
    let mut selector = format!("{}={}", MANAGED_BY.0, MANAGED_BY.1);
    if let Some(run_id) = run_id {
        selector.push_str(&format!(",{}={run_id}", render::RUN_LABEL));
    }
    let found = namespaces
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| e.to_string())?;
    let mut removed = Vec::new();
    for namespace in found.items {
        let (Some(name), Some(uid)) = (namespace.metadata.name, namespace.metadata.uid) else {
            continue;
        };
        namespaces
            .delete(&name, &DeleteParams::foreground())
            .await
            .map_err(|e| format!("cannot delete {name}: {e}"))?;
        let gone = await_condition(namespaces.clone(), &name, conditions::is_deleted(&uid));
        tokio::time::timeout(DELETE_TIMEOUT, gone)
            .await
            .map_err(|_| format!("namespace `{name}` still exists after {}s", DELETE_TIMEOUT.as_secs()))?
            .map_err(|e| e.to_string())?;
        removed.push(name);
    }
    Ok(removed)
}
