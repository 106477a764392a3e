//! The stable outcome classes of DESIGN.md: identifiers that reports, snapshots and tests use.

use serde::{Deserialize, Serialize};

/// One stable outcome class. The kebab-case name is the identifier in scenario files, snapshots and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
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
}

impl Class {
    /// Every class, in declaration order.
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
        }
    }

    /// Benign warnings are recorded but never make a step fail.
    pub fn is_benign(self) -> bool {
        matches!(self, Class::CdiUnavailable | Class::NullNetwork)
    }

    /// Harness and infrastructure classes: the step could not be observed, whatever the scenario expects of it
    /// (unless it expects exactly this class).
    pub fn is_infrastructure(self) -> bool {
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
        )
    }

    /// Looks a class up by its identifier.
    pub fn from_name(name: &str) -> Option<Class> {
        Class::ALL.iter().copied().find(|c| c.as_str() == name)
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
}
