//! The step of a failure's wrapper chain (activate, prepare, get-mount-path, bind, ...) and the markers that reveal it.

use serde::Serialize;

/// Where in the chain of buildkit -> containerd -> hcsshim/go-winio -> Windows a failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// A client reaching its daemon (buildctl -> buildkitd).
    Connect,
    /// Resolving an image or its platform.
    Resolve,
    /// Pulling an image.
    Pull,
    /// Extracting or registering an image layer.
    Extract,
    /// buildkit's `failed to mount` wrapper around a snapshot mount.
    Mount,
    /// hcsshim `ActivateLayer` / containerd `failed to activate layer`.
    Activate,
    /// hcsshim `PrepareLayer` / containerd `failed to prepare layer`.
    Prepare,
    /// hcsshim `GetLayerMountPath` / containerd `failed to get volume path for layer`.
    GetMountPath,
    /// The bind filter: go-winio `failed to bind target`, containerd `failed to set volume mount path for layer`.
    Bind,
    /// containerd's alternate data stream that records the layer source after the bind.
    SourceRecord,
    /// Creating a scratch (writable) layer.
    Scratch,
    /// HCS creating the compute system (container).
    CreateContainer,
    /// HCS starting, signalling or shutting down the compute system.
    Start,
    /// Creating the container user's logon token.
    Logon,
    /// A pod or container volume: kubelet setting it up, a CSI driver publishing it, containerd resolving its source.
    Volume,
    /// kubelet/containerd creating the shim task (an outer wrapper).
    Shim,
    /// A build step's process (Dockerfile `RUN`).
    RunStep,
    /// `kubectl exec` into a pod.
    Exec,
    /// The Windows service manager (registering buildkitd as a service).
    Service,
    /// A Kubernetes rollout.
    Rollout,
}

impl Stage {
    /// The stages of a layer probe (and of containerd mounting a layer), in the order containerd runs them: what a
    /// staged expectation may name.
    pub const LAYER: &[Stage] = &[Stage::Activate, Stage::Prepare, Stage::GetMountPath, Stage::Bind];

    /// A layer stage by its name.
    pub fn layer(name: &str) -> Option<Stage> {
        Stage::LAYER.iter().copied().find(|s| s.as_str() == name)
    }

    /// Every stage, outermost first as a failure's chain reads.
    pub const ALL: &[Stage] = &[
        Stage::Connect,
        Stage::Resolve,
        Stage::Pull,
        Stage::Extract,
        Stage::Mount,
        Stage::Activate,
        Stage::Prepare,
        Stage::GetMountPath,
        Stage::Bind,
        Stage::SourceRecord,
        Stage::Scratch,
        Stage::CreateContainer,
        Stage::Start,
        Stage::Logon,
        Stage::Volume,
        Stage::Shim,
        Stage::RunStep,
        Stage::Exec,
        Stage::Service,
        Stage::Rollout,
    ];

    /// A stage by its name.
    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.iter().copied().find(|s| s.as_str() == name)
    }

    /// The names of every stage, for messages.
    pub fn names() -> String {
        Stage::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// The names of the layer stages, for messages.
    pub fn layer_names() -> String {
        Stage::LAYER.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
    }
    /// The stable kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Resolve => "resolve",
            Stage::Pull => "pull",
            Stage::Extract => "extract",
            Stage::Mount => "mount",
            Stage::Activate => "activate",
            Stage::Prepare => "prepare",
            Stage::GetMountPath => "get-mount-path",
            Stage::Bind => "bind",
            Stage::SourceRecord => "source-record",
            Stage::Scratch => "scratch",
            Stage::CreateContainer => "create-container",
            Stage::Start => "start",
            Stage::Logon => "logon",
            Stage::Volume => "volume",
            Stage::Shim => "shim",
            Stage::RunStep => "run-step",
            Stage::Exec => "exec",
            Stage::Service => "service",
            Stage::Rollout => "rollout",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Wrapper-chain markers in key form (see [`super::unescape`]) and the stage each one reveals. The wrappers come
/// from the sources: buildkit `snapshot/localmounter_windows.go`, containerd `core/mount/mount_windows.go`, go-winio
/// `pkg/bindfilter`, hcsshim `internal/wclayer` (`hcsshim::<Op> failed in Win32`, older `hcsshim::<Op> - failed
/// failed in Win32`, newer `hcsshim::<Op> <path>: <error>`) and hcs (`hcs::CreateComputeSystem`, `System::Start`).
pub const MARKERS: &[(&str, Stage)] = &[
    ("failedtogetstatus", Stage::Connect),
    ("failedtoreceivestatus", Stage::Connect),
    ("failedtocalldiskusage", Stage::Connect),
    ("failedtolistworkers", Stage::Connect),
    ("errorwhiledialing", Stage::Connect),
    ("failedtodial", Stage::Connect),
    ("failedtoconnectclientto", Stage::Connect),
    ("failedtoresolvesourcemetadata", Stage::Resolve),
    ("nomatchforplatform", Stage::Resolve),
    ("nomatchingmanifestfor", Stage::Resolve),
    ("failedtocreatellbdefinition", Stage::Resolve),
    ("failedtopullimage", Stage::Pull),
    ("failedtopullandunpackimage", Stage::Pull),
    ("errimagepull", Stage::Pull),
    ("imagepullbackoff", Stage::Pull),
    ("back-offpullingimage", Stage::Pull),
    ("pullingimage:", Stage::Pull),
    ("failedtoextractlayer", Stage::Extract),
    ("failedtoregisterlayer", Stage::Extract),
    ("failedtoprepareextractionsnapshot", Stage::Extract),
    ("hcsshim::processbaselayer", Stage::Extract),
    ("hcsshim::importlayer", Stage::Extract),
    ("hcsshim::exportlayer", Stage::Extract),
    ("failedtomount", Stage::Mount),
    ("failedtoactivatelayer", Stage::Activate),
    ("hcsshim::activatelayer", Stage::Activate),
    ("hcsshim::deactivatelayer", Stage::Activate),
    ("failedtopreparelayer", Stage::Prepare),
    ("hcsshim::preparelayer", Stage::Prepare),
    ("hcsshim::unpreparelayer", Stage::Prepare),
    ("failedtogetvolumepathforlayer", Stage::GetMountPath),
    ("hcsshim::getlayermountpath", Stage::GetMountPath),
    ("nofilesfolderinlayer", Stage::GetMountPath),
    ("failedtosetvolumemountpathforlayer", Stage::Bind),
    ("failedtobindtarget", Stage::Bind),
    ("applyfilebinding", Stage::Bind),
    ("bfsetupfilter", Stage::Bind),
    ("bindflt", Stage::Bind),
    ("removingfilebinding", Stage::Bind),
    ("failedtorecordsourceforlayer", Stage::SourceRecord),
    ("failedtoretrievesourceforlayer", Stage::SourceRecord),
    ("failedtocreatescratchlayer", Stage::Scratch),
    ("hcsshim::createscratchlayer", Stage::Scratch),
    ("hcsshim::createlayer", Stage::Scratch),
    ("createcomputesystem", Stage::CreateContainer),
    ("encounteredanerrorduringcreatecontainer", Stage::CreateContainer),
    ("failedtocreatecontainerdcontainer", Stage::CreateContainer),
    ("system::start", Stage::Start),
    ("encounteredanerrorduringstart", Stage::Start),
    ("system::shutdown", Stage::Start),
    ("system::waitbackground", Stage::Start),
    ("system::createprocess", Stage::Start),
    ("system::terminate", Stage::Start),
    ("failedtoshutdowncontainer", Stage::Start),
    ("failedtoresolvepathformountsource", Stage::Volume),
    ("mountvolume.setup", Stage::Volume),
    ("mountvolume.mountdevice", Stage::Volume),
    ("nodepublishvolume", Stage::Volume),
    ("nodestagevolume", Stage::Volume),
    ("failedtologonuser", Stage::Logon),
    ("failedtocreateuserprocesstoken", Stage::Logon),
    ("failedtocreateshimtask", Stage::Shim),
    ("failedtocreatecontainerdtask", Stage::Shim),
    ("didnotcompletesuccessfully", Stage::RunStep),
    ("executorfailedrunning", Stage::RunStep),
    ("returnedanon-zerocode", Stage::RunStep),
    ("unabletoupgradeconnection", Stage::Exec),
    ("errorexecutingcommandincontainer", Stage::Exec),
    ("ociruntimeexecfailed", Stage::Exec),
    ("register-service", Stage::Service),
    ("failedtoconnecttoservicemanager", Stage::Service),
    ("thespecifiedservicealreadyexists", Stage::Service),
    ("createservice", Stage::Service),
    ("rollouttofinish", Stage::Rollout),
    ("progressdeadline", Stage::Rollout),
];

/// What may follow an `hcsshim::<Op>` name in a debug trace rather than a failure (`- succeeded`, `Flavour 1 ID`,
/// the legacy `hcsshim::NameToGuid Name <id>`).
const NOT_A_FAILURE_AFTER_OP: &[&str] = &[
    "-succeeded",
    "succeeded",
    "flavour",
    "id=",
    "path=",
    "-begin",
    "-end",
    "nametoguidname",
];

/// Every stage marker in a key, in order of appearance: (position, stage). The last one is the innermost wrapper.
pub fn chain_in(key: &str) -> Vec<(usize, Stage)> {
    let mut found = Vec::new();
    for (marker, stage) in MARKERS {
        let mut from = 0;
        while let Some(at) = key[from..].find(marker) {
            let start = from + at;
            let end = start + marker.len();
            from = end;
            if marker.starts_with("hcsshim::") {
                let rest = &key[end..];
                if NOT_A_FAILURE_AFTER_OP.iter().any(|n| rest.starts_with(n)) {
                    continue;
                }
            }
            found.push((start, *stage));
        }
    }
    found.sort_by_key(|(at, _)| *at);
    found
}

/// Whether a key names an HCS or hcsshim operation that failed (`hcs::CreateComputeSystem`, `hcsshim::ImportLayer`,
/// `hcs::System::Start`), not one that a debug trace reports as begun or succeeded.
pub fn names_hcs_operation(key: &str) -> bool {
    ["hcs::", "hcsshim::"].iter().any(|prefix| {
        let mut from = 0;
        while let Some(at) = key[from..].find(prefix) {
            let end = from + at + prefix.len();
            from = end;
            let rest = &key[end..];
            // The key has no spaces, so the operation's name runs into what follows; a trace says what it is
            // within the next few words (`- succeeded id=`, `Flavour 1 ID`).
            let named = rest.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
            let window = &rest[..floor_char_boundary(rest, 48)];
            if named && !NOT_A_FAILURE_AFTER_OP.iter().any(|n| window.contains(n)) {
                return true;
            }
        }
        false
    })
}

fn floor_char_boundary(text: &str, at: usize) -> usize {
    (0..=at.min(text.len()))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0)
}

/// The distinct stages of a chain, outermost first.
pub fn distinct(chain: &[(usize, Stage)]) -> Vec<Stage> {
    let mut out: Vec<Stage> = Vec::new();
    for (_, stage) in chain {
        if !out.contains(stage) {
            out.push(*stage);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::unescape::key_of;

    #[test]
    fn reads_the_containerd_chain_outer_to_inner() {
        let key = key_of(
            r#"failed to mount {windows-layer x}: failed to set volume mount path for layer x: failed to bind target "a" to root "b": Access is denied."#,
        );
        assert_eq!(distinct(&chain_in(&key)), vec![Stage::Mount, Stage::Bind]);
    }

    #[test]
    fn old_and_new_hcsshim_wording_and_debug_traces() {
        let new = key_of("hcsshim::ActivateLayer failed in Win32: x (0x20)");
        let old = key_of("hcsshim::ActivateLayer - failed failed in Win32: x (0x20)");
        let trace = key_of("debug: hcsshim::ActivateLayer  - succeeded id=2182 flavour=1");
        let trace2 = key_of("hcsshim::ActivateLayer Flavour 1 ID 2182");
        assert_eq!(distinct(&chain_in(&new)), vec![Stage::Activate]);
        assert_eq!(distinct(&chain_in(&old)), vec![Stage::Activate]);
        assert!(chain_in(&trace).is_empty());
        assert!(chain_in(&trace2).is_empty());
    }

    #[test]
    fn hcs_operations_but_not_their_traces() {
        assert!(names_hcs_operation(&key_of(
            "hcs::CreateComputeSystem x: The parameter is incorrect."
        )));
        assert!(names_hcs_operation(&key_of(
            "hcsshim::ImportLayer failed in Win32: x (0xb7)"
        )));
        assert!(names_hcs_operation(&key_of("hcs::System::Start 1a2b: x")));
        assert!(!names_hcs_operation(&key_of(
            "hcsshim::ActivateLayer  - succeeded id=2182 flavour=1"
        )));
        assert!(!names_hcs_operation(&key_of("hcn::HostComputeNamespace::Create id=")));
        assert!(!names_hcs_operation(&key_of("hcs:: 1")));
        assert!(!names_hcs_operation(&key_of(
            "hcsshim::PrepareLayer flavour 1 layerId x"
        )));
        assert!(!names_hcs_operation(&key_of(
            "debug: hcsshim::NameToGuid Name f2d433fdd76df7c2b2b4d08ba346fe6388ba05ef1e2d4adf5d9c1c4a0dc2c867"
        )));
        assert!(names_hcs_operation(&key_of(
            "hcsshim::NameToGuid - failed failed in Win32: Access is denied. (0x5)"
        )));
    }

    #[test]
    fn names_are_kebab_case() {
        assert_eq!(Stage::GetMountPath.as_str(), "get-mount-path");
        assert_eq!(
            serde_json::to_string(&Stage::SourceRecord).unwrap(),
            "\"source-record\""
        );
    }
}
