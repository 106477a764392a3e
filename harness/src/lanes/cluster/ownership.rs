//! What this run made on a cluster, and nothing else: a namespace is claimed only when it did not exist, created with
//! the run's id, remembered by its uid, and deleted only with that uid as a precondition. Any doubt changes nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PostParams, Preconditions, PropagationPolicy};
use kube::runtime::wait::{await_condition, conditions};

use crate::lanes::cluster::connect::bounded;
use crate::render::RUN_LABEL;

/// A namespace this run created: its name and the uid the API server gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub namespace: String,
    pub uid: String,
}

/// Every claim of this run still standing, shared with the interruption handler so it can release them; with the
/// number of creations still in flight (a creation completes and is recorded even when its case is dropped).
#[derive(Debug, Clone, Default)]
pub struct Ledger(Arc<Mutex<Vec<Claim>>>, Arc<std::sync::atomic::AtomicUsize>);

impl Ledger {
    /// Waits (at most `limit`) until no creation is in flight, so every claim is recorded.
    pub async fn settle(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.1.load(std::sync::atomic::Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn add(&self, claim: &Claim) {
        if let Ok(mut claims) = self.0.lock() {
            claims.push(claim.clone());
        }
    }

    fn remove(&self, claim: &Claim) {
        if let Ok(mut claims) = self.0.lock() {
            claims.retain(|c| c != claim);
        }
    }

    /// The claims still standing.
    pub fn standing(&self) -> Vec<Claim> {
        self.0.lock().map(|claims| claims.clone()).unwrap_or_default()
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
    ledger.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
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
            ledger.1.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
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

/// Deletes the namespace of `claim` if it is still the one this run created (same uid), and waits until it is gone.
pub async fn release(
    namespaces: &Api<Namespace>,
    claim: &Claim,
    ledger: &Ledger,
    timeout: Duration,
    wait: Duration,
) -> Result<(), String> {
    let name = &claim.namespace;
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        preconditions: Some(Preconditions {
            uid: Some(claim.uid.clone()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match tokio::time::timeout(timeout, namespaces.delete(name, &params)).await {
        Ok(Ok(_)) => {}
        Ok(Err(kube::Error::Api(status))) if status.code == 404 => {
            ledger.remove(claim);
            return Ok(());
        }
        Ok(Err(kube::Error::Api(status))) if status.code == 409 => {
            ledger.remove(claim);
            return Err(format!(
                "namespace `{name}` is no longer the one this run created (uid changed); it was not deleted"
            ));
        }
        Ok(Err(e)) => {
            return Err(crate::redact::secrets(&format!("cannot delete namespace `{name}`: {e}")).into_owned());
        }
        Err(_) => {
            return Err(format!(
                "cannot delete namespace `{name}`: no answer within {}s",
                timeout.as_secs_f32()
            ));
        }
    }
    let gone = await_condition(namespaces.clone(), name, conditions::is_deleted(&claim.uid));
    let gone = crate::lanes::cluster::connect::while_answering(namespaces.clone().into_client(), timeout, gone);
    match tokio::time::timeout(wait, gone).await {
        Ok(Ok(Ok(_))) => {
            ledger.remove(claim);
            Ok(())
        }
        Ok(Ok(Err(e))) => {
            Err(crate::redact::secrets(&format!("watching namespace `{name}` go failed: {e}")).into_owned())
        }
        Ok(Err(stopped)) => Err(format!("namespace `{name}` may still exist: {stopped}")),
        Err(_) => Err(format!("namespace `{name}` still exists after {}s", wait.as_secs())),
    }
}
