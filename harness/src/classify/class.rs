//! The stable outcome classes of DESIGN.md: identifiers that reports, snapshots and tests use, and the classes users
//! add (declared by a scenario or a shared `classes/` file, see [`super::declared`]).

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One stable outcome class. The kebab-case name is the identifier in scenario files, snapshots and reports.
///
/// A declared class is [`Class::Declared`]: a reference to its name and kind, interned once per process (see
/// [`Class::declared`]). That keeps `Class` a `Copy` value that every stage (judge, outcomes, reports, accepted
/// outcomes, history) already passes around and compares, and `as_str` a `&'static str`, instead of threading an
/// owned name (and a lifetime or a clone) through every one of them; the price is memory that is never freed, one
/// small record per distinct declared (name, kind) a process reads, which is bounded by the declarations it loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    // Windows build and mount failures.
    BindfltAccessDenied,
    BindfltAttachRefused,
    LayerInUse,
    LayerActivateFailed,
    LayerPrepareFailed,
    NestedLayersUnsupported,
    OsVersionMismatch,
    HypervUnavailable,
    ComputeSystemExited,
    ComputeSystemGone,
    BadPath,
    LogonTokenDenied,
    RunStepFailed,
    PlatformUnsupported,
    ServiceExists,
    /// A file or directory that Windows was asked to create already exists (ERROR_FILE_EXISTS 0x50,
    /// ERROR_ALREADY_EXISTS 0xb7), e.g. importing a layer of the HostProcess base image.
    FileExists,
    /// The bind filter or HCS rejected a call as invalid (ERROR_INVALID_PARAMETER 87, E_INVALIDARG,
    /// STATUS_INVALID_PARAMETER), e.g. bindflt under concurrent relative-path opens.
    InvalidParameter,
    /// containerd could not resolve the source of a volume mount (`failed to resolve path for mount source`).
    MountSourceUnresolved,
    /// Access denied on a pod volume path (kubelet `pods\<uid>\volumes\...`, a CSI publish), as a HostProcess
    /// pod meets it.
    VolumePermissionDenied,
    /// HCS refused a directory it was given while creating or starting the compute system (ERROR_DIRECTORY 267,
    /// 0x8007010b, "The directory name is invalid."): a working directory, layer folder or mapped directory that is
    /// not a valid directory on the node.
    DirectoryNameInvalid,
    /// Nothing recognised; the first error line is kept beside it.
    Unknown,
    // Benign start-up warnings: recorded, never failures.
    CdiUnavailable,
    NullNetwork,
    // Harness and infrastructure.
    RolloutTimeout,
    ImagePullFailed,
    CrashLoop,
    BuildkitdUnreachable,
    ExecFailed,
    StepTimeout,
    Cancelled,
    /// The harness refused to act on something it could not prove this run made; nothing was changed.
    NotOwned,
    /// The node the workload ran on stopped being Ready while a step ran on it.
    NodeNotReady,
    /// A class a scenario or a shared `classes/` file declares, with its own rules (see [`super::declared`]).
    Declared(&'static Declared),
}

/// The name and kind of a declared class, interned once per process (see [`Class::declared`]).
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Declared {
    /// The kebab-case name, never one of the built-in classes'.
    pub name: &'static str,
    /// Whether it says the harness or its infrastructure failed (`infra-error`, exit 3), like the built-in
    /// infrastructure classes.
    pub infrastructure: bool,
}

/// Every declared class this process has read.
static DECLARED: LazyLock<Mutex<HashSet<&'static Declared>>> = LazyLock::new(Default::default);

/// Every string interned for declared classes and their rules.
static STRINGS: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Default::default);

/// `text` as a string that lives as long as the process, stored once however often it is asked for.
pub(crate) fn intern(text: &str) -> &'static str {
    let mut strings = STRINGS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(found) = strings.get(text) {
        return found;
    }
    let leaked: &'static str = Box::leak(text.to_owned().into_boxed_str());
    strings.insert(leaked);
    leaked
}

impl Class {
    /// Every built-in class, in declaration order (declared classes are a scenario's own).
    pub const ALL: &[Class] = &[
        Class::BindfltAccessDenied,
        Class::BindfltAttachRefused,
        Class::LayerInUse,
        Class::LayerActivateFailed,
        Class::LayerPrepareFailed,
        Class::NestedLayersUnsupported,
        Class::OsVersionMismatch,
        Class::HypervUnavailable,
        Class::ComputeSystemExited,
        Class::ComputeSystemGone,
        Class::BadPath,
        Class::LogonTokenDenied,
        Class::RunStepFailed,
        Class::PlatformUnsupported,
        Class::ServiceExists,
        Class::FileExists,
        Class::InvalidParameter,
        Class::MountSourceUnresolved,
        Class::VolumePermissionDenied,
        Class::DirectoryNameInvalid,
        Class::Unknown,
        Class::CdiUnavailable,
        Class::NullNetwork,
        Class::RolloutTimeout,
        Class::ImagePullFailed,
        Class::CrashLoop,
        Class::BuildkitdUnreachable,
        Class::ExecFailed,
        Class::StepTimeout,
        Class::Cancelled,
        Class::NotOwned,
        Class::NodeNotReady,
    ];

    /// The stable identifier, e.g. `bindflt-access-denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::BindfltAccessDenied => "bindflt-access-denied",
            Class::BindfltAttachRefused => "bindflt-attach-refused",
            Class::LayerInUse => "layer-in-use",
            Class::LayerActivateFailed => "layer-activate-failed",
            Class::LayerPrepareFailed => "layer-prepare-failed",
            Class::NestedLayersUnsupported => "nested-layers-unsupported",
            Class::OsVersionMismatch => "os-version-mismatch",
            Class::HypervUnavailable => "hyperv-unavailable",
            Class::ComputeSystemExited => "compute-system-exited",
            Class::ComputeSystemGone => "compute-system-gone",
            Class::BadPath => "bad-path",
            Class::LogonTokenDenied => "logon-token-denied",
            Class::RunStepFailed => "run-step-failed",
            Class::PlatformUnsupported => "platform-unsupported",
            Class::ServiceExists => "service-exists",
            Class::FileExists => "file-exists",
            Class::InvalidParameter => "invalid-parameter",
            Class::MountSourceUnresolved => "mount-source-unresolved",
            Class::VolumePermissionDenied => "volume-permission-denied",
            Class::DirectoryNameInvalid => "directory-name-invalid",
            Class::Unknown => "unknown",
            Class::CdiUnavailable => "cdi-unavailable",
            Class::NullNetwork => "null-network",
            Class::RolloutTimeout => "rollout-timeout",
            Class::ImagePullFailed => "image-pull-failed",
            Class::CrashLoop => "crash-loop",
            Class::BuildkitdUnreachable => "buildkitd-unreachable",
            Class::ExecFailed => "exec-failed",
            Class::StepTimeout => "step-timeout",
            Class::Cancelled => "cancelled",
            Class::NotOwned => "not-owned",
            Class::NodeNotReady => "node-not-ready",
            Class::Declared(declared) => declared.name,
        }
    }

    /// The declared class `name` of the given kind, interned: the same `Class` for the same name and kind, however
    /// often it is declared. The caller checks that `name` is a kebab-case name and not a built-in class's.
    pub fn declared(name: &str, infrastructure: bool) -> Class {
        let mut declared = DECLARED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let probe = Declared {
            name: intern(name),
            infrastructure,
        };
        if let Some(found) = declared.get(&probe) {
            return Class::Declared(found);
        }
        let leaked: &'static Declared = Box::leak(Box::new(probe));
        declared.insert(leaked);
        Class::Declared(leaked)
    }

    /// Whether a scenario or a shared `classes/` file declared this class.
    pub fn is_declared(self) -> bool {
        matches!(self, Class::Declared(_))
    }

    /// Benign warnings are recorded but never make a step fail.
    pub fn is_benign(self) -> bool {
        matches!(self, Class::CdiUnavailable | Class::NullNetwork)
    }

    /// Harness and infrastructure classes: the step could not be observed, whatever the scenario expects of it
    /// (unless it expects exactly this class).
    pub fn is_infrastructure(self) -> bool {
        if let Class::Declared(declared) = self {
            return declared.infrastructure;
        }
        matches!(
            self,
            Class::RolloutTimeout
                | Class::ImagePullFailed
                | Class::CrashLoop
                | Class::BuildkitdUnreachable
                | Class::ExecFailed
                | Class::StepTimeout
                | Class::Cancelled
                | Class::NotOwned
                | Class::NodeNotReady
        )
    }

    /// Looks a built-in class up by its identifier.
    pub fn from_name(name: &str) -> Option<Class> {
        Class::ALL.iter().copied().find(|c| c.as_str() == name)
    }
}

/// A class is written as its name.
impl Serialize for Class {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A built-in class by its name; any other kebab-case name (an outcome of a declared class, read back from
/// `outcomes.jsonl`) is read as a declared class of the failure kind, since the file keeps only the name.
impl<'de> Deserialize<'de> for Class {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Class, D::Error> {
        let name = Cow::<str>::deserialize(deserializer)?;
        if let Some(class) = Class::from_name(&name) {
            return Ok(class);
        }
        if super::declared::is_class_name(&name) {
            return Ok(Class::declared(&name, false));
        }
        Err(serde::de::Error::custom(format!("`{name}` is not an outcome class")))
    }
}

impl schemars::JsonSchema for Class {
    fn schema_name() -> Cow<'static, str> {
        "Class".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An outcome class: a built-in one, or one a scenario or a shared `classes/` file declares.",
            "type": "string",
            "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
        })
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_lookup() {
        for &class in Class::ALL {
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{}\"", class.as_str()));
            assert_eq!(Class::from_name(class.as_str()), Some(class));
        }
        assert_eq!(Class::from_name("no-such-class"), None);
    }

    #[test]
    fn declared_classes_are_interned_and_keep_their_kind() {
        let a = Class::declared("my-own-class", false);
        assert_eq!(a, Class::declared("my-own-class", false));
        assert_ne!(a, Class::declared("my-own-class", true));
        assert_eq!(a.as_str(), "my-own-class");
        assert!(a.is_declared() && !a.is_infrastructure() && !a.is_benign());
        assert!(Class::declared("my-own-infra", true).is_infrastructure());
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"my-own-class\"");
        assert_eq!(serde_json::from_str::<Class>("\"my-own-class\"").unwrap(), a);
        assert!(serde_json::from_str::<Class>("\"Not A Class\"").is_err());
    }
}
