//! Makes text stable for snapshots: what varies per run and machine becomes a placeholder; classes, codes, stages and versions stay.
//!
//! [`normalize`] is pure and idempotent, and keeps JSON text valid JSON (it never touches quotes or backslashes).
//! Its placeholders (see also [`PLACEHOLDERS`]):
//!
//! | placeholder | replaces | example |
//! |---|---|---|
//! | `<TIMESTAMP>` | RFC 3339 / ISO, klog, syslog, RFC 1123, `[hh:mm:ss.mmm]`, `yyyy/mm/dd hh:mm:ss`, Go `m=+1.2` | `2025-07-12T18:03:14-05:00` |
//! | `<DURATION>` | Go/kubectl durations and buildctl step times | `2.1109445s`, `3h27m`, `#5 1.388` |
//! | `<N>` | snapshot numbers and kubectl repeat counts | `snapshots\120494`, `(x37 over` |
//! | `<RAND>` | random temp-dir suffixes (Go `os.MkdirTemp`) | `buildkit-mount1819228504` |
//! | `<DIGEST>` | content digests | `sha256:4616cf42...` |
//! | `<GUID>` | GUIDs (volumes, layers, pod UIDs) | `473e53c8-c55d-11ed-9601-ba2be9735a86` |
//! | `<HEX>` | hex identifiers of 16+ digits (container ids, trace/span ids) | `b81ed896...f839` |
//! | `<REF>` | BuildKit's 25-character ref and worker ids | `swoah7anzxal82qqgw104woil` |
//! | `<IP>` | IPv4 (octets <= 255, not after `v`) and full-form IPv6 addresses | `10.0.75.1` |
//! | `<POD>` | the random suffix of a pod name; the controller name stays | `buildkitd-windows-<POD>` |
//! | `<NS>` | namespaces after `namespace=`, `Namespace:`, JSON `"namespace":`, `-n`, except well-known ones | `harness-1a2b` |
//! | `<PID>` | process ids after `pid=` / `processid=` | `pid=4242` |
//!
//! Kept on purpose: classes, HRESULT/Win32/NTSTATUS codes (`0x80070005` has 8 digits), stage words, versions
//! (`v0.28.0`, `1.7.29`, `20348.4773`), ports, exit codes, and the well-known namespaces `default`, `kube-system`,
//! `kube-public`, `kube-node-lease`, `k8s.io`, `moby`, `buildkit`.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// Every placeholder with what it stands for.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("<TIMESTAMP>", "a point in time"),
    ("<DURATION>", "a duration or step time"),
    ("<N>", "a snapshot number or repeat count"),
    ("<RAND>", "a random temp-dir suffix"),
    ("<DIGEST>", "a content digest"),
    ("<GUID>", "a GUID"),
    ("<HEX>", "a long hex identifier"),
    ("<REF>", "a BuildKit ref or worker id"),
    ("<IP>", "an IP address"),
    ("<POD>", "a pod name's random suffix"),
    ("<NS>", "a run-specific namespace"),
    ("<PID>", "a process id"),
];

/// Namespaces that mean the same on every run.
const WELL_KNOWN_NAMESPACES: &[&str] = &[
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "k8s.io",
    "moby",
    "buildkit",
];

enum With {
    Template(&'static str),
    Func(fn(&Captures, &str) -> String),
}

struct Step {
    re: Regex,
    with: With,
}

fn step(pattern: &str, with: With) -> Step {
    Step {
        re: Regex::new(pattern).unwrap_or_else(|e| panic!("normalize pattern {pattern}: {e}")),
        with,
    }
}

static STEPS: LazyLock<Vec<Step>> = LazyLock::new(|| {
    use With::{Func, Template};
    vec![
        step(r"sha256:[0-9a-f]{12,64}", Template("sha256:<DIGEST>")),
        step(
            r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            Template("<GUID>"),
        ),
        step(
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|\s?[+-]\d{2}:?\d{2})?(?:\s(?:UTC|[A-Z]{3,4})\b)?",
            Template("<TIMESTAMP>"),
        ),
        step(
            r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?",
            Template("<TIMESTAMP>"),
        ),
        step(
            r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}(?: [+-]\d{4}| [A-Z]{3})?",
            Template("<TIMESTAMP>"),
        ),
        step(
            r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)?",
            Template("<TIMESTAMP>"),
        ),
        step(r"\b([IWEF])\d{4} \d{2}:\d{2}:\d{2}\.\d+", Template("${1}<TIMESTAMP>")),
        step(r"\bm=[+-]\d+\.\d+", Template("m=<TIMESTAMP>")),
        step(r"\b\d{2}:\d{2}:\d{2}(?:\.\d+)?\b", Template("<TIMESTAMP>")),
        step(r"(?m)^(#\d+) \d+\.\d+\b", Template("${1} <DURATION>")),
        step(r"\b[0-9a-f]{16,}\b", Template("<HEX>")),
        step(r"\b[a-z0-9]{25}\b", Func(buildkit_ref)),
        step(r"(?i)(snapshots[\\/]+)\d+", Template("${1}<N>")),
        step(r"\(x\d+ over", Template("(x<N> over")),
        step(
            r"(?i)\b(buildkit-mount|ctd-volume|bktest_containerd|containerd-mount|write-set-|hcs)\d{5,10}\b",
            Template("${1}<RAND>"),
        ),
        step(
            r"([\\/][A-Za-z][A-Za-z_.-]*[A-Za-z_-])\d{6,10}\b",
            Template("${1}<RAND>"),
        ),
        step(r"\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\b", Func(ipv4)),
        step(r"\b(?:[0-9a-fA-F]{1,4}:){4,7}[0-9a-fA-F]{1,4}\b", Template("<IP>")),
        step(
            r"\b\d+(?:\.\d+)?(?:ns|µs|us|ms|s|m|h)(?:\d+(?:\.\d+)?(?:ns|µs|us|ms|s|m|h))*\b",
            Template("<DURATION>"),
        ),
        step(
            r"\b([a-z0-9](?:[-a-z0-9]*?[a-z0-9])?)-(?:[bcdfghjklmnpqrstvwxz2456789]{6,10}-)?[bcdfghjklmnpqrstvwxz2456789]{5}\b",
            Template("${1}-<POD>"),
        ),
        step(
            r#"(?i)(\bnamespace[=:]\s*"?|\bnamespace"\s*:\s*"|\bnamespace\s+"|(?:^|\s)-n\s+|--namespace[= ])([a-z0-9][-a-z0-9.]*[a-z0-9])"#,
            Func(namespace),
        ),
        step(r"(?i)\b(pid|processid)([=:]\s*)\d+", Template("${1}${2}<PID>")),
    ]
});

fn buildkit_ref(caps: &Captures, _: &str) -> String {
    let s = &caps[0];
    let digits = s.bytes().any(|b| b.is_ascii_digit());
    let letters = s.bytes().any(|b| b.is_ascii_lowercase());
    if digits && letters {
        "<REF>".to_string()
    } else {
        s.to_string()
    }
}

fn ipv4(caps: &Captures, haystack: &str) -> String {
    let whole = caps.get(0).expect("match");
    let octets_ok = (1..=4).all(|i| caps[i].parse::<u16>().is_ok_and(|o| o <= 255));
    let before = haystack[..whole.start()].chars().next_back();
    let after = haystack[whole.end()..].chars().next();
    let version_like = matches!(before, Some('v' | 'V' | '.')) || matches!(after, Some('-' | '+' | '.'));
    if octets_ok && !version_like {
        "<IP>".to_string()
    } else {
        whole.as_str().to_string()
    }
}

fn namespace(caps: &Captures, _: &str) -> String {
    let name = &caps[2];
    if WELL_KNOWN_NAMESPACES.contains(&name) {
        caps[0].to_string()
    } else {
        format!("{}<NS>", &caps[1])
    }
}

/// Replaces what varies per run and machine by the placeholders of the module documentation.
pub fn normalize(text: &str) -> String {
    let mut current: Cow<'_, str> = Cow::Borrowed(text);
    for s in STEPS.iter() {
        let replaced = match &s.with {
            With::Template(t) => s.re.replace_all(&current, *t).into_owned(),
            With::Func(f) => {
                let hay: &str = &current;
                s.re.replace_all(hay, |caps: &Captures| f(caps, hay)).into_owned()
            }
        };
        current = Cow::Owned(replaced);
    }
    current.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seed_error_keeps_meaning_and_loses_run_detail() {
        let text = r#"#1 ERROR: failed to mount {windows-layer ...\snapshots\120494  [rw]}: failed to bind target "...\\snapshots\\120494\\Files" to root "C:\\buildkitd\\tmp\\buildkit-mount1819228504": Access is denied. (0x80070005)"#;
        assert_eq!(
            normalize(text),
            r#"#1 ERROR: failed to mount {windows-layer ...\snapshots\<N>  [rw]}: failed to bind target "...\\snapshots\\<N>\\Files" to root "C:\\buildkitd\\tmp\\buildkit-mount<RAND>": Access is denied. (0x80070005)"#
        );
    }

    #[test]
    fn timestamps_durations_and_step_times() {
        assert_eq!(
            normalize(r#"time="2025-07-12T18:03:14-05:00" level=warning msg="x""#),
            r#"time="<TIMESTAMP>" level=warning msg="x""#
        );
        assert_eq!(
            normalize("E0415 17:18:58.469449   46838 pod_workers.go:191]"),
            "E<TIMESTAMP>   46838 pod_workers.go:191]"
        );
        assert_eq!(
            normalize("#5 1.388 Access is denied."),
            "#5 <DURATION> Access is denied."
        );
        assert_eq!(
            normalize("Successfully pulled image in 2.1109445s (x37 over 3h27m) #24 DONE 561.9s"),
            "Successfully pulled image in <DURATION> (x<N> over <DURATION>) #24 DONE <DURATION>"
        );
        assert_eq!(
            normalize("Start Time: Tue, 16 May 2023 14:12:07 +0000"),
            "Start Time: <TIMESTAMP>"
        );
    }

    #[test]
    fn identifiers_digests_ips() {
        assert_eq!(
            normalize("container b81ed896222eb87906ccab1c3dd2fc49324eafa798438f7979b87b210906f839 encountered"),
            "container <HEX> encountered"
        );
        assert_eq!(
            normalize("layer sha256:bc06b22070cd8fb7c81b24025f0d67ed17390339fd8506cc46ce0224ec9c6e73:"),
            "layer sha256:<DIGEST>:"
        );
        assert_eq!(
            normalize(r"\\?\Volume{473e53c8-c55d-11ed-9601-ba2be9735a86}\"),
            r"\\?\Volume{<GUID>}\"
        );
        assert_eq!(
            normalize("checksum of ref swoah7anzxal82qqgw104woil::90nr5607yu8c0st4nmx1p5na9"),
            "checksum of ref <REF>::<REF>"
        );
        assert_eq!(
            normalize("dial tcp 34.96.108.209:443: connect"),
            "dial tcp <IP>:443: connect"
        );
        assert_eq!(normalize("dial tcp [fe80:0:0:0:1:2:3:4]:1234"), "dial tcp [<IP>]:1234");
    }

    #[test]
    fn keeps_codes_versions_and_ports() {
        let text = "buildkitd v0.28.0 containerd 1.7.29 build 20348.4773 Windows 10.0.17763.1158 tcp://0.0.0.0:1234 (0xc0370101) exit code: 1 v1.2.3.4";
        assert_eq!(normalize(text), text.replace("0.0.0.0", "<IP>"));
    }

    #[test]
    fn pods_and_namespaces() {
        assert_eq!(
            normalize("pod buildkitd-windows-x7k2p and nginx-6799fc88d8-9crcj on windows-layer"),
            "pod buildkitd-windows-<POD> and nginx-<POD> on windows-layer"
        );
        assert_eq!(normalize("Namespace:    harness-run-42"), "Namespace:    <NS>");
        assert_eq!(normalize("kubectl -n e2e-abc get pods"), "kubectl -n <NS> get pods");
        assert_eq!(normalize("namespace=k8s.io"), "namespace=k8s.io");
        assert_eq!(
            normalize(r#"{"namespace":"harness-7f3a","pod":"buildkitd-windows-x7k2p"}"#),
            r#"{"namespace":"<NS>","pod":"buildkitd-windows-<POD>"}"#
        );
        assert_eq!(normalize("Namespace: kube-system"), "Namespace: kube-system");
    }

    #[test]
    fn temp_dir_suffixes() {
        assert_eq!(
            normalize(r"C:\Windows\TEMP\ctd-volume1950337969\139"),
            r"C:\Windows\TEMP\ctd-volume<RAND>\139"
        );
        assert_eq!(
            normalize(r"folder=C:\Windows\TEMP\hcs339069859"),
            r"folder=C:\Windows\TEMP\hcs<RAND>"
        );
        assert_eq!(normalize("pid=4242"), "pid=<PID>");
    }

    #[test]
    fn every_placeholder_is_documented() {
        for (p, _) in PLACEHOLDERS {
            assert!(p.starts_with('<') && p.ends_with('>'));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn idempotent(text in "[ -~]{0,120}") {
            let once = normalize(&text);
            prop_assert_eq!(normalize(&once), once);
        }

        #[test]
        fn keeps_json_valid(value in "\\PC{0,80}", ts in 0u32..60) {
            let json = serde_json::json!({
                "namespace": "harness-run",
                "message": format!("2026-03-18T10:00:{ts:02}Z {value} C:\\t\\buildkit-mount1819228504 \"q\""),
            })
            .to_string();
            let normalized = normalize(&json);
            prop_assert!(serde_json::from_str::<serde_json::Value>(&normalized).is_ok(), "{}", normalized);
        }

        #[test]
        fn idempotent_on_log_like_text(
            n in 0u32..4_000_000_000,
            snap in 1u32..999_999,
            ms in 0u32..999,
        ) {
            let text = format!(
                r#"time="2025-01-30T10:31:58.{ms:03}+01:00" level=error msg="failed to bind target \"C:\\s\\snapshots\\{snap}\\Files\" to root \"C:\\T\\buildkit-mount{n}\": Access is denied." took {ms}ms"#
            );
            let once = normalize(&text);
            prop_assert!(once.contains("Access is denied."));
            prop_assert_eq!(normalize(&once), once.clone());
            let raw = format!("mount{n}");
            prop_assert!(!once.contains(&raw));
        }
    }
}
