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

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(command: &[String]) -> String {
        let encoded = command.last().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
        let utf16: Vec<u16> = bytes
            .chunks(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        String::from_utf16(&utf16).unwrap()
    }

    #[test]
    fn the_encoded_command_is_the_script_and_scenario_values_arrive_only_as_environment() {
        let mut pod = PodSpec {
            containers: vec![Container {
                name: "buildkitd".into(),
                command: Some(vec!["$env:CONTAINER_SANDBOX_MOUNT_POINT/buildkit/buildkitd.exe".into()]),
                args: Some(vec!["--addr".into(), "tcp://0.0.0.0:1234".into()]),
                ..Container::default()
            }],
            ..PodSpec::default()
        };
        let service = RegisterService {
            name: "buildkitd".into(),
            host_dir: r"C:\it's & \bin".into(),
            log_file: r#"C:\"quoted".log"#.into(),
        };
        apply(&mut pod, 0, &service);
        let container = &pod.containers[0];
        let command: Vec<String> = container
            .command
            .iter()
            .chain(container.args.iter())
            .flatten()
            .cloned()
            .collect();
        assert_eq!(command[0], "powershell.exe");
        assert_eq!(command[command.len() - 2], "-EncodedCommand");
        let script = decode(&command);
        assert_eq!(script, service_start_script());
        assert!(
            !script.contains("it's") && !script.contains("quoted"),
            "scenario values must not be pasted into the script"
        );
        let env: BTreeMap<_, _> = container
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.as_str(), e.value.clone().unwrap_or_default()))
            .collect();
        assert_eq!(env["HARNESS_SERVICE_DIR"], service.host_dir);
        assert_eq!(env["HARNESS_SERVICE_LOG"], service.log_file);
        assert_eq!(env["HARNESS_BUILDKITD_ARGS"], r#"["--addr","tcp://0.0.0.0:1234"]"#);
        let stop = container
            .lifecycle
            .as_ref()
            .and_then(|l| l.pre_stop.as_ref())
            .and_then(|h| h.exec.as_ref());
        assert_eq!(
            decode(stop.and_then(|e| e.command.as_ref()).unwrap()),
            service_stop_script()
        );
        assert!(
            service_stop_script().contains("Stop-Service") && service_stop_script().contains("--unregister-service")
        );
    }
}
