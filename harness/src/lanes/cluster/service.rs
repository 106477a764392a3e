//! The workaround's Windows service: its state while the workload runs, and stopping it on the way out.

use serde_json::json;

use crate::classify::Class;
use crate::lanes::cluster::exec::{Workload, exec};
use crate::lanes::{Unobserved, why};
use crate::outcome::{Evidence, Failure, Observation, Seen};
use crate::render;
use crate::scenario::model::RegisterService;

/// Whether the workaround's service runs, as `sc.exe` reports it. A simulated node runs no container command, so
/// nothing there registered the service: the step is skipped rather than failed.
pub async fn state(service: &RegisterService, workload: &Workload, evidence: Evidence) -> Observation {
    if evidence == Evidence::Simulated {
        return Observation::skipped("service", why::SIMULATED_SERVICE);
    }
    let Some(pod) = &workload.pod else {
        return Observation::skipped("service", why::NOT_ROLLED_OUT);
    };
    let seen = match exec(
        workload,
        pod,
        vec!["sc.exe".into(), "query".into(), service.name.clone()],
    )
    .await
    {
        Ok(output) if output.stdout.contains("RUNNING") => Seen::Ok,
        Ok(output) => {
            let text = format!("{}\n{}", output.stdout, output.stderr);
            let line = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("not running")
                .trim();
            Failure::text(line, text.clone(), Class::Unknown).into()
        }
        Err(e) => Unobserved::Exec(e).into(),
    };
    Observation::of("service", seen).detail(json!({ "service": service.name }))
}

/// Stops and unregisters the service with the workload's own stop script, which touches only a service the harness
/// marked as this run's. Why it may still be registered, if it may.
pub async fn stop(workload: &Workload) -> Result<(), String> {
    let Some(pod) = &workload.pod else { return Ok(()) };
    match exec(workload, pod, render::powershell(&render::service_stop_script())).await {
        Ok(output) if output.success == Some(true) => Ok(()),
        Ok(output) => Err(format!(
            "the service may still be registered: {}",
            format!("{}\n{}", output.stdout, output.stderr).trim()
        )),
        Err(e) => Err(format!("cannot stop the service: {e}")),
    }
}
