//! The cluster lane: deploys a case's manifests to a kube context the user allowed, waits for the rollout, runs the
//! probes inside the workload's pod, and tears down what it made. Results from KWOK-managed nodes are simulated.
//!
//! One file per step (`preflight`, `apply`, `rollout` with `pull`, `probing`, `service`, `build`, `teardown`), the
//! helpers beside them (`connect`: contexts and bounded calls; `ownership`: what this run made; `nodes`: which cases may share
//! a node; `exec`: commands in the workload; `deliver`: the probe onto the node; `snapshot`: the newest containerd
//! snapshot; `bundle`: the evidence of a failure), and `janitor`: what earlier runs left.

mod apply;
mod build;
mod bundle;
mod components;
mod connect;
mod deliver;
mod exec;
pub mod janitor;
mod logs;
mod nodes;
mod ownership;
mod preflight;
mod probing;
mod rollout;
mod service;
mod snapshot;
mod teardown;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Client;
use kube::api::Api;
use serde_json::json;

use crate::lanes::{Context, Unobserved, why};
use crate::outcome::{Evidence, Observation, Seen};
use crate::render;
use crate::scenario::matrix::Case;
use crate::scenario::model;
use crate::words::Environment;

pub use connect::{Error as ContextError, Target, check, check_in};
pub use deliver::Probe;
pub use nodes::Nodes;
pub use ownership::Ledger;

use exec::Workload;
use teardown::DELETE_TIMEOUT;

/// Why the cluster lane cannot run `case` here, or `None` when it can.
pub fn unavailable(case: &Case, context: &Context) -> Option<String> {
    if !case.loaded.scenario.cluster.distribution.has_cluster() {
        return Some(why::NO_CLUSTER.to_owned());
    }
    let allowed = &case.loaded.scenario.cluster.contexts;
    if let Some(reason) = context.unusable_for(case) {
        return Some(reason);
    }
    match context.target_for(case) {
        Some(target) if target.testbed || target.broken.is_some() || allowed.contains(&target.name) => None,
        Some(target) => Some(why::context_not_allowed(&target.name, allowed)),
        None => Some(why::no_context(allowed)),
    }
}

/// A connection to the allowed context and what the lane found on the target node.
pub struct Connected {
    /// The kube context's name.
    context: String,
    client: Client,
    timeout: Duration,
    evidence: Evidence,
    observed: Environment,
    /// What this run made on this cluster (the target's).
    ledger: Ledger,
    /// The target's own `buildctl`, if it comes with one.
    buildctl: Option<std::path::PathBuf>,
}

/// Observes every step of `case` on the context in `context` (which [`unavailable`] has checked).
pub async fn run(case: &Case, context: &Context) -> Vec<Observation> {
    let Some(target) = context.target_for(case) else {
        return vec![Observation::skipped(
            "lane",
            why::no_context(&case.loaded.scenario.cluster.contexts),
        )];
    };
    let mut connected = match preflight::preflight(case, target).await {
        Ok(connected) => connected,
        Err(observation) => return after_preflight(case, *observation),
    };
    let mut observations = deploy_probe_teardown(case, context, &mut connected).await;
    // Every step ran on the node the workload ran on: its evidence and versions are the steps'.
    for observation in &mut observations {
        observation.evidence = connected.evidence;
        observation.observed = connected.observed.clone();
    }
    observations
}

/// A preflight that ended the case: alone when the lane could not look; when it skipped the case (no node, an unmet
/// requirement, a cell for another version), followed by every step the case has, skipped for the same reason and
/// with the versions preflight found, so that no expectation of the case goes missing without a word.
fn after_preflight(case: &Case, preflight: Observation) -> Vec<Observation> {
    let Seen::Skipped { reason } = &preflight.seen else {
        return vec![preflight];
    };
    let scenario = &case.loaded.scenario;
    let registers = scenario
        .variants
        .get(case.variant.as_str())
        .is_some_and(|v| v.register_service.is_some());
    let steps = ["pull", "rollout"]
        .into_iter()
        .map(str::to_owned)
        .chain(registers.then(|| "service".to_owned()))
        .chain(scenario.probes.keys().map(|name| format!("probe/{name}")))
        .chain(scenario.builds.keys().map(|name| format!("build/{name}")))
        .chain(std::iter::once("teardown".to_owned()));
    let skipped: Vec<Observation> = steps
        .map(|step| Observation {
            evidence: preflight.evidence,
            observed: preflight.observed.clone(),
            ..Observation::skipped(&step, reason.clone())
        })
        .collect();
    std::iter::once(preflight).chain(skipped).collect()
}

async fn deploy_probe_teardown(case: &Case, context: &Context, connected: &mut Connected) -> Vec<Observation> {
    let manifests = render::render(case, &context.run_id, &context.overrides);
    let namespace = manifests.namespace.metadata.name.clone().unwrap_or_default();
    let namespaces = Api::<Namespace>::all(connected.client.clone());
    let detail = json!({ "namespace": namespace });
    // The nodes this case's selector picks, held until its workload is gone from them.
    let held = context.nodes.hold(case).await;
    let started = Instant::now();
    // Safety: act only inside a namespace this run created; any doubt stops the case with nothing changed.
    let claim = match ownership::claim(&namespaces, &manifests.namespace, &connected.ledger, connected.timeout).await {
        Ok(claim) => claim,
        Err(reason) => {
            return vec![
                Observation::of("rollout", Unobserved::NotOwned(reason).into())
                    .detail(detail)
                    .timed(started),
            ];
        }
    };
    let (pull_timeout, rollout_timeout, exec_timeout) = timeouts(case);
    let mut workload = Workload {
        pods: Api::<Pod>::namespaced(connected.client.clone(), &namespace),
        pod: None,
        container: rollout::container_under_test(case, &manifests),
        timeout: connected.timeout,
        exec_timeout,
    };
    let rolling = rollout::Rolling {
        connected,
        manifests: &manifests,
        pods: workload.pods.clone(),
        container: &workload.container,
    };
    let mut observations = Vec::new();
    let mut running = None;
    let mut made = apply::Made::default();
    match apply::apply(connected, &manifests, &namespace, &connected.ledger, &mut made).await {
        Err(seen) => observations.push(Observation::of("rollout", seen).detail(detail.clone()).timed(started)),
        Ok(()) => {
            let pulled = rollout::pull(&rolling, pull_timeout).await;
            let ok = matches!(pulled, Seen::Ok);
            observations.push(Observation::of("pull", pulled).detail(detail.clone()).timed(started));
            let started = Instant::now();
            let seen = if ok {
                match rollout::ready(&rolling, &made, rollout_timeout).await {
                    Ok(pod) => {
                        running = Some(pod);
                        Seen::Ok
                    }
                    Err(seen) => seen,
                }
            } else {
                Seen::Skipped {
                    reason: why::NOT_PULLED.to_owned(),
                }
            };
            observations.push(Observation::of("rollout", seen).detail(detail.clone()).timed(started));
        }
    }
    if let Some(pod) = &running {
        context.touched_nodes.store(true, std::sync::atomic::Ordering::SeqCst);
        workload.pod = pod.metadata.name.clone();
        // The versions that matter are those of the node the workload runs on, and of what runs in its pod.
        if let Some(node) = rollout::node_of(connected, pod).await {
            connected.evidence = preflight::evidence_of(&node);
            connected.observed = preflight::observed_environment(&node);
            let mut found = components::before_rollout(case, &node, Some(&manifests));
            found.extend(
                components::from_commands(case, &workload, pod.metadata.name.as_deref().unwrap_or_default()).await,
            );
            if !found.is_empty() {
                let from: serde_json::Map<String, serde_json::Value> = found
                    .iter()
                    .map(|(name, (version, from))| (name.clone(), json!({ "version": version, "from": from })))
                    .collect();
                if let Some(rollout) = observations.iter_mut().rev().find(|o| o.step == "rollout") {
                    rollout.detail["components"] = serde_json::Value::Object(from);
                }
            }
            connected.observed.components = found.into_iter().map(|(name, (version, _))| (name, version)).collect();
        }
    }

    // Every step after the rollout runs while the workload's node stays Ready; after it went NotReady, the rest are
    // skipped with that reason.
    let node = running.as_ref().and_then(|p| p.spec.as_ref()?.node_name.clone());
    let mut on = OnNode {
        client: connected.client.clone(),
        node: node.as_deref(),
        gone: false,
    };
    let mut copied = Copied::default();
    let case_folder = deliver::case_folder(&context.run_id, case);
    for (name, probe) in &case.loaded.scenario.probes {
        let step = format!("probe/{name}");
        let Some(pod) = &workload.pod else {
            observations.push(Observation::skipped(&step, why::NOT_ROLLED_OUT));
            continue;
        };
        let started = Instant::now();
        let simulated = connected.evidence == Evidence::Simulated;
        let run = probe_step(
            case,
            context,
            &workload,
            &manifests,
            pod,
            (name, probe),
            &case_folder,
            simulated,
            &mut copied,
        );
        let observation = on.run(&step, run).await;
        observations.push(observation.timed(started));
    }
    let registered = &case.loaded.scenario.variants[case.variant.as_str()].register_service;
    let service_env = container_env(&manifests, &workload.container);
    if let Some(registered) = registered {
        let started = Instant::now();
        let observation = on
            .run(
                "service",
                service::state(registered, &workload, connected.evidence, &service_env),
            )
            .await;
        observations.push(observation.timed(started));
    }
    let folder = context.evidence_folder(case);
    for (name, build) in &case.loaded.scenario.builds {
        let Some(pod) = &running else {
            observations.push(Observation::skipped(&format!("build/{name}"), why::NOT_ROLLED_OUT));
            continue;
        };
        let started = Instant::now();
        let step = format!("build/{name}");
        let run = tried(build.tries, async |attempt| {
            build::build(connected, case, pod, name, build, folder.as_ref(), attempt).await
        });
        let observation = on.run(&step, run).await;
        observations.push(observation.timed(started));
    }
    // A step failed: keep what the cluster shows of it before teardown removes it, and name the files in each failure.
    if let Some(folder) = &folder
        && observations.iter().any(|o| matches!(o.seen, Seen::Failed(_)))
    {
        let service_log = registered.as_ref().map(|s| s.log_file.as_str());
        let files = bundle::collect(connected, &namespace, &workload, service_log, folder).await;
        for observation in observations.iter_mut().filter(|o| matches!(o.seen, Seen::Failed(_))) {
            with_files(observation, &files);
        }
    }
    let started = Instant::now();
    let made = teardown::Made {
        claim,
        made,
        delivered: copied.any,
        held: Some(held),
        service_env,
    };
    let seen = teardown::teardown(case, &workload, connected, &namespaces, made, context).await;
    observations.push(Observation::of("teardown", seen).detail(detail).timed(started));
    observations
}

/// The environment of `container` in the object under test, as written in its manifest.
fn container_env(manifests: &render::Manifests, container: &str) -> Vec<(String, String)> {
    let pod = manifests.under_test().pod_spec().unwrap_or_default();
    pod.containers
        .into_iter()
        .filter(|c| c.name == container)
        .flat_map(|c| c.env.unwrap_or_default())
        .filter_map(|e| Some((e.name, e.value?)))
        .collect()
}

/// The steps after the rollout, on the node the workload runs on: each runs while the node stays Ready.
struct OnNode<'a> {
    client: Client,
    node: Option<&'a str>,
    /// The node went NotReady during an earlier step.
    gone: bool,
}

impl OnNode<'_> {
    /// Runs step `name` while the node stays Ready: `node-not-ready` when the node stops being Ready first (then
    /// every later step is skipped with that reason).
    async fn run(&mut self, name: &str, run: impl std::future::Future<Output = Observation>) -> Observation {
        if self.gone {
            return Observation::skipped(name, why::NODE_WENT_AWAY);
        }
        let Some(node) = self.node else { return run.await };
        match connect::while_node_ready(self.client.clone(), node, run).await {
            Ok(observation) => observation,
            Err(reason) => {
                self.gone = true;
                Observation::of(name, Unobserved::NodeNotReady(reason).into())
            }
        }
    }
}

/// What a case copied onto the node: bindprobe (once, before the first of its probes: how that went), and whether
/// anything was copied at all (teardown then removes the case's folder).
#[derive(Default)]
struct Copied {
    bindprobe: Option<Result<String, exec::ExecError>>,
    any: bool,
}

/// Runs probe `name` in `pod`: a log read, a program delivered and run, or bindprobe (delivered first) or a command.
#[allow(clippy::too_many_arguments)]
async fn probe_step(
    case: &Case,
    context: &Context,
    workload: &Workload,
    manifests: &render::Manifests,
    pod: &str,
    (name, probe): (&String, &model::Probe),
    case_folder: &str,
    simulated: bool,
    copied: &mut Copied,
) -> Observation {
    let step = format!("probe/{name}");
    match probe {
        model::Probe::Logs(logs) => logs::read(workload, manifests, pod, &step, logs).await,
        model::Probe::Program(program) => {
            match deliver::program(workload, pod, &case.loaded.root, program, name, case_folder, simulated).await {
                Ok(path) => {
                    copied.any = true;
                    let argv: Vec<String> = std::iter::once(path).chain(program.args.iter().cloned()).collect();
                    tried(program.tries, async |_| {
                        probing::run_command(workload, pod, &step, &argv, program.status).await
                    })
                    .await
                }
                Err(deliver::NotDelivered::Skipped(reason)) => Observation::skipped(&step, reason),
                Err(deliver::NotDelivered::Failed(e)) => Observation::of(&step, Unobserved::from(e).into()),
            }
        }
        _ => {
            if copied.bindprobe.is_none() && probe.runs_bindprobe() {
                copied.bindprobe = Some(match &context.probe.0 {
                    Ok(sent) => deliver::deliver(workload, pod, sent, case_folder).await,
                    Err(_) => Err(exec::ExecError::Failed(String::new())),
                });
                copied.any |= matches!(copied.bindprobe, Some(Ok(_)));
            }
            let exe = match (&copied.bindprobe, &context.probe.0) {
                (Some(Ok(path)), _) => probing::Exe::Delivered(path, &context.probe.0),
                // Nothing to deliver: the image's own bindprobe.exe, said so in the outcome.
                (_, Err(missing)) => probing::Exe::Image(missing),
                (Some(Err(e)), Ok(_)) => return Observation::of(&step, Unobserved::from(e.clone()).into()),
                // An exec probe before any of bindprobe's: no bindprobe runs.
                (None, Ok(_)) => probing::Exe::Image("no bindprobe probe ran yet"),
            };
            tried(probe.tries(), async |_| {
                probing::probe(workload, pod, &step, probe, exe).await
            })
            .await
        }
    }
}

/// `tries: N`: runs the step N times (`run(1)`, ..., `run(N)`); the first run's observation carries every run's
/// result for the judge, and in `detail.logs` every run's log, when the runs keep one.
async fn tried(tries: u32, mut run: impl AsyncFnMut(u32) -> Observation) -> Observation {
    let mut observation = run(1).await;
    if tries > 1 {
        let mut seen = vec![observation.seen.clone()];
        let mut logs: Vec<serde_json::Value> = observation.detail.get("log").cloned().into_iter().collect();
        for attempt in 2..=tries {
            let again = run(attempt).await;
            logs.extend(again.detail.get("log").cloned());
            seen.push(again.seen);
        }
        observation.tries = seen;
        if !logs.is_empty() && observation.detail.is_object() {
            observation.detail["logs"] = json!(logs);
        }
    }
    observation
}

/// The scenario's pull, rollout and exec timeouts (validated durations), else the defaults.
fn timeouts(case: &Case) -> (Duration, Duration, Duration) {
    let workload = &case.loaded.scenario.workload;
    let parse = |given: &Option<String>, default| {
        given
            .as_deref()
            .and_then(|d| humantime::parse_duration(d).ok())
            .unwrap_or(default)
    };
    (
        parse(&workload.pull_timeout, rollout::PULL_TIMEOUT),
        parse(&workload.rollout_timeout, rollout::ROLLOUT_TIMEOUT),
        parse(&workload.exec_timeout, exec::EXEC_TIMEOUT),
    )
}

/// Adds the evidence bundle's `files` to an observation's detail (kept beside what the step recorded itself).
fn with_files(observation: &mut Observation, files: &[String]) {
    if files.is_empty() {
        return;
    }
    if !observation.detail.is_object() {
        observation.detail = json!({});
    }
    observation.detail["files"] = json!(files);
}

/// Releases every claim of this run still standing (after an interruption): only namespaces and cluster-wide objects
/// this run created, by uid.
pub async fn release_standing(target: &Target) -> Result<Vec<String>, String> {
    let ledger = &target.ledger;
    let client = connect::client(target).await.map_err(|e| e.to_string())?;
    let namespaces = Api::<Namespace>::all(client.clone());
    ledger.settle(target.request_timeout).await;
    let mut released = Vec::new();
    for claim in ledger.standing() {
        ownership::release(&namespaces, &claim, ledger, target.request_timeout, DELETE_TIMEOUT).await?;
        released.push(claim.namespace);
    }
    for claim in ledger.standing_objects() {
        let api = Api::<kube::api::DynamicObject>::all_with(client.clone(), &claim.resource);
        ownership::release_object(&api, &claim, ledger, target.request_timeout, DELETE_TIMEOUT).await?;
        released.push(format!("{}/{}", claim.resource.kind, claim.name));
    }
    Ok(released)
}
