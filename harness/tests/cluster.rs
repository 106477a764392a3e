//! The cluster lane against the test bed's real API server and controllers (its Windows node is simulated):
//! deploy, roll out, probe through exec, tear down, and refuse a namespace the harness did not make.
//! Skipped, with the reason, when the test bed is down or no Windows bindprobe.exe is built (`.ci/run` builds one).

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use serde_json::Value;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// The test bed's `status --json`, read once: its paths do not change while the tests run.
fn status() -> Result<&'static Value, String> {
    static STATUS: std::sync::OnceLock<Result<Value, String>> = std::sync::OnceLock::new();
    STATUS
        .get_or_init(|| {
            let output = Command::new(repository().join("fixtures/testbed/testbed"))
                .args(["status", "--json"])
                .output()
                .map_err(|e| format!("cannot run fixtures/testbed/testbed: {e}"))?;
            serde_json::from_slice(&output.stdout).map_err(|_| "the test bed's status is unknown".to_owned())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The test bed's kubeconfig, or why it cannot be used.
fn testbed() -> Result<PathBuf, String> {
    let status = status()?;
    if status["state"] != "up" {
        return Err("the test bed is down (bring it up with `harness testbed up`)".to_owned());
    }
    // The lane delivers a Windows bindprobe.exe onto the node, as it does on a real one: without one the probe
    // steps would run the image's own, and these tests check the delivery.
    harness::lanes::cluster::Probe::find()?;
    Ok(PathBuf::from(status["kubeconfig"].as_str().unwrap_or_default()))
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .unwrap()
}

/// The namespaces of run `run_id` on the test bed (by the harness's run label).
fn namespaces_of(kubeconfig: &Path, run_id: &str) -> String {
    let selector = format!("harness/run-id={run_id}");
    let listed = kubectl(kubeconfig, &["get", "namespaces", "-l", &selector, "-o", "name"]);
    String::from_utf8_lossy(&listed.stdout).into_owned()
}

/// Fails when run `run_id` left a namespace on the test bed.
fn no_namespace_left(kubeconfig: &Path, run_id: &str) -> Result<(), Failed> {
    let left = namespaces_of(kubeconfig, run_id);
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("run {run_id} left namespaces behind: {left}").into())
    }
}

/// The namespace run `run_id` deploys the seed's `variant` into, as `harness render` names it.
fn rendered_namespace(run_id: &str, variant: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(repository())
        .args([
            "render",
            "scenarios/buildkit-6590.yaml",
            "--variant",
            variant,
            "--run-id",
            run_id,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("namespace: "))
        .unwrap();
    line.trim_start().trim_start_matches("namespace: ").to_owned()
}

/// The simulated Windows node's state folder (`windows.state` of the test bed's status).
fn windows_state() -> PathBuf {
    PathBuf::from(status().unwrap()["windows"]["state"].as_str().unwrap_or_default())
}

/// SHA-256 of `bytes` in upper-case hex, with the host's `sha256sum`.
fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_uppercase()
}

/// The test bed's buildctl (`bin.buildctl` of its status).
fn buildctl() -> String {
    status().unwrap()["bin"]["buildctl"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The command `harness run --lane cluster --context harness-testbed --run-id RUN_ID` for the seed scenario, reports
/// into `out`.
fn cluster_lane(kubeconfig: &Path, run_id: &str, out: &Path) -> Command {
    scenario_on_cluster_lane(kubeconfig, run_id, "scenarios/buildkit-6590.yaml", out)
}

/// The command `harness run --lane cluster --context harness-testbed --run-id RUN_ID SCENARIO`, reports into `out`.
fn scenario_on_cluster_lane(kubeconfig: &Path, run_id: &str, scenario: &str, out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_harness"));
    command
        .current_dir(repository())
        .env("KUBECONFIG", kubeconfig)
        .env("BUILDCTL", buildctl())
        .arg("run");
    command
        .args([
            "--lane",
            "cluster",
            "--context",
            "harness-testbed",
            "--run-id",
            run_id,
            scenario,
            "--out",
        ])
        .arg(out);
    command
}

/// `harness run --lane cluster --context harness-testbed`: its exit code and outcomes.
fn run_cluster_lane(kubeconfig: &Path, run_id: &str) -> (Option<i32>, Vec<Value>) {
    let (code, outcomes, _out) = run_scenario(kubeconfig, run_id, "scenarios/buildkit-6590.yaml", &[]);
    (code, outcomes)
}

/// `harness run --lane cluster` of `scenario` as run `run_id` on the test bed: its exit code, its outcomes, and the
/// output folder (kept while the value lives).
fn run_scenario(
    kubeconfig: &Path,
    run_id: &str,
    scenario: &str,
    extra: &[&str],
) -> (Option<i32>, Vec<Value>, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let output = scenario_on_cluster_lane(kubeconfig, run_id, scenario, out.path())
        .args(extra)
        .output()
        .unwrap();
    let outcomes = outcomes_in(out.path());
    (output.status.code(), outcomes, out)
}

/// The outcomes a run wrote into `out`.
fn outcomes_in(out: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(out.join("outcomes.jsonl")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The outcomes of the cases whose `containerd` cell is `value`.
fn in_cell(outcomes: &[Value], value: &str) -> Vec<Value> {
    outcomes
        .iter()
        .filter(|o| o["cell"]["containerd"] == value)
        .cloned()
        .collect()
}

fn find<'a>(outcomes: &'a [Value], variant: &str, step: &str) -> Result<&'a Value, Failed> {
    outcomes
        .iter()
        .find(|o| o["variant"] == variant && o["step"] == step)
        .ok_or_else(|| format!("no {variant} {step} outcome in {outcomes:#?}").into())
}

fn deploys_probes_and_tears_down(kubeconfig: &Path) -> Result<(), Failed> {
    let run_id = "test-deploys";
    let (code, outcomes) = run_cluster_lane(kubeconfig, run_id);
    if code != Some(0) {
        return Err(format!("exit {code:?}: {outcomes:#?}").into());
    }
    if let Some(real) = outcomes.iter().find(|o| o["evidence"] != "simulated") {
        return Err(format!("an outcome from the simulated node is not marked simulated: {real:#}").into());
    }
    for (variant, step, verdict) in [
        ("reproduction", "rollout", "passed"),
        ("reproduction", "probe/bind-plain-dirs", "reproduced"),
        // `snapshot: latest`: the newest layer snapshot under the simulated k0s containerd's root.
        ("reproduction", "probe/hcs-layer", "reproduced"),
        ("reproduction", "teardown", "passed"),
        ("workaround", "rollout", "passed"),
        // The double registers and starts the service as the container's start script would (no container
        // command runs on a simulated node), and teardown stops and unregisters it.
        ("workaround", "service", "passed"),
        // The seed's Windows build goes as its Linux twin to the real buildkitd behind the pod's endpoint, and the
        // workaround's to the service's: observed, not judged (no Linux build shows the bind filter's refusal).
        ("reproduction", "build/hello", "observed"),
        ("workaround", "build/hello", "observed"),
        ("workaround", "teardown", "passed"),
    ] {
        let outcome = find(&outcomes, variant, step)?;
        if outcome["verdict"] != verdict {
            return Err(format!("{variant} {step}: expected {verdict}, got {outcome:#}").into());
        }
    }
    for variant in ["reproduction", "workaround"] {
        let build = find(&outcomes, variant, "build/hello")?;
        if build["result"] != "ok"
            || build["expected"] != "observe"
            || build["detail"]["twin"] != true
            || build["observed"]["buildkit"] != "v0.28.0"
            || build["detail"]["buildkitd"]["snapshotter"].as_str().is_none()
        {
            return Err(format!("{variant}'s build did not go through the lane as its twin: {build:#}").into());
        }
    }
    let probe = find(&outcomes, "reproduction", "probe/bind-plain-dirs")?;
    if probe["code"] != "0x80070005" || probe["observed"]["containerd"] != "1.7.29" {
        return Err(format!("the probe's code or the observed environment is wrong: {probe:#}").into());
    }
    let layer = find(&outcomes, "reproduction", "probe/hcs-layer")?;
    if layer["detail"]["latest"]["snapshot"]
        != r"C:\var\lib\k0s\containerd\io.containerd.snapshotter.v1.windows\snapshots\117263"
        || layer["stages"]["prepare"]["result"] != "ok"
    {
        return Err(format!("the newest layer snapshot was not the one probed: {layer:#}").into());
    }
    // The probe was delivered onto the node (checked by SHA-256 there), run from there, and removed afterwards.
    let delivered = &probe["detail"]["probe"];
    let sent = std::fs::read(delivered["from"].as_str().unwrap_or("-")).unwrap_or_default();
    let sha256 = sha256_hex(&sent);
    let delivered_to = delivered["delivered"].as_str().unwrap_or_default();
    if !(delivered_to.starts_with(r"C:\ProgramData\harness\test-deploys_") && delivered_to.ends_with(r"\bindprobe.exe"))
        || delivered["sha256"] != sha256.as_str()
        || probe["detail"]["command"][0] != delivered["delivered"]
    {
        return Err(format!("the probe was not delivered as it should: {probe:#}").into());
    }
    let left = run_folders(run_id);
    if !left.is_empty() {
        return Err(format!("the delivered probe was left on the node: {left:?}").into());
    }
    let services = std::fs::read_to_string(windows_state().join("services.json")).unwrap_or_default();
    if services.contains(run_id) {
        return Err(format!("the workaround's service was left on the node: {services}").into());
    }
    let namespaces: Vec<&str> = outcomes
        .iter()
        .filter_map(|o| o["detail"]["namespace"].as_str())
        .collect();
    if namespaces.len() < 4 || !namespaces.iter().all(|n| n.starts_with("harness-test-deploys-")) {
        return Err(format!("the steps do not name the run's own namespaces: {namespaces:?}").into());
    }
    no_namespace_left(kubeconfig, run_id)
}

/// Builds go to the workload's endpoint (the pod's node address and the scenario's port), where the test bed's real
/// buildkitd answers: one twin builds, one fails at its RUN step; the logs are kept as evidence, the version observed.
fn builds_reach_the_workloads_buildkitd(kubeconfig: &Path) -> Result<(), Failed> {
    let scenario = "harness/tests/scenarios/testbed-builds.yaml";
    let (code, outcomes, out) = run_scenario(kubeconfig, "test-builds", scenario, &[]);
    if code != Some(0) {
        return Err(format!("exit {code:?}: {outcomes:#?}").into());
    }
    for (step, verdict, class) in [
        ("build/hello", "passed", Value::Null),
        ("build/broken", "reproduced", Value::from("run-step-failed")),
    ] {
        let outcome = find(&outcomes, "reproduction", step)?;
        let log = out.path().join(outcome["detail"]["log"].as_str().unwrap_or("-"));
        let kept = std::fs::read_to_string(&log).unwrap_or_default();
        if outcome["verdict"] != verdict
            || outcome["class"] != class
            || outcome["evidence"] != "simulated"
            || outcome["observed"]["buildkit"] != "v0.28.0"
            || outcome["detail"]["endpoint"] != "tcp://127.0.0.1:1234"
            || !kept.contains("[internal] load build definition from Dockerfile")
        {
            return Err(format!("{step}: {outcome:#}\nlog {}:\n{kept}", log.display()).into());
        }
    }
    // The failed build's outcome names the evidence bundle, kept before teardown removed the namespace.
    let broken = find(&outcomes, "reproduction", "build/broken")?;
    let files: Vec<&str> = broken["detail"]["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let read = |suffix: &str| {
        let file = files.iter().find(|f| f.ends_with(suffix))?;
        std::fs::read_to_string(out.path().join(file)).ok()
    };
    let bundle_ok = read("events.txt").is_some_and(|t| t.contains("Scheduled Pod/buildkitd-windows-"))
        && read("pods.yaml").is_some_and(|t| t.contains("containerStatuses"))
        && read(".buildkitd.log").is_some_and(|t| t.contains("running server on"))
        && read("node.yaml").is_some_and(|t| t.contains("KubeletReady") && t.contains("containerd://1.7.29"));
    if !bundle_ok {
        return Err(format!("the evidence bundle is incomplete: {files:?}").into());
    }
    no_namespace_left(kubeconfig, "test-builds")
}

/// A buildkitd that does not answer is `buildkitd-unreachable`, an infrastructure class: the run exits 3.
fn an_unreachable_buildkitd_is_infrastructure(kubeconfig: &Path) -> Result<(), Failed> {
    let scenario = "harness/tests/scenarios/testbed-unreachable.yaml";
    let (code, outcomes, _out) = run_scenario(kubeconfig, "test-unreachable", scenario, &[]);
    let build = find(&outcomes, "reproduction", "build/hello")?;
    let teardown = find(&outcomes, "reproduction", "teardown")?;
    if code != Some(3)
        || !namespaces_of(kubeconfig, "test-unreachable").is_empty()
        || build["class"] != "buildkitd-unreachable"
        || build["verdict"] != "infra-error"
        || teardown["verdict"] != "passed"
    {
        return Err(format!("exit {code:?}: {outcomes:#?}").into());
    }
    Ok(())
}

/// The kubelet giving up (an image it backs off pulling, a container it backs off restarting) ends the pull or the
/// rollout step at once, classified, with the previous log kept; not when the scenario's 2-minute timeouts run out.
fn the_kubelet_giving_up_ends_the_wait(kubeconfig: &Path) -> Result<(), Failed> {
    for (tag, step, class, kept) in [
        ("pull-fails", "pull", "image-pull-failed", "events.txt"),
        ("crash-loops", "rollout", "crash-loop", ".previous.log"),
    ] {
        let started = std::time::Instant::now();
        let scenario = "harness/tests/scenarios/testbed-rollout.yaml";
        let set = format!("tag={tag}");
        let (code, outcomes, _out) = run_scenario(kubeconfig, &format!("test-{tag}"), scenario, &["--set", &set]);
        let elapsed = started.elapsed();
        let outcome = find(&outcomes, "reproduction", step)?;
        let files = outcome["detail"]["files"].as_array().cloned().unwrap_or_default();
        let teardown = find(&outcomes, "reproduction", "teardown")?;
        if code != Some(3)
            || outcome["class"] != class
            || teardown["verdict"] != "passed"
            || !namespaces_of(kubeconfig, &format!("test-{tag}")).is_empty()
            || !files.iter().any(|f| f.as_str().is_some_and(|f| f.ends_with(kept)))
            || elapsed > std::time::Duration::from_secs(60)
        {
            return Err(format!("{tag}: exit {code:?} after {elapsed:?}: {outcomes:#?}").into());
        }
    }
    Ok(())
}

fn refuses_a_namespace_it_did_not_make(kubeconfig: &Path) -> Result<(), Failed> {
    let run_id = "test-foreign";
    // Someone made the namespace this run's reproduction would claim, before the run.
    let namespace = rendered_namespace(run_id, "reproduction");
    let created = kubectl(kubeconfig, &["create", "namespace", &namespace]);
    if !created.status.success() {
        return Err(format!(
            "cannot create the foreign namespace: {}",
            String::from_utf8_lossy(&created.stderr)
        )
        .into());
    }
    let (code, outcomes) = run_cluster_lane(kubeconfig, run_id);
    let daemonsets = kubectl(kubeconfig, &["get", "daemonsets", "-n", &namespace, "-o", "name"]);
    let still_there = kubectl(kubeconfig, &["get", "namespace", &namespace, "-o", "name"]);
    kubectl(kubeconfig, &["delete", "namespace", &namespace, "--wait=true"]);
    let rollout = find(&outcomes, "reproduction", "rollout")?;
    if code != Some(3)
        || rollout["verdict"] != "infra-error"
        || rollout["class"] != "not-owned"
        || !rollout["first_error"]
            .as_str()
            .unwrap_or("")
            .contains("not made by the harness")
    {
        return Err(format!("exit {code:?}, rollout {rollout:#}").into());
    }
    if !daemonsets.stdout.is_empty() || still_there.stdout.is_empty() {
        return Err("the harness changed a namespace it did not make".into());
    }
    Ok(())
}

/// The simulated node's services (`services.json`), changed by `change` and written back.
fn change_services(change: impl FnOnce(&mut serde_json::Map<String, Value>)) {
    let path = windows_state().join("services.json");
    let mut services: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    change(services.as_object_mut().unwrap());
    std::fs::write(&path, services.to_string()).unwrap();
}

/// Marks a simulated service as the harness's (run `run_id`, or none) and makes a run folder on the simulated node.
fn leave_on_the_node(service: &str, run_id: Option<&str>, folder: &str) {
    let mut entry = serde_json::json!({
        "name": service, "binPath": r"C:\buildkitd\bin\buildkitd.exe --run-service",
        "state": "Running", "markedForDelete": false,
    });
    if let Some(run_id) = run_id {
        entry["harnessRunId"] = run_id.into();
    }
    change_services(|services| {
        services.insert(service.to_owned(), entry);
    });
    let run_folder = windows_state().join("fs/C:/ProgramData/harness").join(folder);
    std::fs::create_dir_all(&run_folder).unwrap();
    std::fs::write(run_folder.join("bindprobe.exe"), b"MZ").unwrap();
}

/// Removes what a test left on the simulated node for the harness to find: a service and a folder.
fn forget_on_the_node(service: &str, folder: &str) {
    change_services(|services| {
        services.remove(service);
    });
    let _ = std::fs::remove_dir_all(windows_state().join("fs/C:/ProgramData/harness").join(folder));
}

/// The case folders of run `run_id` on the simulated node (`C:\ProgramData\harness\<run id>_<case>`).
fn run_folders(run_id: &str) -> Vec<String> {
    let folder = windows_state().join("fs/C:/ProgramData/harness");
    std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(&format!("{run_id}_")))
        .collect()
}

/// Whether the simulated node still has service `name` and run folder `folder`.
fn left_on_the_node(service: &str, folder: &str) -> (bool, bool) {
    let state = windows_state();
    let services: Value = serde_json::from_str(&std::fs::read_to_string(state.join("services.json")).unwrap()).unwrap();
    let folder = state.join("fs/C:/ProgramData/harness").join(folder);
    (services.get(service).is_some(), folder.exists())
}

fn janitor_removes_only_what_the_harness_made(kubeconfig: &Path) -> Result<(), Failed> {
    // On the node: a service and a folder of the run being cleaned, and of another run, and a service not the harness's.
    leave_on_the_node("harness-janitor-svc", Some("janitor-test"), "janitor-test");
    leave_on_the_node("harness-other-svc", Some("janitor-other"), "janitor-other");
    leave_on_the_node("not-harness-svc", None, "janitor-other");
    let ours = "harness-janitor-test";
    for (name, labels) in [
        (ours, "app.kubernetes.io/managed-by=harness harness/run-id=janitor-test"),
        ("not-harness", ""),
    ] {
        kubectl(kubeconfig, &["create", "namespace", name]);
        if !labels.is_empty() {
            let mut args = vec!["label", "namespace", name];
            args.extend(labels.split(' '));
            kubectl(kubeconfig, &args);
        }
    }
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(repository())
        .env("KUBECONFIG", kubeconfig)
        .args(["janitor", "--context", "harness-testbed", "--run-id", "janitor-test"])
        .output()
        .unwrap();
    let left = kubectl(
        kubeconfig,
        &["get", "namespace", ours, "--ignore-not-found", "-o", "name"],
    );
    let foreign = kubectl(
        kubeconfig,
        &["get", "namespace", "not-harness", "--ignore-not-found", "-o", "name"],
    );
    kubectl(kubeconfig, &["delete", "namespace", "not-harness", "--wait=true"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !stdout.contains(ours) || !left.stdout.is_empty() {
        return Err(format!(
            "janitor did not remove {ours}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    if foreign.stdout.is_empty() {
        return Err("janitor deleted a namespace the harness did not make".into());
    }
    let ours_left = left_on_the_node("harness-janitor-svc", "janitor-test");
    let other_left = left_on_the_node("harness-other-svc", "janitor-other");
    let foreign_left = left_on_the_node("not-harness-svc", "janitor-other");
    if ours_left != (false, false) || other_left != (true, true) || !foreign_left.0 {
        return Err(format!(
            "the node janitor removed the wrong things: ours {ours_left:?}, another run's {other_left:?}, \
             foreign {foreign_left:?}\n{stdout}"
        )
        .into());
    }
    if !stdout.contains("harness-windows: removed service harness-janitor-svc (run janitor-test)") {
        return Err(format!("the node janitor did not say what it removed: {stdout}").into());
    }
    // Without --run-id: every run's marked service and folder, still not the foreign service.
    let all = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(repository())
        .env("KUBECONFIG", kubeconfig)
        .args(["janitor", "--context", "harness-testbed"])
        .output()
        .unwrap();
    let other_left = left_on_the_node("harness-other-svc", "janitor-other");
    let foreign_left = left_on_the_node("not-harness-svc", "janitor-other");
    forget_on_the_node("not-harness-svc", "janitor-other");
    if !all.status.success() || other_left != (false, false) || !foreign_left.0 {
        return Err(format!(
            "janitor without --run-id: another run's {other_left:?}, foreign {foreign_left:?}: {}",
            String::from_utf8_lossy(&all.stderr)
        )
        .into());
    }
    Ok(())
}

/// Starts `command` (its stderr kept) and waits, at most 60 s, until `ready()`; past that the run is killed and the
/// test fails, saying it never got `what`.
fn spawn_until(command: &mut Command, ready: impl Fn() -> bool, what: &str) -> Result<std::process::Child, Failed> {
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !ready() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the run never {what}").into());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(child)
}

/// Ctrl-C to `child`, then what it printed when it ended.
fn interrupt(child: std::process::Child) -> std::process::Output {
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Ctrl-C in the middle of a case: exit 130, and the namespace the run made is gone.
fn an_interrupted_run_tears_down(kubeconfig: &Path) -> Result<(), Failed> {
    let run_id = "test-interrupted";
    let out = tempfile::tempdir().unwrap();
    let child = spawn_until(
        &mut cluster_lane(kubeconfig, run_id, out.path()),
        || !namespaces_of(kubeconfig, run_id).is_empty(),
        "created its namespace",
    )?;
    let output = interrupt(child);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let left = namespaces_of(kubeconfig, run_id);
    if output.status.code() != Some(130) || !left.is_empty() {
        return Err(format!("exit {:?}, namespaces left: {left}\n{stderr}", output.status.code()).into());
    }
    Ok(())
}

/// Ctrl-C during a teardown: once the seed's first case is deleting its namespace (the second case starting, or
/// already on the node), the run is interrupted. Exit 130, and no namespace, service or case folder of the run left.
fn an_interrupted_teardown_still_leaves_nothing(kubeconfig: &Path) -> Result<(), Failed> {
    let run_id = "test-interrupt-teardown";
    let out = tempfile::tempdir().unwrap();
    let selector = format!("harness/run-id={run_id}");
    let terminating = || {
        let listed = kubectl(
            kubeconfig,
            &[
                "get",
                "namespaces",
                "-l",
                &selector,
                "-o",
                "jsonpath={.items[*].metadata.deletionTimestamp}",
            ],
        );
        !String::from_utf8_lossy(&listed.stdout).trim().is_empty()
    };
    let child = spawn_until(
        cluster_lane(kubeconfig, run_id, out.path()).args(["--jobs", "1"]),
        terminating,
        "began deleting a namespace",
    )?;
    interrupted_leaves_nothing(kubeconfig, run_id, child)
}

/// Ctrl-C to `child`, a run as `run_id`: it exits 130 and leaves no namespace, no service marked with its run id and
/// no case folder.
fn interrupted_leaves_nothing(kubeconfig: &Path, run_id: &str, child: std::process::Child) -> Result<(), Failed> {
    let output = interrupt(child);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let namespaces = namespaces_of(kubeconfig, run_id);
    let services = std::fs::read_to_string(windows_state().join("services.json")).unwrap_or_default();
    let folders = run_folders(run_id);
    if output.status.code() != Some(130) || !namespaces.is_empty() || services.contains(run_id) || !folders.is_empty() {
        return Err(format!(
            "exit {:?}, namespaces left: {namespaces:?}, services: {services}, folders left: {folders:?}\n{stderr}",
            output.status.code()
        )
        .into());
    }
    Ok(())
}

/// Ctrl-C while a probe runs on the node: exit 130, the namespace gone, and what the run left on the node (the
/// delivered probe's run folder, a service marked with its run id) removed by the janitor's pod.
fn an_interrupted_run_cleans_the_node(kubeconfig: &Path) -> Result<(), Failed> {
    let run_id = "test-interrupt-node";
    leave_on_the_node("harness-interrupted-svc", Some(run_id), "unrelated-run");
    let out = tempfile::tempdir().unwrap();
    let scenario = "harness/tests/scenarios/testbed-interrupt.yaml";
    let child = spawn_until(
        &mut scenario_on_cluster_lane(kubeconfig, run_id, scenario, out.path()),
        || !run_folders(run_id).is_empty(),
        "delivered its probe",
    )?;
    // The first probe ran; the second hangs on the node.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let output = interrupt(child);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let namespaces = namespaces_of(kubeconfig, run_id);
    let service = left_on_the_node("harness-interrupted-svc", run_id);
    forget_on_the_node("harness-interrupted-svc", "unrelated-run");
    if output.status.code() != Some(130) || !namespaces.is_empty() || service != (false, false) {
        return Err(format!(
            "exit {:?}, namespaces left: {namespaces:?}, service and folder left: {service:?}\n{stderr}",
            output.status.code()
        )
        .into());
    }
    if !stderr.contains(&format!(r"removed folder C:\ProgramData\harness\{run_id}_")) || !run_folders(run_id).is_empty()
    {
        return Err(format!("the interrupted run did not say it cleaned the node:\n{stderr}").into());
    }
    Ok(())
}

/// Ctrl-C while the workaround's service runs on the node (its probe hangs after the service step): exit 130, and
/// neither the service, nor the case folder, nor the namespace is left.
fn an_interrupted_workaround_leaves_no_service(kubeconfig: &Path) -> Result<(), Failed> {
    let run_id = "test-interrupt-service";
    let service = "buildkitd-interrupted";
    let out = tempfile::tempdir().unwrap();
    let scenario = "harness/tests/scenarios/testbed-interrupt-service.yaml";
    let registered = || left_on_the_node(service, "-").0;
    let child = spawn_until(
        &mut scenario_on_cluster_lane(kubeconfig, run_id, scenario, out.path()),
        registered,
        "registered its service",
    )?;
    std::thread::sleep(std::time::Duration::from_millis(500));
    interrupted_leaves_nothing(kubeconfig, run_id, child)?;
    if registered() {
        return Err(format!("the service {service} was left on the node").into());
    }
    Ok(())
}

/// A probe that does not come back, with `workload.execTimeout: 3s`: the step ends as `step-timeout` (an
/// infrastructure error: exit 3) within seconds, teardown passes, and no namespace or case folder is left.
fn a_step_that_times_out_leaves_nothing(kubeconfig: &Path) -> Result<(), Failed> {
    let run_id = "test-timeout";
    let started = std::time::Instant::now();
    let (code, outcomes, _out) = run_scenario(kubeconfig, run_id, "harness/tests/scenarios/testbed-timeout.yaml", &[]);
    let elapsed = started.elapsed();
    let probe = find(&outcomes, "reproduction", "probe/hangs")?;
    let teardown = find(&outcomes, "reproduction", "teardown")?;
    if code != Some(3)
        || probe["class"] != "step-timeout"
        || !probe["first_error"]
            .as_str()
            .unwrap_or_default()
            .contains("did not finish within 3s")
        || teardown["verdict"] != "passed"
        || elapsed > std::time::Duration::from_secs(60)
    {
        return Err(format!("exit {code:?} after {elapsed:?}: {outcomes:#?}").into());
    }
    let folders = run_folders(run_id);
    if !folders.is_empty() {
        return Err(format!("the timed-out case left its folder on the node: {folders:?}").into());
    }
    no_namespace_left(kubeconfig, run_id)
}

/// The test bed's API server stops answering (SIGSTOP) for 6 s while the run waits on it: the wait in flight ends
/// within two request timeouts as an infrastructure error, the run exits 3 with its reports written, and once the
/// server answers again teardown leaves nothing behind. (6 s: longer, and the controller manager and scheduler lose
/// their leader leases and exit, which a real cluster's supervisor would restart and the test bed does not.)
fn a_stopped_api_server_ends_the_wait_and_the_run_exits_3(kubeconfig: &Path) -> Result<(), Failed> {
    let run_id = "test-api-stopped";
    let pattern = format!("{}.*kube-apiserver", windows_state().parent().unwrap().display());
    let found = Command::new("pgrep").args(["-f", &pattern]).output().unwrap();
    let apiserver = String::from_utf8_lossy(&found.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    if apiserver.is_empty() {
        return Err("the test bed's kube-apiserver process was not found".into());
    }
    let out = tempfile::tempdir().unwrap();
    // The second probe hangs on the node: the run is waiting on an exec stream when the server stops.
    let scenario = "harness/tests/scenarios/testbed-interrupt.yaml";
    let mut child = spawn_until(
        scenario_on_cluster_lane(kubeconfig, run_id, scenario, out.path()).args(["--request-timeout", "2s"]),
        || !run_folders(run_id).is_empty(),
        "delivered its probe",
    )?;
    std::thread::sleep(std::time::Duration::from_secs(1));
    let stopped = std::time::Instant::now();
    Command::new("kill").args(["-STOP", &apiserver]).status().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(6));
    Command::new("kill").args(["-CONT", &apiserver]).status().unwrap();
    let mut ended = None;
    while ended.is_none() && stopped.elapsed() < std::time::Duration::from_secs(90) {
        ended = child.try_wait().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    if ended.is_none() {
        let _ = child.kill();
    }
    let output = child.wait_with_output().unwrap();
    let elapsed = stopped.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let outcomes = std::fs::read_to_string(out.path().join("outcomes.jsonl")).unwrap_or_default();
    let summary = std::fs::read_to_string(out.path().join("summary.md")).unwrap_or_default();
    if ended.is_none() || output.status.code() != Some(3) {
        return Err(format!(
            "exit {:?} {elapsed:?} after the stop\n{stderr}\n{outcomes}",
            output.status.code()
        )
        .into());
    }
    if !outcomes.contains("the API server stopped answering") || !summary.contains("could not be observed") {
        return Err(format!("the reports do not say the run could not look:\n{outcomes}\n{summary}").into());
    }
    if !run_folders(run_id).is_empty() {
        return Err(format!("the run left its folder on the node: {:?}", run_folders(run_id)).into());
    }
    no_namespace_left(kubeconfig, run_id)
}

/// Exec probes run the report's own command in the container under test, program probes a file of the scenario's
/// own delivered onto the node (on the test bed its Linux twin, run for real): both judged by the exit status, what
/// they printed classified when it is not the expected one. A logs probe reads the container's log: ok, since
/// nothing in the simulated buildkitd's log is a failure.
fn exec_program_and_logs_probes_are_judged(kubeconfig: &Path) -> Result<(), Failed> {
    let (code, outcomes, _out) = run_scenario(
        kubeconfig,
        "test-exec",
        "harness/tests/scenarios/testbed-exec.yaml",
        &[],
    );
    for (step, verdict, status) in [
        ("probe/echoes", "passed", Some(0)),
        ("probe/fails", "reproduced", Some(5)),
        ("probe/exits-as-expected", "passed", Some(5)),
        ("probe/program-passes", "passed", Some(0)),
        ("probe/program-fails", "reproduced", Some(3)),
        ("probe/own-log", "passed", None),
    ] {
        let outcome = find(&outcomes, "reproduction", step)?;
        let status_seen = status.is_none_or(|status| outcome["detail"]["status"] == status);
        if outcome["verdict"] != verdict || !status_seen || outcome["evidence"] != "simulated" {
            return Err(format!("{step}: {outcome:#}").into());
        }
    }
    // The program ran from the case's folder on the node, and said what it was given.
    let program = find(&outcomes, "reproduction", "probe/program-fails")?;
    let command = program["detail"]["command"][0].as_str().unwrap_or_default();
    if !command.starts_with(r"C:\ProgramData\harness\test-exec_")
        || !command.ends_with(r"\programs\program-fails\exit-with.cmd")
        || program["first_error"] != "exit-with 3 fails"
    {
        return Err(format!("the program was not delivered and run: {program:#}").into());
    }
    // The scenario's own components, observed on the node and in the pod, each with where it came from.
    let rollout = find(&outcomes, "reproduction", "rollout")?;
    let components = &rollout["observed"]["components"];
    let from = &rollout["detail"]["components"];
    if !components["kernel"].as_str().unwrap_or_default().starts_with("10.0.")
        || components["buildkitdImage"] != "windows-v0.28.0-servercore-ltsc2022"
        || components["shim"] != "v0.13.0"
        || from["shim"]["from"] != "output of `cmd.exe /c echo containerd-shim-runhcs-v1.exe version v0.13.0`"
        || from["kernel"]["from"] != "nodeInfo.kernelVersion"
    {
        return Err(format!("the scenario's components were not observed: {rollout:#}").into());
    }
    if code != Some(0) {
        return Err(format!("exit {code:?}: {outcomes:#?}").into());
    }
    if !run_folders("test-exec").is_empty() {
        return Err(format!("the run left its folder on the node: {:?}", run_folders("test-exec")).into());
    }
    no_namespace_left(kubeconfig, "test-exec")
}

/// The objects of run `run_id` the cluster holds outside namespaces (cluster roles and their bindings, storage
/// classes), by the harness's run label.
fn cluster_objects_of(kubeconfig: &Path, run_id: &str) -> String {
    let selector = format!("harness/run-id={run_id}");
    let kinds = "clusterroles,clusterrolebindings,storageclasses,priorityclasses";
    let listed = kubectl(kubeconfig, &["get", kinds, "-l", &selector, "-o", "name"]);
    String::from_utf8_lossy(&listed.stdout).into_owned() + &String::from_utf8_lossy(&listed.stderr)
}

/// sig-windows-tools#289 on the test bed: the reproduction's four manifests (kubeadm's objects, kube-proxy, flannel
/// and its RBAC: two DaemonSets, ConfigMaps, service accounts, a cluster role and its binding) roll out into the
/// run's namespace, the cluster-wide ones renamed for the run and bound to the run's service account; the probes run
/// in flannel's pod; the 1.6 cell is skipped (the node runs 1.7.29); nothing is left, cluster-wide objects included.
/// The simulated node runs no container, so flannel does not crash there: the verdict is no-longer-reproduces.
fn a_workload_of_several_objects_rolls_out_and_leaves_nothing(kubeconfig: &Path) -> Result<(), Failed> {
    let run_id = "test-objects";
    let out = tempfile::tempdir().unwrap();
    let mut command = scenario_on_cluster_lane(kubeconfig, run_id, "scenarios/sig-windows-tools-289.yaml", out.path());
    // While the run is on, what it applied: the cluster role's binding names the run's own role and account.
    let mut child = spawn_until(
        &mut command,
        || cluster_objects_of(kubeconfig, run_id).contains("clusterrolebinding"),
        "applied its cluster role binding",
    )?;
    let binding = kubectl(
        kubeconfig,
        &[
            "get",
            "clusterrolebindings",
            "-l",
            &format!("harness/run-id={run_id}"),
            "-o",
            "json",
        ],
    );
    let binding: Value = serde_json::from_slice(&binding.stdout).unwrap_or_default();
    let binding = &binding["items"][0];
    let namespace = binding["subjects"][0]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let name = binding["metadata"]["name"].as_str().unwrap_or_default();
    if !namespace.starts_with(&format!("harness-{run_id}-"))
        || name != format!("flannel-{namespace}")
        || binding["roleRef"]["name"] != name
    {
        let _ = child.kill();
        return Err(format!("the binding was not moved into the run: {binding:#}").into());
    }
    let status = child.wait().unwrap();
    let outcomes = outcomes_in(out.path());
    let (running, elsewhere) = (in_cell(&outcomes, "1.7"), in_cell(&outcomes, "1.6"));
    for variant in ["reproduction", "fixed"] {
        for (step, verdict) in [("pull", "passed"), ("teardown", "passed")] {
            let outcome = find(&running, variant, step)?;
            if outcome["verdict"] != verdict {
                return Err(format!("{variant} {step}: {outcome:#}").into());
            }
        }
        let rollout = find(&running, variant, "rollout")?;
        if rollout["result"] != "ok" || rollout["evidence"] != "simulated" {
            return Err(format!("{variant} did not roll out: {rollout:#}").into());
        }
        // Every probe ran in flannel's pod and was judged.
        for step in ["probe/flannel-log", "probe/cni-config-written"] {
            let outcome = find(&running, variant, step)?;
            if outcome["verdict"] == "skipped" || outcome["verdict"] == "infra-error" {
                return Err(format!("{variant} {step} did not run: {outcome:#}").into());
            }
        }
    }
    let skipped = find(&elsewhere, "containerd-16", "rollout")?;
    if skipped["verdict"] != "skipped"
        || skipped["reason"] != "cell containerd=1.6 is for containerd 1.6; the node runs 1.7.29"
    {
        return Err(format!("the 1.6 cell was not skipped for its version: {skipped:#}").into());
    }
    if status.code() != Some(1) {
        return Err(format!(
            "exit {:?} (expected 1: the simulated node does not crash flannel): {outcomes:#?}",
            status.code()
        )
        .into());
    }
    let left = cluster_objects_of(kubeconfig, run_id);
    if !left.trim().is_empty() && !left.contains("No resources found") {
        return Err(format!("the run left cluster-wide objects: {left}").into());
    }
    no_namespace_left(kubeconfig, run_id)
}

/// `harness run` with no `--context` borrows the test bed that is up, says so, and leaves it up. sig-windows-tools#289
/// differs there only on simulated evidence (the simulated node does not crash flannel): named, not counted, exit 0.
fn without_a_context_the_run_borrows_the_test_bed(kubeconfig: &Path) -> Result<(), Failed> {
    let run_id = "cluster-borrowed";
    let out = tempfile::tempdir()?;
    let home = tempfile::tempdir()?;
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(repository())
        .env_remove("KUBECONFIG")
        .env("HOME", home.path())
        .args([
            "run",
            "--lane",
            "cluster",
            "--run-id",
            run_id,
            "scenarios/sig-windows-tools-289.yaml",
            "--out",
        ])
        .arg(out.path())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said = |text: &str, what: &str| {
        if text.contains(what) {
            Ok(())
        } else {
            Err(Failed::from(format!(
                "the run did not say `{what}`:\n{stdout}\n{stderr}"
            )))
        }
    };
    said(
        &stderr,
        "the cluster lane runs on the local test bed (context harness-testbed",
    )?;
    said(
        &stderr,
        "note: 2 verdict(s) differ on the test bed's simulated node only, and are not counted in the exit code",
    )?;
    said(&stderr, "variant=reproduction rollout (no-longer-reproduces)")?;
    let first = stdout.lines().next().unwrap_or_default();
    if first != "cluster ran, on a simulated node; nothing ran on Windows" {
        return Err(format!("the summary's first line is `{first}`").into());
    }
    if output.status.code() != Some(0) {
        return Err(format!("exit {:?}, expected 0:\n{stdout}\n{stderr}", output.status.code()).into());
    }
    let outcomes = outcomes_in(out.path());
    let rollout = find(&outcomes, "reproduction", "rollout")?;
    if rollout["verdict"] != "no-longer-reproduces" || rollout["evidence"] != "simulated" {
        return Err(format!("the outcome itself must keep its verdict: {rollout:#}").into());
    }
    let still_up = Command::new(repository().join("fixtures/testbed/testbed"))
        .arg("status")
        .output()?;
    if !still_up.status.success() {
        return Err("a borrowed test bed that was up must stay up".into());
    }
    no_namespace_left(kubeconfig, run_id)
}

/// containerd#10001's bisect on the test bed: each of its cells (1.7.3, 1.7.4, 1.7.11) names a release the node
/// (1.7.29) does not run, so every step of every cell is skipped with the version found, and nothing is created.
fn a_bisect_runs_only_the_cells_the_node_is_for(kubeconfig: &Path) -> Result<(), Failed> {
    let run_id = "test-bisect";
    let (code, outcomes, _out) = run_scenario(kubeconfig, run_id, "scenarios/containerd-10001.yaml", &[]);
    for cell in ["1.7.3", "1.7.4", "1.7.11"] {
        let reason = format!("cell containerd={cell} is for containerd {cell}; the node runs 1.7.29");
        let steps: Vec<&Value> = outcomes.iter().filter(|o| o["cell"]["containerd"] == cell).collect();
        if steps.len() < 4
            || steps
                .iter()
                .any(|o| o["verdict"] != "skipped" || o["reason"] != reason.as_str())
        {
            return Err(format!("cell {cell} was not skipped with the node's version: {steps:#?}").into());
        }
    }
    if code != Some(0) {
        return Err(format!("exit {code:?}: {outcomes:#?}").into());
    }
    no_namespace_left(kubeconfig, run_id)
}

/// The test bed is recognised by its marker whatever its context is called; a cluster without the marker is not it.
fn the_test_bed_is_recognised_by_its_marker_not_its_name(kubeconfig: &Path) -> Result<(), Failed> {
    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("kubeconfig");
    std::fs::copy(kubeconfig, &renamed).unwrap();
    let rename = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&renamed)
        .args(["config", "rename-context", "harness-testbed", "bed-by-another-name"])
        .output()
        .unwrap();
    if !rename.status.success() {
        return Err(format!("cannot rename the context: {}", String::from_utf8_lossy(&rename.stderr)).into());
    }
    let plan = |testbed_run_dir: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_harness"));
        command.current_dir(repository()).env("KUBECONFIG", &renamed).args([
            "plan",
            "--context",
            "bed-by-another-name",
        ]);
        if let Some(dir) = testbed_run_dir {
            command.env("TESTBED_RUN_DIR", dir);
        }
        command.output().unwrap()
    };
    let recognised = plan(None);
    let stdout = String::from_utf8_lossy(&recognised.stdout);
    if !recognised.status.success() || !stdout.contains("run   cluster") {
        return Err(format!(
            "the renamed test bed was not recognised: {stdout}{}",
            String::from_utf8_lossy(&recognised.stderr)
        )
        .into());
    }
    // Without the test bed's run folder (its marker and kubeconfig), the same cluster is just some context.
    let elsewhere = tempfile::tempdir().unwrap();
    let refused = plan(Some(elsewhere.path()));
    if refused.status.code() != Some(2) {
        return Err(format!(
            "exit {:?} for a context that is not provably the test bed",
            refused.status.code()
        )
        .into());
    }
    Ok(())
}

/// An axis named after a component selects: the cell for the node's containerd (1.7.29) runs; the 1.7.4 cell's steps
/// are skipped in preflight, before anything is created, with the version the node runs as the reason.
fn a_cell_runs_only_where_its_version_is(kubeconfig: &Path) -> Result<(), Failed> {
    let out = tempfile::tempdir().unwrap();
    let run_id = "test-cells";
    let scenario = "harness/tests/scenarios/testbed-cells.yaml";
    let output = scenario_on_cluster_lane(kubeconfig, run_id, scenario, out.path())
        .output()
        .unwrap();
    let outcomes = outcomes_in(out.path());
    if output.status.code() != Some(0) {
        return Err(format!("exit {:?}: {outcomes:#?}", output.status.code()).into());
    }
    let (running, elsewhere) = (in_cell(&outcomes, "1.7.29"), in_cell(&outcomes, "1.7.4"));
    for (step, verdict) in [
        ("rollout", "passed"),
        ("probe/bind-plain-dirs", "reproduced"),
        ("teardown", "passed"),
    ] {
        let outcome = find(&running, "reproduction", step)?;
        if outcome["verdict"] != verdict {
            return Err(format!("1.7.29 {step}: expected {verdict}, got {outcome:#}").into());
        }
    }
    let reason = "cell containerd=1.7.4 is for containerd 1.7.4; the node runs 1.7.29";
    for step in ["preflight", "pull", "rollout", "probe/bind-plain-dirs", "teardown"] {
        let outcome = find(&elsewhere, "reproduction", step)?;
        if outcome["verdict"] != "skipped"
            || outcome["reason"] != reason
            || outcome["observed"]["containerd"] != "1.7.29"
        {
            return Err(format!("1.7.4 {step}: expected skipped ({reason}), got {outcome:#}").into());
        }
    }
    // Nothing was created for the skipped cell: every namespace the run names is the running cell's.
    let namespaces: Vec<&str> = elsewhere
        .iter()
        .filter_map(|o| o["detail"]["namespace"].as_str())
        .collect();
    let left = namespaces_of(kubeconfig, run_id);
    if !namespaces.is_empty() || !left.is_empty() {
        return Err(format!("the skipped cell touched the cluster ({namespaces:?}) or the run left {left}").into());
    }
    Ok(())
}

/// `tries: 20` on the bind probe and a rate expectation: the probe runs 20 times in the pod, every try fails with
/// bindflt-access-denied, and the rate `>= 0.8` is judged by the Wilson 95% interval of 20/20, [0.839, 1]: met.
fn a_rate_over_tries_is_judged_by_its_interval(kubeconfig: &Path) -> Result<(), Failed> {
    let out = tempfile::tempdir().unwrap();
    let scenario = "harness/tests/scenarios/testbed-tries.yaml";
    let output = scenario_on_cluster_lane(kubeconfig, "test-tries", scenario, out.path())
        .output()
        .unwrap();
    let outcomes = outcomes_in(out.path());
    if output.status.code() != Some(0) {
        return Err(format!("exit {:?}: {outcomes:#?}", output.status.code()).into());
    }
    let probe = find(&outcomes, "reproduction", "probe/bind-plain-dirs")?;
    let tries = &probe["tries"];
    let rate = &tries["rate"];
    let low = rate["low"].as_f64().unwrap_or_default();
    if probe["verdict"] != "reproduced"
        || probe["expected"] != "bindflt-access-denied >= 0.8"
        || tries["tries"] != 20
        || tries["successes"] != 0
        || tries["failures"]["bindflt-access-denied"] != 20
        || rate["count"] != 20
        || (low - 0.8389).abs() > 1e-3
        || rate["high"] != 1.0
        || rate["met"] != true
    {
        return Err(format!("the rate was not judged by its interval: {probe:#}").into());
    }
    println!(
        "probe/bind-plain-dirs over 20 tries: {} {}/{}, 95% interval [{low:.4}, {}]",
        rate["expected"], rate["count"], rate["observed"], rate["high"]
    );
    // The reports show the rate with its interval.
    let summary = std::fs::read_to_string(out.path().join("summary.md")).unwrap_or_default();
    let junit = std::fs::read_to_string(out.path().join("junit.xml")).unwrap_or_default();
    let shown = "20/20 bindflt-access-denied, 95% CI [0.839, 1.000], expected &gt;= 0.8: met";
    if !summary.contains("20/20 bindflt-access-denied, 95% CI [0.839, 1.000], expected >= 0.8: met")
        || !junit.contains(shown)
    {
        return Err(format!("the reports do not show the rate:\n{summary}\n{junit}").into());
    }
    if !namespaces_of(kubeconfig, "test-tries").is_empty() {
        return Err("the run left namespaces behind".into());
    }
    Ok(())
}

/// Cluster-wide leftovers: a cluster role carrying the run's label goes (by uid); one of another run and one the
/// harness did not make stay. The kinds looked at are those of the scenarios' workloads (sig-windows-tools#289 has
/// The janitor's pod on a node takes nothing from the workload that names an object of the workload's namespace:
/// flannel's pods run as service account `flannel`, which the janitor's own namespace does not have.
fn janitor_cleans_nodes_for_a_workload_with_its_own_service_account(kubeconfig: &Path) -> Result<(), Failed> {
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(repository())
        .env("KUBECONFIG", kubeconfig)
        .args(["janitor", "--context", "harness-testbed", "--run-id", "janitor-flannel"])
        .arg("scenarios/sig-windows-tools-289.yaml")
        .output()
        .unwrap();
    if !output.status.success() {
        return Err(format!(
            "janitor exited {:?}: {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let listed = kubectl(kubeconfig, &["get", "namespaces", "-o", "name"]);
    let left: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|n| n.starts_with("namespace/harness-janitor-"))
        .map(str::to_owned)
        .collect();
    if !left.is_empty() {
        return Err(format!("the janitor left its namespace: {left:?}").into());
    }
    Ok(())
}

/// cluster roles).
fn janitor_removes_the_runs_cluster_wide_objects(kubeconfig: &Path) -> Result<(), Failed> {
    let roles = [
        (
            "flannel-harness-janitor-objects-1",
            "app.kubernetes.io/managed-by=harness harness/run-id=janitor-objects",
        ),
        (
            "flannel-harness-janitor-other-1",
            "app.kubernetes.io/managed-by=harness harness/run-id=janitor-other",
        ),
        ("not-the-harness-role", ""),
    ];
    for (name, labels) in roles {
        kubectl(
            kubeconfig,
            &["create", "clusterrole", name, "--verb=get", "--resource=pods"],
        );
        if !labels.is_empty() {
            let mut args = vec!["label", "clusterrole", name];
            args.extend(labels.split(' '));
            kubectl(kubeconfig, &args);
        }
    }
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(repository())
        .env("KUBECONFIG", kubeconfig)
        .args([
            "janitor",
            "--context",
            "harness-testbed",
            "--run-id",
            "janitor-objects",
            "--namespaces-only",
        ])
        .arg("scenarios/sig-windows-tools-289.yaml")
        .output()
        .unwrap();
    let exists = |name: &str| {
        !kubectl(
            kubeconfig,
            &["get", "clusterrole", name, "--ignore-not-found", "-o", "name"],
        )
        .stdout
        .is_empty()
    };
    let state: Vec<bool> = roles.iter().map(|(name, _)| exists(name)).collect();
    for (name, _) in &roles[1..] {
        kubectl(kubeconfig, &["delete", "clusterrole", name, "--ignore-not-found"]);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !stdout.contains("removed ClusterRole/flannel-harness-janitor-objects-1") {
        return Err(format!("janitor: {stdout}{}", String::from_utf8_lossy(&output.stderr)).into());
    }
    if state != [false, true, true] {
        return Err(format!("the janitor removed the wrong cluster roles (left: {state:?}): {stdout}").into());
    }
    Ok(())
}

/// Sets the Ready condition of the test bed's Windows node (`True` or `False`) through its status.
fn set_node_ready(kubeconfig: &Path, ready: bool) -> Result<(), Failed> {
    let listed = kubectl(
        kubeconfig,
        &["get", "nodes", "-l", "kubernetes.io/os=windows", "-o", "name"],
    );
    let node = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let (status, reason) = if ready {
        ("True", "KubeletReady")
    } else {
        ("False", "TestNotReady")
    };
    let patch = format!(
        r#"{{"status":{{"conditions":[{{"type":"Ready","status":"{status}","reason":"{reason}","message":"set by tests/cluster.rs"}}]}}}}"#
    );
    let patched = kubectl(kubeconfig, &["patch", &node, "--subresource=status", "-p", &patch]);
    if patched.status.success() {
        Ok(())
    } else {
        Err(format!("cannot patch {node}: {}", String::from_utf8_lossy(&patched.stderr)).into())
    }
}

/// The node goes NotReady while a probe hangs on it: the step ends at once as `node-not-ready` (infrastructure:
/// exit 3), the steps after it are skipped with that reason, teardown still runs, and nothing is left.
fn a_node_going_not_ready_ends_the_step(kubeconfig: &Path) -> Result<(), Failed> {
    let run_id = "test-not-ready";
    let out = tempfile::tempdir().unwrap();
    let scenario = "harness/tests/scenarios/testbed-interrupt.yaml";
    let mut child = spawn_until(
        &mut scenario_on_cluster_lane(kubeconfig, run_id, scenario, out.path()),
        || !run_folders(run_id).is_empty(),
        "delivered its probe",
    )?;
    // The first probe ran; the second hangs on the node.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let went = std::time::Instant::now();
    let patched = set_node_ready(kubeconfig, false);
    let deadline = went + std::time::Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let took = went.elapsed();
    set_node_ready(kubeconfig, true)?;
    patched?;
    let outcomes = outcomes_in(out.path());
    let Some(status) = status else {
        return Err(format!("the run did not end within 90 s of the node going NotReady: {outcomes:#?}").into());
    };
    let hung = outcomes
        .iter()
        .find(|o| o["class"] == "node-not-ready")
        .ok_or_else(|| format!("no step ended node-not-ready: {outcomes:#?}"))?;
    let teardown = find(&outcomes, "reproduction", "teardown")?;
    if status.code() != Some(3)
        || hung["verdict"] != "infra-error"
        || !hung["first_error"]
            .as_str()
            .unwrap_or_default()
            .contains("went NotReady (TestNotReady")
        || teardown["result"] != "ok"
    {
        return Err(format!("exit {:?}: {outcomes:#?}", status.code()).into());
    }
    println!(
        "the run ended {:.1} s after the node went NotReady, teardown included",
        took.as_secs_f64()
    );
    if !run_folders(run_id).is_empty() {
        return Err("the run left its folder on the node".into());
    }
    no_namespace_left(kubeconfig, run_id)
}

/// A scenario maps its 1.7.29 cell to the test bed's context (`cluster.cells`): a run without `--context` connects
/// to it and runs that cell there; the 1.7.4 cell, mapped to nothing, has no cluster and is skipped with that reason.
fn a_cell_mapped_to_a_context_runs_there(kubeconfig: &Path) -> Result<(), Failed> {
    let run_id = "test-mapped";
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(repository())
        .env("KUBECONFIG", kubeconfig)
        // Without `--no-testbed` the run would borrow the test bed for the unmapped cell too.
        .args(["run", "--lane", "cluster", "--no-testbed", "--run-id", run_id, "--out"])
        .arg(out.path())
        .arg("harness/tests/scenarios/testbed-mapped.yaml")
        .output()
        .unwrap();
    let outcomes = outcomes_in(out.path());
    let (mapped, unmapped) = (in_cell(&outcomes, "1.7.29"), in_cell(&outcomes, "1.7.4"));
    let rollout = find(&mapped, "reproduction", "rollout")?;
    let probe = find(&mapped, "reproduction", "probe/bind-plain-dirs")?;
    if rollout["verdict"] != "passed" || probe["verdict"] != "reproduced" || rollout["evidence"] != "simulated" {
        return Err(format!("the mapped cell did not run on the test bed: {mapped:#?}").into());
    }
    let lane = find(&unmapped, "reproduction", "lane")?;
    if lane["verdict"] != "skipped"
        || !lane["reason"]
            .as_str()
            .unwrap_or_default()
            .starts_with("no kube context named")
    {
        return Err(format!("the unmapped cell was not skipped for want of a context: {unmapped:#?}").into());
    }
    if output.status.code() != Some(0) {
        return Err(format!(
            "exit {:?}: {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    no_namespace_left(kubeconfig, run_id)
}

/// A workload that defines a kind of its own: the CustomResourceDefinition goes first (whatever order it is written
/// in), the resource of that kind waits until the API server serves it, and teardown removes the definition by uid.
fn a_workloads_own_kind_is_defined_first_and_removed_after(kubeconfig: &Path) -> Result<(), Failed> {
    let run_id = "test-crd";
    let (code, outcomes, _out) = run_scenario(kubeconfig, run_id, "harness/tests/scenarios/testbed-crd.yaml", &[]);
    for step in ["pull", "rollout", "teardown"] {
        let outcome = find(&outcomes, "reproduction", step)?;
        if outcome["verdict"] != "passed" {
            return Err(format!("{step}: {outcome:#}").into());
        }
    }
    let left = kubectl(
        kubeconfig,
        &[
            "get",
            "crd",
            "widgets.harness-test.example",
            "--ignore-not-found",
            "-o",
            "name",
        ],
    );
    if code != Some(0) || !left.stdout.is_empty() {
        return Err(format!(
            "exit {code:?}, definition left: {}",
            String::from_utf8_lossy(&left.stdout)
        )
        .into());
    }
    no_namespace_left(kubeconfig, run_id)
}

/// Ctrl-C once the run created cluster-wide objects (sig-windows-tools#289's cluster role and binding): exit 130,
/// and they are gone with the namespaces, each by the uid the run recorded.
fn an_interrupted_run_removes_its_cluster_wide_objects(kubeconfig: &Path) -> Result<(), Failed> {
    let run_id = "test-interrupt-objects";
    let out = tempfile::tempdir().unwrap();
    let child = spawn_until(
        &mut scenario_on_cluster_lane(kubeconfig, run_id, "scenarios/sig-windows-tools-289.yaml", out.path()),
        || cluster_objects_of(kubeconfig, run_id).contains("clusterrolebinding"),
        "applied its cluster role binding",
    )?;
    let output = interrupt(child);
    let left = cluster_objects_of(kubeconfig, run_id);
    let namespaces = namespaces_of(kubeconfig, run_id);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() != Some(130)
        || (!left.trim().is_empty() && !left.contains("No resources found"))
        || !namespaces.is_empty()
    {
        return Err(format!(
            "exit {:?}, cluster-wide objects left: {left}, namespaces left: {namespaces}\n{stderr}",
            output.status.code()
        )
        .into());
    }
    Ok(())
}

/// One test against the test bed, given its kubeconfig.
type Test = fn(&Path) -> Result<(), Failed>;

fn main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let bed = testbed();
    let tests: [(&str, Test); 25] = [
        (
            "cluster::janitor_cleans_nodes_for_a_workload_with_its_own_service_account",
            janitor_cleans_nodes_for_a_workload_with_its_own_service_account,
        ),
        (
            "cluster::an_interrupted_teardown_still_leaves_nothing",
            an_interrupted_teardown_still_leaves_nothing,
        ),
        (
            "cluster::a_step_that_times_out_leaves_nothing",
            a_step_that_times_out_leaves_nothing,
        ),
        (
            "cluster::an_interrupted_workaround_leaves_no_service",
            an_interrupted_workaround_leaves_no_service,
        ),
        (
            "cluster::without_a_context_the_run_borrows_the_test_bed",
            without_a_context_the_run_borrows_the_test_bed,
        ),
        (
            "cluster::an_interrupted_run_removes_its_cluster_wide_objects",
            an_interrupted_run_removes_its_cluster_wide_objects,
        ),
        (
            "cluster::a_workloads_own_kind_is_defined_first_and_removed_after",
            a_workloads_own_kind_is_defined_first_and_removed_after,
        ),
        (
            "cluster::a_cell_mapped_to_a_context_runs_there",
            a_cell_mapped_to_a_context_runs_there,
        ),
        (
            "cluster::a_node_going_not_ready_ends_the_step",
            a_node_going_not_ready_ends_the_step,
        ),
        (
            "cluster::janitor_removes_the_runs_cluster_wide_objects",
            janitor_removes_the_runs_cluster_wide_objects,
        ),
        (
            "cluster::exec_program_and_logs_probes_are_judged",
            exec_program_and_logs_probes_are_judged,
        ),
        (
            "cluster::a_workload_of_several_objects_rolls_out_and_leaves_nothing",
            a_workload_of_several_objects_rolls_out_and_leaves_nothing,
        ),
        (
            "cluster::a_bisect_runs_only_the_cells_the_node_is_for",
            a_bisect_runs_only_the_cells_the_node_is_for,
        ),
        (
            "cluster::a_stopped_api_server_ends_the_wait_and_the_run_exits_3",
            a_stopped_api_server_ends_the_wait_and_the_run_exits_3,
        ),
        (
            "cluster::an_interrupted_run_cleans_the_node",
            an_interrupted_run_cleans_the_node,
        ),
        (
            "cluster::the_kubelet_giving_up_ends_the_wait",
            the_kubelet_giving_up_ends_the_wait,
        ),
        ("cluster::deploys_probes_and_tears_down", deploys_probes_and_tears_down),
        (
            "cluster::a_rate_over_tries_is_judged_by_its_interval",
            a_rate_over_tries_is_judged_by_its_interval,
        ),
        (
            "cluster::a_cell_runs_only_where_its_version_is",
            a_cell_runs_only_where_its_version_is,
        ),
        (
            "cluster::builds_reach_the_workloads_buildkitd",
            builds_reach_the_workloads_buildkitd,
        ),
        (
            "cluster::an_unreachable_buildkitd_is_infrastructure",
            an_unreachable_buildkitd_is_infrastructure,
        ),
        (
            "cluster::refuses_a_namespace_it_did_not_make",
            refuses_a_namespace_it_did_not_make,
        ),
        (
            "cluster::janitor_removes_only_what_the_harness_made",
            janitor_removes_only_what_the_harness_made,
        ),
        ("cluster::an_interrupted_run_tears_down", an_interrupted_run_tears_down),
        (
            "cluster::the_test_bed_is_recognised_by_its_marker_not_its_name",
            the_test_bed_is_recognised_by_its_marker_not_its_name,
        ),
    ];
    let trials = tests
        .into_iter()
        .map(|(name, test)| {
            let bed = bed.clone();
            Trial::ignorable_test(name, move || match bed {
                Ok(kubeconfig) => test(&kubeconfig).map(|()| Completion::Completed),
                Err(reason) => Ok(Completion::ignored_with(reason)),
            })
        })
        .collect();
    // The tests share the simulated node's services and files: one at a time.
    libtest_mimic::run(
        &Arguments {
            test_threads: Some(1),
            ..args
        },
        trials,
    )
    .exit_code()
}
