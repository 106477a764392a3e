//! The workaround's Windows service: its state while the workload runs, and stopping it on the way out. A simulated
//! node runs no container command: there the lane asks the node's double to do once what the container's start and
//! stop scripts do, with the container's environment (which an exec does not carry) written into the request.

use serde_json::json;

use crate::classify::Class;
use crate::lanes::cluster::exec::{Workload, exec};
use crate::lanes::{Unobserved, why};
use crate::outcome::{Evidence, Failure, Observation, Seen};
use crate::render;
use crate::scenario::model::RegisterService;

/// Whether the workaround's service runs, as `sc.exe` reports it. On a simulated node the double first registers
/// and starts it as the container's start script would (`env`: the container's environment).
pub async fn state(
    service: &RegisterService,
    workload: &Workload,
    evidence: Evidence,
    env: &[(String, String)],
) -> Observation {
    let Some(pod) = &workload.pod else {
        return Observation::skipped("service", why::NOT_ROLLED_OUT);
    };
    if evidence == Evidence::Simulated {
        match exec(workload, pod, simulated(START_MARK, env)).await {
            Ok(output) if output.success != Some(false) => {}
            Ok(output) => {
                let text = format!("{}\n{}", output.stdout, output.stderr);
                return Observation::of(
                    "service",
                    Failure::text(output.first_line(), text, Class::Unknown).into(),
                );
            }
            Err(e) => return Observation::of("service", Unobserved::from(e).into()),
        }
    }
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
        Err(e) => Unobserved::from(e).into(),
    };
    Observation::of("service", seen).detail(json!({ "service": service.name }))
}

/// Stops and unregisters the service with the workload's own stop script (on a simulated node, the double's stand-in
/// for it), which touches only a service the harness marked as this run's. Why it may still be registered, if it may.
pub async fn stop(workload: &Workload, evidence: Evidence, env: &[(String, String)]) -> Result<(), String> {
    let Some(pod) = &workload.pod else { return Ok(()) };
    let command = match evidence {
        Evidence::Real => render::powershell(&render::service_stop_script()),
        Evidence::Simulated => simulated(STOP_MARK, env),
    };
    match exec(workload, pod, command).await {
        Ok(output) if output.success == Some(true) => Ok(()),
        Ok(output) => Err(format!(
            "the service may still be registered: {}",
            format!("{}\n{}", output.stdout, output.stderr).trim()
        )),
        Err(e) => Err(format!("cannot stop the service: {e}")),
    }
}

/// What the test bed's double answers in place of the service scripts (fixtures/testbed/doubles/windows-double).
const START_MARK: &str = "# harness: simulated service-start";
const STOP_MARK: &str = "# harness: simulated service-stop";

/// The request to the double: its mark, then the container's `HARNESS_*` variables as PowerShell assignments (the
/// kubelet's `$$` escape undone).
fn simulated(mark: &str, env: &[(String, String)]) -> Vec<String> {
    let assignments: Vec<String> = env
        .iter()
        .filter(|(name, _)| name.starts_with("HARNESS_"))
        .map(|(name, value)| format!("$env:{name} = {}", render::single_quoted(&value.replace("$$", "$"))))
        .collect();
    render::powershell(&format!("{mark}\n{}\n", assignments.join("\n")))
}
