//! The janitor: what earlier runs left on a cluster and on its Windows nodes. Namespaces carrying the harness's run
//! label go by uid, and so do the cluster-wide objects of the kinds the scenarios' workloads have; on each node a
//! scenario selects, a short-lived HostProcess pod (in a namespace of the janitor's
//! own) stops and deletes the services the harness marked (`HarnessRunId` in the service's registry key) and removes
//! the folders it copied files into (`C:\ProgramData\harness\<run id>_<case>`), of one run or of all. Nothing else.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Namespace, Node, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};

use crate::lanes::cluster::deliver::NODE_FOLDER;
use crate::lanes::cluster::exec::{EXEC_TIMEOUT, Workload, exec};
use crate::lanes::cluster::ownership::{self, Claim, Ledger};
use crate::lanes::cluster::teardown::DELETE_TIMEOUT;
use crate::lanes::cluster::{Target, connect};
use crate::render::{self, MANAGED_BY};
use crate::scenario::Loaded;
use crate::scenario::matrix::{self, Case};
use crate::words::Lane;

/// How long the janitor's pod may take to run (its image may have to be pulled).
const POD_TIMEOUT: Duration = Duration::from_secs(600);

/// The label selector of what the harness made: of run `run_id`, or of any run.
fn made_by(run_id: Option<&str>) -> String {
    let selector = format!("{}={},{}", MANAGED_BY.0, MANAGED_BY.1, render::RUN_LABEL);
    match run_id {
        Some(run_id) => format!("{selector}={run_id}"),
        None => selector,
    }
}

/// Deletes the namespaces earlier runs of the harness left on `target` (only those of `run_id`, when given), waits
/// until they are gone, and returns their names. A namespace without the harness's run label is never touched, and
/// each is deleted with its uid as a precondition, so one replaced since it was listed is left alone.
pub async fn namespaces(target: &Target, run_id: Option<&str>) -> Result<Vec<String>, String> {
    let client = connect::client(target).await.map_err(|e| e.to_string())?;
    let namespaces = Api::<Namespace>::all(client);
    let selector = made_by(run_id);
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
        let claim = Claim { namespace: name, uid };
        ownership::release(&namespaces, &claim, &ledger, target.request_timeout, DELETE_TIMEOUT).await?;
        removed.push(claim.namespace);
    }
    Ok(removed)
}

/// Deletes the cluster-wide objects earlier runs left on `target` (only those of `run_id`, when given): of every
/// cluster-wide kind the scenarios' workloads have, those carrying the harness's run label, each by uid, awaited.
/// Returns `Kind/name` of each.
pub async fn cluster_objects(
    target: &Target,
    scenarios: &[std::sync::Arc<Loaded>],
    run_id: Option<&str>,
) -> Result<Vec<String>, String> {
    use kube::api::DynamicObject;
    use kube::core::GroupVersionKind;
    let client = connect::client(target).await.map_err(|e| e.to_string())?;
    let kinds: std::collections::BTreeSet<(String, String)> = scenarios
        .iter()
        .filter(|l| l.scenario.cluster.distribution.has_cluster())
        .flat_map(|l| l.workload.objects.iter())
        .filter(|o| matches!(o.scope, crate::scenario::objects::Scope::Cluster { .. }) && o.kind != "Namespace")
        .map(|o| (o.api_version.clone(), o.kind.clone()))
        .collect();
    let selector = made_by(run_id);
    let ledger = Ledger::default();
    let mut removed = Vec::new();
    for (api_version, kind) in kinds {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
        let gvk = GroupVersionKind::gvk(group, version, &kind);
        let Ok((resource, _)) = connect::bounded(
            target.request_timeout,
            &format!("cannot discover kind {kind}"),
            kube::discovery::pinned_kind(&client, &gvk),
        )
        .await
        else {
            continue; // a kind the cluster does not serve holds nothing of the harness's
        };
        let api = Api::<DynamicObject>::all_with(client.clone(), &resource);
        let found = connect::bounded(
            target.request_timeout,
            &format!("cannot list the harness's {kind}s"),
            api.list(&ListParams::default().labels(&selector)),
        )
        .await?;
        for object in found.items {
            let (Some(name), Some(uid)) = (object.metadata.name, object.metadata.uid) else {
                continue;
            };
            let claim = ownership::ObjectClaim {
                resource: resource.clone(),
                name,
                uid,
            };
            ownership::release_object(&api, &claim, &ledger, target.request_timeout, DELETE_TIMEOUT).await?;
            removed.push(format!("{kind}/{}", claim.name));
        }
    }
    Ok(removed)
}

/// Cleans every node the scenarios' cluster cases select: what the node's janitor pod reported removing, one line
/// each (`<node>: removed service buildkitd (run nightly-42)`).
pub async fn nodes(
    target: &Target,
    scenarios: &[std::sync::Arc<Loaded>],
    run_id: Option<&str>,
) -> Result<Vec<String>, String> {
    let client = connect::client(target).await.map_err(|e| e.to_string())?;
    // One case per node selector: its rendered pod is what a HostProcess pod of that scenario looks like.
    let mut by_selector: BTreeMap<String, Case> = BTreeMap::new();
    for loaded in scenarios
        .iter()
        .filter(|l| l.scenario.cluster.distribution.has_cluster())
    {
        if let Some(case) = matrix::cases(loaded, &[Lane::Cluster]).into_iter().next() {
            let selector = crate::lanes::cluster::preflight::selector(&loaded.scenario.cluster.node_selector);
            by_selector.entry(selector).or_insert(case);
        }
    }
    let janitor_run = format!("janitor-{}", std::process::id());
    let nodes = Api::<Node>::all(client.clone());
    let namespaces = Api::<Namespace>::all(client.clone());
    let mut report = Vec::new();
    for (selector, case) in by_selector {
        let listed = connect::bounded(
            target.request_timeout,
            "cannot list the nodes",
            nodes.list(&ListParams::default().labels(&selector)),
        )
        .await?;
        let manifests = render::render(&case, &janitor_run, &Default::default());
        let ledger = Ledger::default();
        let claim = ownership::claim(&namespaces, &manifests.namespace, &ledger, target.request_timeout).await?;
        let pods = Api::<Pod>::namespaced(client.clone(), &claim.namespace);
        let mut cleaned = Ok(());
        for node in listed.items.iter().filter_map(|n| n.metadata.name.clone()) {
            match clean(&pods, manifests.under_test(), &node, run_id, target.request_timeout).await {
                Ok(lines) => report.extend(lines.into_iter().map(|line| format!("{node}: {line}"))),
                Err(e) => {
                    cleaned = Err(format!("node {node}: {e}"));
                    break;
                }
            }
        }
        ownership::release(&namespaces, &claim, &ledger, target.request_timeout, DELETE_TIMEOUT).await?;
        cleaned?;
    }
    Ok(report)
}

/// Runs the cleaning script on `node` through a HostProcess pod shaped like the pods of `object` (the scenario's
/// object under test), then deletes the pod.
async fn clean(
    pods: &Api<Pod>,
    object: &crate::render::Rendered,
    node: &str,
    run_id: Option<&str>,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let workload: PodSpec = object
        .pod_spec()
        .ok_or("the scenario's object under test has no pod spec")?;
    let first = workload.containers.first();
    // Only what makes it the same kind of pod on the same node (HostProcess, the host's network, the image, the
    // tolerations): nothing that names an object of the workload's own namespace (its service account, volumes,
    // pull secrets), which the janitor's namespace does not have.
    let spec = PodSpec {
        containers: vec![Container {
            name: "janitor".to_owned(),
            image: first.and_then(|c| c.image.clone()),
            command: Some(render::powershell("Start-Sleep -Seconds 600")),
            security_context: first.and_then(|c| c.security_context.clone()),
            ..Container::default()
        }],
        security_context: workload.security_context,
        host_network: workload.host_network,
        tolerations: workload.tolerations,
        os: workload.os,
        node_name: Some(node.to_owned()),
        restart_policy: Some("Never".to_owned()),
        termination_grace_period_seconds: Some(5),
        ..PodSpec::default()
    };
    let name = format!("harness-janitor-{:08x}", fnv(node));
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: serde_json::from_value(object.value["metadata"]["labels"].clone()).ok(),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        ..Pod::default()
    };
    connect::bounded(
        timeout,
        "cannot create the janitor's pod",
        pods.create(&PostParams::default(), &pod),
    )
    .await?;
    let running = await_condition(pods.clone(), &name, conditions::is_pod_running());
    let outcome = match tokio::time::timeout(POD_TIMEOUT, running).await {
        Ok(Ok(_)) => {
            let workload = Workload {
                pods: pods.clone(),
                pod: Some(name.clone()),
                container: "janitor".to_owned(),
                timeout,
                exec_timeout: EXEC_TIMEOUT,
            };
            let output = exec(&workload, &name, render::powershell(&script(run_id))).await?;
            let lines: Vec<String> = output
                .stdout
                .lines()
                .filter_map(|l| {
                    l.trim()
                        .strip_prefix("harness-removed ")
                        .map(|l| format!("removed {l}"))
                })
                .collect();
            match output.success {
                Some(false) => Err(format!(
                    "the cleaning script failed: {}",
                    crate::redact::one_line(output.stderr.trim())
                )),
                _ => Ok(lines),
            }
        }
        Ok(Err(e)) => Err(format!("watching the janitor's pod failed: {e}")),
        Err(_) => Err(format!(
            "the janitor's pod did not run within {}s",
            POD_TIMEOUT.as_secs()
        )),
    };
    let _ = pods.delete(&name, &Default::default()).await;
    outcome
}

/// The PowerShell that removes the harness's marked services and run folders on a node (of `run_id` only, if given).
fn script(run_id: Option<&str>) -> String {
    let run_id = render::single_quoted(run_id.unwrap_or(""));
    let folder = render::single_quoted(NODE_FOLDER);
    format!(
        r#"# harness: clean-node
$ErrorActionPreference = 'Stop'
$runId = {run_id}
$services = 'HKLM:\SYSTEM\CurrentControlSet\Services'
foreach ($key in @(Get-ChildItem -LiteralPath $services -ErrorAction SilentlyContinue)) {{
    $mark = $key.GetValue('HarnessRunId')
    if ([string]::IsNullOrEmpty($mark)) {{ continue }}
    if ($runId -and $mark -ne $runId) {{ continue }}
    $name = $key.PSChildName
    $service = Get-Service -ErrorAction SilentlyContinue | Where-Object {{ $_.ServiceName -eq $name }} | Select-Object -First 1
    if ($null -ne $service -and $service.Status -ne 'Stopped') {{
        Stop-Service -InputObject $service -Force
        $service.WaitForStatus('Stopped', [TimeSpan]::FromSeconds(60))
    }}
    & sc.exe delete $name | Out-Null
    Write-Output "harness-removed service $name (run $mark)"
}}
$folder = {folder}
if (Test-Path -LiteralPath $folder) {{
    foreach ($run in @(Get-ChildItem -LiteralPath $folder -Directory)) {{
        if ($runId -and $run.Name -ne $runId -and -not $run.Name.StartsWith($runId + '_')) {{ continue }}
        Remove-Item -LiteralPath $run.FullName -Recurse -Force
        Write-Output "harness-removed folder $($run.FullName)"
    }}
}}
"#
    )
}

/// A short, stable hash of a node's name for the janitor pod's name.
fn fnv(text: &str) -> u32 {
    text.bytes()
        .fold(0x811c_9dc5, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}
