//! The service workaround as a DaemonSet: copy buildkitd.exe to a host folder, register and start the service, report its
//! state while the pod lives, and stop and unregister it when the pod stops.

use base64::Engine;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, EnvVar, ExecAction, Lifecycle, LifecycleHandler, PodSpec};

use crate::scenario::model::RegisterService;

const COMMON: &str = include_str!("service-common.ps1");
const START: &str = include_str!("service-start.ps1");

/// The PowerShell the workaround's container runs.
pub fn service_start_script() -> String {
    format!("{COMMON}\n{START}")
}

/// The PowerShell that stops and unregisters the service: the container's preStop hook, and the harness's teardown.
pub fn service_stop_script() -> String {
    format!("{COMMON}\nRemove-BuildkitService\n")
}

/// `powershell.exe ... -EncodedCommand`: the script travels as base64 of UTF-16LE, so no shell in between
/// (HostProcess prefixes `cmd /c`) can reinterpret a quote, pipe or ampersand in it.
pub fn powershell(script: &str) -> Vec<String> {
    let utf16: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(utf16);
    [
        "powershell.exe",
        "-NoLogo",
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-EncodedCommand",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([encoded])
    .collect()
}

/// Annotations that show the encoded scripts in plain text, for review and `kubectl describe`.
pub const START_ANNOTATION: &str = "harness/service-start-script";
pub const STOP_ANNOTATION: &str = "harness/service-stop-script";

/// Turns the container at `index` from "run buildkitd" into "run buildkitd as a service", keeping its arguments.
pub fn apply(pod: &mut PodSpec, index: usize, service: &RegisterService) {
    let container: &mut Container = &mut pod.containers[index];
    let executable = container
        .command
        .as_ref()
        .and_then(|c| c.first())
        .cloned()
        .unwrap_or_default();
    let arguments = serde_json::to_string(container.args.as_deref().unwrap_or_default()).unwrap_or_default();
    let env = [
        ("HARNESS_SERVICE_NAME", service.name.clone()),
        ("HARNESS_SERVICE_DIR", service.host_dir.clone()),
        ("HARNESS_SERVICE_LOG", service.log_file.clone()),
        ("HARNESS_BUILDKITD_EXE", executable),
        ("HARNESS_BUILDKITD_ARGS", arguments),
    ];
    container
        .env
        .get_or_insert_default()
        .extend(env.map(|(name, value)| EnvVar {
            name: name.to_owned(),
            value: Some(value),
            value_from: None,
        }));
    let mut command = powershell(&service_start_script());
    container.args = Some(command.split_off(1));
    container.command = Some(command);
    container.lifecycle = Some(Lifecycle {
        pre_stop: Some(LifecycleHandler {
            exec: Some(ExecAction {
                command: Some(powershell(&service_stop_script())),
            }),
            ..LifecycleHandler::default()
        }),
        ..Lifecycle::default()
    });
    // Time for the preStop hook to stop the service before the pod is killed.
    pod.termination_grace_period_seconds = Some(90);
}

/// The plain-text copies of the scripts, keyed by annotation.
pub fn annotations() -> BTreeMap<String, String> {
    BTreeMap::from([
        (START_ANNOTATION.to_owned(), service_start_script()),
        (STOP_ANNOTATION.to_owned(), service_stop_script()),
    ])
}
