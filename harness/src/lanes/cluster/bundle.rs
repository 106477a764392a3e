//! The evidence bundle: what the cluster showed of a case in which a step failed (the namespace's events, the pods'
//! status, container logs current and previous, the workaround service's log, the node's conditions), saved under
//! the case's evidence folder before teardown removes it. Every file is redacted; a part that cannot be read says
//! why in its own file.

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams, LogParams};

use crate::lanes::cluster::connect;
use crate::lanes::cluster::exec::{Workload, exec};
use crate::lanes::evidence::Folder;
use crate::outcome::Evidence;
use crate::render;

use super::Connected;

/// The most lines kept of one log.
const TAIL_LINES: i64 = 2000;

/// Saves the bundle of the case running in `namespace` into `folder`; the files written, relative to the output
/// folder. `service_log` is the workaround's log file on the node, if the variant registers a service.
pub async fn collect(
    connected: &Connected,
    namespace: &str,
    workload: &Workload,
    service_log: Option<&str>,
    folder: &Folder,
) -> Vec<String> {
    let mut written = Vec::new();
    let mut save = |file: &str, text: String| {
        if let Ok(name) = folder.write(file, &text) {
            written.push(name);
        }
    };
    save("events.txt", events(connected, namespace).await);
    let pods = connect::bounded(
        connected.timeout,
        "cannot list the pods",
        workload.pods.list(&ListParams::default()),
    )
    .await
    .map(|list| list.items);
    match &pods {
        Ok(pods) => save("pods.yaml", pods_status(pods)),
        Err(e) => save("pods.yaml", format!("# {e}\n")),
    }
    let pods = pods.unwrap_or_default();
    for pod in &pods {
        for (file, text) in logs(connected, workload, pod).await {
            save(&file, text);
        }
    }
    if let (Some(log), Some(pod)) = (service_log, &workload.pod)
        && connected.evidence == Evidence::Real
    {
        let script = format!(
            "Get-Content -Tail {TAIL_LINES} -LiteralPath {}",
            render::single_quoted(log)
        );
        let text = match exec(workload, pod, render::powershell(&script)).await {
            Ok(output) => format!("{}{}", output.stdout, output.stderr),
            Err(e) => format!("cannot read {log}: {e}\n"),
        };
        save("service.log", text);
    }
    let nodes: Vec<&str> = pods
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.as_deref())
        .collect();
    if let Some(node) = nodes.first() {
        save("node.yaml", node_status(connected, node).await);
    }
    written
}

/// The namespace's events, oldest first, one per line.
async fn events(connected: &Connected, namespace: &str) -> String {
    let api = Api::<Event>::namespaced(connected.client.clone(), namespace);
    let listed = connect::bounded(
        connected.timeout,
        "cannot list the events",
        api.list(&ListParams::default()),
    )
    .await;
    let mut events = match listed {
        Ok(list) => list.items,
        Err(e) => return format!("{e}\n"),
    };
    let when = |e: &Event| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
            .unwrap_or_default()
    };
    events.sort_by_key(when);
    events
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {}/{} (x{}): {}\n",
                when(e),
                e.type_.as_deref().unwrap_or("-"),
                e.reason.as_deref().unwrap_or("-"),
                e.involved_object.kind.as_deref().unwrap_or("-"),
                e.involved_object.name.as_deref().unwrap_or("-"),
                e.count.unwrap_or(1),
                e.message.as_deref().unwrap_or("").trim_end(),
            )
        })
        .collect()
}

/// Each pod's node, phase, conditions and container states (its status, not its spec: no environment values).
fn pods_status(pods: &[Pod]) -> String {
    let shown: Vec<serde_json::Value> = pods
        .iter()
        .map(|p| {
            serde_json::json!({
                "name": p.metadata.name,
                "node": p.spec.as_ref().and_then(|s| s.node_name.clone()),
                "status": p.status,
            })
        })
        .collect();
    serde_saphyr::to_string(&shown).unwrap_or_else(|e| format!("# cannot show the pods: {e}\n"))
}

/// Every container's log of `pod`, and the previous one's where the container restarted.
async fn logs(connected: &Connected, workload: &Workload, pod: &Pod) -> Vec<(String, String)> {
    let Some(name) = pod.metadata.name.as_deref() else {
        return Vec::new();
    };
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.clone())
        .unwrap_or_default();
    let mut found = Vec::new();
    for status in statuses {
        let mut wanted = vec![(false, format!("logs/{name}.{}.log", status.name))];
        if status.restart_count > 0 {
            wanted.push((true, format!("logs/{name}.{}.previous.log", status.name)));
        }
        for (previous, file) in wanted {
            let params = LogParams {
                container: Some(status.name.clone()),
                previous,
                tail_lines: Some(TAIL_LINES),
                ..LogParams::default()
            };
            let text = connect::bounded(
                connected.timeout,
                "cannot read the log",
                workload.pods.logs(name, &params),
            )
            .await
            .unwrap_or_else(|e| format!("{e}\n"));
            found.push((file, text));
        }
    }
    found
}

/// The node's conditions and what it reports of itself.
async fn node_status(connected: &Connected, name: &str) -> String {
    let nodes = Api::<Node>::all(connected.client.clone());
    match connect::bounded(connected.timeout, "cannot read the node", nodes.get(name)).await {
        Ok(node) => {
            let status = node.status.unwrap_or_default();
            let shown = serde_json::json!({
                "name": name,
                "conditions": status.conditions,
                "nodeInfo": status.node_info,
            });
            serde_saphyr::to_string(&shown).unwrap_or_else(|e| format!("# cannot show the node: {e}\n"))
        }
        Err(e) => format!("# {e}\n"),
    }
}
