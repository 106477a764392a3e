//! The `harness` command line on good and malformed input: exit codes, located messages, never a panic.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn seed() -> String {
    std::fs::read_to_string(repository().join("scenarios/buildkit-6590.yaml")).unwrap()
}

/// A scratch repository with the real fixtures and one scenario file holding `bytes`.
fn scratch(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["fixtures/daemonsets", "fixtures/builds/hello-servercore"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(repository().join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
        }
    }
    std::fs::create_dir_all(dir.path().join("scenarios")).unwrap();
    let file = dir.path().join("scenarios/bad.yaml");
    std::fs::write(&file, bytes).unwrap();
    (dir, file)
}

fn harness() -> Command {
    let mut command = Command::cargo_bin("harness").unwrap();
    command.env("NO_COLOR", "1").timeout(std::time::Duration::from_secs(20));
    command
}

/// Validates `bytes` and checks: exit 2, a `bad.yaml:LINE:COLUMN` (or fixture) location, `expected` in the message.
fn rejects(bytes: &[u8], expected: &str) {
    let (_dir, file) = scratch(bytes);
    let output = harness().arg("validate").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let located = regex::Regex::new(r"(bad\.yaml|\.yaml):\d+:\d+: ").unwrap();
    assert!(located.is_match(&stderr), "no file:line:column in:\n{stderr}");
    assert!(stderr.contains(expected), "`{expected}` not in:\n{stderr}");
    assert!(stderr.contains("help:"), "no hint in:\n{stderr}");
}

#[test]
fn the_scenarios_folder_validates() {
    harness()
        .current_dir(repository())
        .args(["validate", "scenarios/"])
        .assert()
        .success();
}

#[test]
fn empty_file() {
    rejects(b"", "file is empty");
    rejects(b"  \n\n", "file is empty");
}

#[test]
fn not_yaml() {
    rejects(b"apiVersion: [harness/v1\nkind: {", "bad.yaml:");
    rejects(b"just a sentence", "bad.yaml:1:1: expected mapping");
}

#[test]
fn wrong_types() {
    rejects(seed().replace("port: 1234", "port: twelve").as_bytes(), "bad.yaml:35:");
    rejects(
        seed().replace("matrix:\n  buildkit: [v0.28.0]", "matrix: 5").as_bytes(),
        "bad.yaml:28:9: expected mapping",
    );
}

#[test]
fn unknown_keys() {
    rejects(
        seed()
            .replace("nodeSelector:\n    kubernetes", "nodeSelectr:\n    kubernetes")
            .as_bytes(),
        "unknown field `nodeSelectr`",
    );
}

#[test]
fn unknown_keys_in_the_daemonset() {
    let (dir, file) = scratch(seed().as_bytes());
    let manifest = dir.path().join("fixtures/daemonsets/buildkitd-hostprocess.yaml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("hostNetwork: true", "hostNetwork: true\n      hostNetwrk: true");
    std::fs::write(&manifest, text).unwrap();
    let output = harness().arg("validate").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("buildkitd-hostprocess.yaml:24:7: unknown field `hostNetwrk`"),
        "{stderr}"
    );
}

#[test]
fn duplicate_keys() {
    rejects(
        seed()
            .replace("  distribution: k0s\n", "  distribution: k0s\n  distribution: k0s\n")
            .as_bytes(),
        "duplicate",
    );
}

#[test]
fn tabs() {
    rejects(
        seed().replace("  distribution: k0s", "\tdistribution: k0s").as_bytes(),
        "tab",
    );
}

#[test]
fn binary() {
    rejects(b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary");
    rejects(b"apiVersion: \xff\xfe harness", "not UTF-8");
}

#[test]
fn huge() {
    let mut text = seed();
    text.push_str(&format!("# {}\n", "x".repeat(2 * 1024 * 1024)));
    rejects(text.as_bytes(), "larger than");
}

#[test]
fn deeply_nested() {
    let depth = 10_000;
    let text = format!("apiVersion: {}{}\n", "[".repeat(depth), "]".repeat(depth));
    rejects(text.as_bytes(), "bad.yaml:1:");
    let block: String = (0..200).map(|i| format!("{}k{i}:\n", "  ".repeat(i))).collect();
    rejects(block.as_bytes(), "bad.yaml:");
}

#[test]
fn alias_bomb() {
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let mut previous = 'a';
    for name in 'b'..='j' {
        text.push_str(&format!("{name}: &{name} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"));
        previous = name;
    }
    let started = std::time::Instant::now();
    rejects(text.as_bytes(), "bad.yaml:");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "an alias bomb must be rejected fast"
    );
}

#[test]
fn paths_escaping_the_repository() {
    rejects(
        seed()
            .replace(
                "context: fixtures/builds/hello-servercore",
                "context: fixtures/../scenarios",
            )
            .as_bytes(),
        "leaves fixtures/",
    );
    rejects(
        seed()
            .replace("fixtures/daemonsets/buildkitd-hostprocess.yaml", "/etc/passwd")
            .as_bytes(),
        "not a path inside fixtures/",
    );
    rejects(
        seed()
            .replace(
                "fixtures/daemonsets/buildkitd-hostprocess.yaml",
                "fixtures/daemonsets/missing.yaml",
            )
            .as_bytes(),
        "does not exist",
    );
}

#[test]
fn host_process_without_host_network() {
    let inline = r#"workload:
  daemonset:
    apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: b, namespace: buildkit}
    spec:
      selector: {matchLabels: {app: b}}
      template:
        metadata: {labels: {app: b}}
        spec:
          nodeSelector: {kubernetes.io/os: windows}
          securityContext: {windowsOptions: {hostProcess: true, runAsUserName: "NT AUTHORITY\\SYSTEM"}}
          containers:
            - name: buildkitd
              image: IMAGE
              args: [--addr, "tcp://0.0.0.0:1234"]
"#;
    let text = seed().replace(
        "workload:\n  daemonset: fixtures/daemonsets/buildkitd-hostprocess.yaml\n",
        inline,
    );
    rejects(text.as_bytes(), "a HostProcess pod must set `hostNetwork: true`");
}

#[test]
fn expectations_name_known_classes_variants_and_steps() {
    rejects(
        seed()
            .replace("build/hello: bindflt-access-denied", "build/hello: access-denied")
            .as_bytes(),
        "is not an expectation",
    );
    rejects(
        seed().replace("  host:\n    native:", "  host:\n    natve:").as_bytes(),
        "`natve` is not a variant of the host lane",
    );
    rejects(
        seed().replace("      service: ok\n", "      servic: ok\n").as_bytes(),
        "`servic` is not a step",
    );
}

#[test]
fn overrides_select_matrix_cells() {
    let with = |when: &str| {
        seed()
            + &format!(
                "overrides:\n  - when: {when}\n    expect:\n      cluster:\n        reproduction:\n          build/hello: ok\n"
            )
    };
    rejects(
        with("{containerd: \"<1.7\"}").as_bytes(),
        "bad.yaml:86:12: `containerd` is not a matrix axis",
    );
    rejects(
        with("{buildkit: \"<0.1\"}").as_bytes(),
        "this override matches no matrix cell",
    );
    rejects(
        with("{buildkit: soon}").as_bytes(),
        "`soon` is not a version requirement",
    );
    let (_dir, file) = scratch(with("{buildkit: \">=0.28\"}").as_bytes());
    harness().arg("validate").arg(&file).assert().success();
}

#[test]
fn durations_are_positive() {
    rejects(
        seed().replace("timeout: 10m", "timeout: 0s").as_bytes(),
        "bad.yaml:61:14: duration `0s` is zero",
    );
    rejects(
        seed().replace("timeout: 10m", "timeout: soon").as_bytes(),
        "is not a duration",
    );
}

#[test]
fn unknown_placeholders() {
    rejects(
        seed().replace("${registry}", "${registy}").as_bytes(),
        "`${registy}` is neither a parameter nor a matrix axis",
    );
}

#[test]
fn scenario_names_are_unique() {
    let (dir, file) = scratch(seed().as_bytes());
    std::fs::write(dir.path().join("scenarios/again.yaml"), seed()).unwrap();
    for command in ["validate", "run"] {
        let output = harness()
            .arg(command)
            .arg(dir.path().join("scenarios"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("bad.yaml:6:9: scenario name `buildkit-6590` is already used by"),
            "{stderr}"
        );
    }
    drop(file);
}

#[test]
fn missing_paths_and_bad_usage_exit_2() {
    harness().args(["validate", "no/such/dir"]).assert().code(2);
    harness().args(["render"]).assert().code(2);
    harness().args(["frobnicate"]).assert().code(2);
    harness()
        .current_dir(repository())
        .args(["render", "scenarios/buildkit-6590.yaml", "--variant", "nope"])
        .assert()
        .code(2);
}

#[test]
fn render_prints_the_seed_daemonset() {
    let output = harness()
        .current_dir(repository())
        .args(["render", "scenarios/buildkit-6590.yaml", "--variant", "reproduction"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let yaml = String::from_utf8(output.stdout).unwrap();
    for field in [
        "name: buildkitd-windows",
        "namespace: buildkit",
        "kubernetes.io/os: windows",
        "hostProcess: true",
        "runAsUserName: NT AUTHORITY\\SYSTEM",
        "hostNetwork: true",
        "- $env:CONTAINER_SANDBOX_MOUNT_POINT/buildkit/buildkitd.exe",
        "- tcp://0.0.0.0:1234",
        "- --containerd-worker-namespace=k8s.io",
        "- C:/buildkitd",
        "image: harness.local/buildkitd:windows-v0.28.0-servercore-ltsc2022",
    ] {
        assert!(yaml.contains(field), "`{field}` missing from:\n{yaml}");
    }
}

#[test]
fn the_workaround_registers_starts_stops_and_unregisters() {
    let output = harness()
        .current_dir(repository())
        .args([
            "render",
            "scenarios/buildkit-6590.yaml",
            "--variant",
            "workaround",
            "--set",
            "registry=r.example",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let yaml = String::from_utf8(output.stdout).unwrap();
    for step in [
        "Copy-Item",
        "--register-service",
        "Start-Service",
        "Get-Service",
        "Stop-Service",
        "--unregister-service",
        "preStop",
        "-EncodedCommand",
        "image: r.example/buildkitd",
    ] {
        assert!(yaml.contains(step), "`{step}` missing from the workaround");
    }
}

#[test]
fn run_writes_outcomes_and_skips_lanes_with_reasons() {
    let out = tempfile::tempdir().unwrap();
    let output = harness()
        .current_dir(repository())
        // The host lane really runs on an elevated Windows machine; the cluster lane has no context here.
        .args(["run", "scenarios/", "--lane", "offline", "--lane", "cluster"])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("skipped"), "{stdout}");
    let lines = std::fs::read_to_string(out.path().join("outcomes.jsonl")).unwrap();
    let outcomes: Vec<serde_json::Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(
        outcomes
            .iter()
            .any(|o| o["lane"] == "offline" && o["verdict"] == "passed")
    );
    assert!(
        outcomes
            .iter()
            .filter(|o| o["lane"] != "offline")
            .all(|o| o["verdict"] == "skipped" && o["reason"].is_string())
    );
}
