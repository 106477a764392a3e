//! Builds: a build context sent to the workload's buildkitd with buildkit's own client (`buildctl`), its log kept as
//! evidence and classified; the buildkitd version and worker observed first.
//!
//! `buildctl` rather than BuildKit's gRPC API from Rust: it is the client the bug reports use, its `--progress plain`
//! log is what the classifier reads, and a local build context needs BuildKit's session protocol (file sync over a
//! gRPC stream the daemon calls back into), which only the Go client implements.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::classify::Class;
use crate::lanes::evidence::Folder;
use crate::lanes::{Unobserved, why};
use crate::outcome::{Evidence, Failure, Observation, Seen};
use crate::scenario::matrix::Case;
use crate::scenario::model::Build;

use super::Connected;

/// The longest tail of a build log the judge reads.
const LOG_TAIL: u64 = 4 << 20;

/// What one build sends: the context folder, its Dockerfile, and the platform (none for a Linux twin).
struct Sent {
    context: PathBuf,
    dockerfile: String,
    platform: Option<String>,
    twin: bool,
}

/// Sends build `name` to the buildkitd that `pod` runs (or the service the workaround registered: the same port on
/// the same node) and observes step `build/<name>`.
pub async fn build(
    connected: &mut Connected,
    case: &Case,
    pod: &Pod,
    name: &str,
    build: &Build,
    folder: Option<&Folder>,
    attempt: u32,
) -> Observation {
    let step = format!("build/{name}");
    let root = &case.loaded.root;
    let sent = match (&build.twin, connected.evidence) {
        (Some(twin), Evidence::Simulated) => Sent {
            context: root.join(&twin.context),
            dockerfile: twin.dockerfile.clone(),
            platform: None,
            twin: true,
        },
        (None, Evidence::Simulated) => return Observation::skipped(&step, why::BUILD_WITHOUT_TWIN),
        _ => Sent {
            context: root.join(&build.context),
            dockerfile: build.dockerfile.clone(),
            platform: Some(build.platform.clone()),
            twin: false,
        },
    };
    // Validation refuses builds without an endpoint; a scenario built in code may still lack one.
    let Some(port) = case.loaded.scenario.workload.endpoint.as_ref().map(|e| e.port) else {
        return Observation::skipped(&step, why::NO_ENDPOINT);
    };
    let Some(endpoint) = endpoint(pod, port) else {
        return Observation::of(
            &step,
            Unobserved::Api("the workload's pod has no host IP".to_owned()).into(),
        );
    };
    let mut detail = json!({
        "endpoint": endpoint,
        "context": relative(root, &sent.context),
        "twin": sent.twin,
        "platform": sent.platform,
    });
    let buildctl = match locate(connected.buildctl.as_deref()) {
        Ok(buildctl) => buildctl,
        // The harness's own client is missing, not a command in the pod: no hint about the pod's image.
        Err(message) => {
            return Observation::of(&step, Failure::unobserved(Class::ExecFailed, message).into()).detail(detail);
        }
    };
    match buildkitd(&buildctl, &endpoint, connected.timeout).await {
        Ok((version, worker)) => {
            connected.observed.buildkit = Some(version);
            detail["buildkitd"] = worker;
        }
        Err(seen) => return Observation::of(&step, seen).detail(detail),
    }
    let timeout = humantime::parse_duration(&build.timeout).unwrap_or(Duration::from_secs(600));
    // Each try of a build keeps its own log: `build-<name>.log`, then `build-<name>.try-<n>.log`.
    let file = match attempt {
        0 | 1 => format!("build-{name}.log"),
        n => format!("build-{name}.try-{n}.log"),
    };
    let kept = folder.and_then(|folder| Some((folder.path_for(&file).ok()?, folder.name(&file))));
    let log = match &kept {
        Some((path, name)) => {
            detail["log"] = json!(name);
            path.clone()
        }
        None => std::env::temp_dir().join(format!("harness-{}-{file}", std::process::id())),
    };
    let seen = send(&buildctl, &endpoint, &sent, &log, timeout).await;
    if kept.is_none() {
        let _ = std::fs::remove_file(&log);
    }
    let mut observation = Observation::of(&step, seen).detail(detail);
    observation.twin = sent.twin;
    observation
}

/// `tcp://<host IP>:<port>`: a HostProcess pod uses the node's network, so buildkitd (and the workaround's service)
/// listens on the node's address.
fn endpoint(pod: &Pod, port: u16) -> Option<String> {
    let ip = pod.status.as_ref()?.host_ip.as_deref().filter(|ip| !ip.is_empty())?;
    Some(if ip.contains(':') {
        format!("tcp://[{ip}]:{port}")
    } else {
        format!("tcp://{ip}:{port}")
    })
}

/// `BUILDCTL`, else `buildctl` on `PATH`, else the one the target comes with.
fn locate(own: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("BUILDCTL") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("BUILDCTL names {}, which does not exist", path.display()))
        };
    }
    let name = format!("buildctl{}", std::env::consts::EXE_SUFFIX);
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(&name))
        .find(|path| path.is_file())
        .or_else(|| own.filter(|path| path.is_file()).map(Path::to_path_buf))
        .ok_or_else(|| format!("{}: set BUILDCTL or put buildctl on PATH", why::NO_BUILDCTL))
}

/// The buildkitd at `endpoint`: its version and worker (platforms, snapshotter, executor), or why it did not answer.
async fn buildkitd(buildctl: &Path, endpoint: &str, timeout: Duration) -> Result<(String, Value), Seen> {
    let info = query(
        buildctl,
        endpoint,
        &["debug", "info", "--format", "{{json .}}"],
        timeout,
    )
    .await?;
    let version = info["buildkitVersion"]["version"]
        .as_str()
        .unwrap_or("unknown")
        .to_owned();
    let workers = query(
        buildctl,
        endpoint,
        &["debug", "workers", "--format", "{{json .}}"],
        timeout,
    )
    .await?;
    let worker = workers.get(0).cloned().unwrap_or(Value::Null);
    let labels = &worker["labels"];
    let platforms: Vec<String> = worker["platforms"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let mut platform = format!(
                "{}/{}",
                p["os"].as_str().unwrap_or("?"),
                p["architecture"].as_str().unwrap_or("?")
            );
            if let Some(variant) = p["variant"].as_str() {
                platform.push_str(&format!("/{variant}"));
            }
            platform
        })
        .collect();
    let described = json!({
        "version": version,
        "platforms": platforms,
        "snapshotter": labels["org.mobyproject.buildkit.worker.snapshotter"],
        "executor": labels["org.mobyproject.buildkit.worker.executor"],
    });
    Ok((version, described))
}

/// `buildctl --addr ENDPOINT ARGS`, its JSON output; buildkitd not answering is `buildkitd-unreachable`.
async fn query(buildctl: &Path, endpoint: &str, args: &[&str], timeout: Duration) -> Result<Value, Seen> {
    let mut command = Command::new(buildctl);
    command.arg("--addr").arg(endpoint).args(args).kill_on_drop(true);
    let unreachable = |message: String| -> Seen { Failure::unobserved(Class::BuildkitdUnreachable, message).into() };
    let output = match tokio::time::timeout(timeout, command.output()).await {
        Err(_) => {
            return Err(unreachable(format!(
                "buildkitd at {endpoint} did not answer within {}s",
                timeout.as_secs()
            )));
        }
        Ok(Err(e)) => return Err(Unobserved::Exec(format!("cannot run {}: {e}", buildctl.display())).into()),
        Ok(Ok(output)) => output,
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let line = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(unreachable(format!("buildkitd at {endpoint} did not answer: {line}")));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| Unobserved::Exec(format!("`buildctl {}` printed no JSON: {e}", args.join(" "))).into())
}

/// Runs the build with its progress written to `log`, bounded by `timeout`: ok, or the log to classify.
async fn send(buildctl: &Path, endpoint: &str, sent: &Sent, log: &Path, timeout: Duration) -> Seen {
    let file = match std::fs::File::create(log) {
        Ok(file) => file,
        Err(e) => return Unobserved::Exec(format!("cannot write the build log {}: {e}", log.display())).into(),
    };
    let (stdout, stderr) = match file.try_clone() {
        Ok(copy) => (Stdio::from(copy), Stdio::from(file)),
        Err(e) => return Unobserved::Exec(format!("cannot write the build log {}: {e}", log.display())).into(),
    };
    let dockerfile_dir = sent.context.join(&sent.dockerfile);
    let dockerfile_dir = dockerfile_dir.parent().unwrap_or(&sent.context);
    let file_name = Path::new(&sent.dockerfile)
        .file_name()
        .map_or_else(|| "Dockerfile".into(), |n| n.to_string_lossy().into_owned());
    let mut command = Command::new(buildctl);
    command
        .arg("--addr")
        .arg(endpoint)
        .args(["build", "--frontend", "dockerfile.v0", "--progress", "plain"])
        .arg("--local")
        .arg(format!("context={}", sent.context.display()))
        .arg("--local")
        .arg(format!("dockerfile={}", dockerfile_dir.display()))
        .arg("--opt")
        .arg(format!("filename={file_name}"));
    if let Some(platform) = &sent.platform {
        command.arg("--opt").arg(format!("platform={platform}"));
    }
    command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return Unobserved::Exec(format!("cannot run {}: {e}", buildctl.display())).into(),
    };
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Unobserved::Exec(format!("buildctl did not finish: {e}")).into(),
        Err(_) => {
            let _ = child.kill().await;
            let text = tail(log);
            let line = format!(
                "the build did not finish within {}",
                humantime::format_duration(timeout)
            );
            return Failure::text(line.clone(), format!("{text}\n{line}"), Class::StepTimeout).into();
        }
    };
    let text = tail(log);
    // The saved log is evidence: secrets in it are redacted like everything else the harness shows.
    let redacted = crate::redact::secrets(&text);
    if redacted != text {
        let _ = std::fs::write(log, redacted.as_bytes());
    }
    if status.success() {
        return Seen::Ok;
    }
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("error:") || l.contains(" ERROR:"))
        .map_or_else(|| format!("buildctl exited with {status}"), str::to_owned);
    Failure::text(line, text, Class::Unknown).into()
}

/// The last [`LOG_TAIL`] bytes of the log, as text.
fn tail(log: &Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(log) else {
        return String::new();
    };
    let length = file.metadata().map_or(0, |m| m.len());
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(LOG_TAIL)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `path` relative to the repository root, as the scenario names it.
fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}
