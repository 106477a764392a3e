//! Tests of the harness test bed (`fixtures/testbed`): a real Kubernetes control plane with a
//! simulated Windows node and a simulated Linux node (kwok), Windows command doubles behind
//! `kubectl exec`, kwok stages for failing images, and a real buildkitd.
//!
//! Tests that need the running test bed (`fixtures/testbed/testbed up`, or `.ci/testbed up`)
//! are reported as ignored with the reason when it is down; they never pass silently. The
//! lifecycle test brings up a private instance of its own (it only needs the built binaries),
//! and the container test needs a Docker engine and the locally built buildkitd image.

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use serde_json::{Value, json};

type TestResult = Result<Completion, Failed>;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ has a parent")
        .to_path_buf()
}

fn testbed_script() -> PathBuf {
    repo().join("fixtures/testbed/testbed")
}

/// What `testbed status --json` says.
#[derive(Clone, Debug)]
struct Bed {
    up: bool,
    kubeconfig: String,
    context: String,
    buildkit_addr: Option<String>,
    buildkit_image: String,
    buildctl: PathBuf,
    kubectl: PathBuf,
    windows_state: PathBuf,
    nodes_file: PathBuf,
}

fn str_at(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer).and_then(Value::as_str).map(str::to_owned)
}

impl Bed {
    fn from_status(v: &Value) -> Result<Self, String> {
        let need = |p: &str| str_at(v, p).ok_or_else(|| format!("testbed status --json lacks {p}"));
        Ok(Self {
            up: str_at(v, "/state").as_deref() == Some("up"),
            kubeconfig: str_at(v, "/kubeconfig").unwrap_or_default(),
            context: need("/context")?,
            buildkit_addr: str_at(v, "/buildkit/addr"),
            buildkit_image: need("/buildkit/image")?,
            buildctl: need("/bin/buildctl")?.into(),
            kubectl: need("/bin/kubectl")?.into(),
            windows_state: need("/windows/state")?.into(),
            nodes_file: need("/nodes/file")?.into(),
        })
    }

    fn status(envs: &[(&str, String)]) -> Result<(Self, Value), String> {
        let mut cmd = Command::new(testbed_script());
        cmd.args(["status", "--json"]);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {}: {e}", testbed_script().display()))?;
        let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
            format!(
                "testbed status --json printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        Ok((Self::from_status(&v)?, v))
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--context")
            .arg(&self.context)
            .args(args)
            .output()
            .expect("kubectl runs")
    }

    fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write as _;
        let mut child = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--context")
            .arg(&self.context)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("kubectl finishes")
    }

    fn kubectl_ok(&self, args: &[&str]) -> Result<String, Failed> {
        let out = self.kubectl(args);
        if !out.status.success() {
            return Err(format!(
                "kubectl {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn kubectl_json(&self, args: &[&str]) -> Result<Value, Failed> {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let text = self.kubectl_ok(&all)?;
        serde_json::from_str(&text).map_err(|e| format!("kubectl printed no JSON: {e}").into())
    }

    fn apply(&self, namespace: &str, object: &Value) -> Result<(), Failed> {
        let out = self.kubectl_stdin(&["-n", namespace, "apply", "-f", "-"], &object.to_string());
        if !out.status.success() {
            return Err(format!("kubectl apply failed: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok(())
    }

    fn windows_node(&self) -> Result<Value, Failed> {
        let text =
            std::fs::read_to_string(&self.nodes_file).map_err(|e| format!("{}: {e}", self.nodes_file.display()))?;
        let nodes: Value = serde_json::from_str(&text).map_err(|e| format!("nodes.json: {e}"))?;
        nodes["items"]
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .find(|n| n["metadata"]["labels"]["kubernetes.io/os"] == "windows")
            })
            .cloned()
            .ok_or_else(|| "nodes.json has no Windows node".into())
    }
}

/// A namespace for one test, deleted when dropped.
struct Namespace<'a> {
    bed: &'a Bed,
    name: String,
}

impl<'a> Namespace<'a> {
    fn create(bed: &'a Bed, test: &str) -> Result<Self, Failed> {
        let name = format!("tb-{test}-{}", std::process::id());
        bed.kubectl_ok(&["create", "namespace", &name])?;
        bed.kubectl_ok(&["label", "namespace", &name, "harness.testbed/test=true"])?;
        // The service account controller creates `default` shortly after the namespace.
        wait_for(Duration::from_secs(30), "the default service account", || {
            Ok(bed
                .kubectl(&["-n", &name, "get", "serviceaccount", "default"])
                .status
                .success()
                .then_some(()))
        })?;
        Ok(Self { bed, name })
    }
}

impl Drop for Namespace<'_> {
    fn drop(&mut self) {
        let _ = self.bed.kubectl(&["delete", "namespace", &self.name, "--wait=false"]);
    }
}

fn wait_for<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<Option<T>, Failed>,
) -> Result<T, Failed> {
    let start = Instant::now();
    loop {
        if let Some(v) = probe()? {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            return Err(format!("timed out after {timeout:?} waiting for {what}").into());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn check(cond: bool, msg: impl FnOnce() -> String) -> Result<(), Failed> {
    if cond { Ok(()) } else { Err(msg().into()) }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const SIMULATED_MARK: &str = "simulated: harness test double";

// ---------------------------------------------------------------------------------------------
// nodes

fn nodes_report_declared_environment(bed: &Bed) -> TestResult {
    let expected = bed.windows_node()?;
    let name = expected["metadata"]["name"].as_str().unwrap_or_default().to_owned();
    let node = bed.kubectl_json(&["get", "node", &name])?;
    for (key, want) in expected["status"]["nodeInfo"].as_object().into_iter().flatten() {
        if want.as_str().is_some_and(|s| !s.is_empty()) {
            check(&node["status"]["nodeInfo"][key] == want, || {
                format!("nodeInfo.{key}: want {want}, got {}", node["status"]["nodeInfo"][key])
            })?;
        }
    }
    for (key, want) in expected["metadata"]["labels"].as_object().into_iter().flatten() {
        check(&node["metadata"]["labels"][key] == want, || {
            format!("label {key}: want {want}, got {}", node["metadata"]["labels"][key])
        })?;
    }
    check(node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake", || {
        "the Windows node is not recognisable as KWOK-managed (annotation kwok.x-k8s.io/node)".into()
    })?;
    check(node["spec"]["taints"].as_array().is_none_or(Vec::is_empty), || {
        format!("the Windows node has taints: {}", node["spec"]["taints"])
    })?;
    let ready = node["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    check(ready, || "the Windows node is not Ready".into())?;

    let all = bed.kubectl_json(&["get", "nodes"])?;
    let linux = all["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["metadata"]["labels"]["kubernetes.io/os"] == "linux")
        .count();
    check(linux >= 1, || "no Linux node in the test bed".into())?;

    let wide = bed.kubectl_ok(&["get", "nodes", "-o", "wide"])?;
    let row = wide
        .lines()
        .find(|l| l.starts_with(&name))
        .ok_or_else(|| format!("`kubectl get nodes -o wide` has no row for {name}:\n{wide}"))?;
    for field in ["osImage", "kernelVersion", "containerRuntimeVersion", "kubeletVersion"] {
        let want = expected["status"]["nodeInfo"][field].as_str().unwrap_or_default();
        check(row.contains(want), || {
            format!("`get nodes -o wide` row lacks {field} {want:?}: {row}")
        })?;
    }
    Ok(Completion::Completed)
}

// ---------------------------------------------------------------------------------------------
// DaemonSet placement

fn daemonset(name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "nodeSelector": {"kubernetes.io/os": "windows"},
                    "securityContext": {"windowsOptions": {
                        "hostProcess": true, "runAsUserName": "NT AUTHORITY\\SYSTEM"}},
                    "hostNetwork": true,
                    "containers": [{
                        "name": "buildkitd",
                        "image": image,
                        "command": ["$env:CONTAINER_SANDBOX_MOUNT_POINT/buildkit/buildkitd.exe"],
                        "args": ["--addr", "tcp://0.0.0.0:1234", "--containerd-worker-namespace=k8s.io",
                                 "--root", "C:/buildkitd"],
                    }],
                },
            },
        },
    })
}

fn pods_of(bed: &Bed, ns: &str, app: &str) -> Result<Vec<Value>, Failed> {
    let list = bed.kubectl_json(&["-n", ns, "get", "pods", "-l", &format!("app={app}")])?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

fn running_pod(bed: &Bed, ns: &str, app: &str) -> Result<Value, Failed> {
    wait_for(Duration::from_secs(60), "a Running pod of the DaemonSet", || {
        Ok(pods_of(bed, ns, app)?
            .into_iter()
            .find(|p| p["status"]["phase"] == "Running"))
    })
}

fn daemonset_lands_on_windows_node_only(bed: &Bed) -> TestResult {
    let ns = Namespace::create(bed, "ds")?;
    let windows = bed.windows_node()?["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    bed.apply(
        &ns.name,
        &daemonset("buildkitd-windows", "registry.invalid/buildkitd:windows-0.28.0"),
    )?;
    let pod = running_pod(bed, &ns.name, "buildkitd-windows")?;
    check(pod["spec"]["nodeName"] == windows.as_str(), || {
        format!("the pod runs on {} instead of {windows}", pod["spec"]["nodeName"])
    })?;
    let ds = wait_for(Duration::from_secs(30), "DaemonSet status numberReady=1", || {
        let ds = bed.kubectl_json(&["-n", &ns.name, "get", "daemonset", "buildkitd-windows"])?;
        Ok((ds["status"]["numberReady"] == 1).then_some(ds))
    })?;
    check(ds["status"]["desiredNumberScheduled"] == 1, || {
        format!(
            "desiredNumberScheduled is {}, want 1 (the Windows node only)",
            ds["status"]["desiredNumberScheduled"]
        )
    })?;
    let pods = pods_of(bed, &ns.name, "buildkitd-windows")?;
    let elsewhere: Vec<_> = pods
        .iter()
        .filter(|p| p["spec"]["nodeName"] != windows.as_str())
        .collect();
    check(pods.len() == 1 && elsewhere.is_empty(), || {
        format!(
            "want one pod on {windows}, got {} pods ({} elsewhere)",
            pods.len(),
            elsewhere.len()
        )
    })?;
    Ok(Completion::Completed)
}

// ---------------------------------------------------------------------------------------------
// exec through the Windows doubles, logs

fn exec(bed: &Bed, ns: &str, pod: &str, argv: &[&str]) -> Output {
    let mut args = vec!["-n", ns, "exec", pod, "-c", "buildkitd", "--"];
    args.extend_from_slice(argv);
    bed.kubectl(&args)
}

fn read_services(bed: &Bed) -> Result<Value, Failed> {
    let path = bed.windows_state.join("services.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("services.json: {e}").into())
}

fn exec_answers_through_windows_doubles(bed: &Bed) -> TestResult {
    let ns = Namespace::create(bed, "exec")?;
    bed.apply(
        &ns.name,
        &daemonset("buildkitd-windows", "registry.invalid/buildkitd:windows-0.28.0"),
    )?;
    let pod = running_pod(bed, &ns.name, "buildkitd-windows")?;
    let pod = pod["metadata"]["name"].as_str().unwrap_or_default().to_owned();
    let svc = format!("tb-buildkitd-{}", std::process::id());
    let dir = format!("C:\\tb-{}", std::process::id());
    let exe = format!("{dir}\\bin\\buildkitd.exe");

    // Not registered yet: PowerShell answers as Windows does, labelled simulated.
    let out = exec(
        bed,
        &ns.name,
        &pod,
        &["powershell", "-NoProfile", "-Command", &format!("Get-Service {svc}")],
    );
    let err = text(&out.stderr);
    check(!out.status.success(), || {
        "Get-Service of an unknown service succeeded".into()
    })?;
    check(err.contains(SIMULATED_MARK), || {
        format!("the answer is not labelled simulated: {err}")
    })?;
    check(
        err.contains(&format!("Cannot find any service with service name '{svc}'")),
        || format!("unexpected Get-Service error: {err}"),
    )?;

    // The workaround: copy buildkitd.exe out of the container and register it as a service.
    let copy = format!(
        "New-Item -ItemType Directory -Path {dir}\\bin -Force | Out-Null; \
         Copy-Item \"$env:CONTAINER_SANDBOX_MOUNT_POINT\\buildkit\\buildkitd.exe\" {exe} -Force"
    );
    let out = exec(bed, &ns.name, &pod, &["powershell", "-NoProfile", "-Command", &copy]);
    check(out.status.success(), || {
        format!("Copy-Item failed: {}", text(&out.stderr))
    })?;
    let register = [
        exe.as_str(),
        "--register-service",
        "--service-name",
        &svc,
        "--log-file",
        "C:\\tb.log",
    ];
    let out = exec(bed, &ns.name, &pod, &register);
    check(out.status.success(), || {
        format!("--register-service failed: {}", text(&out.stderr))
    })?;
    let services = read_services(bed)?;
    check(services[&svc]["binPath"] == exe.as_str(), || {
        format!("services.json: {services}")
    })?;

    // Registering twice fails as on Windows.
    let out = exec(bed, &ns.name, &pod, &register);
    let err = text(&out.stderr);
    check(!out.status.success(), || "a second --register-service succeeded".into())?;
    check(err.contains("The specified service already exists."), || {
        format!("unexpected error: {err}")
    })?;

    let out = exec(
        bed,
        &ns.name,
        &pod,
        &[
            "powershell",
            "-Command",
            &format!("Start-Service {svc}; Get-Service {svc} | Select-Object -ExpandProperty Status"),
        ],
    );
    check(text(&out.stdout).trim() == "Running", || {
        format!("Start-Service/Get-Service: {} {}", text(&out.stdout), text(&out.stderr))
    })?;
    let out = exec(bed, &ns.name, &pod, &["sc.exe", "query", &svc]);
    check(text(&out.stdout).contains("4  RUNNING"), || {
        format!("sc.exe query: {}", text(&out.stdout))
    })?;

    // The bind probe answers as the seed observed inside the HostProcess silo.
    let out = exec(
        bed,
        &ns.name,
        &pod,
        &[
            "bindprobe.exe",
            "bind",
            &format!("{dir}\\src-test"),
            &format!("{dir}\\dst-test"),
        ],
    );
    let answer: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("bindprobe printed no JSON ({e}): {}", text(&out.stdout)))?;
    let denied = answer["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| s["name"] == "BfSetupFilter" && s["hresult"] == "0x80070005" && s["win32"] == 5);
    check(
        answer["simulated"] == true
            && answer["schema"] == 1
            && answer["failed_step"] == "BfSetupFilter"
            && answer["error"]
                .as_str()
                .is_some_and(|e| e.ends_with(": Access is denied."))
            && denied,
        || format!("bindprobe: {answer}"),
    )?;

    // Teardown removes what the workaround left; the double's state proves it.
    let teardown = format!(
        "Stop-Service {svc}; & {exe} --unregister-service --service-name {svc}; Remove-Item {dir} -Recurse -Force; \
         Remove-Item C:\\tb.log"
    );
    let out = exec(bed, &ns.name, &pod, &["powershell", "-Command", &teardown]);
    check(out.status.success(), || {
        format!("teardown failed: {}", text(&out.stderr))
    })?;
    let services = read_services(bed)?;
    check(services.get(&svc).is_none(), || {
        format!("the service is still registered: {services}")
    })?;
    let left = bed
        .windows_state
        .join("fs/C:")
        .join(format!("tb-{}", std::process::id()));
    check(!left.exists(), || format!("{} is left behind", left.display()))?;
    let out = exec(bed, &ns.name, &pod, &["sc.exe", "query", &svc]);
    check(text(&out.stdout).contains("FAILED 1060"), || {
        format!("sc.exe query after teardown: {}", text(&out.stdout))
    })?;

    // Pod logs of the simulated buildkitd.
    let logs = bed.kubectl_ok(&["-n", &ns.name, "logs", &pod, "-c", "buildkitd"])?;
    check(
        logs.contains("running server on") && logs.contains(SIMULATED_MARK),
        || format!("pod logs: {logs}"),
    )?;

    // Every command the double answered is journaled as simulated.
    let journal = std::fs::read_to_string(bed.windows_state.join("journal.jsonl")).unwrap_or_default();
    check(journal.lines().any(|l| l.contains(&svc)), || {
        "the journal has no entry for this test".into()
    })?;
    check(journal.lines().all(|l| l.contains("\"simulated\": true")), || {
        "a journal entry is not simulated".into()
    })?;
    Ok(Completion::Completed)
}

// ---------------------------------------------------------------------------------------------
// failing images

fn pod(name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeSelector": {"kubernetes.io/os": "windows"},
            "containers": [{"name": "app", "image": image}],
        },
    })
}

fn events_of(bed: &Bed, ns: &str, name: &str) -> Result<Vec<(String, String)>, Failed> {
    let list = bed.kubectl_json(&[
        "-n",
        ns,
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.name={name}"),
    ])?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or("").to_owned(),
                e["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect())
}

fn failing_images_back_off(bed: &Bed) -> TestResult {
    let ns = Namespace::create(bed, "fail")?;
    bed.apply(&ns.name, &pod("pull", "registry.invalid/harness/app:pull-fails"))?;
    bed.apply(&ns.name, &pod("crash", "registry.invalid/harness/app:crash-loops"))?;

    wait_for(
        Duration::from_secs(60),
        "ImagePullBackOff with Failed and BackOff events",
        || {
            let p = bed.kubectl_json(&["-n", &ns.name, "get", "pod", "pull"])?;
            let reason = p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"].clone();
            let events = events_of(bed, &ns.name, "pull")?;
            let failed = events.iter().any(|(t, r)| t == "Warning" && r == "Failed");
            let backoff = events.iter().any(|(t, r)| t == "Warning" && r == "BackOff");
            Ok((p["status"]["phase"] == "Pending" && reason == "ImagePullBackOff" && failed && backoff).then_some(()))
        },
    )?;

    wait_for(
        Duration::from_secs(90),
        "CrashLoopBackOff with restarts and a BackOff event",
        || {
            let p = bed.kubectl_json(&["-n", &ns.name, "get", "pod", "crash"])?;
            let st = &p["status"]["containerStatuses"][0];
            let looping = st["state"]["waiting"]["reason"] == "CrashLoopBackOff"
                && st["restartCount"].as_i64().unwrap_or(0) >= 1
                && st["lastState"]["terminated"]["exitCode"] == 1;
            let backoff = events_of(bed, &ns.name, "crash")?
                .iter()
                .any(|(t, r)| t == "Warning" && r == "BackOff");
            Ok((looping && backoff).then_some(()))
        },
    )?;
    Ok(Completion::Completed)
}

// ---------------------------------------------------------------------------------------------
// builds against a real buildkitd

fn build_context() -> Result<tempfile::TempDir, Failed> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY hello.txt /hello.txt\n",
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(dir.path().join("hello.txt"), "hello from the harness test bed\n").map_err(|e| e.to_string())?;
    Ok(dir)
}

/// `buildctl build` of a FROM scratch + COPY context with `--output type=oci`; checks the archive.
fn buildctl_build_oci(buildctl: &Path, addr: &str) -> Result<(), Failed> {
    let ctx = build_context()?;
    let dest = ctx.path().join("out.tar");
    let ctx_arg = format!("context={}", ctx.path().display());
    let df_arg = format!("dockerfile={}", ctx.path().display());
    let out_arg = format!("type=oci,dest={}", dest.display());
    let out = Command::new(buildctl)
        .args([
            "--addr",
            addr,
            "build",
            "--frontend",
            "dockerfile.v0",
            "--local",
            &ctx_arg,
            "--local",
            &df_arg,
        ])
        .args(["--output", &out_arg, "--progress", "plain"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", buildctl.display()))?;
    check(out.status.success(), || {
        format!("buildctl build failed: {}", text(&out.stderr))
    })?;
    let mut tar = Vec::new();
    std::fs::File::open(&dest)
        .and_then(|mut f| f.read_to_end(&mut tar))
        .map_err(|e| format!("{}: {e}", dest.display()))?;
    let names = tar_names(&tar);
    for want in ["oci-layout", "index.json"] {
        check(names.iter().any(|n| n == want), || {
            format!("the OCI archive lacks {want}: {names:?}")
        })?;
    }
    check(names.iter().any(|n| n.starts_with("blobs/sha256/")), || {
        format!("no blobs: {names:?}")
    })?;
    Ok(())
}

/// Entry names of a ustar archive.
fn tar_names(tar: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut off = 0;
    while off + 512 <= tar.len() {
        let header = &tar[off..off + 512];
        if header.iter().all(|&b| b == 0) {
            break;
        }
        let field = |r: std::ops::Range<usize>| {
            let raw = &header[r];
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            String::from_utf8_lossy(&raw[..end]).into_owned()
        };
        let prefix = field(345..500);
        let name = field(0..100);
        names.push(if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        });
        let size = usize::from_str_radix(field(124..136).trim(), 8).unwrap_or(0);
        off += 512 + size.div_ceil(512) * 512;
    }
    names
}

fn buildctl_builds_against_testbed_buildkitd(bed: &Bed) -> TestResult {
    let Some(addr) = &bed.buildkit_addr else {
        return Ok(Completion::ignored_with(
            "the test bed runs without its buildkitd (TESTBED_BUILDKIT_PORT=0)",
        ));
    };
    buildctl_build_oci(&bed.buildctl, addr)?;
    Ok(Completion::Completed)
}

fn docker_answers() -> Result<(), String> {
    let out = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output();
    match out {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!("no Docker engine answers ({})", text(&o.stderr).trim())),
        Err(e) => Err(format!("no docker CLI ({e})")),
    }
}

fn buildctl_builds_against_buildkitd_container(bed: &Bed) -> TestResult {
    use testcontainers::core::{IntoContainerPort as _, WaitFor};
    use testcontainers::runners::AsyncRunner as _;
    use testcontainers::{GenericImage, ImageExt as _};

    if let Err(reason) = docker_answers() {
        return Ok(Completion::ignored_with(format!(
            "{reason}; start one with `fixtures/testbed/testbed docker-up`"
        )));
    }
    let custom = std::env::var("TESTBED_BUILDKIT_IMAGE").ok().filter(|s| !s.is_empty());
    let upstream = custom.is_some();
    let image = custom.unwrap_or_else(|| bed.buildkit_image.clone());
    let inspect = Command::new("docker").args(["image", "inspect", &image]).output();
    if !upstream && !inspect.is_ok_and(|o| o.status.success()) {
        return Ok(Completion::ignored_with(format!(
            "image {image} is not built; run `fixtures/testbed/testbed image`"
        )));
    }
    let (name, tag) = image.rsplit_once(':').unwrap_or((&image, "latest"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let request = GenericImage::new(name, tag)
            .with_exposed_port(1234.tcp())
            .with_wait_for(WaitFor::message_on_stderr("running server on"))
            .with_startup_timeout(Duration::from_secs(60));
        // The local image needs mounts only (native snapshotter): CAP_SYS_ADMIN, unconfined.
        // `--privileged` is refused where the host's bounding set lacks a capability. The
        // upstream image (TESTBED_BUILDKIT_IMAGE=moby/buildkit:v0.28.0) runs privileged.
        let request = if upstream {
            request
                .with_cmd(["--addr", "tcp://0.0.0.0:1234", "--oci-worker-snapshotter=native"])
                .with_privileged(true)
        } else {
            request
                .with_cap_add("SYS_ADMIN")
                .with_security_opt("seccomp=unconfined")
                .with_security_opt("apparmor=unconfined")
        };
        let container = request
            .start()
            .await
            .map_err(|e| format!("cannot start {image}: {e}"))?;
        let port = container
            .get_host_port_ipv4(1234.tcp())
            .await
            .map_err(|e| e.to_string())?;
        let addr = format!("tcp://127.0.0.1:{port}");
        let buildctl = bed.buildctl.clone();
        tokio::task::spawn_blocking(move || buildctl_build_oci(&buildctl, &addr))
            .await
            .map_err(|e| e.to_string())??;
        container.rm().await.map_err(|e| e.to_string())?;
        Ok::<_, Failed>(())
    })?;
    Ok(Completion::Completed)
}

// ---------------------------------------------------------------------------------------------
// lifecycle: a private instance, up twice, down leaves nothing behind

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn pids_under(dir: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmd.contains(dir) {
            found.push((pid, cmd));
        }
    }
    found
}

fn mounts_under(dir: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(dir))
        .map(str::to_owned)
        .collect()
}

fn loopback_ports_in(cmdlines: &[(u32, String)]) -> Vec<u16> {
    let re = regex::Regex::new(r"(?:127\.0\.0\.1:|--(?:secure-)?port=)(\d{2,5})").expect("regex");
    let mut ports: Vec<u16> = cmdlines
        .iter()
        .flat_map(|(_, c)| {
            re.captures_iter(c)
                .filter_map(|m| m[1].parse().ok())
                .collect::<Vec<_>>()
        })
        .filter(|p| *p != 0)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

fn up_twice_then_down_leaves_nothing() -> TestResult {
    let built = Command::new(repo().join("fixtures/testbed/build"))
        .args(["--check", "kwok", "etcd", "kube", "buildkit"])
        .output()
        .map_err(|e| e.to_string())?;
    if !built.status.success() {
        return Ok(Completion::ignored_with(
            "the test bed's binaries are not built; run `fixtures/testbed/build` (or `.ci/testbed prepare`)",
        ));
    }
    let tmp = tempfile::Builder::new()
        .prefix("harness-testbed-lifecycle-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let run = tmp.path().join("run");
    let run_str = format!("{}/", run.display());
    let envs = vec![
        ("TESTBED_RUN_DIR", run.display().to_string()),
        ("TESTBED_CONTEXT", "harness-testbed-lifecycle".to_owned()),
        ("TESTBED_BUILDKIT_PORT", free_port().to_string()),
        ("TESTBED_WORKLOAD_PORT", free_port().to_string()),
    ];
    let testbed = |args: &[&str]| {
        let mut cmd = Command::new(testbed_script());
        cmd.args(args);
        for (k, v) in &envs {
            cmd.env(k, v);
        }
        cmd.output().expect("testbed runs")
    };

    let out = testbed(&["up"]);
    check(out.status.success(), || {
        format!("first up failed: {}", text(&out.stderr))
    })?;
    let (bed, first) = Bed::status(&envs)?;
    check(bed.up, || "status is not up after up".into())?;

    let started = Instant::now();
    let out = testbed(&["up"]);
    check(out.status.success(), || {
        format!("second up failed: {}", text(&out.stderr))
    })?;
    check(text(&out.stderr).contains("already up"), || {
        format!("second up rebuilt the bed: {}", text(&out.stderr))
    })?;
    let (_, second) = Bed::status(&envs)?;
    check(first["server"] == second["server"], || {
        "the second up changed the API server".into()
    })?;
    let second_up = started.elapsed();
    check(second_up < Duration::from_secs(60), || {
        format!("the second up took {second_up:?}")
    })?;
    bed.kubectl_ok(&["get", "nodes"])?;

    // A control-plane process that died (the controller manager and the scheduler exit after the API server was
    // stopped for long) while the API server still answers: status says down, and up builds the test bed again.
    let scheduler = run.join("kwok/clusters/harness-testbed/pids/kube-scheduler.pid");
    let pid = std::fs::read_to_string(&scheduler).map_err(|e| format!("{}: {e}", scheduler.display()))?;
    Command::new("kill")
        .arg(pid.trim())
        .status()
        .map_err(|e| e.to_string())?;
    wait_for(Duration::from_secs(10), "status to say down", || {
        Ok((!Bed::status(&envs)?.0.up).then_some(()))
    })?;
    let out = testbed(&["up"]);
    check(
        out.status.success() && text(&out.stderr).contains("not healthy"),
        || {
            format!(
                "up did not rebuild a test bed whose scheduler died: {}",
                text(&out.stderr)
            )
        },
    )?;
    let (bed, _) = Bed::status(&envs)?;
    check(bed.up, || "status is not up after up rebuilt the test bed".into())?;
    bed.kubectl_ok(&["get", "nodes"])?;

    let procs = pids_under(&run_str);
    check(!procs.is_empty(), || "no test bed process found before down".into())?;
    let ports = loopback_ports_in(&procs);
    check(!ports.is_empty(), || {
        "no loopback port found in the test bed's command lines".into()
    })?;

    let out = testbed(&["down"]);
    check(out.status.success(), || format!("down failed: {}", text(&out.stderr)))?;
    let (bed, _) = Bed::status(&envs)?;
    check(!bed.up, || "status is still up after down".into())?;
    let left = pids_under(&run_str);
    check(left.is_empty(), || format!("processes left after down: {left:?}"))?;
    let mounts = mounts_under(&run_str);
    check(mounts.is_empty(), || format!("mounts left after down: {mounts:?}"))?;
    let open: Vec<u16> = ports
        .iter()
        .copied()
        .filter(|p| TcpStream::connect_timeout(&([127, 0, 0, 1], *p).into(), Duration::from_millis(300)).is_ok())
        .collect();
    check(open.is_empty(), || {
        format!("ports still answer after down: {open:?} (of {ports:?})")
    })?;
    check(!run.exists(), || format!("{} is left after down", run.display()))?;

    let out = testbed(&["down"]);
    check(out.status.success(), || {
        format!("a second down failed: {}", text(&out.stderr))
    })?;
    Ok(Completion::Completed)
}

// ---------------------------------------------------------------------------------------------
// the Windows doubles on their own (no cluster): a fresh state folder per test

struct Double {
    state: tempfile::TempDir,
}

impl Double {
    fn new() -> Result<Self, Failed> {
        let state = tempfile::tempdir().map_err(|e| e.to_string())?;
        std::fs::create_dir_all(state.path().join("fs/C:/hpc/buildkit")).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(state.path().join("bin")).map_err(|e| e.to_string())?;
        let script = repo().join("fixtures/testbed/doubles/windows-double");
        std::os::unix::fs::symlink(&script, state.path().join("fs/C:/hpc/buildkit/buildkitd.exe"))
            .map_err(|e| e.to_string())?;
        Ok(Self { state })
    }

    /// Runs TOOL ARGS through the double, as kwok's exec would (cwd in the simulated file system).
    fn run(&self, argv: &[&str]) -> Output {
        Command::new(repo().join("fixtures/testbed/doubles/windows-double"))
            .args(argv)
            .current_dir(self.state.path().join("fs"))
            .env("TESTBED_WINDOWS_STATE", self.state.path())
            .env("CONTAINER_SANDBOX_MOUNT_POINT", "C:\\hpc\\")
            .env("TESTBED_WINDOWS_CWD", "C:\\hpc\\")
            .output()
            .expect("the double runs")
    }

    fn services(&self) -> Value {
        std::fs::read_to_string(self.state.path().join("services.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    }
}

fn double_labels_every_answer_as_simulated() -> TestResult {
    let d = Double::new()?;
    for argv in [
        &["powershell", "-Command", "Write-Output hi"][..],
        &["sc.exe", "query", "nope"],
        &["cmd", "/c", "echo", "hi"],
        &["buildkitd.exe", "--version"],
        &["bindprobe.exe", "context"],
        &["whoami"],
    ] {
        let out = d.run(argv);
        let err = text(&out.stderr);
        check(err.starts_with(SIMULATED_MARK), || {
            format!("{argv:?}: first stderr line is not the mark: {err}")
        })?;
    }
    let out = d.run(&["bindprobe.exe", "bind", "C:\\a", "C:\\b"]);
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    check(v["simulated"] == true && v["exit_code"] == 1, || {
        format!("bindprobe bind: {v}")
    })?;
    let out = d.run(&["powershell", "-Command", "Get-Process"]);
    check(
        !out.status.success() && text(&out.stderr).contains("does not implement 'Get-Process'"),
        || format!("an unimplemented cmdlet must fail clearly: {}", text(&out.stderr)),
    )?;
    let out = d.run(&["notepad.exe"]);
    check(
        !out.status.success() && text(&out.stderr).contains("unknown command"),
        || format!("an unknown command must fail clearly: {}", text(&out.stderr)),
    )?;
    Ok(Completion::Completed)
}

fn double_service_lifecycle_matches_windows() -> TestResult {
    let d = Double::new()?;
    // Case-insensitive dispatch, with or without .exe, either separator.
    let out = d.run(&[
        "C:/hpc/buildkit/BUILDKITD.EXE",
        "--register-service",
        "--service-name",
        "bk",
    ]);
    check(out.status.success(), || format!("register: {}", text(&out.stderr)))?;
    check(
        d.services()["bk"]["binPath"] == "C:\\hpc\\buildkit\\BUILDKITD.EXE",
        || format!("{}", d.services()),
    )?;
    check(
        d.services()["bk"]["args"] == json!(["--run-service", "--service-name", "bk"]),
        || format!("{}", d.services()),
    )?;
    let out = d.run(&["buildkitd", "--register-service", "--service-name", "BK"]);
    check(out.status.code() == Some(1), || {
        format!("a second register exits {:?}", out.status.code())
    })?;
    check(
        text(&out.stderr).contains("level=fatal msg=\"The specified service already exists.\""),
        || format!("second register: {}", text(&out.stderr)),
    )?;
    let out = d.run(&["sc", "query", "bk"]);
    check(text(&out.stdout).contains("1  STOPPED"), || {
        format!("sc query: {}", text(&out.stdout))
    })?;
    let out = d.run(&["pwsh.exe", "-NoProfile", "-Command", "Start-Service bk; Get-Service bk"]);
    check(out.status.success(), || format!("Start-Service: {}", text(&out.stderr)))?;
    // Unregistering a running service marks it for deletion; it goes when it stops.
    let out = d.run(&["buildkitd.exe", "--unregister-service", "--service-name", "bk"]);
    check(out.status.success(), || format!("unregister: {}", text(&out.stderr)))?;
    check(d.services()["bk"]["markedForDelete"] == true, || {
        format!("{}", d.services())
    })?;
    let out = d.run(&["sc.exe", "stop", "bk"]);
    check(out.status.success(), || format!("sc stop: {}", text(&out.stdout)))?;
    check(d.services().get("bk").is_none(), || {
        format!("still registered: {}", d.services())
    })?;
    let out = d.run(&["sc.exe", "delete", "bk"]);
    check(text(&out.stdout).contains("FAILED 1060"), || {
        format!("sc delete of a gone service: {}", text(&out.stdout))
    })?;
    Ok(Completion::Completed)
}

fn double_file_commands_keep_state() -> TestResult {
    let d = Double::new()?;
    let script = "New-Item -ItemType Directory -Path C:\\BK\\bin -Force | Out-Null; \
                  Copy-Item \"$env:CONTAINER_SANDBOX_MOUNT_POINT\\buildkit\\buildkitd.exe\" C:\\bk\\bin\\; \
                  Test-Path c:\\bk\\BIN\\buildkitd.exe";
    let out = d.run(&["powershell", "-Command", script]);
    check(text(&out.stdout).trim() == "True", || {
        format!("copy + Test-Path: {} {}", text(&out.stdout), text(&out.stderr))
    })?;
    check(d.state.path().join("fs/C:/BK/bin/buildkitd.exe").exists(), || {
        "the copy is not in the state folder".into()
    })?;
    check(d.state.path().join("bin/C:\\BK\\bin\\buildkitd.exe").exists(), || {
        "the copied .exe is not runnable by its Windows path".into()
    })?;
    let out = d.run(&["powershell", "-Command", "Remove-Item C:\\bk"]);
    check(
        !out.status.success() && text(&out.stderr).contains("has children"),
        || {
            format!(
                "Remove-Item of a non-empty folder without -Recurse: {}",
                text(&out.stderr)
            )
        },
    )?;
    let out = d.run(&[
        "powershell",
        "-Command",
        "Remove-Item C:\\bk -Recurse -Force; Test-Path C:\\bk",
    ]);
    check(text(&out.stdout).trim() == "False", || {
        format!("Remove-Item -Recurse: {}", text(&out.stderr))
    })?;
    check(!d.state.path().join("bin/C:\\BK\\bin\\buildkitd.exe").exists(), || {
        "the PATH entry is left".into()
    })?;
    let out = d.run(&["cmd.exe", "/c", "mkdir C:\\x"]);
    check(d.state.path().join("fs/C:/x").is_dir(), || {
        format!("cmd /c mkdir: {}", text(&out.stderr))
    })?;
    let journal = std::fs::read_to_string(d.state.path().join("journal.jsonl")).unwrap_or_default();
    check(journal.lines().count() == 4, || format!("journal: {journal}"))?;
    Ok(Completion::Completed)
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let args = Arguments::from_args();
    let status = Bed::status(&[]);
    let down_reason = match &status {
        Ok((bed, _)) if bed.up => None,
        Ok(_) => Some("the test bed is down; run `fixtures/testbed/testbed up` (or `.ci/testbed up`)".to_owned()),
        Err(e) => Some(format!("the test bed's status is unknown: {e}")),
    };
    let bed = Arc::new(status.map(|(b, _)| b).ok());

    type Needs = fn(&Bed) -> TestResult;
    let needs_bed: [(&str, Needs); 5] = [
        (
            "testbed::nodes_report_declared_environment",
            nodes_report_declared_environment,
        ),
        (
            "testbed::daemonset_lands_on_windows_node_only",
            daemonset_lands_on_windows_node_only,
        ),
        (
            "testbed::exec_answers_through_windows_doubles",
            exec_answers_through_windows_doubles,
        ),
        ("testbed::failing_images_back_off", failing_images_back_off),
        (
            "testbed::buildctl_builds_against_testbed_buildkitd",
            buildctl_builds_against_testbed_buildkitd,
        ),
    ];
    let mut trials = Vec::new();
    for (name, f) in needs_bed {
        let bed = Arc::clone(&bed);
        let reason = down_reason.clone();
        trials.push(Trial::ignorable_test(name, move || match (reason, bed.as_ref()) {
            (None, Some(bed)) => f(bed),
            (reason, _) => Ok(Completion::ignored_with(reason.unwrap_or_default())),
        }));
    }
    {
        let bed = Arc::clone(&bed);
        trials.push(Trial::ignorable_test(
            "testbed::buildctl_builds_against_buildkitd_container",
            move || match bed.as_ref() {
                Some(bed) => buildctl_builds_against_buildkitd_container(bed),
                None => Ok(Completion::ignored_with("the test bed's status is unknown")),
            },
        ));
    }
    type Standalone = fn() -> TestResult;
    let doubles: [(&str, Standalone); 3] = [
        (
            "testbed::double_labels_every_answer_as_simulated",
            double_labels_every_answer_as_simulated,
        ),
        (
            "testbed::double_service_lifecycle_matches_windows",
            double_service_lifecycle_matches_windows,
        ),
        (
            "testbed::double_file_commands_keep_state",
            double_file_commands_keep_state,
        ),
    ];
    for (name, f) in doubles {
        trials.push(Trial::ignorable_test(name, f));
    }
    trials.push(Trial::ignorable_test(
        "testbed::up_twice_then_down_leaves_nothing",
        up_twice_then_down_leaves_nothing,
    ));
    libtest_mimic::run(&args, trials).exit();
}
