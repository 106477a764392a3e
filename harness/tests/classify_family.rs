//! `harness classify` on the Windows failure family: codes by name, no silent miss, the family classes, exit 0.

use assert_cmd::Command;

/// Classifies `text` from stdin as JSON; the command exits 0 whatever the class.
fn classify_json(text: &str) -> serde_json::Value {
    let output = Command::cargo_bin("harness")
        .unwrap()
        .args(["classify", "-", "--json"])
        .write_stdin(text)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn family_texts_get_their_class_code_and_stage() {
    let cases = [
        (
            "Cannot create a file when that file already exists. (0xb7): unknown\n",
            "file-exists",
            "0xb7",
            None,
        ),
        (
            "Error: failed to create containerd task: failed to create shim task: hcs::CreateComputeSystem web: The directory name is invalid.: unknown\n",
            "directory-name-invalid",
            "0x10b",
            Some("create-container"),
        ),
        (
            "docker: Error response from daemon: hcsshim::CreateComputeSystem 5eb7: The parameter is incorrect.\n",
            "invalid-parameter",
            "0x57",
            Some("create-container"),
        ),
        (
            "bindflt: concurrent relative-path NtCreateFile on a mapped directory intermittently returns STATUS_INVALID_PARAMETER\n",
            "invalid-parameter",
            "0xc000000d",
            Some("bind"),
        ),
        (
            "failed to create shim task: failed to resolve path for mount source \"\\\\\\\\?\\\\Volume{b43f9d35-4667-4057-b528-66e5a67a8d48}\": Incorrect function.: unknown\n",
            "mount-source-unresolved",
            "0x1",
            Some("volume"),
        ),
        (
            "GRPC error: rpc error: code = Internal desc = failed to get free space on path c:\\var\\lib\\kubelet\\pods\\3fa8\\volumes\\kubernetes.io~csi\\v\\mount: Access is denied.\n",
            "volume-permission-denied",
            "0x5",
            Some("volume"),
        ),
    ];
    for (text, class, hex, stage) in cases {
        let json = classify_json(text);
        assert_eq!(json["class"], class, "{text}");
        assert_eq!(json["code"]["hex"], hex, "{text}");
        assert_eq!(json["stage"].as_str(), stage, "{text}");
    }
}

#[test]
fn a_code_name_alone_is_a_failure_with_its_code_decoded() {
    let json = classify_json("STATUS_ACCESS_DENIED\n");
    assert_eq!(json["class"], "unknown");
    assert_eq!(json["code"]["name"], "STATUS_ACCESS_DENIED");
    assert_eq!(json["code"]["win32"], 5);
    let json = classify_json("open C:\\x: ERROR_INVALID_PARAMETER (87)\n");
    assert_eq!(json["code"]["hex"], "0x57");
    assert_eq!(json["code"]["name"], "ERROR_INVALID_PARAMETER");
}

#[test]
fn success_lines_and_benign_warnings_are_no_failure() {
    let json = classify_json(concat!(
        "hcsshim::ActivateLayer  - succeeded id=2182 flavour=1\n\n",
        "retry after ERROR_SHARING_VIOLATION succeeded\n\n",
        "time=\"t\" level=warning msg=\"using null network as the default\"\n",
    ));
    assert_eq!(json["class"], serde_json::Value::Null);
    assert_eq!(json["warnings"], serde_json::json!(["null-network"]));
}

#[test]
fn text_output_names_the_class_and_exits_zero() {
    Command::cargo_bin("harness")
        .unwrap()
        .args(["classify", "-"])
        .write_stdin(
            "hcsshim::ImportLayer failed in Win32: Cannot create a file when that file already exists. (0xb7)\n",
        )
        .assert()
        .success()
        .stdout(predicates::str::starts_with(
            "class: file-exists\ncode: 0xb7 (win32, ERROR_ALREADY_EXISTS)\nstage: extract\n",
        ));
}
