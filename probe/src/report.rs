//! The report contract: the one JSON object every subcommand prints, its readable `--text` form, and the exit codes.
//!
//! Field names are stable (schema 1); the harness's lanes read them with these very types. New
//! fields may be added; existing ones keep their name, type and meaning. See `probe/README.md`.
//! Readers tolerate what older or abbreviated reports leave out where a field says `#[serde(default)]`.

use serde::{Deserialize, Serialize};

use crate::hresult::WinError;

/// Version of the JSON contract (`schema` field).
pub const SCHEMA: u32 = 1;

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
    /// `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE` was set.
    pub kill_on_close: bool,
    /// `SetInformationJobObject(job, JobObjectCreateSilo, NULL, 0)` succeeded.
    pub silo_created: bool,
    /// The new silo, queried with `JobObjectSiloBasicInformation`.
    pub silo: Option<SiloBasic>,
    /// Silo-only bindings made before the child started (`--silo-bind`).
    #[serde(default)]
    pub bindings: Vec<SiloBinding>,
    /// `--timeout`.
    pub timeout_secs: Option<u64>,
    /// The child was still running at the timeout and the job was terminated.
    pub timed_out: bool,
}

/// One `--silo-bind`: hcsshim's `JobObject.ApplyFileBinding(root, target, false)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiloBinding {
    /// SRC: the backing directory.
    pub source: String,
    /// DST: the path the silo sees it at.
    pub root: String,
    /// The `BfSetupFilter` flags (`0x00000004`, USE_CURRENT_SILO_MAPPING).
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
    /// The command line given to `CreateProcessW`.
    pub command_line: String,
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
