//! What this run made on a cluster, and nothing else: a namespace, or a cluster-wide object of the workload, is
//! claimed only when it did not exist, created with the run's id, remembered by its uid, and deleted only with that
//! uid as a precondition. Any doubt changes nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, PostParams, Preconditions, PropagationPolicy};
use kube::runtime::wait::{await_condition, conditions};

use crate::lanes::cluster::connect::bounded;
use crate::render::RUN_LABEL;

/// A namespace this run created: its name and the uid the API server gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub namespace: String,
    pub uid: String,
}

/// A cluster-wide object this run created: its resource, name and uid.
#[derive(Debug, Clone)]
pub struct ObjectClaim {
    pub resource: ApiResource,
    pub name: String,
    pub uid: String,
}

impl PartialEq for ObjectClaim {
    fn eq(&self, other: &ObjectClaim) -> bool {
        self.uid == other.uid
    }
}

/// Every claim of this run still standing, shared with the interruption handler so it can release them; with the
/// number of creations still in flight (a creation completes and is recorded even when its case is dropped).
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    namespaces: Arc<Mutex<Vec<Claim>>>,
    objects: Arc<Mutex<Vec<ObjectClaim>>>,
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
}

impl Ledger {
    /// Waits (at most `limit`) until no creation is in flight, so every claim is recorded.
    pub async fn settle(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn add(&self, claim: &Claim) {
        if let Ok(mut claims) = self.namespaces.lock() {
            claims.push(claim.clone());
        }
    }

    fn remove(&self, claim: &Claim) {
        if let Ok(mut claims) = self.namespaces.lock() {
            claims.retain(|c| c != claim);
        }
    }

    /// The namespace claims still standing.
    pub fn standing(&self) -> Vec<Claim> {
        self.namespaces.lock().map(|claims| claims.clone()).unwrap_or_default()
    }

    /// The cluster-wide objects still standing.
    pub fn standing_objects(&self) -> Vec<ObjectClaim> {
        self.objects.lock().map(|claims| claims.clone()).unwrap_or_default()
    }
}

/// Creates `manifest` as a namespace of this run, only if no namespace of that name exists. Fails closed: when the
/// API cannot say, or says it exists, nothing is changed and the reason is returned.
pub async fn claim(
    namespaces: &Api<Namespace>,
    manifest: &Namespace,
    ledger: &Ledger,
    timeout: Duration,
) -> Result<Claim, String> {
    let name = manifest.metadata.name.clone().unwrap_or_default();
    let run_id = manifest
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(RUN_LABEL))
        .cloned();
    let existing = bounded(
        timeout,
        &format!("cannot tell whether namespace `{name}` exists"),
        namespaces.get_opt(&name),
    )
    .await?;
    if let Some(existing) = existing {
        let other_run = existing
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(RUN_LABEL))
            .cloned();
        let whose = match other_run {
            Some(other) => format!("made by harness run `{other}`, not this one"),
            None => "not made by the harness".to_owned(),
        };
        return Err(format!("namespace `{name}` already exists ({whose})"));
    }
    // The creation runs as its own task: if the case is dropped (an interruption), it still completes and is recorded.
    ledger.in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let creation = {
        let (namespaces, manifest, ledger) = (namespaces.clone(), manifest.clone(), ledger.clone());
        tokio::spawn(async move {
            let params = PostParams {
                field_manager: Some("harness".to_owned()),
                ..PostParams::default()
            };
            let name = manifest.metadata.name.clone().unwrap_or_default();
            let created = bounded(
                timeout,
                &format!("cannot create namespace `{name}`"),
                namespaces.create(&params, &manifest),
            )
            .await;
            let claim = created.and_then(|created| {
                let ours = created.metadata.labels.as_ref().and_then(|l| l.get(RUN_LABEL)).cloned() == run_id;
                match created.metadata.uid.filter(|_| ours) {
                    Some(uid) => Ok(Claim {
                        namespace: name.clone(),
                        uid,
                    }),
                    None => Err(format!(
                        "the API server's answer for namespace `{name}` does not show it as this run's"
                    )),
                }
            });
            if let Ok(claim) = &claim {
                ledger.add(claim);
            }
            ledger.in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            claim
        })
    };
    let claim = creation
        .await
        .map_err(|e| format!("creating namespace `{name}` failed: {e}"))?;
    claim.map_err(|e| {
        format!("{e}; if it was created anyway it carries this run's id and `harness janitor --run-id` removes it")
    })
}

/// How a deletion by uid ended.
pub enum Deleted {
    /// Deleted and watched until gone (or already gone).
    Gone,
    /// Something else of that name stands there now (the uid differs): it was left alone.
    Replaced,
}

impl Deleted {
    /// Ok when gone; why not otherwise (`what` names it).
    pub fn into_result(self, what: &str) -> Result<(), String> {
        match self {
            Deleted::Gone => Ok(()),
            Deleted::Replaced => Err(format!(
                "{what} is no longer the one this run created (uid changed); it was not deleted"
            )),
        }
    }
}

/// Deletes `name` (`what` in messages) if its uid is still `uid`, and waits (at most `wait`) until it is gone; with
/// `foreground`, what it owns goes first. Each request is bounded by `timeout`, and the wait ends when the API server
/// stops answering.
pub async fn delete_by_uid<K>(
    api: &Api<K>,
    what: &str,
    (name, uid): (&str, &str),
    foreground: bool,
    (timeout, wait): (Duration, Duration),
) -> Result<Deleted, String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let params = DeleteParams {
        propagation_policy: foreground.then_some(PropagationPolicy::Foreground),
        preconditions: Some(Preconditions {
            uid: Some(uid.to_owned()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match tokio::time::timeout(timeout, api.delete(name, &params)).await {
        Ok(Ok(_)) => {}
        Ok(Err(kube::Error::Api(status))) if status.code == 404 => return Ok(Deleted::Gone),
        Ok(Err(kube::Error::Api(status))) if status.code == 409 => return Ok(Deleted::Replaced),
        Ok(Err(e)) => return Err(crate::redact::secrets(&format!("cannot delete {what}: {e}")).into_owned()),
        Err(_) => {
            return Err(format!(
                "cannot delete {what}: no answer within {}s",
                timeout.as_secs_f32()
            ));
        }
    }
    let gone = await_condition(api.clone(), name, conditions::is_deleted(uid));
    let gone = crate::lanes::cluster::connect::while_answering(api.clone().into_client(), timeout, gone);
    match tokio::time::timeout(wait, gone).await {
        Ok(Ok(Ok(_))) => Ok(Deleted::Gone),
        Ok(Ok(Err(e))) => Err(crate::redact::secrets(&format!("watching {what} go failed: {e}")).into_owned()),
        Ok(Err(stopped)) => Err(format!("{what} may still exist: {stopped}")),
        Err(_) => Err(format!("{what} still exists after {}s", wait.as_secs())),
    }
}

/// Deletes the namespace of `claim` if it is still the one this run created (same uid), and waits until it is gone.
pub async fn release(
    namespaces: &Api<Namespace>,
    claim: &Claim,
    ledger: &Ledger,
    timeout: Duration,
    wait: Duration,
) -> Result<(), String> {
    let what = format!("namespace `{}`", claim.namespace);
    let deleted = delete_by_uid(namespaces, &what, (&claim.namespace, &claim.uid), true, (timeout, wait)).await?;
    ledger.remove(claim);
    deleted.into_result(&what)
}

/// Creates the cluster-wide `object` of this run, only where none of its name exists (the API refuses a second):
/// its claim, or why not (nothing changed then).
pub async fn claim_object(
    api: &Api<DynamicObject>,
    object: &DynamicObject,
    resource: &ApiResource,
    ledger: &Ledger,
    timeout: Duration,
) -> Result<ObjectClaim, String> {
    let name = object.metadata.name.clone().unwrap_or_default();
    let what = format!("{} `{name}`", resource.kind);
    ledger.in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let creation = {
        let (api, object, ledger, resource, what) = (
            api.clone(),
            object.clone(),
            ledger.clone(),
            resource.clone(),
            what.clone(),
        );
        tokio::spawn(async move {
            let params = PostParams {
                field_manager: Some("harness".to_owned()),
                ..PostParams::default()
            };
            let created = tokio::time::timeout(timeout, api.create(&params, &object)).await;
            let claim = match created {
                Ok(Ok(created)) => match created.metadata.uid {
                    Some(uid) => Ok(ObjectClaim {
                        resource,
                        name: created.metadata.name.unwrap_or_default(),
                        uid,
                    }),
                    None => Err(format!("the API server's answer for {what} has no uid")),
                },
                Ok(Err(kube::Error::Api(status))) if status.code == 409 => Err(format!(
                    "{what} already exists on this cluster and was not made by this run; it was left as it is"
                )),
                Ok(Err(e)) => Err(crate::redact::secrets(&format!("cannot create {what}: {e}")).into_owned()),
                Err(_) => Err(format!("cannot create {what}: no answer within {}s", timeout.as_secs())),
            };
            if let (Ok(claim), Ok(mut claims)) = (&claim, ledger.objects.lock()) {
                claims.push(claim.clone());
            }
            ledger.in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            claim
        })
    };
    creation.await.map_err(|e| format!("creating {what} failed: {e}"))?
}

/// Deletes the cluster-wide object of `claim` if it is still the one this run created (same uid), and waits (at
/// most `wait`) until it is gone.
pub async fn release_object(
    api: &Api<DynamicObject>,
    claim: &ObjectClaim,
    ledger: &Ledger,
    timeout: Duration,
    wait: Duration,
) -> Result<(), String> {
    let what = format!("{} `{}`", claim.resource.kind, claim.name);
    let deleted = delete_by_uid(api, &what, (&claim.name, &claim.uid), false, (timeout, wait)).await?;
    if let Ok(mut claims) = ledger.objects.lock() {
        claims.retain(|c| c != claim);
    }
    deleted.into_result(&what)
}
