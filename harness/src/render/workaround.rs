//! The service workaround in the workload: copy the container's program to a host folder, register it as a service
//! (by its own `--register-service`, or with `sc.exe create`) and start it, report its state while the pod lives,
//! and stop and unregister it when the pod stops.

use base64::Engine;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, EnvVar, ExecAction, Lifecycle, LifecycleHandler, PodSpec};

use super::winargs::command_line;
use crate::scenario::model::{RegisterService, Registration};

const COMMON: &str = include_str!("service-common.ps1");
const START: &str = include_str!("service-start.ps1");

/// The PowerShell the workaround's container runs.
pub fn service_start_script() -> String {
    format!("{COMMON}\n{START}")
}

/// The PowerShell that stops and unregisters the service: the container's preStop hook, and the harness's teardown.
pub fn service_stop_script() -> String {
    format!("{COMMON}\nRemove-HarnessService\n")
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

/// `text` as a PowerShell single-quoted string: nothing in it is expanded, and a `'` is doubled.
pub fn single_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Annotations that show the encoded scripts in plain text, for review and `kubectl describe`.
pub const START_ANNOTATION: &str = "harness/service-start-script";
pub const STOP_ANNOTATION: &str = "harness/service-stop-script";

/// Turns the container at `index` from "run the program" into "run the program as a service" for the run `run_id`,
/// keeping its arguments (or taking the service's own). The command lines for the program and sc.exe are quoted
/// here, so the script passes them on as they are.
pub fn apply(pod: &mut PodSpec, index: usize, service: &RegisterService, run_id: &str) {
    let container: &mut Container = &mut pod.containers[index];
    let command = container.command.as_deref().unwrap_or_default();
    let program = command.first().cloned().unwrap_or_default();
    let file_name = program.rsplit(['\\', '/']).next().unwrap_or_default().to_owned();
    let args: Vec<String> = match &service.args {
        Some(args) => args.clone(),
        None => command
            .iter()
            .skip(1)
            .chain(container.args.iter().flatten())
            .cloned()
            .collect(),
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let log_file = format!("--log-file={}", service.log_file);
    let installed = format!(r"{}\{file_name}", service.host_dir.trim_end_matches('\\'));
    let (with, register, unregister) = match service.register {
        Registration::Itself => (
            "program",
            command_line(
                &["--register-service", "--service-name", &service.name]
                    .into_iter()
                    .chain(args.iter().copied())
                    .chain([log_file.as_str()])
                    .collect::<Vec<_>>(),
            ),
            command_line(&["--unregister-service", "--service-name", &service.name]),
        ),
        Registration::Sc => {
            let bin_path = command_line(
                &std::iter::once(installed.as_str())
                    .chain(args.iter().copied())
                    .collect::<Vec<_>>(),
            );
            (
                "sc",
                command_line(&["create", &service.name, "binPath=", &bin_path, "start=", "demand"]),
                String::new(),
            )
        }
    };
    let env = [
        ("HARNESS_RUN_ID", run_id.to_owned()),
        ("HARNESS_SERVICE_NAME", service.name.clone()),
        ("HARNESS_SERVICE_DIR", service.host_dir.clone()),
        ("HARNESS_PROGRAM", program),
        ("HARNESS_PROGRAM_FILE", file_name),
        ("HARNESS_REGISTER_WITH", with.to_owned()),
        ("HARNESS_REGISTER_ARGS", register),
        ("HARNESS_UNREGISTER_ARGS", unregister),
        ("HARNESS_SC_DELETE_ARGS", command_line(&["delete", &service.name])),
    ];
    container
        .env
        .get_or_insert_default()
        .extend(env.map(|(name, value)| EnvVar {
            name: name.to_owned(),
            value: Some(literal(&value)),
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

/// `value` escaped for an environment variable's `value`, which the kubelet expands: `$(NAME)` becomes the value of
/// the container's variable NAME and `$$` becomes `$`. Doubling every `$` keeps the value exactly as written, so no
/// other value can be spliced, unquoted, into a command line quoted here.
fn literal(value: &str) -> String {
    value.replace('$', "$$")
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
    use crate::render::winargs::tests::split;

    fn decode(command: &[String]) -> String {
        let encoded = command.last().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
        let utf16: Vec<u16> = bytes
            .chunks(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        String::from_utf16(&utf16).unwrap()
    }

    /// The kubelet's expansion of an environment value: `$$` is `$`, `$(NAME)` the value of an earlier NAME.
    fn kubelet_expand(value: &str, earlier: &BTreeMap<String, String>) -> String {
        let mut expanded = String::new();
        let mut rest = value;
        while let Some(at) = rest.find('$') {
            expanded.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                expanded.push('$');
                rest = tail;
            } else if let Some((name, tail)) = after.strip_prefix('(').and_then(|r| r.split_once(')')) {
                match earlier.get(name) {
                    Some(value) => expanded.push_str(value),
                    None => expanded.push_str(&format!("$({name})")),
                }
                rest = tail;
            } else {
                expanded.push('$');
                rest = after;
            }
        }
        expanded + rest
    }

    /// The container's environment as the script sees it.
    fn environment(container: &Container) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for var in container.env.iter().flatten() {
            let value = kubelet_expand(var.value.as_deref().unwrap_or_default(), &env);
            env.insert(var.name.clone(), value);
        }
        env
    }

    fn pod(args: &[&str]) -> PodSpec {
        PodSpec {
            containers: vec![Container {
                name: "buildkitd".into(),
                command: Some(vec!["$env:CONTAINER_SANDBOX_MOUNT_POINT/buildkit/buildkitd.exe".into()]),
                args: Some(args.iter().map(|&a| a.to_owned()).collect()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }
    }

    #[test]
    fn the_encoded_command_is_the_script_and_scenario_values_arrive_only_as_environment() {
        let mut pod = pod(&["--addr", "tcp://0.0.0.0:1234"]);
        let service = RegisterService {
            name: "buildkitd".into(),
            host_dir: r"C:\it's & \bin".into(),
            log_file: r#"C:\"log-sentinel".log"#.into(),
            register: Registration::Itself,
            args: None,
        };
        apply(&mut pod, 0, &service, "run-sentinel");
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
            !script.contains("it's") && !script.contains("log-sentinel") && !script.contains("run-sentinel"),
            "scenario values must not be pasted into the script"
        );
        let env = environment(container);
        assert_eq!(env["HARNESS_RUN_ID"], "run-sentinel");
        assert_eq!(env["HARNESS_SERVICE_NAME"], service.name);
        assert_eq!(env["HARNESS_SERVICE_DIR"], service.host_dir);
        assert_eq!(
            env["HARNESS_PROGRAM"],
            "$env:CONTAINER_SANDBOX_MOUNT_POINT/buildkit/buildkitd.exe"
        );
        assert_eq!(
            split(&env["HARNESS_REGISTER_ARGS"]),
            [
                "--register-service",
                "--service-name",
                "buildkitd",
                "--addr",
                "tcp://0.0.0.0:1234",
                r#"--log-file=C:\"log-sentinel".log"#
            ]
        );
        assert_eq!(
            split(&env["HARNESS_UNREGISTER_ARGS"]),
            ["--unregister-service", "--service-name", "buildkitd"]
        );
        assert_eq!(split(&env["HARNESS_SC_DELETE_ARGS"]), ["delete", "buildkitd"]);
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
            service_stop_script().contains("Stop-Service") && service_stop_script().contains("HARNESS_UNREGISTER_ARGS")
        );
    }

    #[test]
    fn hostile_log_file_and_args_register_exactly_the_intended_argv() {
        let args = [
            "--addr",
            "npipe:////./pipe/buildkitd",
            r"--root=C:\dir with space\",
            r#"a\\"b"#,
            "",
            "$(HARNESS_SERVICE_NAME)",
            "$$(HARNESS_RUN_ID)",
        ];
        let mut pod = pod(&args);
        let service = RegisterService {
            name: r#"svc" --addr "tcp://0.0.0.0:4445"#.into(),
            host_dir: r"C:\buildkitd\bin".into(),
            log_file: r#"C:\x.log" --addr "tcp://0.0.0.0:4444"#.into(),
            register: Registration::Itself,
            args: None,
        };
        apply(&mut pod, 0, &service, "run-1");
        let register = split(&environment(&pod.containers[0])["HARNESS_REGISTER_ARGS"]);
        let log_file = format!("--log-file={}", service.log_file);
        let intended: Vec<&str> = ["--register-service", "--service-name", &service.name]
            .into_iter()
            .chain(args)
            .chain([log_file.as_str()])
            .collect();
        assert_eq!(register, intended);
        assert_eq!(register.iter().filter(|a| *a == "--addr").count(), 1, "{register:?}");
    }

    #[test]
    fn the_scripts_match_names_exactly_and_touch_only_the_harnesss_service() {
        let start = service_start_script();
        let stop = service_stop_script();
        for script in [&start, &stop] {
            assert!(
                !script.contains("-Name $name"),
                "Get-/Stop-/Start-Service -Name take wildcards"
            );
            assert!(script.contains("$_.ServiceName -eq $name"));
            assert!(
                !script.contains("& $"),
                "native programs run through Invoke-Quoted only"
            );
            // The name is checked before the first thing that could change the node.
            let refusal = script.find(r"'[*?\[\]\\/\p{Cc}]'").unwrap();
            for change in [
                "Stop-Service",
                "Start-Service",
                "New-Item",
                "Copy-Item",
                "Invoke-Quoted $",
            ] {
                assert!(
                    script.find(change).is_none_or(|at| at > refusal),
                    "{change} before the name check"
                );
            }
        }
        assert!(start.contains("ERROR_SERVICE_EXISTS (1073) harness: service $name exists and was not registered by the harness; nothing was changed"));
        // The unmarked service is refused before the leftover removal, the copy and the registration.
        let refused = start.find("ERROR_SERVICE_EXISTS").unwrap();
        let removal = start.find("Remove-HarnessService -AnyRun").unwrap();
        assert!(refused < removal && removal < start.find("$env:HARNESS_REGISTER_ARGS").unwrap());
        assert!(start.find("Set-HarnessMark\n").unwrap() < start.find("Start-Service").unwrap());
        assert!(stop.ends_with("Remove-HarnessService\n"));
    }

    /// `register: sc`: sc.exe creates the service with the copied program and its arguments as one quoted binPath,
    /// and nothing asks the program to unregister itself.
    #[test]
    fn sc_registers_a_program_that_is_a_service_of_its_own() {
        let mut pod = pod(&["-v=5", r"--log_dir=C:\csi proxy\logs"]);
        pod.containers[0].command = Some(vec![r"$env:CONTAINER_SANDBOX_MOUNT_POINT\csi-proxy.exe".into()]);
        let service = RegisterService {
            name: "csiproxy".into(),
            host_dir: r"C:\csi-proxy".into(),
            log_file: r"C:\csi proxy\logs\csi-proxy.log".into(),
            register: Registration::Sc,
            args: None,
        };
        apply(&mut pod, 0, &service, "run-1");
        let env = environment(&pod.containers[0]);
        assert_eq!(env["HARNESS_REGISTER_WITH"], "sc");
        assert_eq!(env["HARNESS_PROGRAM_FILE"], "csi-proxy.exe");
        assert_eq!(env["HARNESS_UNREGISTER_ARGS"], "");
        let register = split(&env["HARNESS_REGISTER_ARGS"]);
        assert_eq!(register[..3], ["create", "csiproxy", "binPath="]);
        assert_eq!(register[4..], ["start=", "demand"]);
        assert_eq!(
            split(&register[3]),
            [r"C:\csi-proxy\csi-proxy.exe", "-v=5", r"--log_dir=C:\csi proxy\logs"]
        );
    }
}
