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
    for sub in [
        "fixtures/daemonsets",
        "fixtures/builds/hello-servercore",
        "fixtures/builds/hello-linux",
    ] {
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

/// `harness validate FILE` exits 0.
fn validates(file: &Path) {
    let output = harness().arg("validate").arg(file).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `harness render --variant reproduction FILE`: its YAML, which it must print with exit 0.
fn rendered(file: &Path) -> String {
    let output = harness()
        .args(["render", "--variant", "reproduction"])
        .arg(file)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
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
        "bad.yaml:90:12: `containerd` is not a matrix axis",
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
fn durations_are_between_a_second_and_a_day() {
    for (timeout, expected) in [
        ("0s", "bad.yaml:61:14: duration `0s` is shorter than 1s"),
        ("1ns", "duration `1ns` is shorter than 1s"),
        ("99999999999h", "is longer than 24h"),
        ("soon", "is not a duration"),
    ] {
        rejects(
            seed()
                .replace("timeout: 10m", &format!("timeout: {timeout}"))
                .as_bytes(),
            expected,
        );
    }
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
        "namespace: harness-manual-",
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
        // The host lane really runs on an elevated Windows machine; the cluster lane has no context here, and is
        // told to leave the local test bed alone.
        .args([
            "run",
            "scenarios/",
            "--lane",
            "offline",
            "--lane",
            "cluster",
            "--no-testbed",
        ])
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

/// The seed with its DaemonSet fixture replaced by `manifest`, in a scratch repository; rejected with `expected`.
fn rejects_daemonset(manifest: &str, expected: &str) {
    let (dir, file) = scratch(seed().as_bytes());
    std::fs::write(
        dir.path().join("fixtures/daemonsets/buildkitd-hostprocess.yaml"),
        manifest,
    )
    .unwrap();
    let output = harness().arg("validate").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(stderr.contains(expected), "`{expected}` not in:\n{stderr}");
    assert!(stderr.contains("help:"), "no hint in:\n{stderr}");
}

fn seed_daemonset() -> String {
    std::fs::read_to_string(repository().join("fixtures/daemonsets/buildkitd-hostprocess.yaml")).unwrap()
}

#[test]
fn service_names_are_plain_names_and_never_the_nodes_own() {
    for (name, expected) in [
        ("'*'", "is not a service name the harness registers"),
        ("'k*'", "is not a service name the harness registers"),
        ("'buildkitd?'", "is not a service name the harness registers"),
        ("\"build\\tkitd\"", "is not a service name the harness registers"),
        ("kubelet", "is a service the node itself runs"),
        ("containerd", "is a service the node itself runs"),
        ("KUBE-PROXY", "is a service the node itself runs"),
    ] {
        rejects(
            seed()
                .replace("name: buildkitd\n", &format!("name: {name}\n"))
                .as_bytes(),
            expected,
        );
    }
}

#[test]
fn windows_paths_hold_no_quotes_or_control_characters() {
    rejects(
        seed()
            .replace(
                r"logFile: 'C:\buildkitd\buildkitd.log'",
                r#"logFile: 'C:\x" --addr "tcp://0.0.0.0:4444'"#,
            )
            .as_bytes(),
        "a character Windows does not allow in paths",
    );
}

#[test]
fn dockerfiles_stay_inside_their_build_context() {
    for dockerfile in ["../../../etc/passwd", "/etc/passwd", "sub/../../Dockerfile"] {
        rejects(
            seed()
                .replace(
                    "    platform: windows/amd64",
                    &format!("    dockerfile: '{dockerfile}'\n    platform: windows/amd64"),
                )
                .as_bytes(),
            "is not a path inside the build context",
        );
    }
}

#[cfg(unix)]
#[test]
fn a_symlinked_fixtures_folder_is_not_the_repository_and_no_file_is_echoed() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/", dir.path().join("fixtures")).unwrap();
    std::fs::create_dir_all(dir.path().join("scenarios")).unwrap();
    let file = dir.path().join("scenarios/bad.yaml");
    std::fs::write(
        &file,
        seed().replace("fixtures/daemonsets/buildkitd-hostprocess.yaml", "fixtures/etc/passwd"),
    )
    .unwrap();
    let output = harness().arg("validate").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        !stderr.contains("root:"),
        "a file outside the repository was echoed:\n{stderr}"
    );
}

#[test]
fn a_problem_shows_only_its_own_line_of_a_file() {
    let mut manifest = seed_daemonset();
    manifest.push_str("# secret-neighbour-line\nbogus: [\n");
    let (dir, file) = scratch(seed().as_bytes());
    std::fs::write(
        dir.path().join("fixtures/daemonsets/buildkitd-hostprocess.yaml"),
        manifest,
    )
    .unwrap();
    let output = harness().arg("validate").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("secret-neighbour-line"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn fifos_are_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("scenario.yaml");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for command in ["validate", "classify"] {
        let output = harness().arg(command).arg(&fifo).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{command}: {output:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("not a regular file"));
    }
}

#[test]
fn a_matrix_that_explodes_is_refused_fast_with_its_size() {
    for (axes, values) in [(6, 10), (8, 8)] {
        let matrix: String = (0..axes)
            .map(|a| {
                let list: Vec<String> = (0..values).map(|v| format!("\"{v}.0\"")).collect();
                format!("  axis{a}: [{}]\n", list.join(", "))
            })
            .collect();
        let text = seed().replace(
            "matrix:\n  buildkit: [v0.28.0]\n",
            &format!("matrix:\n  buildkit: [v0.28.0]\n{matrix}"),
        );
        let started = std::time::Instant::now();
        rejects(text.as_bytes(), "cases (");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}

#[test]
fn images_are_one_word() {
    rejects(
        seed()
            .replace(
                r#"image: "${registry}/buildkitd:windows-${buildkit}-servercore-ltsc2022""#,
                r#"image: """#,
            )
            .as_bytes(),
        "the image is empty",
    );
    rejects(
        seed()
            .replace(
                r#"image: "${registry}/buildkitd:windows-${buildkit}-servercore-ltsc2022""#,
                r#"image: "a\nb""#,
            )
            .as_bytes(),
        "the image is empty or holds whitespace",
    );
}

#[test]
fn the_daemonset_has_a_name_and_one_endpoint_and_deploys_into_the_runs_namespace() {
    let seed = seed_daemonset();
    // Whatever namespace the manifest names, or none, the case deploys into one of the run's own.
    for manifest in [
        seed.replace("namespace: buildkit", "namespace: kube-system"),
        seed.replace("  namespace: buildkit\n", ""),
    ] {
        let (dir, file) = scratch(self::seed().as_bytes());
        std::fs::write(
            dir.path().join("fixtures/daemonsets/buildkitd-hostprocess.yaml"),
            manifest,
        )
        .unwrap();
        let stdout = rendered(&file);
        assert!(
            !stdout.contains("kube-system") && !stdout.contains("namespace: buildkit\n"),
            "{stdout}"
        );
        assert_eq!(stdout.matches("namespace: harness-manual-").count(), 1, "{stdout}");
        assert!(stdout.contains("  name: harness-manual-"), "{stdout}");
    }
    rejects_daemonset(
        &seed.replace("namespace: buildkit", "namespace: Bad_NS/../kube-system"),
        "is not a valid namespace name",
    );
    rejects_daemonset(
        &seed.replace("  name: buildkitd-windows\n  namespace", "  namespace"),
        "has no metadata.name",
    );
    rejects_daemonset(
        &seed.replace(
            "            - --addr\n",
            "            - --addr\n            - tcp://0.0.0.0:4444\n            - --addr\n",
        ),
        "more than one `--addr`",
    );
    rejects_daemonset(
        &seed.replace(
            "      containers:\n",
            "      containers:\n        - name: sidecar\n          image: IMAGE\n",
        ),
        "none is named as the one under test",
    );
}

#[test]
fn parser_messages_speak_of_the_file_not_of_rust() {
    for (from, to, expected) in [
        ("  name: buildkit-6590", "  name: null", "this key needs a value"),
        ("port: 1234", "port: 99999", "expected a whole number from 0 to 65535"),
        (
            "kind: Scenario",
            "kind: Scenario\nkind: Scenario",
            "duplicate mapping key: kind",
        ),
    ] {
        let (_dir, file) = scratch(seed().replacen(from, to, 1).as_bytes());
        let output = harness().arg("validate").arg(&file).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "`{expected}` not in {stderr}");
        for rust in ["Option<", "DuplicateKeyPolicy", "u16"] {
            assert!(!stderr.contains(rust), "`{rust}` leaks into {stderr}");
        }
    }
}

#[test]
fn control_characters_never_reach_the_terminal() {
    let (_dir, file) = scratch(
        seed()
            .replace("  name: buildkit-6590", "  name: \"x\\e[2J\\0y\"")
            .as_bytes(),
    );
    let output = harness().arg("validate").arg(&file).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        !output.stderr.contains(&0x1b) && !output.stderr.contains(&0),
        "{:?}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("\\u{1b}"));
}

#[cfg(unix)]
#[test]
fn a_closed_pipe_is_not_a_panic() {
    for command in [
        "render scenarios/buildkit-6590.yaml",
        "plan",
        "validate",
        "run --lane offline --out",
    ] {
        let out = tempfile::tempdir().unwrap();
        let line = if command.ends_with("--out") {
            format!("{command} {}", out.path().display())
        } else {
            command.to_owned()
        };
        let output = std::process::Command::new("sh")
            .current_dir(repository())
            .arg("-c")
            .arg(format!(
                "'{}' {line} | head -c 1 >/dev/null; sleep 0.2",
                env!("CARGO_BIN_EXE_harness")
            ))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{command}: {stderr}");
    }
}

#[test]
fn run_refuses_bad_usage_before_it_acts() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    for (args, expected) in [
        (
            vec!["--set", "regsitry=x"],
            "no scenario declares a parameter `regsitry`",
        ),
        (vec!["--set", "buildkit=v9"], "is a matrix axis"),
        (vec!["--run-id", "Bad_ID/../x"], "is not a run id"),
        (vec!["--out", file.to_str().unwrap()], "is not a folder"),
        (vec!["--request-timeout", "0s"], "outside 1s to 10m"),
    ] {
        let output = harness()
            .current_dir(repository())
            .args(["run", "--lane", "offline"])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: `{expected}` not in {stderr}");
    }
}

#[cfg(unix)]
#[test]
fn reports_replace_a_symlink_instead_of_following_it() {
    let out = tempfile::tempdir().unwrap();
    let victim = out.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, out.path().join("summary.md")).unwrap();
    let output = harness()
        .current_dir(repository())
        .args(["run", "--lane", "offline", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert!(!out.path().join("summary.md").symlink_metadata().unwrap().is_symlink());
}

#[test]
fn a_required_lane_that_ran_nothing_exits_3() {
    let out = tempfile::tempdir().unwrap();
    let run = |lane: &str| {
        harness()
            .current_dir(repository())
            .args(["run", "--lane", "offline", "--lane", "host", "--require", lane, "--out"])
            .arg(out.path())
            .output()
            .unwrap()
    };
    let offline = run("offline");
    assert_eq!(offline.status.code(), Some(0), "{offline:?}");
    if cfg!(windows) {
        return; // the host lane may run on a Windows machine
    }
    // Several lanes at once, comma-separated as CI matrices write them.
    let host = run("offline,host");
    let stderr = String::from_utf8_lossy(&host.stderr);
    assert_eq!(host.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("required lane(s) ran nothing here: host"), "{stderr}");
}

/// `harness accept` then `run --check` in a scratch repository: accepted as run, held, then a moved result is
/// `changed` (exit 1); simulated evidence of a real lane is refused and nothing is written.
#[test]
fn accepted_outcomes_are_reviewed_and_held() {
    let (dir, file) = scratch(seed().as_bytes());
    let out = dir.path().join("out");
    let scenarios = dir.path().join("scenarios");
    let run = |extra: &[&str]| {
        harness()
            .current_dir(dir.path())
            .args(["run", "--lane", "offline", "--out"])
            .arg(&out)
            .args(extra)
            .arg(&scenarios)
            .output()
            .unwrap()
    };
    assert_eq!(run(&[]).status.code(), Some(0));
    let accept = || {
        harness()
            .current_dir(dir.path())
            .arg("accept")
            .arg(&out)
            .arg("--scenarios")
            .arg(&scenarios)
            .output()
            .unwrap()
    };
    let first = accept();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    assert!(
        stdout.contains("2 change(s)") && stdout.contains("+ offline"),
        "{stdout}"
    );
    let accepted = file.with_file_name("bad.accepted.jsonl");
    assert!(accepted.is_file());
    assert!(String::from_utf8_lossy(&accept().stdout).contains("0 change(s)"));
    assert_eq!(run(&["--check"]).status.code(), Some(0));

    // The accepted run saw the render fail: today's ok is a move.
    let moved = std::fs::read_to_string(&accepted)
        .unwrap()
        .replacen(r#""result":"ok""#, r#""result":"unknown""#, 1);
    std::fs::write(&accepted, moved).unwrap();
    let checked = run(&["--check"]);
    assert_eq!(checked.status.code(), Some(1), "{checked:?}");
    let outcomes = std::fs::read_to_string(out.join("outcomes.jsonl")).unwrap();
    assert!(
        outcomes.contains(r#""verdict":"changed""#) && outcomes.contains(r#""accepted":"unknown""#),
        "{outcomes}"
    );

    // A simulated cluster outcome is refused, and nothing is accepted.
    let simulated = outcomes
        .lines()
        .next()
        .unwrap()
        .replace(r#""lane":"offline""#, r#""lane":"cluster""#)
        .replace(r#""evidence":"real""#, r#""evidence":"simulated""#);
    std::fs::write(out.join("outcomes.jsonl"), simulated + "\n").unwrap();
    let before = std::fs::read_to_string(&accepted).unwrap();
    let refused = accept();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("simulated evidence is never accepted for the cluster lane"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&accepted).unwrap(), before);
}

/// `run --history DIR` records one file per run, `report --history DIR` reads them, and report.html draws each cell's
/// history.
#[test]
fn runs_are_recorded_into_the_history_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history");
    for run_id in ["first-run", "second-run"] {
        let out = dir.path().join(run_id);
        let run = harness()
            .current_dir(repository())
            .args(["run", "--lane", "offline", "--run-id", run_id, "--history"])
            .arg(&history)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(0), "{run:?}");
        assert!(String::from_utf8_lossy(&run.stdout).contains("recorded "));
    }
    let files = std::fs::read_dir(history.join("runs")).unwrap().count();
    assert_eq!(files, 2, "one file per run");
    let html = std::fs::read_to_string(dir.path().join("second-run/report.html")).unwrap();
    assert!(
        html.contains("first-run"),
        "the second run's report does not draw the first run"
    );
    let report = harness().args(["report", "--history"]).arg(&history).output().unwrap();
    let stdout = String::from_utf8_lossy(&report.stdout);
    assert_eq!(report.status.code(), Some(0), "{report:?}");
    assert!(stdout.contains("render"), "{stdout}");
}

#[test]
fn a_probe_to_deliver_must_be_a_windows_executable() {
    let output = harness()
        .current_dir(repository())
        .args([
            "run",
            "--lane",
            "offline",
            "--probe",
            "Cargo.toml",
            "scenarios/buildkit-6590.yaml",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Cargo.toml is not a Windows executable"), "{stderr}");
    assert!(
        stderr.contains("help: give the path of a Windows bindprobe.exe"),
        "{stderr}"
    );
}

#[test]
fn shards_split_the_planned_cases_and_bad_shards_are_refused() {
    let run = |shard: &str| {
        let out = tempfile::tempdir().unwrap();
        let output = harness()
            .current_dir(repository())
            .args(["run", "--lane", "offline", "--jobs", "2", "--shard", shard, "--out"])
            .arg(out.path())
            .arg("scenarios/buildkit-6590.yaml")
            .output()
            .unwrap();
        let outcomes = std::fs::read_to_string(out.path().join("outcomes.jsonl")).unwrap_or_default();
        let cases: Vec<String> = outcomes
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["case"].to_string())
            .collect();
        (output, cases)
    };
    let (first, one) = run("1/2");
    let (second, two) = run("2/2");
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(second.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&first.stderr).contains("shard 1/2: 1 of 2 planned case(s)"));
    assert_eq!((one.len(), two.len()), (1, 1), "{one:?} {two:?}");
    assert_ne!(one, two, "both shards ran the same case");
    for bad in ["0/2", "3/2", "2", "a/b"] {
        let (output, _) = run(bad);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "--shard {bad}: {stderr}");
        assert!(stderr.contains("is not a shard"), "--shard {bad}: {stderr}");
    }
}

/// `harness classify --classes FILE` in `dir` (so diagnostics name the file as given), on `text`.
fn classify_with(dir: &Path, classes: &str, text: &str) -> std::process::Output {
    harness()
        .current_dir(dir)
        .args(["classify", "--classes", classes, "-"])
        .write_stdin(text)
        .output()
        .unwrap()
}

#[test]
fn declared_classes_claim_what_the_built_ins_leave_unknown() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("classes.yaml"),
        "classes:\n  - class: hns-parameter-refused\n    code: ERROR_INVALID_PARAMETER\n    message: '(?i)^hns failed'\n  - class: anything-denied\n    message: denied\n",
    )
    .unwrap();
    let hns = "HNS failed with error : The parameter is incorrect.\n";
    let plain = harness().args(["classify", "-"]).write_stdin(hns).output().unwrap();
    assert!(String::from_utf8_lossy(&plain.stdout).starts_with("class: unknown\n"));
    let out = classify_with(dir.path(), "classes.yaml", hns);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout.starts_with("class: hns-parameter-refused\ncode: 0x57 "),
        "{stdout}"
    );
    assert!(stdout.contains("rule: declared:hns-parameter-refused"), "{stdout}");
    // A built-in specific match wins over a declared rule that also holds.
    let bind = "failed to bind target \"C:\\a\" to root \"C:\\b\": Access is denied.\n";
    let out = classify_with(dir.path(), "classes.yaml", bind);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("class: bindflt-access-denied\n"));
    // JSON carries the declared class by its name.
    let json = harness()
        .current_dir(dir.path())
        .args(["classify", "--json", "--classes", "classes.yaml", "-"])
        .write_stdin("something went wrong: denied\n")
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["class"], "anything-denied");
}

#[test]
fn a_scenario_declares_classes_its_expectations_name() {
    let declared = "classes:\n  - class: bind-refused-here\n    code: 0x80070005\n    stage: bind\n  - class: node-dir-missing\n    infrastructure: true\n    message: 'cannot find the path'\n";
    let scenario = seed().replace("build/hello: bindflt-access-denied", "build/hello: node-dir-missing") + declared;
    let (dir, file) = scratch(scenario.as_bytes());
    // A shared file under classes/ declares one more, which the expectations may name too.
    std::fs::create_dir_all(dir.path().join("classes")).unwrap();
    std::fs::write(
        dir.path().join("classes/shared.yaml"),
        "classes:\n  - class: shared-one\n    message: 'the shared failure'\n",
    )
    .unwrap();
    let validate = harness().arg("validate").arg(&file).output().unwrap();
    assert_eq!(validate.status.code(), Some(0), "{validate:?}");
    let out = classify_with(
        dir.path(),
        "scenarios/bad.yaml",
        "open C:\\x: The system cannot find the path specified.\n\nthe shared failure\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout.starts_with("class: node-dir-missing\n"), "{stdout}");
    let out = classify_with(dir.path(), "scenarios/bad.yaml", "the shared failure\n");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("class: shared-one\n"));

    // An expectation naming no class lists the built-in and the declared ones.
    let unknown = seed().replace("build/hello: bindflt-access-denied", "build/hello: no-such-class") + declared;
    let (dir3, file3) = scratch(unknown.as_bytes());
    let output = harness().arg("validate").arg(&file3).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "bad.yaml:77:20: `no-such-class` is not an expectation: no built-in or declared class has this name"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("bindflt-access-denied") && stderr.contains("(bind-refused-here, node-dir-missing)"),
        "{stderr}"
    );
    drop(dir3);
}

#[test]
fn broken_class_rules_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        (
            "classes:\n  - class: my-class\n    message: '(unclosed'\n",
            "classes.yaml:3:14: `(unclosed` is not a regular expression: unclosed group",
        ),
        (
            "classes:\n  - class: my-class\n    stage: create-containr\n",
            "classes.yaml:3:12: `create-containr` is not a stage",
        ),
        (
            "classes:\n  - class: unknown\n    code: 5\n",
            "classes.yaml:2:12: `unknown` is a built-in class",
        ),
        (
            "classes:\n  - class: my-class\n",
            "classes.yaml:2:5: the rule for `my-class` has no condition",
        ),
        (
            "classes:\n  - class: my-class\n    code: 5\n  - class: my-class\n    code: 32\n    infrastructure: true\n",
            "classes.yaml:6:21: `my-class` is declared differently: infrastructure true here, false at classes.yaml:2",
        ),
        (
            "classes:\n  - class: my-class\n    code: NO_SUCH_CODE\n",
            "classes.yaml:3:11: `NO_SUCH_CODE` is not a Windows code",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(dir.path().join("classes.yaml"), text).unwrap();
        let out = classify_with(dir.path(), "classes.yaml", "anything\n");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}\n{stderr}");
        assert!(stderr.contains(expected), "`{expected}` not in:\n{stderr}");
        assert!(stderr.contains("help:"), "{stderr}");
        assert!(out.stdout.is_empty(), "nothing is classified with broken rules");
    }
    // The same rules in a scenario's own `classes:` are located in the scenario.
    let listed = "stages are: connect, resolve, pull";
    rejects(
        (seed() + "classes:\n  - class: my-class\n    stage: nowhere\n").as_bytes(),
        "bad.yaml:91:12: `nowhere` is not a stage",
    );
    rejects(
        (seed() + "classes:\n  - class: my-class\n    stage: nowhere\n").as_bytes(),
        listed,
    );
    rejects(
        (seed() + "classes:\n  - class: crash-loop\n    message: x\n").as_bytes(),
        "bad.yaml:90:12: `crash-loop` is a built-in class",
    );
    rejects(
        (seed() + "classes:\n  - class: my-class\n    message: '['\n").as_bytes(),
        "bad.yaml:91:14: `[` is not a regular expression: unclosed character class",
    );
    rejects(
        (seed() + "classes:\n  - class: my-class\n    infrastructure: true\n").as_bytes(),
        "bad.yaml:90:5: the rule for `my-class` has no condition",
    );
}

/// `harness validate` on `text` in a scratch repository succeeds.
fn accepts(text: &str) {
    let (_dir, file) = scratch(text.as_bytes());
    let output = harness().arg("validate").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr:\n{stderr}");
}

#[test]
fn an_unknown_probe_kind_is_named_in_the_formats_words() {
    // Before: "unknown variant `script`, expected one of bind, layer, exec, program, logs".
    rejects(
        seed()
            .replace("    layer:\n      snapshot", "    script:\n      snapshot")
            .as_bytes(),
        "bad.yaml:53:5: `script` is not a probe kind: write `bind:`, `layer:`, `exec:`, `program:` or `logs:`",
    );
    rejects(
        seed()
            .replace("distribution: k0s", "distribution: openshift")
            .as_bytes(),
        "`openshift` is not a distribution: write `k0s`, `kubeadm`, `aks`, `eks`, `gke`, `rke2`, `generic` or `none`",
    );
}

#[test]
fn a_missing_key_points_at_the_mapping_that_lacks_it() {
    // Before: "bad.yaml:60:5: missing field `platform`", pointing at the neighbouring `timeout`.
    rejects(
        seed().replace("    platform: windows/amd64\n", "").as_bytes(),
        "bad.yaml:58:3: `builds.hello` has no `platform`, which it needs",
    );
    rejects(
        seed().replace("    platform: windows/amd64\n", "").as_bytes(),
        "add `platform: windows/amd64` to `builds.hello`",
    );
    rejects(
        seed()
            .replace("  endpoint:\n    port: 1234", "  endpoint: {}")
            .as_bytes(),
        "bad.yaml:34:3: `workload.endpoint` has no `port`, which it needs",
    );
    rejects(
        seed().replace("apiVersion: harness/v1\n", "").as_bytes(),
        "the scenario has no `apiVersion`, which it needs",
    );
}

#[test]
fn an_unknown_expectation_lists_what_may_be_written() {
    for (class, expected) in [
        ("access-denied", "`access-denied` is not an expectation"),
        ("Access Denied", "`Access Denied` is not an expectation"),
    ] {
        let text = seed().replace("build/hello: bindflt-access-denied", &format!("build/hello: {class}"));
        rejects(text.as_bytes(), expected);
        for listed in ["`ok`", "`observe`", "bindflt-access-denied", "crash-loop"] {
            rejects(text.as_bytes(), listed);
        }
    }
}

#[test]
fn a_required_node_affinity_on_windows_pins_a_host_process_pod() {
    let affinity = "      affinity:\n        nodeAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            nodeSelectorTerms:\n              - matchExpressions:\n                  - {key: kubernetes.io/os, operator: In, values: [VALUES]}\n";
    let with = |values: &str| {
        seed_daemonset().replace(
            "      nodeSelector:\n        kubernetes.io/os: windows\n",
            &affinity.replace("VALUES", values),
        )
    };
    // Before: refused as "a HostProcess pod must be pinned to Windows nodes".
    let (dir, file) = scratch(seed().as_bytes());
    std::fs::write(
        dir.path().join("fixtures/daemonsets/buildkitd-hostprocess.yaml"),
        with("windows"),
    )
    .unwrap();
    validates(&file);
    rejects_daemonset(&with("windows, linux"), "must be pinned to Windows nodes");
}

#[test]
fn plan_without_contexts_says_only_the_test_bed_is_allowed() {
    let (_dir, file) = scratch(seed().replace("  contexts: [k0s-windows]\n", "").as_bytes());
    let output = harness().arg("plan").arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    // Before: "this scenario allows , and the harness's test bed" (later "allows none, and ...").
    assert!(
        stdout
            .contains("this scenario lists no context in cluster.contexts, so only the harness's test bed is allowed"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("allows ,") && !stdout.contains("allows none"),
        "{stdout}"
    );
}

#[test]
fn host_lane_builds_are_refused() {
    rejects(
        seed()
            .replace(
                "    native:\n      probe/bind-plain-dirs: ok\n",
                "    native:\n      probe/bind-plain-dirs: ok\n      build/hello: ok\n",
            )
            .as_bytes(),
        "the host lane has no `build/hello` step",
    );
    rejects(
        seed()
            .replace(
                "    native:\n      probe/bind-plain-dirs: ok\n",
                "    native:\n      probe/bind-plain-dirs: ok\n      build/hello: ok\n",
            )
            .as_bytes(),
        "the host lane runs no builds",
    );
}

#[test]
fn a_rollout_class_that_only_the_pull_step_gives_is_refused() {
    rejects(
        seed()
            .replace(
                "      rollout: ok\n      probe/bind",
                "      rollout: image-pull-failed\n      probe/bind",
            )
            .as_bytes(),
        "`rollout` never ends with `image-pull-failed`: a failed pull ends the `pull` step",
    );
    // What the rollout can end with is accepted.
    accepts(&seed().replace(
        "      rollout: ok\n      probe/bind",
        "      rollout: crash-loop\n      probe/bind",
    ));
}

#[test]
fn a_variant_identical_to_another_is_refused() {
    rejects(
        seed()
            .replace(
                "  workaround:\n    description",
                "  workaround2:\n    description: the same again\n  workaround:\n    description",
            )
            .as_bytes(),
        "variant `workaround2` deploys the workload exactly as `reproduction` does",
    );
}

#[test]
fn doubled_backslashes_in_single_quotes_are_refused_with_the_fix() {
    let text = seed().replace(r"hostDir: 'C:\buildkitd\bin'", r"hostDir: 'C:\\buildkitd\\bin'");
    rejects(
        text.as_bytes(),
        r"`C:\\buildkitd\\bin` holds doubled backslashes: YAML single quotes do not unescape `\\`",
    );
    rejects(
        text.as_bytes(),
        r#"write 'C:\buildkitd\bin' in single quotes, or "C:\\buildkitd\\bin" in double quotes"#,
    );
    // Double quotes unescape: "C:\\buildkitd\\bin" is the right path.
    accepts(&seed().replace(r"hostDir: 'C:\buildkitd\bin'", r#"hostDir: "C:\\buildkitd\\bin""#));
}

#[test]
fn every_distribution_loads_and_none_has_no_cluster_lane() {
    for distribution in ["k0s", "kubeadm", "aks", "eks", "gke", "rke2", "generic"] {
        accepts(&seed().replace("distribution: k0s", &format!("distribution: {distribution}")));
    }
    let host_only = seed().replace("distribution: k0s", "distribution: none");
    rejects(
        host_only.as_bytes(),
        "expectations for the cluster lane, but cluster.distribution is `none`",
    );
    let cut = host_only.find("  cluster:\n    reproduction:").unwrap();
    let end = host_only.find("  host:\n").unwrap();
    let host_only = format!("{}{}", &host_only[..cut], &host_only[end..]);
    let (_dir, file) = scratch(host_only.as_bytes());
    let output = harness().arg("plan").arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout
            .lines()
            .filter(|l| l.contains(" cluster "))
            .all(|l| l.starts_with("skip")
                && l.contains("this scenario targets no cluster (cluster.distribution: none)")),
        "{stdout}"
    );
    assert!(stdout.contains("skip  cluster"), "{stdout}");
}

#[test]
fn an_endpoint_is_needed_only_for_builds() {
    let without = seed().replace("  endpoint:\n    port: 1234\n", "");
    rejects(
        without.as_bytes(),
        "bad.yaml:31:1: builds are declared but the workload has no endpoint to send them to",
    );
    rejects(without.as_bytes(), "add `endpoint: {port: N}` to `workload`");
    // Without builds nothing needs the endpoint, and the `--addr` port is not compared with one.
    let cut = without.find("builds:\n").unwrap();
    let end = without.find("expect:\n").unwrap();
    let no_builds = format!("{}{}", &without[..cut], &without[end..])
        .replace("      build/hello: bindflt-access-denied\n", "")
        .replace("      build/hello: ok\n", "");
    accepts(&no_builds);
}

/// A scratch repository holding `files` (path, text) and the scenario `text`; `validate`'s exit code and stderr.
fn validate_with(files: &[(&str, &str)], text: &str) -> (Option<i32>, String) {
    let (dir, file) = scratch(text.as_bytes());
    for (path, body) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    let output = harness().arg("validate").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (output.status.code(), stderr)
}

/// A workload written as `manifests` instead of the seed's DaemonSet.
fn with_manifests(manifests: &str, extra: &str) -> String {
    seed()
        .replace(
            "  daemonset: fixtures/daemonsets/buildkitd-hostprocess.yaml\n",
            &format!("  manifests:\n{manifests}"),
        )
        .replace("\nbuilds:\n", &format!("{extra}\nbuilds:\n"))
}

const APP: &str = "---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: apps
spec:
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      nodeSelector: {kubernetes.io/os: windows}
      containers:
        - name: app
          image: mcr.microsoft.com/windows/servercore:ltsc2022
          volumeMounts: [{name: data, mountPath: 'C:\\data'}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: apps}
spec:
  storageClassName: fast
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast}
provisioner: disk.csi.example
";

/// Before: a three-document manifest (Deployment, PVC, StorageClass) was refused with "budget breached: Documents {
/// documents: 2 }". Now it is a workload: validated, and rendered with every namespaced object in the run's
/// namespace and the storage class renamed for the run, the claim following it.
#[test]
fn a_workload_of_several_documents_validates_and_renders() {
    // The seed's workaround registers buildkitd; this workload's container is no buildkitd: it sets a variable.
    let service = "registerService:\n      name: buildkitd\n      hostDir: 'C:\\buildkitd\\bin'\n      logFile: 'C:\\buildkitd\\buildkitd.log'\n";
    let text = with_manifests("    - fixtures/app/app.yaml\n", "")
        .replace(service, "env: {APP_MODE: safe}\n")
        .replace("      service: ok\n", "");
    let (dir, file) = scratch(text.as_bytes());
    std::fs::create_dir_all(dir.path().join("fixtures/app")).unwrap();
    std::fs::write(dir.path().join("fixtures/app/app.yaml"), APP).unwrap();
    validates(&file);
    let yaml = rendered(&file);
    let namespace = regex::Regex::new(r"name: (harness-manual-[0-9a-f]{8})").unwrap();
    let namespace = &namespace.captures(&yaml).expect("the run's namespace")[1];
    let kinds: Vec<&str> = yaml.lines().filter_map(|l| l.strip_prefix("kind: ")).collect();
    assert_eq!(
        kinds,
        ["Namespace", "StorageClass", "PersistentVolumeClaim", "Deployment"],
        "{yaml}"
    );
    assert!(yaml.contains(&format!("name: fast-{namespace}")), "{yaml}");
    assert!(yaml.contains(&format!("storageClassName: fast-{namespace}")), "{yaml}");
    assert!(!yaml.contains("namespace: apps"), "{yaml}");
}

/// Mistakes in a workload of several objects, each located in the file it is written in, with what to write.
#[test]
fn workload_mistakes_are_located_where_they_are_written() {
    let two_pods = APP.to_owned()
        + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: helper}\nspec:\n  containers: [{name: helper, image: busybox}]\n";
    type Case<'a> = (String, Vec<(&'a str, String)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            with_manifests("    - fixtures/app/app.yaml\n", ""),
            vec![("fixtures/app/app.yaml", two_pods.clone())],
            "several objects of the workload run pods and none is named as the one under test",
        ),
        (
            with_manifests("    - fixtures/app/app.yaml\n  underTest: Deployment/nope\n", ""),
            vec![("fixtures/app/app.yaml", two_pods.clone())],
            "the workload has no object `Deployment/nope`",
        ),
        (
            with_manifests("    - fixtures/app/app.yaml\n  underTest: StorageClass/fast\n", ""),
            vec![("fixtures/app/app.yaml", two_pods.clone())],
            "`StorageClass/fast` runs no pods, so no probe can run in it",
        ),
        (
            with_manifests("    - fixtures/app/app.yaml\n", ""),
            vec![("fixtures/app/app.yaml", APP.replace("provisioner:", "provisoner:"))],
            "unknown field `provisoner` in the manifest",
        ),
        (
            with_manifests("    - fixtures/app/app.yaml\n    - fixtures/app/app.yaml\n", ""),
            vec![("fixtures/app/app.yaml", APP.to_owned())],
            "Deployment/app is given twice",
        ),
        (
            with_manifests("    - fixtures/app/app.yaml\n", ""),
            vec![("fixtures/app/app.yaml", APP.to_owned() + "---\napiVersion: v1\nkind: Node\nmetadata: {name: n1}\n")],
            "the harness never creates a Node",
        ),
        (
            seed().replace(
                "  daemonset: fixtures/daemonsets/buildkitd-hostprocess.yaml\n",
                "  daemonset: fixtures/daemonsets/buildkitd-hostprocess.yaml\n  manifests: [fixtures/app/app.yaml]\n",
            ),
            vec![("fixtures/app/app.yaml", APP.to_owned())],
            "`workload` has both `daemonset` and `manifests`",
        ),
        (
            seed().replace(
                "    description: the DaemonSet as the bug report deploys it\n",
                "    description: the DaemonSet as the bug report deploys it\n    mounts: {no-such-volume: /mnt}\n",
            ),
            vec![],
            "the DaemonSet has no volume `no-such-volume` to mount",
        ),
        (
            seed().replace("  contexts: [k0s-windows]\n", "  contexts: [k0s-windows]\n  cells: {buildkit=v0.1.0: k0s-windows}\n"),
            vec![],
            "`v0.1.0` is not a value of axis `buildkit`",
        ),
        (
            seed().replace("  contexts: [k0s-windows]\n", "  contexts: [k0s-windows]\n  cells: {buildkit=v0.28.0: eks-elsewhere}\n"),
            vec![],
            "context `eks-elsewhere` is not one this scenario may act on",
        ),
        (
            with_manifests("    - fixtures/app/app.yaml\n", ""),
            vec![("fixtures/app/app.yaml", APP.to_owned())],
            "`registerService` copies the program the container starts by its `command`, and container `app` has no `command`",
        ),
        (
            seed().replace(
                "    description: the DaemonSet as the bug report deploys it\n",
                "    description: the DaemonSet as the bug report deploys it\n    patches:\n      - json: [{op: replace, path: /spec/nope/x, value: 1}]\n",
            ),
            vec![],
            "this patch does not apply",
        ),
        (
            seed().replace(
                "    description: the DaemonSet as the bug report deploys it\n",
                "    description: the DaemonSet as the bug report deploys it\n    cells: {containerd: \"1.7\"}\n",
            ),
            vec![],
            "`containerd` is not a matrix axis",
        ),
        (
            seed().replace(
                "  hcs-layer:\n",
                "  repro:\n    program: {file: fixtures/daemonsets/buildkitd-hostprocess.yaml, twin: fixtures/daemonsets/buildkitd-hostprocess.yaml}\n  hcs-layer:\n",
            ),
            vec![],
            "is not a script with a `#!` line",
        ),
    ];
    let located = regex::Regex::new(r"\.yaml:\d+:\d+: ").unwrap();
    for (text, files, expected) in cases {
        let files: Vec<(&str, &str)> = files.iter().map(|(p, b)| (*p, b.as_str())).collect();
        let (code, stderr) = validate_with(&files, &text);
        assert_eq!(code, Some(2), "{expected}: {stderr}");
        assert!(located.is_match(&stderr), "no file:line:column in:\n{stderr}");
        assert!(stderr.contains(expected), "`{expected}` not in:\n{stderr}");
        assert!(stderr.contains("help:"), "no hint in:\n{stderr}");
    }
}

/// A problem in the second document of a manifest file points at that document's own line in the file.
#[test]
fn a_problem_in_a_later_document_points_at_its_line() {
    let text = with_manifests("    - fixtures/app/app.yaml\n", "");
    let broken = APP.replace("  storageClassName: fast\n", "  storageClassName: [fast]\n");
    let line = broken.lines().position(|l| l.contains("storageClassName")).unwrap() + 1;
    let (code, stderr) = validate_with(&[("fixtures/app/app.yaml", &broken)], &text);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("fixtures/app/app.yaml:{line}:")),
        "line {line} not in:\n{stderr}"
    );
}

#[test]
fn a_twins_expectation_is_checked_where_it_is_written() {
    let seed = seed().replace(
        "      context: fixtures/builds/hello-linux\n",
        "      context: fixtures/builds/hello-linux\n      expect: run-step-fails\n",
    );
    assert!(seed.contains("expect: run-step-fails"));
    rejects(
        seed.as_bytes(),
        "`run-step-fails` is not an expectation: no built-in or declared class has this name",
    );
}

#[test]
fn a_problem_past_column_65535_is_told_without_a_snippet() {
    // miette's snippet panics marking a column past 65,535; found by tests/fuzz.rs.
    let mut lines: Vec<String> = seed().lines().map(str::to_owned).collect();
    lines[0] = format!("{},x: {}\u{1b}[2J", lines[0], "a".repeat(70_000));
    rejects(lines.join("\n").as_bytes(), "unexpected character");
}

#[test]
fn plan_says_when_run_would_borrow_the_test_bed() {
    let status = Command::new(repository().join("fixtures/testbed/testbed"))
        .args(["status", "--json"])
        .output()
        .unwrap();
    let built = serde_json::from_slice::<serde_json::Value>(&status.stdout).is_ok_and(|s| s["built"] == true);
    let output = harness()
        .current_dir(repository())
        .args(["plan", "scenarios/buildkit-6590.yaml"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    // Said exactly when the test bed's binaries are built here (.ci/testbed prepare), and only then.
    let said = stdout.contains("without --context, `harness run` runs the cluster cases on the local test bed (now ");
    assert_eq!(said, built && cfg!(target_os = "linux"), "{stdout}");
}
