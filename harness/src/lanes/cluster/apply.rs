//! Applies a case's objects in dependency order: namespaced ones by server-side apply into the run's namespace,
//! cluster-wide ones created only where none of their name exists (claimed by uid). Each kind's scope is checked
//! against the API server's before an object of it is applied: a doubt stops the case with nothing more changed.

use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope as ApiScope};

use crate::lanes::Unobserved;
use crate::lanes::cluster::Connected;
use crate::lanes::cluster::connect;
use crate::lanes::cluster::ownership::{self, Ledger, ObjectClaim};
use crate::outcome::Seen;
use crate::render::{Manifests, Rendered};
use crate::scenario::objects::Scope;

/// How long a kind defined by a CustomResourceDefinition of the same workload may take to be served.
const CRD_SERVED: Duration = Duration::from_secs(30);

/// A namespaced object this case applied.
#[derive(Debug, Clone)]
pub struct Applied {
    pub resource: ApiResource,
    pub name: String,
    pub uid: String,
    /// Whether it runs pods (the rollout waits for it; teardown deletes it first, which frees the node).
    pub runs_pods: bool,
}

/// What a case made: its namespaced objects, and its claims on cluster-wide ones.
#[derive(Debug, Default)]
pub struct Made {
    pub objects: Vec<Applied>,
    pub claims: Vec<ObjectClaim>,
}

/// Applies every object of `manifests` into `namespace` (this run's), in order, recording in `made` what it made;
/// stops at the first object that cannot be applied, with what was seen.
pub async fn apply(
    connected: &Connected,
    manifests: &Manifests,
    namespace: &str,
    ledger: &Ledger,
    made: &mut Made,
) -> Result<(), Seen> {
    // Discovered once per kind: a workload has several objects of one kind (ConfigMaps, DaemonSets).
    let mut resources: Vec<(&str, &str, ApiResource)> = Vec::new();
    for object in &manifests.objects {
        let known = resources
            .iter()
            .find(|(api_version, kind, _)| *api_version == object.api_version && *kind == object.kind);
        let resource = match known {
            Some((.., resource)) => resource.clone(),
            None => {
                let resource = served(connected, object).await?;
                resources.push((&object.api_version, &object.kind, resource.clone()));
                resource
            }
        };
        let value: DynamicObject = serde_json::from_value(object.value.clone())
            .map_err(|e| Unobserved::Api(format!("{} is not an object the API takes: {e}", object.id())))?;
        match object.scope {
            Scope::Cluster { .. } => {
                let api = Api::<DynamicObject>::all_with(connected.client.clone(), &resource);
                let claim = ownership::claim_object(&api, &value, &resource, ledger, connected.timeout)
                    .await
                    .map_err(Unobserved::NotOwned)?;
                made.claims.push(claim);
            }
            Scope::Namespaced => {
                let api = Api::<DynamicObject>::namespaced_with(connected.client.clone(), namespace, &resource);
                let params = PatchParams::apply("harness").force();
                let applied = connect::bounded(
                    connected.timeout,
                    &format!("cannot apply {}", object.id()),
                    api.patch(&object.name, &params, &Patch::Apply(&value)),
                )
                .await
                .map_err(Unobserved::Api)?;
                made.objects.push(Applied {
                    resource,
                    name: object.name.clone(),
                    uid: applied.metadata.uid.unwrap_or_default(),
                    runs_pods: object.pods_at.is_some(),
                });
            }
        }
    }
    Ok(())
}

/// The API resource that serves `object`'s kind, with the scope the harness rendered it for. A kind a
/// CustomResourceDefinition of the workload defines is waited for until it is served.
async fn served(connected: &Connected, object: &Rendered) -> Result<ApiResource, Seen> {
    let (group, version) = object.api_version.rsplit_once('/').unwrap_or(("", &object.api_version));
    let gvk = GroupVersionKind::gvk(group, version, &object.kind);
    let deadline = tokio::time::Instant::now() + CRD_SERVED;
    let found = loop {
        let missing =
            match tokio::time::timeout(connected.timeout, discovery::pinned_kind(&connected.client, &gvk)).await {
                Ok(Ok(found)) => break found,
                Ok(Err(kube::Error::Discovery(_))) => true,
                Ok(Err(kube::Error::Api(status))) if status.code == 404 => true,
                Ok(Err(e)) => {
                    let message = format!("cannot discover kind {}: {e}", object.kind);
                    return Err(Unobserved::Api(crate::redact::secrets(&message).into_owned()).into());
                }
                Err(_) => false,
            };
        if tokio::time::Instant::now() >= deadline {
            let why = if missing {
                format!(
                    "the API server does not serve {} {}: install what defines it, or add its CustomResourceDefinition to the workload's manifests",
                    object.api_version, object.kind
                )
            } else {
                format!("cannot discover kind {}: no answer", object.kind)
            };
            return Err(Unobserved::Api(why).into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let (resource, capabilities) = found;
    let cluster_wide = matches!(capabilities.scope, ApiScope::Cluster);
    if cluster_wide != matches!(object.scope, Scope::Cluster { .. }) {
        let (is, taken) = if cluster_wide {
            ("cluster-wide", "namespaced")
        } else {
            ("namespaced", "cluster-wide")
        };
        return Err(Unobserved::NotOwned(format!(
            "{} is {is} on this cluster, but the harness rendered it as {taken}; nothing of it was applied",
            object.kind
        ))
        .into());
    }
    Ok(resource)
}
