//! The report contract: the one JSON object every subcommand prints, its readable `--text` form, and the exit codes.
//!
//! Field names are stable (schema 2); the harness's lanes read them with these very types. New
//! fields may be added; existing ones keep their name, type and meaning. See `probe/README.md`.
//! Readers tolerate what older or abbreviated reports leave out where a field says `#[serde(default)]`.

use serde::{Deserialize, Serialize};

use crate::hresult::WinError;

/// Version of the JSON contract (`schema` field). 2: `in-silo` starts its child the way hcsshim starts a
/// HostProcess process by default, so `silo.bindings` also lists the rootfs and token bindings; `options`,
/// `filter_instances`, `task`, `context.logon` and the new `silo`/`child` fields were added.
pub const SCHEMA: u32 = 2;

/// Exit codes.
pub mod exit {
    /// The probed operation succeeded (or `context` collected what it could).
    pub const OK: i32 = 0;
    /// The probed operation failed or was denied (bind, a layer call, removing the binding, the proof).
    pub const FAILED: i32 = 1;
    /// Invalid command line.
    pub const USAGE: i32 = 2;
    /// The probe could not set up what the operation needs: not Windows, a DLL or export missing, a
    /// directory that could not be created, or (`in-silo`) the job, the silo or the child could not be made.
    pub const SETUP: i32 = 3;
}

/// One call or action, in the order it ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Windows calls are named after the function (`BfSetupFilter`,
    /// `SetInformationJobObject(JobObjectCreateSilo)`); probe actions in snake_case (`mkdir_root`).
    pub name: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// The HRESULT of a failure, `0x80070005`; null on success.
    pub hresult: Option<String>,
    /// The Win32 error code of a failure when there is one (`5`); null otherwise.
    pub win32: Option<u32>,
    /// The system's message for the failure (`FormatMessageW`, English if installed, else the system
    /// language), or the probe's own explanation; null on success.
    pub message: Option<String>,
    /// What the step worked on or produced (a path, a mount path, a silo id), when useful.
    pub detail: Option<String>,
}

impl Step {
    /// A successful step.
    pub fn ok(name: impl Into<String>, detail: Option<String>) -> Self {
        Self {
            name: name.into(),
            ok: true,
            hresult: None,
            win32: None,
            message: None,
            detail,
        }
    }

    /// A step that failed with a Windows error.
    pub fn win_failed(name: impl Into<String>, err: WinError, message: Option<String>, detail: Option<String>) -> Self {
        Self {
            name: name.into(),
            ok: false,
            hresult: Some(err.hresult_hex()),
            win32: err.win32,
            message,
            detail,
        }
    }

    /// A step that failed without a Windows error code (e.g. the proof read the wrong content).
    pub fn failed(name: impl Into<String>, message: impl Into<String>, detail: Option<String>) -> Self {
        Self {
            name: name.into(),
            ok: false,
            hresult: None,
            win32: None,
            message: Some(message.into()),
            detail,
        }
    }
}

/// How bad a failure is for the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The probed operation failed: exit 1.
    Probed,
    /// The probe could not set up: exit 3.
    Setup,
}

/// `bind` details.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindInfo {
    /// SRC as given: the backing directory (go-winio `source`, "target" in its error text).
    pub source: String,
    /// DST as given: the mount point (go-winio `root`).
    pub root: String,
    /// What `BfSetupFilter` received as target path (after the `Volume{` trailing-backslash rule).
    pub bind_source: String,
    /// `filepath.Dir(root)`, which go-winio creates with `MkdirAll`.
    pub root_parent: String,
    /// Whether the mapping was read-only.
    pub read_only: bool,
    /// The `BfSetupFilter` flags, `0x00000041`.
    pub flags: String,
    /// Their names, `["READ_ONLY_MAPPING", "NO_MULTIPLE_TARGETS"]`.
    pub flag_names: Vec<String>,
    /// The job handle passed: null for NULL (a global mapping, as go-winio does).
    pub job_handle: Option<String>,
    /// `BfSetupFilter` succeeded.
    pub bound: bool,
    /// The marker written in SRC was read back through DST with the same content; null if not tried.
    pub visible_through_root: Option<bool>,
    /// `BfRemoveMapping` succeeded; null if not tried.
    pub removed: Option<bool>,
}

/// `layer` details.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// The layer folder: `filepath.Join(home, id)` as hcsshim rebuilds it, passed to vmcompute as the id.
    pub layer: String,
    /// containerd's `filepath.Split(m.Source)` directory part (hcsshim `DriverInfo.HomeDir`).
    pub home_dir: String,
    /// containerd's layer id (the folder's base name).
    pub layer_id: String,
    /// The `DriverInfo.Flavour` hcsshim passes to vmcompute (1, the filter driver).
    pub driver_flavour: u32,
    /// The `DriverInfo.HomeDir` hcsshim passes to vmcompute ("": the id is a full path).
    pub driver_home_dir: String,
    /// Parent layer folders, nearest first (empty: a base layer).
    pub parents: Vec<String>,
    /// A base layer: the bind source is `<mount path>\Files`.
    pub base_layer: bool,
    /// What `GetLayerMountPath` returned.
    pub mount_path: Option<String>,
    /// The bind source (after `Files` and the `Volume{` rule).
    pub bind_source: Option<String>,
    /// The mount point.
    pub root: String,
    /// Whether the binding was read-only.
    pub read_only: bool,
    /// The `BfSetupFilter` flags.
    pub flags: String,
    /// Directory entries seen through the mount point while bound; null if not bound.
    pub entries_visible: Option<u64>,
}

/// A key privilege of the token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPrivilege {
    /// The token holds it.
    pub present: bool,
    /// It is enabled.
    pub enabled: bool,
}

/// One privilege of the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Privilege {
    /// `SeBackupPrivilege`.
    pub name: String,
    /// `SE_PRIVILEGE_ENABLED`.
    pub enabled: bool,
    /// `SE_PRIVILEGE_ENABLED_BY_DEFAULT`.
    pub enabled_by_default: bool,
}

/// `SILOOBJECT_BASIC_INFORMATION` (query class 36, `JobObjectSiloBasicInformation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiloBasic {
    /// `SiloId`.
    pub silo_id: u32,
    /// `SiloParentId`.
    pub silo_parent_id: u32,
    /// `NumberOfProcesses`.
    pub number_of_processes: u32,
    /// `IsInServerSilo`.
    pub is_in_server_silo: bool,
}

/// A Windows service's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// The service name (`bindflt`).
    pub name: String,
    /// `stopped`, `start_pending`, `stop_pending`, `running`, `continue_pending`, `pause_pending`,
    /// `paused`, or `unknown(N)`.
    pub state: String,
    /// `SERVICE_STATUS_PROCESS.dwCurrentState`.
    pub state_code: u32,
    /// `dwServiceType` (a kernel driver is `0x1`, a file system driver `0x2`).
    pub service_type: u32,
}

/// The report's name for a `SERVICE_STATUS_PROCESS.dwCurrentState`.
pub fn service_state_name(code: u32) -> String {
    match code {
        1 => "stopped".to_owned(),
        2 => "start_pending".to_owned(),
        3 => "stop_pending".to_owned(),
        4 => "running".to_owned(),
        5 => "continue_pending".to_owned(),
        6 => "pause_pending".to_owned(),
        7 => "paused".to_owned(),
        n => format!("unknown({n})"),
    }
}

/// A file the probe looked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCheck {
    /// Full path.
    pub path: String,
    /// Whether it exists.
    pub exists: bool,
}

/// The OS version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsInfo {
    /// `RtlGetVersion` major.
    #[serde(default)]
    pub major: u32,
    /// `RtlGetVersion` minor.
    #[serde(default)]
    pub minor: u32,
    /// `RtlGetVersion` build number (20348 for Windows Server 2022).
    pub build: u32,
    /// `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\UBR` (the patch level, 4773 in the seed).
    pub ubr: Option<u32>,
    /// `major.minor.build.ubr` (`10.0.20348.4773`), or without `.ubr` if unknown.
    #[serde(default)]
    pub version: String,
    /// `ProductName` from the same key.
    pub product_name: Option<String>,
}

/// The token's user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// `DOMAIN\name` (`NT AUTHORITY\SYSTEM`), when the SID resolves.
    pub name: Option<String>,
    /// The SID string (`S-1-5-18`).
    pub sid: Option<String>,
}

/// `context` details. Each fact is null when its query failed (the failing step says why).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContextInfo {
    /// This process.
    pub pid: u32,
    /// This executable's path.
    pub exe: Option<String>,
    /// The token's user.
    pub user: Option<UserInfo>,
    /// `TokenElevation`.
    pub elevated: Option<bool>,
    /// `SeBackupPrivilege`.
    pub se_backup: Option<KeyPrivilege>,
    /// `SeRestorePrivilege`.
    pub se_restore: Option<KeyPrivilege>,
    /// `SeTcbPrivilege`.
    pub se_tcb: Option<KeyPrivilege>,
    /// Every privilege the token holds.
    pub privileges: Vec<Privilege>,
    /// `IsProcessInJob(GetCurrentProcess(), NULL)`.
    pub in_job: Option<bool>,
    /// The job's `JOBOBJECT_BASIC_LIMIT_INFORMATION.LimitFlags` (`0x00002000` = KILL_ON_JOB_CLOSE).
    pub job_limit_flags: Option<String>,
    /// True when `QueryInformationJobObject(NULL, JobObjectSiloBasicInformation)` succeeds: this
    /// process's job is a silo (the test hcsshim's `isJobSilo` applies to a job handle).
    pub in_silo: bool,
    /// The silo's basic information when `in_silo`.
    pub silo: Option<SiloBasic>,
    /// `CONTAINER_SANDBOX_MOUNT_POINT` (set in HostProcess containers).
    pub container_sandbox_mount_point: Option<String>,
    /// The temp directory (`os.MkdirTemp("")`, where buildkit puts its mount points).
    pub temp_dir: Option<String>,
    /// The `bindflt` service.
    pub bindflt_service: Option<ServiceInfo>,
    /// `%SystemRoot%\System32\bindfltapi.dll`.
    pub bindfltapi_dll: Option<FileCheck>,
    /// `%SystemRoot%\System32\vmcompute.dll`.
    pub vmcompute_dll: Option<FileCheck>,
    /// The OS version.
    pub os: Option<OsInfo>,
    /// The token's logon session (left out when it could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logon: Option<LogonInfo>,
}

/// The options a result was observed with (the `options` object): for `in-silo` every choice that makes the child
/// start as hcsshim starts a HostProcess process, and `departures`, the options given that depart from it.
/// Fields that do not apply to the subcommand are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Options {
    /// `bind`, `layer`: a read-only mapping (`--ro`); false for `--rw`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// `bind`, `layer`: `--enable-privileges`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_privileges: Option<bool>,
    /// `in-silo`: `inherit` (bindprobe's token, `CreateProcessW`) or `system-service`
    /// (`LogonUser(SYSTEM, NT AUTHORITY, LOGON32_LOGON_SERVICE)`, `CreateProcessAsUserW`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `in-silo`: `CREATE_BREAKAWAY_FROM_JOB`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breakaway: Option<bool>,
    /// `in-silo`: `hcsshim` (named `JobContainer_<id>`, completion port, I/O tracking) or `bare` (`--bare-silo`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// `in-silo`: the rootfs volume bound at `C:\hpc\` for the silo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rootfs_bind: Option<bool>,
    /// `in-silo`: the read-only silo binding at the service-account token path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_bind: Option<bool>,
    /// `in-silo`: the child is started as `cmd /c PROGRAM ARGS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd_c: Option<bool>,
    /// `in-silo`: `hcsshim` (the token's environment block, `CONTAINER_SANDBOX_MOUNT_POINT`, PATH additions) or
    /// `inherit` (`--inherit-env`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// `in-silo`: `rootfs` (`C:\hpc\`) or `inherit` (`--inherit-cwd`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// `in-silo`: `job-list` or `suspended`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assign: Option<String>,
    /// `in-silo`: how many `--silo-bind` bindings were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_silo_binds: Option<u32>,
    /// `as-system`: the bindprobe arguments the SYSTEM task ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_system_args: Option<Vec<String>>,
    /// The options given that depart from hcsshim (`--token inherit`, `--no-breakaway`, ...), as written on the
    /// command line; empty when the run is hcsshim's way in every respect the probe imitates.
    pub departures: Vec<String>,
}

/// One instance of a minifilter (`FilterInstanceFindFirst`/`Next`, `InstanceFullInformation`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterInstance {
    /// The instance name (`bindflt Instance`).
    pub instance: String,
    /// Its altitude.
    pub altitude: String,
    /// The volume it is attached to (`\Device\HarddiskVolume3`).
    pub volume: String,
}

/// One listing of a minifilter's instances; `instances` is null when the listing failed (see `error`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceListing {
    /// The instances, in the order the filter manager gave them.
    pub instances: Option<Vec<FilterInstance>>,
    /// Why the listing failed (`0x80070005 Access is denied.`), else null.
    pub error: Option<String>,
}

/// The bind filter's instances before and after the probe (`filter_instances`): whether the probe attached
/// the filter to a volume that had none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterInstances {
    /// The filter (`bindflt`).
    pub filter: String,
    /// Before the first step.
    pub before: InstanceListing,
    /// After the last step.
    pub after: InstanceListing,
}

/// The token's logon session (`context`): what hcsshim's `LogonUser(..., LOGON32_LOGON_SERVICE)` would change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogonInfo {
    /// `TOKEN_STATISTICS.AuthenticationId`, `0x00000000:000003E7` (SYSTEM's own session).
    pub logon_id: Option<String>,
    /// `SECURITY_LOGON_SESSION_DATA.LogonType` (`LsaGetLogonSessionData`): 2 interactive, 4 batch, 5 service, ...
    pub logon_type: Option<u32>,
    /// Its name: `interactive`, `network`, `batch`, `service`, `unlock`, `network_cleartext`, `new_credentials`,
    /// `remote_interactive`, `cached_interactive`, `undefined(0)`, ...
    pub logon_type_name: Option<String>,
    /// The well-known logon groups in the token (`INTERACTIVE`, `SERVICE`, `BATCH`, `NETWORK`, ...).
    pub logon_groups: Vec<String>,
    /// `TOKEN_STATISTICS.TokenType`: `primary` or `impersonation`.
    pub token_type: Option<String>,
}

/// The report's name for a `SECURITY_LOGON_SESSION_DATA.LogonType`.
pub fn logon_type_name(t: u32) -> String {
    match t {
        2 => "interactive".to_owned(),
        3 => "network".to_owned(),
        4 => "batch".to_owned(),
        5 => "service".to_owned(),
        6 => "proxy".to_owned(),
        7 => "unlock".to_owned(),
        8 => "network_cleartext".to_owned(),
        9 => "new_credentials".to_owned(),
        10 => "remote_interactive".to_owned(),
        11 => "cached_interactive".to_owned(),
        12 => "cached_remote_interactive".to_owned(),
        13 => "cached_unlock".to_owned(),
        n => format!("undefined({n})"),
    }
}

/// The name of a well-known logon group SID (`S-1-5-6` is `SERVICE`), the groups `LogonUser` adds by logon type.
pub fn well_known_logon_group(sid: &str) -> Option<&'static str> {
    Some(match sid {
        "S-1-5-2" => "NETWORK",
        "S-1-5-3" => "BATCH",
        "S-1-5-4" => "INTERACTIVE",
        "S-1-5-6" => "SERVICE",
        "S-1-5-14" => "REMOTE_INTERACTIVE_LOGON",
        "S-1-2-1" => "CONSOLE_LOGON",
        "S-1-5-18" => "LOCAL_SYSTEM",
        "S-1-5-32-544" => "ADMINISTRATORS",
        _ => return None,
    })
}

/// `as-system` details: the scheduled task that ran bindprobe as SYSTEM.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskInfo {
    /// The task's name (`\bindprobe-as-system-<id>`).
    pub name: String,
    /// The task's principal (`S-1-5-18`).
    pub principal: String,
    /// The file the task's bindprobe wrote its report to.
    pub report_file: String,
    /// The task was registered.
    pub registered: bool,
    /// The task was started.
    pub started: bool,
    /// The task was deleted afterwards.
    pub deleted: bool,
    /// The report did not arrive in time.
    pub timed_out: bool,
    /// The report the task's bindprobe wrote (its exit code is relayed).
    pub report: Option<serde_json::Value>,
}

/// `in-silo` details about the job and silo.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiloInfo {
    /// `job-list` or `suspended`.
    pub assign: String,
    /// `CREATE_BREAKAWAY_FROM_JOB` was used.
    pub breakaway: bool,
    /// `CreateJobObjectW` succeeded.
    pub job_created: bool,
    /// The job's name (`JobContainer_<id>`); null for `--bare-silo`.
    #[serde(default)]
    pub job_name: Option<String>,
    /// An I/O completion port was associated with the job (`JobObjectAssociateCompletionPortInformation`).
    #[serde(default)]
    pub completion_port: bool,
    /// I/O tracking was enabled (`JobObjectIoAttribution`, class 42).
    #[serde(default)]
    pub io_tracking: bool,
    /// `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE` was set.
    pub kill_on_close: bool,
    /// `SetInformationJobObject(job, JobObjectCreateSilo, NULL, 0)` succeeded.
    pub silo_created: bool,
    /// The new silo, queried with `JobObjectSiloBasicInformation`.
    pub silo: Option<SiloBasic>,
    /// Silo-only bindings made before the child started, in order: the rootfs at `C:\hpc\`, the token binding,
    /// then each `--silo-bind`.
    #[serde(default)]
    pub bindings: Vec<SiloBinding>,
    /// `--timeout`.
    pub timeout_secs: Option<u64>,
    /// The child was still running at the timeout and the job was terminated.
    pub timed_out: bool,
}

/// One silo-only binding: hcsshim's `JobObject.ApplyFileBinding(root, target, readOnly)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiloBinding {
    /// What it imitates: `rootfs`, `token` or `silo-bind`.
    #[serde(default)]
    pub kind: String,
    /// SRC: the backing directory.
    pub source: String,
    /// DST: the path the silo sees it at.
    pub root: String,
    /// The `BfSetupFilter` flags (`0x00000004`, USE_CURRENT_SILO_MAPPING, plus `0x1` when read-only).
    pub flags: String,
    /// `BfSetupFilter` succeeded.
    pub bound: bool,
}

/// `in-silo` details about the child.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChildInfo {
    /// PROGRAM.
    pub program: String,
    /// ARGS.
    pub args: Vec<String>,
    /// The command line given to `CreateProcessW` / `CreateProcessAsUserW` (`cmd /c ...` by default).
    pub command_line: String,
    /// The application name passed (`C:\Windows\system32\cmd.exe` with `cmd /c`); null: taken from the command line.
    pub application_name: Option<String>,
    /// `CreateProcessW` (`--token inherit`) or `CreateProcessAsUserW` (`--token system-service`).
    pub create_process: String,
    /// The creation flags, `0x01080400` (EXTENDED_STARTUPINFO_PRESENT | CREATE_BREAKAWAY_FROM_JOB | CREATE_UNICODE_ENVIRONMENT).
    pub creation_flags: String,
    /// The working directory passed (`C:\hpc\`); null: bindprobe's own.
    pub working_directory: Option<String>,
    /// The variables the child's environment has beyond the token's block (`CONTAINER_SANDBOX_MOUNT_POINT=C:\hpc\`,
    /// the edited `Path`); empty with `--inherit-env`.
    pub environment_added: Vec<String>,
    /// The child's process id.
    pub pid: Option<u32>,
    /// The child's exit code (`GetExitCodeProcess`), e.g. 0, 1, or 3221225781 (0xC0000135).
    pub exit_code: Option<u32>,
    /// Everything the child wrote to stdout (lossy UTF-8); null when it was exactly one JSON object,
    /// which is then in `report` instead.
    pub stdout: Option<String>,
    /// Everything the child wrote to stderr (lossy UTF-8).
    pub stderr: String,
    /// The child's stdout parsed as JSON when it is exactly one JSON object (a nested bindprobe report).
    pub report: Option<serde_json::Value>,
}

/// The one object every subcommand prints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The subcommand: `bind`, `layer`, `context`, `in-silo`; null for a usage error with no command.
    pub probe: Option<String>,
    /// The contract version ([`SCHEMA`]).
    #[serde(default)]
    pub schema: u32,
    /// The bindprobe version.
    #[serde(default)]
    pub bindprobe_version: String,
    /// True when the probed operation succeeded (`in-silo`: the child ran and exited 0).
    pub ok: bool,
    /// The process exit code bindprobe exits with.
    pub exit_code: i32,
    /// The first failure as the upstream code would have worded it (go-winio, hcsshim, containerd),
    /// e.g. `failed to bind target "C:\\src" to root "C:\\dst": Access is denied.`; null on success.
    pub error: Option<String>,
    /// The name of the first failing step; null on success.
    pub failed_step: Option<String>,
    /// Every step, in order, including cleanup.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// `bind` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<BindInfo>,
    /// `layer` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerInfo>,
    /// `context` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ContextInfo>,
    /// `in-silo` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silo: Option<SiloInfo>,
    /// `in-silo` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<ChildInfo>,
    /// `as-system` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskInfo>,
    /// The options the result was observed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Options>,
    /// `bind`, `layer`, `in-silo`: the bind filter's instances before and after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_instances: Option<FilterInstances>,
}

impl OsInfo {
    /// `major.minor.build.ubr`, or `major.minor.build` when the UBR is unknown.
    pub fn new(major: u32, minor: u32, build: u32, ubr: Option<u32>, product_name: Option<String>) -> Self {
        let version = match ubr {
            Some(u) => format!("{major}.{minor}.{build}.{u}"),
            None => format!("{major}.{minor}.{build}"),
        };
        Self {
            major,
            minor,
            build,
            ubr,
            version,
            product_name,
        }
    }
}

impl Report {
    /// An empty report for `probe`.
    pub fn new(probe: Option<&str>) -> Self {
        Self {
            probe: probe.map(str::to_owned),
            schema: SCHEMA,
            bindprobe_version: env!("CARGO_PKG_VERSION").to_owned(),
            ok: true,
            exit_code: exit::OK,
            error: None,
            failed_step: None,
            steps: Vec::new(),
            bind: None,
            layer: None,
            context: None,
            silo: None,
            child: None,
            task: None,
            options: None,
            filter_instances: None,
        }
    }

    /// A usage error (exit 2).
    pub fn usage(probe: Option<&str>, message: &str) -> Self {
        let mut r = Self::new(probe);
        r.ok = false;
        r.exit_code = exit::USAGE;
        r.error = Some(message.to_owned());
        r
    }

    /// The report of a platform without the Windows APIs (exit 3).
    pub fn unsupported(probe: &str) -> Self {
        let mut r = Self::new(Some(probe));
        let message = "bindprobe runs only on Windows";
        r.steps
            .push(Step::failed("platform", message, Some(std::env::consts::OS.to_owned())));
        r.ok = false;
        r.exit_code = exit::SETUP;
        r.error = Some(message.to_owned());
        r.failed_step = Some("platform".to_owned());
        r
    }

    /// The JSON line printed on stdout.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"probe":null,"schema":{SCHEMA},"ok":false,"exit_code":3,"error":"cannot serialise the report: {e}"}}"#)
        })
    }

    /// The readable form printed with `--text`.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let probe = self.probe.as_deref().unwrap_or("(usage)");
        out.push_str(&format!(
            "bindprobe {probe}: {} (exit {})\n",
            if self.ok { "OK" } else { "FAILED" },
            self.exit_code
        ));
        for s in &self.steps {
            let mut line = format!("  {:4} {}", if s.ok { "ok" } else { "FAIL" }, s.name);
            if let Some(hr) = &s.hresult {
                line.push_str(&format!("  {hr}"));
            }
            if let Some(w) = s.win32 {
                line.push_str(&format!(" (win32 {w})"));
            }
            if let Some(m) = &s.message {
                line.push_str(&format!("  {m}"));
            }
            if let Some(d) = &s.detail {
                line.push_str(&format!("  [{d}]"));
            }
            out.push_str(&line);
            out.push('\n');
        }
        if let Some(c) = &self.context {
            out.push_str(&context_text(c));
        }
        if let Some(s) = &self.silo {
            out.push_str(&format!(
                "  silo: created={} id={} assign={} breakaway={} timed_out={}\n",
                s.silo_created,
                s.silo.map_or("-".to_owned(), |b| b.silo_id.to_string()),
                s.assign,
                s.breakaway,
                s.timed_out
            ));
            for b in &s.bindings {
                out.push_str(&format!(
                    "  silo binding ({}): {} -> {} flags={} bound={}\n",
                    b.kind, b.source, b.root, b.flags, b.bound
                ));
            }
        }
        if let Some(o) = &self.options {
            let departures = if o.departures.is_empty() {
                "none".to_owned()
            } else {
                o.departures.join(" ")
            };
            out.push_str(&format!("  departures from hcsshim: {departures}\n"));
        }
        if let Some(f) = &self.filter_instances {
            for (label, l) in [("before", &f.before), ("after", &f.after)] {
                let text = match (&l.instances, &l.error) {
                    (Some(i), _) => i.iter().map(|i| i.volume.clone()).collect::<Vec<_>>().join(", "),
                    (None, e) => format!("unknown ({})", e.clone().unwrap_or_default()),
                };
                out.push_str(&format!("  {} instances {label}: {text}\n", f.filter));
            }
        }
        if let Some(t) = &self.task {
            out.push_str(&format!(
                "  task {} as {}: registered={} started={} deleted={} timed_out={}\n",
                t.name, t.principal, t.registered, t.started, t.deleted, t.timed_out
            ));
            if let Some(r) = &t.report {
                for l in serde_json::to_string_pretty(r).unwrap_or_default().lines() {
                    out.push_str(&format!("  | {l}\n"));
                }
            }
        }
        if let Some(c) = &self.child {
            out.push_str(&format!(
                "  child: {} -> exit {}\n",
                c.command_line,
                c.exit_code.map_or("-".to_owned(), |e| e.to_string())
            ));
            let stdout = match (&c.stdout, &c.report) {
                (Some(out), _) => out.clone(),
                (None, Some(report)) => serde_json::to_string_pretty(report).unwrap_or_default(),
                (None, None) => String::new(),
            };
            for (label, text) in [("stdout", &stdout), ("stderr", &c.stderr)] {
                if !text.is_empty() {
                    out.push_str(&format!("  --- child {label} ---\n"));
                    for l in text.lines() {
                        out.push_str(&format!("  | {l}\n"));
                    }
                }
            }
        }
        if let Some(e) = &self.error {
            out.push_str(&format!("error: {e}\n"));
        }
        out
    }
}

fn context_text(c: &ContextInfo) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let flag = |v: Option<bool>| v.map_or("-".to_owned(), |b| b.to_string());
    let key = |k: Option<KeyPrivilege>| match k {
        None => "-".to_owned(),
        Some(k) if k.enabled => "enabled".to_owned(),
        Some(k) if k.present => "present, disabled".to_owned(),
        Some(_) => "absent".to_owned(),
    };
    let mut out = String::new();
    out.push_str(&format!("  pid: {}  exe: {}\n", c.pid, opt(&c.exe)));
    if let Some(u) = &c.user {
        out.push_str(&format!("  user: {} ({})\n", opt(&u.name), opt(&u.sid)));
    }
    out.push_str(&format!("  elevated: {}\n", flag(c.elevated)));
    out.push_str(&format!(
        "  SeBackup: {}  SeRestore: {}  SeTcb: {}\n",
        key(c.se_backup),
        key(c.se_restore),
        key(c.se_tcb)
    ));
    out.push_str(&format!(
        "  in job: {}  limit flags: {}  in silo: {}\n",
        flag(c.in_job),
        opt(&c.job_limit_flags),
        c.in_silo
    ));
    if let Some(s) = &c.silo {
        out.push_str(&format!(
            "  silo: id={} parent={} processes={} server_silo={}\n",
            s.silo_id, s.silo_parent_id, s.number_of_processes, s.is_in_server_silo
        ));
    }
    out.push_str(&format!(
        "  CONTAINER_SANDBOX_MOUNT_POINT: {}\n  temp: {}\n",
        opt(&c.container_sandbox_mount_point),
        opt(&c.temp_dir)
    ));
    if let Some(s) = &c.bindflt_service {
        out.push_str(&format!("  service {}: {}\n", s.name, s.state));
    }
    for f in [&c.bindfltapi_dll, &c.vmcompute_dll].into_iter().flatten() {
        out.push_str(&format!(
            "  {}: {}\n",
            f.path,
            if f.exists { "present" } else { "missing" }
        ));
    }
    if let Some(l) = &c.logon {
        out.push_str(&format!(
            "  logon: {} type {} groups [{}] token {}\n",
            opt(&l.logon_id),
            opt(&l.logon_type_name),
            l.logon_groups.join(", "),
            opt(&l.token_type)
        ));
    }
    if let Some(o) = &c.os {
        out.push_str(&format!(
            "  os: {} {}\n",
            o.version,
            o.product_name.clone().unwrap_or_default()
        ));
    }
    out
}

/// Collects steps while an operation runs and turns them into a [`Report`].
#[derive(Debug, Default)]
pub struct Recorder {
    steps: Vec<Step>,
    error: Option<String>,
    failed_step: Option<String>,
    failure: Option<Failure>,
}

impl Recorder {
    /// A new, empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a successful step.
    pub fn ok(&mut self, name: impl Into<String>, detail: Option<String>) {
        self.steps.push(Step::ok(name, detail));
    }

    /// Records a failed step. The first failure sets `error` (the upstream-worded text),
    /// `failed_step` and the exit code; later failures (cleanup) are only listed.
    pub fn fail(&mut self, step: Step, error_text: impl Into<String>, failure: Failure) {
        if self.failure.is_none() {
            self.failure = Some(failure);
            self.failed_step = Some(step.name.clone());
            self.error = Some(error_text.into());
        }
        self.steps.push(step);
    }

    /// Lists a failed step that does not change the outcome (best-effort cleanup, a fact `context`
    /// could not read).
    pub fn note(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// Whether a failure was recorded.
    pub fn has_failed(&self) -> bool {
        self.failure.is_some()
    }

    /// The report for `probe`, with the exit code the first failure implies.
    pub fn finish(self, probe: &str) -> Report {
        let mut r = Report::new(Some(probe));
        r.steps = self.steps;
        r.error = self.error;
        r.failed_step = self.failed_step;
        r.ok = self.failure.is_none();
        r.exit_code = match self.failure {
            None => exit::OK,
            Some(Failure::Probed) => exit::FAILED,
            Some(Failure::Setup) => exit::SETUP,
        };
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's examples of the format are valid reports: they parse into [`Report`] and
    /// serialise back to the same JSON (no unknown, missing or misspelt fields).
    #[test]
    fn readme_examples_match_the_contract() {
        // A Windows checkout may have turned the README's line endings into CRLF.
        let readme = include_str!("../README.md").replace("\r\n", "\n");
        let mut examples = 0;
        for block in readme.split("```json\n").skip(1) {
            let json = block.split("\n```").next().unwrap();
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            let report: Report = serde_json::from_value(value.clone()).unwrap();
            assert_eq!(serde_json::to_value(&report).unwrap(), value, "{json}");
            if let Some(nested) = report.child.as_ref().and_then(|c| c.report.clone()) {
                let inner: Report = serde_json::from_value(nested.clone()).unwrap();
                assert_eq!(serde_json::to_value(&inner).unwrap(), nested);
            }
            examples += 1;
        }
        assert!(examples >= 3, "expected the README's JSON examples");
    }

    #[test]
    fn logon_types_and_groups() {
        assert_eq!(logon_type_name(5), "service");
        assert_eq!(logon_type_name(2), "interactive");
        assert_eq!(logon_type_name(0), "undefined(0)");
        assert_eq!(well_known_logon_group("S-1-5-6"), Some("SERVICE"));
        assert_eq!(well_known_logon_group("S-1-5-21-1-2-3-500"), None);
    }

    #[test]
    fn new_fields_are_left_out_when_absent() {
        // Older readers and the test bed's double write none of them; the round trip must hold.
        let v: serde_json::Value = serde_json::from_str(&Report::new(Some("bind")).to_json()).unwrap();
        for key in ["options", "filter_instances", "task"] {
            assert!(v.get(key).is_none(), "{key}");
        }
        let c = serde_json::to_value(ContextInfo::default()).unwrap();
        assert!(c.get("logon").is_none());
        let mut r = Report::new(Some("in-silo"));
        r.filter_instances = Some(FilterInstances {
            filter: "bindflt".into(),
            before: InstanceListing {
                instances: Some(vec![]),
                error: None,
            },
            after: InstanceListing {
                instances: Some(vec![FilterInstance {
                    instance: "bindflt Instance".into(),
                    altitude: "409800".into(),
                    volume: r"\Device\HarddiskVolume3".into(),
                }]),
                error: None,
            },
        });
        r.options = Some(Options {
            token: Some("inherit".into()),
            departures: vec!["--token inherit".into()],
            ..Options::default()
        });
        r.task = Some(TaskInfo::default());
        let back: Report = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(back, r);
        let t = r.to_text();
        assert!(t.contains("departures from hcsshim: --token inherit"), "{t}");
        assert!(t.contains("bindflt instances after: "), "{t}");
        assert_eq!(SCHEMA, 2);
    }

    #[test]
    fn service_states_and_os_versions() {
        assert_eq!(service_state_name(4), "running");
        assert_eq!(service_state_name(1), "stopped");
        assert_eq!(service_state_name(9), "unknown(9)");
        assert_eq!(OsInfo::new(10, 0, 20348, Some(4773), None).version, "10.0.20348.4773");
        assert_eq!(OsInfo::new(10, 0, 20348, None, None).version, "10.0.20348");
    }

    #[test]
    fn the_first_failure_decides() {
        let mut rec = Recorder::new();
        rec.ok("mkdir_root", Some(r"C:\dst".into()));
        let denied = WinError::from_hresult(0x8007_0005);
        rec.fail(
            Step::win_failed("BfSetupFilter", denied, Some("Access is denied.".into()), None),
            "failed to bind target ...: Access is denied.",
            Failure::Probed,
        );
        rec.fail(Step::failed("cleanup", "x", None), "later", Failure::Setup);
        let r = rec.finish("bind");
        assert!(!r.ok);
        assert_eq!(r.exit_code, exit::FAILED);
        assert_eq!(r.failed_step.as_deref(), Some("BfSetupFilter"));
        assert_eq!(r.error.as_deref(), Some("failed to bind target ...: Access is denied."));
        assert_eq!(r.steps.len(), 3);
    }

    #[test]
    fn json_field_names_are_the_contract() {
        let mut rec = Recorder::new();
        rec.fail(
            Step::win_failed(
                "BfSetupFilter",
                WinError::from_hresult(0x8007_0005),
                Some("Access is denied.".into()),
                None,
            ),
            "e",
            Failure::Probed,
        );
        let mut r = rec.finish("bind");
        r.bind = Some(BindInfo::default());
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        for key in [
            "probe",
            "schema",
            "bindprobe_version",
            "ok",
            "exit_code",
            "error",
            "failed_step",
            "steps",
            "bind",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert!(v.get("context").is_none());
        let step = &v["steps"][0];
        assert_eq!(step["name"], "BfSetupFilter");
        assert_eq!(step["ok"], false);
        assert_eq!(step["hresult"], "0x80070005");
        assert_eq!(step["win32"], 5);
        assert_eq!(step["message"], "Access is denied.");
        assert!(step["detail"].is_null());
        for key in [
            "source",
            "root",
            "bind_source",
            "root_parent",
            "read_only",
            "flags",
            "flag_names",
            "job_handle",
            "bound",
            "visible_through_root",
            "removed",
        ] {
            assert!(v["bind"].get(key).is_some(), "missing bind.{key}");
        }
    }

    #[test]
    fn reports_round_trip() {
        let mut r = Report::new(Some("in-silo"));
        r.silo = Some(SiloInfo {
            assign: "job-list".into(),
            silo_created: true,
            ..Default::default()
        });
        r.child = Some(ChildInfo {
            program: "bindprobe".into(),
            exit_code: Some(1),
            report: Some(serde_json::json!({"probe": "bind", "ok": false})),
            ..Default::default()
        });
        r.context = Some(ContextInfo::default());
        let back: Report = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn unsupported_and_usage() {
        let u = Report::unsupported("bind");
        assert_eq!(u.exit_code, exit::SETUP);
        assert_eq!(u.error.as_deref(), Some("bindprobe runs only on Windows"));
        let t = u.to_text();
        assert!(t.starts_with("bindprobe bind: FAILED (exit 3)"), "{t}");
        assert!(t.contains("bindprobe runs only on Windows"));
        let usage = Report::usage(None, "no command given");
        assert_eq!(usage.exit_code, exit::USAGE);
        assert!(usage.to_json().contains(r#""probe":null"#));
    }

    #[test]
    fn text_shows_codes_and_child_output() {
        let mut r = Report::new(Some("in-silo"));
        r.steps.push(Step::win_failed(
            "SetInformationJobObject(JobObjectCreateSilo)",
            WinError::from_win32(5),
            Some("Access is denied.".into()),
            None,
        ));
        r.child = Some(ChildInfo {
            command_line: "bindprobe context".into(),
            stdout: Some("line one\nline two\n".into()),
            ..Default::default()
        });
        let t = r.to_text();
        assert!(
            t.contains("FAIL SetInformationJobObject(JobObjectCreateSilo)  0x80070005 (win32 5)  Access is denied."),
            "{t}"
        );
        assert!(t.contains("  | line two"));
    }
}
