//! The classification rules: wrapper chain + error code -> outcome class, most specific cause first.
//!
//! Rules look at the facts of one logical record (its matching key, its wrapper chain of [`Stage`]s and its codes,
//! printed or inferred from the message in any supported language), never at a sample's exact wording. Each rule
//! has a priority; the highest priority over the whole input wins, ties go to the earliest record. Generic wrappers
//! (`failed to create shim task: ...: unknown`, `failed to mount`, `failed to solve`) have no rule of their own: they
//! only contribute stages, so the inner cause decides.
//!
//! | rule | class | when |
//! |---|---|---|
//! | `bind-access-denied` | bindflt-access-denied | bind stage (go-winio `failed to bind target`, containerd `failed to set volume mount path`) + Win32 5 |
//! | `bind-attach-refused` | bindflt-attach-refused | ERROR_FLT_DO_NOT_ATTACH 0x801F000F (message "Do not attach the filter ...") |
//! | `layer-in-use` | layer-in-use | Win32 32 (sharing violation) in a layer step |
//! | `no-parent-layers` | nested-layers-unsupported | `no parent layers present` (scratch layer inside a container) |
//! | `os-mismatch` | os-version-mismatch | HCS_E_IMAGE_MISMATCH 0xC0370101 |
//! | `hyperv-unavailable` | hyperv-unavailable | 0xC0351000 / HCS_E_HYPERV_NOT_INSTALLED, `hypervisor is not running` |
//! | `logon-token` | logon-token-denied | `failed to logon user` / `failed to create user process token` |
//! | `service-exists` | service-exists | ERROR_SERVICE_EXISTS 1073, `service <name> already exists` |
//! | `bad-path` | bad-path | ERROR_INVALID_NAME 123 / ERROR_BAD_PATHNAME 161 |
//! | `file-exists` | file-exists | ERROR_FILE_EXISTS 0x50 / ERROR_ALREADY_EXISTS 0xb7 (STATUS_OBJECT_NAME_COLLISION) |
//! | `invalid-parameter` | invalid-parameter | ERROR_INVALID_PARAMETER 87 (E_INVALIDARG, STATUS_INVALID_PARAMETER) from the bind filter, a layer step or an HCS operation |
//! | `directory-name-invalid` | directory-name-invalid | ERROR_DIRECTORY 267 (0x8007010b, "The directory name is invalid.") while HCS creates or starts the compute system (`CreateComputeSystem`, `System::CreateProcess`) |
//! | `mount-source-unresolved` | mount-source-unresolved | containerd `failed to resolve path for mount source` |
//! | `platform-mismatch` | platform-unsupported | `no match for platform`, `no matching manifest for` |
//! | `compute-system-exited` | compute-system-exited | HCS unexpected exit / terminated / connection closed |
//! | `compute-system-gone` | compute-system-gone | HCS system not found / already stopped |
//! | `volume-access-denied` | volume-permission-denied | Win32 5 or `permission denied` on a kubelet pod volume path or in a volume step |
//! | `activate-failed` | layer-activate-failed | activate stage, any other cause |
//! | `prepare-failed` | layer-prepare-failed | prepare or get-mount-path stage, any other cause |
//! | `run-step-failed` | run-step-failed | `did not complete successfully: exit code` and older wordings |
//! | `image-pull` | image-pull-failed | ErrImagePull, ImagePullBackOff, `failed to pull image` |
//! | `crash-loop` | crash-loop | CrashLoopBackOff, `Back-off restarting failed container` |
//! | `buildkitd-unreachable` | buildkitd-unreachable | a buildkit client cannot dial or lost buildkitd |
//! | `exec-failed` | exec-failed | `kubectl exec` transport or runtime exec failures |
//! | `rollout-timeout` | rollout-timeout | progress deadline exceeded, rollout wait timed out |
//! | `step-timeout` | step-timeout | `context deadline exceeded`, `timed out waiting for the condition`, unless the runtime reports it (shim task, HCS create/start) |
//! | `cancelled` | cancelled | `context canceled`, gRPC `Canceled` |
//!
//! Step output (buildctl `#5 1.388 Access is denied.`) is the program's own output and never matched: a RUN step's
//! failure is the `#5 ERROR: process ... did not complete successfully` record. Records that read as failures (see
//! [`reads_as_failure`]) and that no rule claims become `unknown`, keeping their first line.

use std::sync::LazyLock;

use regex::Regex;

use super::Class;
use super::code::{Code, without_code_names};
use super::stage::{Stage, names_hcs_operation};

/// The facts of one logical record that rules look at.
pub struct Facts<'a> {
    /// The matching key (see [`super::unescape::fold_key`]).
    pub key: &'a str,
    /// The collapsed readable text, for the few rules that need word boundaries.
    pub text: &'a str,
    /// Stage markers by position, outermost first.
    pub chain: &'a [(usize, Stage)],
    /// Codes by position, printed and inferred.
    pub codes: &'a [(usize, Code)],
}

impl Facts<'_> {
    fn has(&self, stage: Stage) -> bool {
        self.chain.iter().any(|(_, s)| *s == stage)
    }

    fn any_stage(&self, stages: &[Stage]) -> bool {
        self.chain.iter().any(|(_, s)| stages.contains(s))
    }

    fn code(&self, pred: impl Fn(&Code) -> bool) -> bool {
        self.codes.iter().any(|(_, c)| pred(c))
    }

    fn value_in(&self, values: &[u32]) -> bool {
        self.code(|c| values.contains(&c.value))
    }

    fn win32_in(&self, values: &[u32]) -> bool {
        self.code(|c| c.win32().is_some_and(|w| values.contains(&w)))
    }

    fn key_any(&self, needles: &[&str]) -> bool {
        needles.iter().any(|n| self.key.contains(n))
    }

    /// The innermost stage of the chain.
    pub fn innermost(&self) -> Option<Stage> {
        self.chain.last().map(|(_, s)| *s)
    }
}

/// One rule.
pub struct Rule {
    /// Its stable name, reported as `rule`.
    pub name: &'static str,
    /// The class it assigns.
    pub class: Class,
    /// Higher wins.
    pub priority: u8,
    /// The stage it reports when its mechanism fixes one (else the chain's innermost stage).
    pub stage: Option<Stage>,
    /// Whether it applies.
    pub test: fn(&Facts) -> bool,
}

/// Stages at which a failure concerns a container layer (wider than [`Stage::LAYER`], a layer probe's own stages).
const TOUCHING_LAYERS: &[Stage] = &[
    Stage::Mount,
    Stage::Activate,
    Stage::Prepare,
    Stage::GetMountPath,
    Stage::Bind,
    Stage::Extract,
];

/// Stages at which HCS makes or starts the compute system (beside the layer stages, where an invalid parameter comes
/// from the bind filter, a layer call or HCS: not from HNS or a CLI).
const COMPUTE_SYSTEM: &[Stage] = &[Stage::Scratch, Stage::CreateContainer, Stage::Start];

/// A kubelet pod volume path in key form (`c:\var\lib\kubelet\pods\<uid>\volumes\kubernetes.io~csi\...`).
fn on_pod_volume(key: &str) -> bool {
    key.find("kubeletpods").is_some_and(|at| key[at..].contains("volumes"))
}

/// Stages at which the container runtime itself (containerd creating the shim task, HCS creating or starting the
/// compute system) reports a failure: a deadline it gives up on is the runtime's failure, not the harness's step
/// timing out.
const INSIDE_THE_RUNTIME: &[Stage] = &[Stage::Shim, Stage::CreateContainer, Stage::Start];

/// Whether a record reports a failure of the container runtime (see [`INSIDE_THE_RUNTIME`]) or of a named HCS
/// operation (`hcsshim::System::Start: context deadline exceeded`).
fn inside_the_runtime(f: &Facts) -> bool {
    f.any_stage(INSIDE_THE_RUNTIME) || names_hcs_operation(f.key)
}

static SERVICE_EXISTS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\bservice\s+\S+\s+already\s+exists").expect("service regex"));

/// Every failure rule, in tie-breaking order.
pub const RULES: &[Rule] = &[
    Rule {
        name: "bind-access-denied",
        class: Class::BindfltAccessDenied,
        priority: 100,
        stage: Some(Stage::Bind),
        test: |f| f.has(Stage::Bind) && f.code(Code::is_access_denied),
    },
    Rule {
        name: "bind-attach-refused",
        class: Class::BindfltAttachRefused,
        priority: 100,
        stage: Some(Stage::Bind),
        test: |f| f.value_in(&[0x801f_000f, 0xc01c_000f]),
    },
    Rule {
        name: "layer-in-use",
        class: Class::LayerInUse,
        priority: 100,
        stage: None,
        test: |f| f.win32_in(&[0x20]) && (f.any_stage(TOUCHING_LAYERS) || f.key.contains("layer")),
    },
    Rule {
        name: "no-parent-layers",
        class: Class::NestedLayersUnsupported,
        priority: 100,
        stage: Some(Stage::Scratch),
        test: |f| f.key.contains("noparentlayerspresent"),
    },
    Rule {
        name: "os-mismatch",
        class: Class::OsVersionMismatch,
        priority: 100,
        stage: None,
        test: |f| f.value_in(&[0xc037_0101]),
    },
    Rule {
        name: "hyperv-unavailable",
        class: Class::HypervUnavailable,
        priority: 100,
        stage: None,
        test: |f| {
            f.value_in(&[0xc035_1000, 0xc037_0102])
                || f.key_any(&["hypervisorisnotrunning", "hcs_e_hyperv_not_installed"])
        },
    },
    Rule {
        name: "logon-token",
        class: Class::LogonTokenDenied,
        priority: 100,
        stage: Some(Stage::Logon),
        test: |f| f.has(Stage::Logon),
    },
    Rule {
        name: "service-exists",
        class: Class::ServiceExists,
        priority: 100,
        stage: Some(Stage::Service),
        test: |f| f.win32_in(&[1073]) || SERVICE_EXISTS.is_match(f.text),
    },
    Rule {
        name: "bad-path",
        class: Class::BadPath,
        priority: 95,
        stage: None,
        test: |f| f.win32_in(&[123, 161]),
    },
    Rule {
        name: "file-exists",
        class: Class::FileExists,
        priority: 95,
        stage: None,
        test: |f| f.win32_in(&[0x50, 0xb7]),
    },
    Rule {
        name: "invalid-parameter",
        class: Class::InvalidParameter,
        priority: 95,
        stage: None,
        test: |f| {
            f.win32_in(&[0x57])
                && (f.any_stage(TOUCHING_LAYERS) || f.any_stage(COMPUTE_SYSTEM) || names_hcs_operation(f.key))
        },
    },
    Rule {
        name: "directory-name-invalid",
        class: Class::DirectoryNameInvalid,
        priority: 95,
        stage: None,
        test: |f| f.win32_in(&[0x10b]) && f.any_stage(&[Stage::CreateContainer, Stage::Start]),
    },
    Rule {
        name: "mount-source-unresolved",
        class: Class::MountSourceUnresolved,
        priority: 95,
        stage: Some(Stage::Volume),
        test: |f| f.key.contains("failedtoresolvepathformountsource"),
    },
    Rule {
        name: "platform-mismatch",
        class: Class::PlatformUnsupported,
        priority: 95,
        stage: Some(Stage::Resolve),
        test: |f| {
            f.key_any(&[
                "nomatchforplatform",
                "nomatchingmanifestfor",
                "cannotbeusedonthisplatform",
                "operatingsystemisnotsupported",
            ])
        },
    },
    Rule {
        name: "compute-system-exited",
        class: Class::ComputeSystemExited,
        priority: 90,
        stage: None,
        test: |f| f.value_in(&[0xc037_0106, 0xc037_0107, 0xc037_0100, 0xc037_010a]),
    },
    Rule {
        name: "compute-system-gone",
        class: Class::ComputeSystemGone,
        priority: 90,
        stage: None,
        test: |f| f.value_in(&[0xc037_010e, 0xc037_0110]),
    },
    Rule {
        name: "volume-access-denied",
        class: Class::VolumePermissionDenied,
        priority: 90,
        stage: Some(Stage::Volume),
        test: |f| {
            (f.code(Code::is_access_denied) || f.key.contains("permissiondenied"))
                && (f.has(Stage::Volume) || on_pod_volume(f.key))
        },
    },
    Rule {
        name: "activate-failed",
        class: Class::LayerActivateFailed,
        priority: 80,
        stage: Some(Stage::Activate),
        test: |f| f.has(Stage::Activate),
    },
    Rule {
        name: "prepare-failed",
        class: Class::LayerPrepareFailed,
        priority: 80,
        stage: None,
        test: |f| f.any_stage(&[Stage::Prepare, Stage::GetMountPath]),
    },
    Rule {
        name: "run-step-failed",
        class: Class::RunStepFailed,
        priority: 70,
        stage: Some(Stage::RunStep),
        test: |f| f.has(Stage::RunStep),
    },
    Rule {
        name: "image-pull",
        class: Class::ImagePullFailed,
        priority: 60,
        stage: Some(Stage::Pull),
        test: |f| {
            f.key_any(&[
                "errimagepull",
                "imagepullbackoff",
                "back-offpullingimage",
                "failedtopullimage",
                "failedtopullandunpackimage",
            ])
        },
    },
    Rule {
        name: "crash-loop",
        class: Class::CrashLoop,
        priority: 60,
        stage: None,
        test: |f| f.key_any(&["crashloopbackoff", "back-offrestartingfailedcontainer"]),
    },
    Rule {
        name: "buildkitd-unreachable",
        class: Class::BuildkitdUnreachable,
        priority: 60,
        stage: Some(Stage::Connect),
        test: |f| {
            let cannot_reach = f.key_any(&[
                "connectionrefused",
                "activelyrefused",
                "code=unavailable",
                "errorwhiledialing",
                "failedtodial",
                "couldnotconnectto",
                "connectionclosed",
            ]);
            let buildkit_client = f.key_any(&[
                "buildkitd.sock",
                "pipe/buildkitd",
                "buildctl",
                "failedtogetstatus",
                "failedtoreceivestatus",
                "failedtocalldiskusage",
                "failedtolistworkers",
            ]);
            let daemon_to_containerd = f.key_any(&[
                "containerd-containerd",
                "containerd.sock",
                "makesurecontainerdisrunning",
            ]);
            cannot_reach && buildkit_client && !daemon_to_containerd
        },
    },
    Rule {
        name: "exec-failed",
        class: Class::ExecFailed,
        priority: 60,
        stage: Some(Stage::Exec),
        test: |f| f.has(Stage::Exec),
    },
    Rule {
        name: "rollout-timeout",
        class: Class::RolloutTimeout,
        priority: 50,
        stage: Some(Stage::Rollout),
        test: |f| {
            f.key_any(&["exceededitsprogressdeadline", "progressdeadlineexceeded"])
                || (f.has(Stage::Rollout) && f.key_any(&["timedout", "deadlineexceeded"]))
        },
    },
    Rule {
        name: "step-timeout",
        class: Class::StepTimeout,
        priority: 45,
        stage: None,
        test: |f| f.key_any(&["deadlineexceeded", "timedoutwaitingforthecondition"]) && !inside_the_runtime(f),
    },
    Rule {
        name: "cancelled",
        class: Class::Cancelled,
        priority: 40,
        stage: None,
        test: |f| f.key_any(&["contextcanceled", "code=canceled", "operationwascanceled"]),
    },
];

/// What a record's best rule says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The class.
    pub class: Class,
    /// The rule's name.
    pub rule: &'static str,
    /// Its priority (0 for `unknown`).
    pub priority: u8,
    /// The stage to report.
    pub stage: Option<Stage>,
}

/// The best failure rule for a record, if any.
pub fn evaluate(facts: &Facts) -> Option<Verdict> {
    let mut best: Option<&Rule> = None;
    for rule in RULES {
        if best.is_some_and(|b| b.priority >= rule.priority) {
            continue;
        }
        if (rule.test)(facts) {
            best = Some(rule);
        }
    }
    best.map(|rule| Verdict {
        class: rule.class,
        rule: rule.name,
        priority: rule.priority,
        stage: rule
            .stage
            .filter(|s| facts.has(*s) || facts.chain.is_empty())
            .or(facts.innermost())
            .or(rule.stage),
    })
}

/// The verdict for an error-looking record no rule claims: `unknown`, ranked above earlier bare unknowns when its
/// chain says where it failed.
pub fn unknown(facts: &Facts) -> Verdict {
    Verdict {
        class: Class::Unknown,
        rule: "unrecognised",
        priority: if facts.chain.is_empty() { 0 } else { 1 },
        stage: facts.innermost(),
    }
}

/// A benign start-up warning in a record (key form), if any.
pub fn benign(key: &str) -> Option<(Class, &'static str)> {
    if key.contains("cdisetuperror")
        || key.contains("cdiregistry")
        || key.contains("failedtoinitializecdi")
        || (key.contains("cdi") && key.contains("failedtomonitorforchanges"))
    {
        return Some((Class::CdiUnavailable, "cdi-unavailable"));
    }
    if key.contains("usingnullnetwork") || key.contains("nullnetworkasthedefault") {
        return Some((Class::NullNetwork, "null-network"));
    }
    None
}

/// Words that make an unlevelled record look like an error (the fallback of [`reads_as_failure`]).
const ERROR_WORDS: &[&str] = &[
    "error",
    "failed",
    "failure",
    "fatal",
    "panic",
    "denied",
    "cannot",
    "unable",
    "refused",
    "exception",
    "verweigert",
    "backoff",
    "back-off",
    "notsupported",
    "unsupported",
];

/// Words of a record that reports a success; a code it mentions in passing does not make it a failure.
const SUCCESS_WORDS: &[&str] = &["succeeded", "successfully", "success"];

/// Words that contain a success word but report a failure.
const NOT_A_SUCCESS: &[&str] = &[
    "didnotcompletesuccessfully",
    "unsuccessful",
    "notsucceeded",
    "nosuccess",
];

/// Whether an unlevelled record (key form) reads like an error by its words alone.
pub fn looks_like_error(key: &str) -> bool {
    ERROR_WORDS.iter().any(|w| key.contains(w))
}

/// Whether a record (key form) says it succeeded (`- succeeded`, `completed successfully`), and not `did not complete
/// successfully`.
pub fn reads_as_success(key: &str) -> bool {
    SUCCESS_WORDS.iter().any(|w| key.contains(w)) && !NOT_A_SUCCESS.iter().any(|w| key.contains(w))
}

/// Whether a record (key form) carries Windows evidence of a failure: a Windows code (a number, a constant name, or a
/// system message the classifier knows, in any supported language; see [`super::code::codes_in`]) or a failed HCS
/// or hcsshim operation (`hcs::X`, `hcsshim::X`; see [`names_hcs_operation`]).
pub fn carries_windows_failure(key: &str, codes: &[(usize, Code)]) -> bool {
    !codes.is_empty() || names_hcs_operation(key)
}

/// Whether an unlevelled record is a failure. The rule: a record that carries Windows evidence of a failure (see
/// [`carries_windows_failure`]) is one unless it says it succeeded; a record without such evidence is one when its
/// words read like an error (the fallback word list). A record that says it succeeded is a failure only by its
/// words, constant names left out. So a Go error chain ending in `STATUS_ACCESS_DENIED` or
/// `Cannot create a file when that file already exists. (0xb7)` is a failure without any of the words, while
/// `hcsshim::ActivateLayer - succeeded` or `... completed successfully (0x80070005 was retried)` is not.
pub fn reads_as_failure(key: &str, codes: &[(usize, Code)]) -> bool {
    if reads_as_success(key) {
        // `ERROR_SHARING_VIOLATION` named in passing is a code, not the word "error".
        return looks_like_error(&without_code_names(key));
    }
    looks_like_error(key) || carries_windows_failure(key, codes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::code::codes_in;
    use crate::classify::stage::chain_in;
    use crate::classify::unescape::{collapse, key_of};

    fn verdict(text: &str) -> Option<(Class, &'static str, Option<Stage>)> {
        let key = key_of(text);
        let chain = chain_in(&key);
        let codes = codes_in(&key);
        let text = collapse(text);
        let facts = Facts {
            key: &key,
            text: &text,
            chain: &chain,
            codes: &codes,
        };
        evaluate(&facts).map(|v| (v.class, v.rule, v.stage))
    }

    #[test]
    fn bind_denial_by_chain_and_code_in_any_language() {
        for tail in [
            "Access is denied.",
            "Zugriff verweigert",
            "Accès refusé.",
            "(0x80070005)",
            "Win32 (0x5)",
        ] {
            let text = format!(r#"failed to bind target "C:\a" to root "C:\b": {tail}"#);
            assert_eq!(
                verdict(&text),
                Some((Class::BindfltAccessDenied, "bind-access-denied", Some(Stage::Bind))),
                "{tail}"
            );
        }
        let containerd_only = "failed to set volume mount path for layer C:\\x: Zugriff verweigert";
        assert_eq!(verdict(containerd_only).map(|v| v.0), Some(Class::BindfltAccessDenied));
    }

    #[test]
    fn bind_with_unknown_tail_is_not_claimed() {
        assert_eq!(
            verdict(r#"failed to bind target "a" to root "b": something else"#),
            None
        );
    }

    #[test]
    fn access_denied_outside_the_bind_filter_is_not_a_bind_failure() {
        assert_eq!(
            verdict("#5 ERROR: process \"cmd /S /C x\" did not complete successfully: exit code: 1").map(|v| v.0),
            Some(Class::RunStepFailed)
        );
        assert_eq!(verdict("hcsshim::CreateComputeSystem 6146: Access is denied."), None);
        assert_eq!(
            verdict(r"failed to extract layer sha256:x: hcsshim::ProcessBaseLayer \\?\C:\x: Access is denied."),
            None
        );
    }

    #[test]
    fn layer_rules_follow_the_chain() {
        assert_eq!(
            verdict(
                "failed to activate layer C:\\s\\4: hcsshim::ActivateLayer failed in Win32: Incorrect function. (0x1)"
            )
            .map(|v| (v.0, v.2)),
            Some((Class::LayerActivateFailed, Some(Stage::Activate)))
        );
        assert_eq!(
            verdict(
                "failed to get volume path for layer C:\\s\\4: hcsshim::GetLayerMountPath failed in Win32: x (0x3)"
            )
            .map(|v| (v.0, v.2)),
            Some((Class::LayerPrepareFailed, Some(Stage::GetMountPath)))
        );
        assert_eq!(
            verdict("hcsshim::ActivateLayer failed in Win32: The process cannot access the file because it is being used by another process. (0x20)").map(|v| (v.0, v.2)),
            Some((Class::LayerInUse, Some(Stage::Activate)))
        );
    }

    #[test]
    fn inner_cause_wins_over_kubelet_wrapper() {
        let text = "failed to create containerd task: failed to create shim task: hcs::CreateComputeSystem x: The container operating system does not match the host operating system.: unknown";
        assert_eq!(
            verdict(text).map(|v| (v.0, v.2)),
            Some((Class::OsVersionMismatch, Some(Stage::CreateContainer)))
        );
    }

    #[test]
    fn service_exists_by_code_or_go_wording_only() {
        assert_eq!(
            verdict("[SC] CreateService FAILED 1073:\n\nThe specified service already exists.").map(|v| v.0),
            Some(Class::ServiceExists)
        );
        assert_eq!(
            verdict("buildkitd: service buildkitd already exists").map(|v| v.0),
            Some(Class::ServiceExists)
        );
        assert_eq!(
            verdict("Error response from daemon: service endpoint with name es already exists"),
            None
        );
    }

    #[test]
    fn buildkitd_unreachable_but_not_buildkitd_to_containerd() {
        let client = "error: failed to get status: rpc error: code = Unavailable desc = connection error: desc = \"transport: error while dialing: dial tcp 10.0.0.5:1234: connect: connection refused\"";
        assert_eq!(verdict(client).map(|v| v.0), Some(Class::BuildkitdUnreachable));
        let daemon = "buildkitd: connection error: desc = \"transport: Error while dialing: dial npipe:///./pipe/containerd-containerd: timeout\"";
        assert_eq!(verdict(daemon), None);
    }

    #[test]
    fn benign_warnings() {
        assert_eq!(
            benign(&key_of("CDI setup error C:\\x: failed to monitor for changes")).map(|b| b.0),
            Some(Class::CdiUnavailable)
        );
        assert_eq!(
            benign(&key_of("using null network as the default")).map(|b| b.0),
            Some(Class::NullNetwork)
        );
        assert_eq!(benign(&key_of("failed to mount")), None);
    }

    #[test]
    fn every_rule_class_is_a_failure_class() {
        for rule in RULES {
            assert!(!rule.class.is_benign() && rule.class != Class::Unknown, "{}", rule.name);
        }
    }

    #[test]
    fn harness_and_infrastructure_classes() {
        let cases = [
            (
                "error: deployment \"x\" exceeded its progress deadline",
                Class::RolloutTimeout,
            ),
            (
                "Waiting for daemon set \"buildkitd-windows\" rollout to finish: 0 of 1 updated pods are available...\nerror: timed out waiting for the condition",
                Class::RolloutTimeout,
            ),
            (
                "error: timed out waiting for the condition on pods/x",
                Class::StepTimeout,
            ),
            ("failed to solve: context deadline exceeded", Class::StepTimeout),
            // A deadline the runtime gave up on is the runtime's failure, not the step's timeout.
            (
                "failed to create containerd task: context deadline exceeded: unknown",
                Class::Unknown,
            ),
            (
                "container x encountered an error during hcsshim::System::Start: context deadline exceeded",
                Class::Unknown,
            ),
            ("error: failed to solve: Canceled: context canceled", Class::Cancelled),
            (
                "error: unable to upgrade connection: container not found (\"buildkitd\")",
                Class::ExecFailed,
            ),
            (
                "OCI runtime exec failed: exec failed: unable to start container process",
                Class::ExecFailed,
            ),
            (
                "Warning  BackOff  kubelet  Back-off restarting failed container buildkitd in pod x",
                Class::CrashLoop,
            ),
            (
                "Failed to pull image \"x\": rpc error: code = NotFound",
                Class::ImagePullFailed,
            ),
            (
                "ERROR: failed to solve: image operating system \"linux\" cannot be used on this platform",
                Class::PlatformUnsupported,
            ),
            (
                "failed to create scratch layer: no parent layers present: unknown",
                Class::NestedLayersUnsupported,
            ),
            (
                "failed to record source for layer C:\\s\\1: open C:\\t:containerd.io-source: Incorrect function.",
                Class::Unknown,
            ),
        ];
        for (text, class) in cases {
            let got = verdict(text).map(|v| v.0).unwrap_or(Class::Unknown);
            assert_eq!(got, class, "{text}");
        }
    }

    #[test]
    fn family_classes_by_code_and_step() {
        let cases = [
            (
                "hcsshim::ImportLayer failed in Win32: Cannot create a file when that file already exists. (0xb7)",
                Class::FileExists,
                Some(Stage::Extract),
            ),
            ("failed to create layer: ERROR_FILE_EXISTS", Class::FileExists, None),
            (
                "hcs::CreateComputeSystem x: The parameter is incorrect.",
                Class::InvalidParameter,
                Some(Stage::CreateContainer),
            ),
            (
                r#"failed to bind target "C:\a" to root "C:\b": E_INVALIDARG"#,
                Class::InvalidParameter,
                Some(Stage::Bind),
            ),
            (
                "Error: failed to start containerd task \"p\": hcs::System::CreateProcess p: The directory name is invalid.: unknown",
                Class::DirectoryNameInvalid,
                Some(Stage::Start),
            ),
            (
                "hcs::CreateComputeSystem x: (0x8007010b)",
                Class::DirectoryNameInvalid,
                Some(Stage::CreateContainer),
            ),
            (
                r#"failed to resolve path for mount source "\\?\Volume{b43f9d35-4667-4057-b528-66e5a67a8d48}": Incorrect function."#,
                Class::MountSourceUnresolved,
                Some(Stage::Volume),
            ),
            (
                r"open c:\var\lib\kubelet\pods\3fa8\volumes\kubernetes.io~csi\v\mount\x: Access is denied.",
                Class::VolumePermissionDenied,
                Some(Stage::Volume),
            ),
            (
                r"NodePublishVolume error: mkdir C:\csi\x: permission denied",
                Class::VolumePermissionDenied,
                Some(Stage::Volume),
            ),
        ];
        for (text, class, stage) in cases {
            assert_eq!(verdict(text).map(|v| (v.0, v.2)), Some((class, stage)), "{text}");
        }
    }

    #[test]
    fn family_codes_elsewhere_are_not_claimed() {
        // An invalid parameter from HNS is not the bind filter's or HCS's.
        assert_eq!(verdict("HNS failed with error : The parameter is incorrect."), None);
        // An invalid directory while importing a layer is not HCS refusing the compute system's directory.
        assert_eq!(
            verdict(r"hcsshim::ImportLayer failed in Win32: The directory name is invalid. (0x10b) path=\\?\C:\x"),
            None
        );
        // Access denied on a build mount is not a pod volume.
        assert_eq!(
            verdict(r"failed to read mount C:\Windows\SystemTemp\buildkit-mount1: Access is denied."),
            None
        );
        // The bind filter's own denial stays the bind filter's, even on a volume path.
        assert_eq!(
            verdict(r#"failed to bind target "c:\var\lib\kubelet\pods\1\volumes\x" to root "C:\b": Access is denied."#)
                .map(|v| v.0),
            Some(Class::BindfltAccessDenied)
        );
    }

    #[test]
    fn windows_evidence_makes_a_failure_unless_it_says_it_succeeded() {
        let failure = |text: &str| {
            let key = key_of(text);
            reads_as_failure(&key, &codes_in(&key))
        };
        for text in [
            "STATUS_ACCESS_DENIED",
            "Cannot create a file when that file already exists. (0xb7): unknown",
            r"open C:\x: The parameter is incorrect.",
            "hcs::System::Start 1a2b: The request is not supported.",
            r"hcsshim::GetLayerMountPath C:\s\4: x",
            "Zugriff verweigert",
            r"layer C:\s\4: 0x80070057",
            r"chown c:\x: not supported by windows",
        ] {
            assert!(failure(text), "{text}");
        }
        for text in [
            "",
            "all good",
            "hcsshim::ActivateLayer  - succeeded id=2182 flavour=1",
            "hcsshim::PrepareLayer flavour 1 layerId x",
            "retry after ERROR_SHARING_VIOLATION succeeded",
            r"layer C:\s\4 imported successfully (0x80070020 on the first try)",
            "hcn::HostComputeNamespace::Create id=",
        ] {
            assert!(!failure(text), "{text}");
        }
        // Error words still decide without any code; a failure word beats a success word.
        assert!(failure(
            "ERROR: process \"x\" did not complete successfully: exit code: 1"
        ));
    }

    #[test]
    fn most_specific_rule_wins_within_a_record() {
        // A RUN step that failed because the compute system went away is the compute system's failure.
        let text = "The command 'cmd /S /C x' returned a non-zero code: 4294967295: failed to shutdown container: hcsshim::System::waitBackground: (0xc0370110)";
        assert_eq!(verdict(text).map(|v| v.0), Some(Class::ComputeSystemGone));
        // An image pull that failed on the platform is a platform problem.
        let text = "Failed to pull image \"x\": no match for platform in manifest: not found";
        assert_eq!(verdict(text).map(|v| v.0), Some(Class::PlatformUnsupported));
    }
}
