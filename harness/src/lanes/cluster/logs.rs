//! The logs probe: a container's previous log (after a restart) and its current one, for the judge to read: the step
//! is ok unless it recognises a failure there.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams};
use serde_json::json;

use crate::lanes::Unobserved;
use crate::lanes::cluster::connect;
use crate::lanes::cluster::exec::Workload;
use crate::outcome::{Failure, Observation};
use crate::render::Manifests;
use crate::scenario::model::LogsProbe;

/// The most bytes of each log read: the end of it, where a crash is.
const TAIL_BYTES: i64 = 4 * 1024 * 1024;

/// Reads the log `probe` names: of the object under test's `pod`, or of a pod of another object of the workload.
pub async fn read(workload: &Workload, manifests: &Manifests, pod: &str, step: &str, probe: &LogsProbe) -> Observation {
    let object = match &probe.object {
        None => manifests.under_test(),
        // Objects that run pods are namespaced: their names are as written.
        Some(id) => match manifests.objects.iter().find(|o| o.id() == *id) {
            Some(object) => object,
            None => {
                return Observation::of(
                    step,
                    Unobserved::Exec(format!("the workload has no object `{id}`")).into(),
                );
            }
        },
    };
    let under_test = std::ptr::eq(object, manifests.under_test());
    let pod = if under_test {
        pod.to_owned()
    } else {
        match pod_of(workload, object).await {
            Ok(pod) => pod,
            Err(e) => return Observation::of(step, Unobserved::Exec(e).into()),
        }
    };
    let container = match (&probe.container, under_test) {
        (Some(container), _) => container.clone(),
        (None, true) => workload.container.clone(),
        (None, false) => object
            .pod_spec()
            .and_then(|p| p.containers.first().map(|c| c.name.clone()))
            .unwrap_or_default(),
    };
    let detail = json!({ "pod": pod, "container": container });
    let log = |previous: bool| LogParams {
        container: Some(container.clone()),
        previous,
        limit_bytes: Some(TAIL_BYTES),
        ..LogParams::default()
    };
    // A container that never restarted has no previous log: the API says so with an error, which is no failure.
    let previous = connect::bounded(workload.timeout, "", workload.pods.logs(&pod, &log(true)))
        .await
        .unwrap_or_default();
    let current = match connect::bounded(
        workload.timeout,
        &format!("cannot read the log of {pod}/{container}"),
        workload.pods.logs(&pod, &log(false)),
    )
    .await
    {
        Ok(log) => log,
        Err(e) => return Observation::of(step, Unobserved::Api(e).into()).detail(detail),
    };
    let text = format!("{previous}\n{current}");
    Observation::of(step, Failure::if_recognised(text).into()).detail(detail)
}

/// A pod of `object` (another object of the workload), by its pods' labels.
async fn pod_of(workload: &Workload, object: &crate::render::Rendered) -> Result<String, String> {
    if object.kind == "Pod" {
        return Ok(object.name.clone());
    }
    let labels = object.pod_labels();
    let selector: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let listed = connect::bounded(
        workload.timeout,
        &format!("cannot list the pods of {}", object.id()),
        workload.pods.list(&ListParams::default().labels(&selector.join(","))),
    )
    .await?;
    listed
        .items
        .into_iter()
        .find_map(|p: Pod| p.metadata.name)
        .ok_or_else(|| format!("{} has no pod", object.id()))
}
