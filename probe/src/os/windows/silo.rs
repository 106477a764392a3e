//! Job objects and silos: start a program the way hcsshim starts a HostProcess container's process (named job, completion port, I/O tracking, silo, rootfs and token bindings, token, environment, `cmd /c`, breakaway) and relay its output and exit code; `in-silo`.

use std::ffi::c_void;
use std::io::Read;
use std::mem::{size_of, size_of_val, zeroed};
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::ptr::{null, null_mut};
use std::time::{SystemTime, UNIX_EPOCH};

use windows_sys::Win32::Foundation::{
    HANDLE, HANDLE_FLAG_INHERIT, INVALID_HANDLE_VALUE, SetHandleInformation, WAIT_OBJECT_0, WAIT_TIMEOUT,
};
use windows_sys::Win32::Security::{SECURITY_ATTRIBUTES, TOKEN_DUPLICATE, TOKEN_QUERY};
use windows_sys::Win32::Storage::FileSystem::GetVolumeNameForVolumeMountPointW;
use windows_sys::Win32::System::IO::CreateIoCompletionPort;
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, IsProcessInJob, JOB_OBJECT_LIMIT_BREAKAWAY_OK,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK, JOBOBJECT_ASSOCIATE_COMPLETION_PORT,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JOBOBJECT_IO_ATTRIBUTION_CONTROL_ENABLE,
    JOBOBJECT_IO_ATTRIBUTION_INFORMATION, JobObjectAssociateCompletionPortInformation, JobObjectCreateSilo,
    JobObjectExtendedLimitInformation, JobObjectSiloBasicInformation, QueryInformationJobObject,
    SetInformationJobObject, TerminateJobObject,
};
use windows_sys::Win32::System::Pipes::CreatePipe;
use windows_sys::Win32::System::SystemServices::SILOOBJECT_BASIC_INFORMATION;
use windows_sys::Win32::System::Threading::{
    CREATE_BREAKAWAY_FROM_JOB, CREATE_SUSPENDED, CREATE_UNICODE_ENVIRONMENT, CreateProcessAsUserW, CreateProcessW,
    DeleteProcThreadAttributeList, EXTENDED_STARTUPINFO_PRESENT, GetCurrentProcess, GetExitCodeProcess, INFINITE,
    InitializeProcThreadAttributeList, LPPROC_THREAD_ATTRIBUTE_LIST, OpenProcessToken,
    PROC_THREAD_ATTRIBUTE_HANDLE_LIST, PROC_THREAD_ATTRIBUTE_JOB_LIST, PROCESS_INFORMATION, ResumeThread,
    STARTF_USESTDHANDLES, STARTUPINFOEXW, STARTUPINFOW, TerminateProcess, UpdateProcThreadAttribute,
    WaitForSingleObject,
};

use super::bindflt::{BindFilter, mkdir_all};
use super::{go_text, last_error, system_message, wide, win_step};
use crate::args::{Assign, InSiloArgs};
use crate::hresult::WinError;
use crate::report::{ChildInfo, Failure, Recorder, Report, SiloBasic, SiloBinding, SiloInfo, Step};
use crate::{cmdline, gopath, hostprocess};

/// Records a Win32 BOOL-returning call: ok, or failed with `<name>: <message>` (or `text`).
fn record_bool(
    rec: &mut Recorder,
    name: &str,
    ok: bool,
    err: WinError,
    text: Option<String>,
    detail: Option<String>,
) -> bool {
    if ok {
        rec.ok(name, detail);
    } else {
        let text = text.unwrap_or_else(|| format!("{name}: {}", go_text(err)));
        rec.fail(win_step(name, err, detail), text, Failure::Setup);
    }
    ok
}

/// `SILOOBJECT_BASIC_INFORMATION { DWORD SiloId; DWORD SiloParentId; DWORD NumberOfProcesses; BOOLEAN
/// IsInServerSilo; BYTE Reserved[3]; }` (hcsshim `internal/winapi/jobobject.go`), with the BOOLEAN read as a byte
/// so no value the kernel writes can be an invalid `bool`.
#[repr(C)]
#[derive(Default)]
struct SiloObjectBasicInformation {
    silo_id: u32,
    silo_parent_id: u32,
    number_of_processes: u32,
    is_in_server_silo: u8,
    reserved: [u8; 3],
}

const _: () = assert!(size_of::<SiloObjectBasicInformation>() == size_of::<SILOOBJECT_BASIC_INFORMATION>());

/// `QueryInformationJobObject(job, JobObjectSiloBasicInformation)`; `job` NULL means this process's job.
pub(crate) fn query_silo(job: HANDLE) -> Result<SiloBasic, WinError> {
    let mut info = SiloObjectBasicInformation::default();
    // SAFETY: `info` is writable for its size; the layout is the one hcsshim declares for class 36.
    let ok = unsafe {
        QueryInformationJobObject(
            job,
            JobObjectSiloBasicInformation,
            (&raw mut info).cast::<c_void>(),
            size_of::<SiloObjectBasicInformation>() as u32,
            null_mut(),
        )
    } != 0;
    if !ok {
        return Err(last_error());
    }
    Ok(SiloBasic {
        silo_id: info.silo_id,
        silo_parent_id: info.silo_parent_id,
        number_of_processes: info.number_of_processes,
        is_in_server_silo: info.is_in_server_silo != 0,
    })
}

/// `QueryInformationJobObject(job, JobObjectExtendedLimitInformation)`.
pub(crate) fn query_limits(job: HANDLE) -> Result<JOBOBJECT_EXTENDED_LIMIT_INFORMATION, WinError> {
    // SAFETY: the struct is plain data; all-zero is a valid value.
    let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { zeroed() };
    // SAFETY: `limits` is writable for its size.
    let ok = unsafe {
        QueryInformationJobObject(
            job,
            JobObjectExtendedLimitInformation,
            (&raw mut limits).cast::<c_void>(),
            size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            null_mut(),
        )
    } != 0;
    if ok { Ok(limits) } else { Err(last_error()) }
}

/// An initialised `PROC_THREAD_ATTRIBUTE_LIST`, deleted on drop.
struct AttributeList {
    buf: Vec<u64>,
}

impl AttributeList {
    fn new(count: u32) -> Result<Self, WinError> {
        let mut size = 0usize;
        // SAFETY: a NULL list with a size pointer only asks for the size (it "fails" with
        // ERROR_INSUFFICIENT_BUFFER by design).
        unsafe { InitializeProcThreadAttributeList(null_mut(), count, 0, &mut size) };
        if size == 0 {
            return Err(last_error());
        }
        let mut buf = vec![0u64; size.div_ceil(size_of::<u64>())];
        // SAFETY: `buf` is at least `size` bytes and 8-byte aligned.
        let ok = unsafe { InitializeProcThreadAttributeList(buf.as_mut_ptr().cast(), count, 0, &mut size) } != 0;
        if ok { Ok(Self { buf }) } else { Err(last_error()) }
    }

    fn as_ptr(&mut self) -> LPPROC_THREAD_ATTRIBUTE_LIST {
        self.buf.as_mut_ptr().cast()
    }

    /// `UpdateProcThreadAttribute(list, 0, attribute, value, size)`. The value must outlive the list.
    fn update<T>(&mut self, attribute: u32, value: &[T]) -> Result<(), WinError> {
        // SAFETY: the list is initialised; `value` is readable for its size and the caller keeps it
        // alive until CreateProcessW has returned.
        let ok = unsafe {
            UpdateProcThreadAttribute(
                self.as_ptr(),
                0,
                attribute as usize,
                value.as_ptr().cast::<c_void>(),
                size_of_val(value),
                null_mut(),
                null(),
            )
        } != 0;
        if ok { Ok(()) } else { Err(last_error()) }
    }
}

impl Drop for AttributeList {
    fn drop(&mut self) {
        // SAFETY: the list was initialised by InitializeProcThreadAttributeList.
        unsafe { DeleteProcThreadAttributeList(self.as_ptr()) };
    }
}

/// An anonymous pipe: (read end, not inheritable; write end, inheritable).
fn pipe() -> Result<(OwnedHandle, OwnedHandle), WinError> {
    let sa = SECURITY_ATTRIBUTES {
        nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: null_mut(),
        bInheritHandle: 1,
    };
    let (mut read, mut write): (HANDLE, HANDLE) = (null_mut(), null_mut());
    // SAFETY: both out-pointers are writable and `sa` is a valid SECURITY_ATTRIBUTES.
    if unsafe { CreatePipe(&mut read, &mut write, &sa, 0) } == 0 {
        return Err(last_error());
    }
    // SAFETY: CreatePipe returned two fresh handles that nothing else owns.
    let (read, write) = unsafe { (OwnedHandle::from_raw_handle(read), OwnedHandle::from_raw_handle(write)) };
    // SAFETY: `read` is a valid handle.
    if unsafe { SetHandleInformation(read.as_raw_handle(), HANDLE_FLAG_INHERIT, 0) } == 0 {
        return Err(last_error());
    }
    Ok((read, write))
}

fn reader(handle: OwnedHandle) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut file = std::fs::File::from(handle);
        let mut out = Vec::new();
        // A broken pipe is the end of the child's output; what was read so far is kept.
        let _ = file.read_to_end(&mut out);
        out
    })
}

/// `in-silo [options] -- PROGRAM ARGS...`.
pub fn in_silo(a: &InSiloArgs) -> Report {
    let command_line = match cmdline::command_line(&a.program, &a.args) {
        Ok(line) => line,
        Err(e) => return Report::usage(Some("in-silo"), &e.to_string()),
    };
    // hcsshim with bindflt starts `cmd /c <command line>` (jobcontainer.go:339), cmd found on PATH.
    let (application_name, command_line) = if a.cmd_c {
        (
            Some(super::system32().join("cmd.exe").display().to_string()),
            hostprocess::cmd_c(&command_line),
        )
    } else {
        (None, command_line)
    };
    let mut rec = Recorder::new();
    let mut silo = SiloInfo {
        assign: a.assign.as_str().to_owned(),
        breakaway: a.breakaway,
        timeout_secs: a.timeout_secs,
        ..SiloInfo::default()
    };
    let mut child = ChildInfo {
        program: a.program.clone(),
        args: a.args.clone(),
        command_line: command_line.clone(),
        application_name,
        create_process: if hostprocess::uses_logon_token(a) {
            "CreateProcessAsUserW"
        } else {
            "CreateProcessW"
        }
        .to_owned(),
        ..ChildInfo::default()
    };
    let exit = run(a, &mut rec, &mut silo, &mut child);
    let mut report = rec.finish("in-silo");
    if let (Some(code), None) = (exit, &report.failed_step) {
        // The child ran to its end: relay its exit code (Windows exit codes are 32-bit).
        report.exit_code = code as i32;
        report.ok = code == 0;
    }
    report.silo = Some(silo);
    report.child = Some(child);
    report
}

/// `SetInformationJobObject(job, class, &value)`, recorded as `name`.
fn set_job_info<T>(rec: &mut Recorder, name: &str, job: HANDLE, class: i32, value: &T, detail: Option<String>) -> bool {
    // SAFETY: `value` is a valid, initialised structure of the size passed, of the type `class` expects.
    let ok =
        unsafe { SetInformationJobObject(job, class, (value as *const T).cast::<c_void>(), size_of::<T>() as u32) }
            != 0;
    let err = last_error();
    record_bool(rec, name, ok, err, None, detail)
}

/// hcsshim `jobobject.Create` with `Name`, `Notifications` and `EnableIOTracking` (jobobject.go:118-148), or a bare
/// unnamed job (`--bare-silo`). Returns the job and the completion port, which must live as long as the job.
fn create_job(
    a: &InSiloArgs,
    id: &str,
    rec: &mut Recorder,
    silo: &mut SiloInfo,
) -> Option<(OwnedHandle, Option<OwnedHandle>)> {
    let name = a.hcsshim_job.then(|| hostprocess::job_name(id));
    let wname = name.as_deref().map(wide);
    // SAFETY: default security; the name, when given, is NUL-terminated.
    let raw = unsafe { CreateJobObjectW(null(), wname.as_ref().map_or(null(), |n| n.as_ptr())) };
    let err = last_error();
    if !record_bool(
        rec,
        "CreateJobObjectW",
        !raw.is_null(),
        err,
        Some(format!("failed to create job object: {}", go_text(err))),
        name.clone(),
    ) {
        return None;
    }
    // SAFETY: a fresh handle nothing else owns; closing it kills the silo's processes.
    let job = unsafe { OwnedHandle::from_raw_handle(raw) };
    silo.job_created = true;
    silo.job_name = name;
    if !a.hcsshim_job {
        return Some((job, None));
    }

    // setupNotifications: one completion port (CreateIoCompletionPort(InvalidHandle, 0, 0, 0xffffffff)), the job
    // attached with itself as the key (iocp.go:106-111). Nobody reads it here: the messages simply queue.
    // SAFETY: INVALID_HANDLE_VALUE with no existing port creates a new port.
    let port = unsafe { CreateIoCompletionPort(INVALID_HANDLE_VALUE, null_mut(), 0, 0xffff_ffff) };
    let err = last_error();
    if !record_bool(rec, "CreateIoCompletionPort", !port.is_null(), err, None, None) {
        return None;
    }
    // SAFETY: a fresh port handle nothing else owns.
    let port = unsafe { OwnedHandle::from_raw_handle(port) };
    let assoc = JOBOBJECT_ASSOCIATE_COMPLETION_PORT {
        CompletionKey: job.as_raw_handle(),
        CompletionPort: port.as_raw_handle(),
    };
    if !set_job_info(
        rec,
        "SetInformationJobObject(JobObjectAssociateCompletionPortInformation)",
        job.as_raw_handle(),
        JobObjectAssociateCompletionPortInformation,
        &assoc,
        None,
    ) {
        return None;
    }
    silo.completion_port = true;

    // enableIOTracking (jobobject.go:656-668): class 42 with ControlFlags = JOBOBJECT_IO_ATTRIBUTION_CONTROL_ENABLE.
    let io = JOBOBJECT_IO_ATTRIBUTION_INFORMATION {
        ControlFlags: JOBOBJECT_IO_ATTRIBUTION_CONTROL_ENABLE as u32,
        ..Default::default()
    };
    if !set_job_info(
        rec,
        "SetInformationJobObject(JobObjectIoAttribution)",
        job.as_raw_handle(),
        JOB_OBJECT_IO_ATTRIBUTION,
        &io,
        Some("ControlFlags=0x00000001 (ENABLE)".to_owned()),
    ) {
        return None;
    }
    silo.io_tracking = true;
    Some((job, Some(port)))
}

/// `JobObjectIoAttribution` (hcsshim `internal/winapi/jobobject.go`: 42); windows-sys has the structure only.
const JOB_OBJECT_IO_ATTRIBUTION: i32 = 42;

/// The system volume's `\\?\Volume{GUID}\` (`GetVolumeNameForVolumeMountPointW("C:\")`), as a stand-in for the
/// container's scratch volume that hcsshim binds at `C:\hpc\`.
fn system_volume(rec: &mut Recorder) -> Option<String> {
    let drive = std::env::var("SystemDrive").unwrap_or_else(|_| "C:".to_owned());
    let mount_point = format!("{}\\", drive.trim_end_matches('\\'));
    let wmount = wide(&mount_point);
    let mut buf = [0u16; 64];
    // SAFETY: `wmount` is NUL-terminated and ends with a backslash as required; `buf` is writable for its length.
    let ok = unsafe { GetVolumeNameForVolumeMountPointW(wmount.as_ptr(), buf.as_mut_ptr(), buf.len() as u32) } != 0;
    let err = last_error();
    let volume = super::from_wide(&buf);
    if record_bool(
        rec,
        "GetVolumeNameForVolumeMountPointW",
        ok,
        err,
        None,
        Some(if ok {
            format!("{mount_point} -> {volume}")
        } else {
            mount_point
        }),
    ) {
        Some(volume)
    } else {
        None
    }
}

/// Makes the silo, runs the child; returns its exit code when it ran to its end.
fn run(a: &InSiloArgs, rec: &mut Recorder, silo: &mut SiloInfo, child: &mut ChildInfo) -> Option<u32> {
    let id = a.id.clone().unwrap_or_else(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        hostprocess::new_id(nanos, std::process::id())
    });
    let (job, _port) = create_job(a, &id, rec, silo)?;

    // hcsshim SetTerminateOnLastHandleClose: query the extended limits, add KILL_ON_JOB_CLOSE, set.
    let mut limits = match query_limits(job.as_raw_handle()) {
        Ok(l) => {
            rec.ok("QueryInformationJobObject(JobObjectExtendedLimitInformation)", None);
            l
        }
        Err(err) => {
            record_bool(
                rec,
                "QueryInformationJobObject(JobObjectExtendedLimitInformation)",
                false,
                err,
                None,
                None,
            );
            return None;
        }
    };
    limits.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    let detail = Some(format!(
        "LimitFlags=0x{:08X} (KILL_ON_JOB_CLOSE)",
        limits.BasicLimitInformation.LimitFlags
    ));
    if !set_job_info(
        rec,
        "SetInformationJobObject(JobObjectExtendedLimitInformation)",
        job.as_raw_handle(),
        JobObjectExtendedLimitInformation,
        &limits,
        detail,
    ) {
        return None;
    }
    silo.kill_on_close = true;

    // hcsshim PromoteToSilo: SetInformationJobObject(job, JobObjectCreateSilo, 0, 0) on an empty job.
    // SAFETY: class 35 takes no buffer.
    let ok = unsafe { SetInformationJobObject(job.as_raw_handle(), JobObjectCreateSilo, null(), 0) } != 0;
    let err = last_error();
    if !record_bool(
        rec,
        "SetInformationJobObject(JobObjectCreateSilo)",
        ok,
        err,
        Some(format!("failed to promote job to silo: {}", go_text(err))),
        None,
    ) {
        return None;
    }
    silo.silo_created = true;
    match query_silo(job.as_raw_handle()) {
        Ok(info) => {
            rec.ok(
                "QueryInformationJobObject(JobObjectSiloBasicInformation)",
                Some(format!("silo_id={}", info.silo_id)),
            );
            silo.silo = Some(info);
        }
        Err(err) => rec.note(win_step(
            "QueryInformationJobObject(JobObjectSiloBasicInformation)",
            err,
            None,
        )),
    }

    // The bindings hcsshim makes before the process starts: the rootfs at C:\hpc\ (storage.go:70), then each OCI
    // mount at its destination (mounts.go:118), then ours.
    let mut bindings: Vec<Binding> = Vec::new();
    if a.rootfs_bind {
        let source = match &a.rootfs_source {
            Some(s) => s.clone(),
            None => system_volume(rec)?,
        };
        bindings.push(Binding {
            kind: "rootfs",
            source,
            root: hostprocess::ROOTFS_LOCATION.to_owned(),
            read_only: false,
            make_source: false,
        });
    }
    if a.token_bind {
        let source = a.token_bind_source.clone().unwrap_or_else(|| {
            std::env::temp_dir()
                .join(format!("bindprobe-{id}"))
                .join("kube-api-access")
                .display()
                .to_string()
        });
        bindings.push(Binding {
            kind: "token",
            source,
            root: hostprocess::TOKEN_MOUNT_DESTINATION.to_owned(),
            read_only: true,
            make_source: true,
        });
    }
    for (source, root) in &a.silo_binds {
        bindings.push(Binding {
            kind: "silo-bind",
            source: source.clone(),
            root: root.clone(),
            read_only: false,
            make_source: true,
        });
    }
    if !silo_bindings(&bindings, rec, silo, &job) {
        return None;
    }

    // The working directory (jobcontainer.go:240-266): the rootfs location, created when missing (by the
    // caller, outside the silo, as hcsshim's shim does).
    let cwd = a.rootfs_cwd.then(|| hostprocess::ROOTFS_LOCATION.to_owned());
    if let Some(dir) = &cwd
        && !mkdir_all(rec, "mkdir_working_directory", dir)
    {
        return None;
    }
    child.working_directory = cwd.clone();

    // The token (jobcontainer.go:271-283, logon.go:143-158).
    let logon = if hostprocess::uses_logon_token(a) {
        match super::logon::system_service_token() {
            Ok(t) => {
                rec.ok(
                    "LogonUserW",
                    Some("SYSTEM, NT AUTHORITY, LOGON32_LOGON_SERVICE, LOGON32_PROVIDER_DEFAULT".to_owned()),
                );
                Some(t)
            }
            Err(err) => {
                record_bool(
                    rec,
                    "LogonUserW",
                    false,
                    err,
                    Some(format!(
                        "failed to create user process token: failed to logon user: {} (LogonUser needs SeTcbPrivilege: run as SYSTEM, e.g. through as-system)",
                        go_text(err)
                    )),
                    Some("SYSTEM, NT AUTHORITY, LOGON32_LOGON_SERVICE".to_owned()),
                );
                return None;
            }
        }
    } else {
        None
    };

    // The environment (jobcontainer.go:285-314): the token's block plus CONTAINER_SANDBOX_MOUNT_POINT and PATH.
    let env_block = if a.hcsshim_env {
        let own = match &logon {
            Some(_) => None,
            None => match own_token() {
                Ok(t) => Some(t),
                Err(err) => {
                    record_bool(rec, "OpenProcessToken", false, err, None, None);
                    return None;
                }
            },
        };
        let token = logon
            .as_ref()
            .or(own.as_ref())
            .map(AsRawHandle::as_raw_handle)
            .unwrap_or(null_mut());
        match super::logon::environment(token) {
            Ok(block) => {
                let (env, added) = hostprocess::environment(block, hostprocess::ROOTFS_LOCATION);
                rec.ok("CreateEnvironmentBlock", Some(format!("{} variables", env.len())));
                child.environment_added = added;
                Some(hostprocess::environment_block(&env))
            }
            Err(err) => {
                record_bool(
                    rec,
                    "CreateEnvironmentBlock",
                    false,
                    err,
                    Some(format!("failed to get default environment block: {}", go_text(err))),
                    None,
                );
                return None;
            }
        }
    } else {
        None
    };

    // Whether the job bindprobe itself runs in lets the child break away (a refusal is named, not guessed).
    let breakaway_blocked = if a.breakaway { breakaway_check(rec) } else { None };

    // Standard handles: NUL for stdin, pipes for stdout and stderr.
    let pipes = pipe().and_then(|o| pipe().map(|e| (o, e)));
    let ((out_read, out_write), (err_read, err_write)) = match pipes {
        Ok(p) => {
            rec.ok("CreatePipe", None);
            p
        }
        Err(err) => {
            record_bool(rec, "CreatePipe", false, err, None, None);
            return None;
        }
    };
    let nul = match std::fs::File::open("NUL") {
        Ok(f) => OwnedHandle::from(f),
        Err(e) => {
            let err = super::io_win_error(&e);
            record_bool(rec, "open_nul", false, err, None, None);
            return None;
        }
    };
    // SAFETY: `nul` is a valid handle; the child inherits it as stdin.
    if unsafe { SetHandleInformation(nul.as_raw_handle(), HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT) } == 0 {
        record_bool(rec, "SetHandleInformation", false, last_error(), None, None);
        return None;
    }

    // Only the three standard handles are inherited (PROC_THREAD_ATTRIBUTE_HANDLE_LIST, as hcsshim's
    // internal/exec does); with --assign job-list the job goes in at creation (PROC_THREAD_ATTRIBUTE_JOB_LIST).
    let inherited: [HANDLE; 3] = [
        nul.as_raw_handle(),
        out_write.as_raw_handle(),
        err_write.as_raw_handle(),
    ];
    let jobs: [HANDLE; 1] = [job.as_raw_handle()];
    let count = if a.assign == Assign::JobList { 2 } else { 1 };
    let mut attrs = match AttributeList::new(count) {
        Ok(l) => {
            rec.ok("InitializeProcThreadAttributeList", None);
            l
        }
        Err(err) => {
            record_bool(rec, "InitializeProcThreadAttributeList", false, err, None, None);
            return None;
        }
    };
    if let Err(err) = attrs.update(PROC_THREAD_ATTRIBUTE_HANDLE_LIST, &inherited) {
        record_bool(
            rec,
            "UpdateProcThreadAttribute(PROC_THREAD_ATTRIBUTE_HANDLE_LIST)",
            false,
            err,
            None,
            None,
        );
        return None;
    }
    rec.ok("UpdateProcThreadAttribute(PROC_THREAD_ATTRIBUTE_HANDLE_LIST)", None);
    if a.assign == Assign::JobList {
        if let Err(err) = attrs.update(PROC_THREAD_ATTRIBUTE_JOB_LIST, &jobs) {
            record_bool(
                rec,
                "UpdateProcThreadAttribute(PROC_THREAD_ATTRIBUTE_JOB_LIST)",
                false,
                err,
                None,
                None,
            );
            return None;
        }
        rec.ok("UpdateProcThreadAttribute(PROC_THREAD_ATTRIBUTE_JOB_LIST)", None);
    }

    // SAFETY: STARTUPINFOEXW is plain data; all-zero is a valid value.
    let mut si: STARTUPINFOEXW = unsafe { zeroed() };
    si.StartupInfo.cb = size_of::<STARTUPINFOEXW>() as u32;
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = inherited[0];
    si.StartupInfo.hStdOutput = inherited[1];
    si.StartupInfo.hStdError = inherited[2];
    si.lpAttributeList = attrs.as_ptr();
    // exec.go:118: CREATE_UNICODE_ENVIRONMENT | EXTENDED_STARTUPINFO_PRESENT | CREATE_BREAKAWAY_FROM_JOB.
    let mut flags = EXTENDED_STARTUPINFO_PRESENT | CREATE_UNICODE_ENVIRONMENT;
    if a.assign == Assign::Suspended {
        flags |= CREATE_SUSPENDED;
    }
    if a.breakaway {
        flags |= CREATE_BREAKAWAY_FROM_JOB;
    }
    child.creation_flags = format!("0x{flags:08X}");
    let wapp = child.application_name.as_deref().map(wide);
    let wcwd = cwd.as_deref().map(wide);
    let mut wcmd = wide(&child.command_line);
    let env_ptr = env_block.as_ref().map_or(null(), |b| b.as_ptr().cast::<c_void>());
    // SAFETY: PROCESS_INFORMATION is plain data; all-zero is a valid value.
    let mut pi: PROCESS_INFORMATION = unsafe { zeroed() };
    let create = child.create_process.clone();
    let ok = match &logon {
        // SAFETY: `token` is a primary token from LogonUserW; the strings are NUL-terminated (`wcmd` writable);
        // the environment block is a double-NUL-terminated UTF-16 block (CREATE_UNICODE_ENVIRONMENT); `si` is a
        // STARTUPINFOEXW announced by EXTENDED_STARTUPINFO_PRESENT whose attribute list, handles and job are alive.
        Some(token) => unsafe {
            CreateProcessAsUserW(
                token.as_raw_handle(),
                wapp.as_ref().map_or(null(), |w| w.as_ptr()),
                wcmd.as_mut_ptr(),
                null(),
                null(),
                1,
                flags,
                env_ptr,
                wcwd.as_ref().map_or(null(), |w| w.as_ptr()),
                (&raw const si).cast::<STARTUPINFOW>(),
                &mut pi,
            )
        },
        // SAFETY: as above, with bindprobe's own token.
        None => unsafe {
            CreateProcessW(
                wapp.as_ref().map_or(null(), |w| w.as_ptr()),
                wcmd.as_mut_ptr(),
                null(),
                null(),
                1,
                flags,
                env_ptr,
                wcwd.as_ref().map_or(null(), |w| w.as_ptr()),
                (&raw const si).cast::<STARTUPINFOW>(),
                &mut pi,
            )
        },
    } != 0;
    let err = last_error();
    drop(attrs);
    // The child holds its own copies now; ours must go so the pipes reach EOF when it exits.
    drop((nul, out_write, err_write));
    if !ok {
        if let (Some(limit_flags), Some(5)) = (breakaway_blocked, err.win32) {
            rec.fail(
                win_step("CREATE_BREAKAWAY_FROM_JOB", err, Some(format!("LimitFlags=0x{limit_flags:08X}"))),
                format!(
                    "the job bindprobe runs in refuses CREATE_BREAKAWAY_FROM_JOB (LimitFlags=0x{limit_flags:08X}, no BREAKAWAY_OK): {}; --no-breakaway starts the child without it",
                    go_text(err)
                ),
                Failure::Setup,
            );
        } else {
            record_bool(
                rec,
                &create,
                false,
                err,
                Some(format!("failed to create process: {}", go_text(err))),
                Some(child.command_line.clone()),
            );
        }
        return None;
    }
    rec.ok(&create, Some(child.command_line.clone()));
    // SAFETY: CreateProcess returned fresh process and thread handles that nothing else owns.
    let (process, thread) = unsafe {
        (
            OwnedHandle::from_raw_handle(pi.hProcess),
            OwnedHandle::from_raw_handle(pi.hThread),
        )
    };
    child.pid = Some(pi.dwProcessId);
    let stdout = reader(out_read);
    let stderr = reader(err_read);

    let started = if a.assign == Assign::Suspended {
        start_suspended(rec, &job, &process, &thread)
    } else {
        true
    };
    let mut exit = None;
    if started {
        exit = wait(rec, a, silo, &job, &process);
    }
    // Closing the job kills whatever the child left running in the silo (KILL_ON_JOB_CLOSE), which
    // also closes any pipe copies those processes hold.
    drop(thread);
    drop(job);
    drop(process);
    let out = String::from_utf8_lossy(&stdout.join().unwrap_or_default()).into_owned();
    child.stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    // A nested bindprobe report is kept as JSON rather than as an escaped string.
    child.report = serde_json::from_str::<serde_json::Value>(out.trim())
        .ok()
        .filter(serde_json::Value::is_object);
    child.stdout = if child.report.is_some() { None } else { Some(out) };
    child.exit_code = exit;
    exit
}

/// bindprobe's own token, for its environment block (hcsshim's `openCurrentProcessToken` with the inherit-user
/// annotation).
fn own_token() -> Result<OwnedHandle, WinError> {
    let mut raw: HANDLE = null_mut();
    // SAFETY: the current-process pseudo handle needs no closing; `raw` is writable.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY | TOKEN_DUPLICATE, &mut raw) } == 0 {
        return Err(last_error());
    }
    // SAFETY: a fresh token handle nothing else owns.
    Ok(unsafe { OwnedHandle::from_raw_handle(raw) })
}

/// Records whether bindprobe runs in a job and whether that job allows breakaway; returns the job's limit
/// flags when it does not (a `CreateProcess` refusal is then named `CREATE_BREAKAWAY_FROM_JOB`).
fn breakaway_check(rec: &mut Recorder) -> Option<u32> {
    let mut in_job = 0;
    // SAFETY: the current-process pseudo handle, no job handle (any job), `in_job` writable.
    if unsafe { IsProcessInJob(GetCurrentProcess(), null_mut(), &mut in_job) } == 0 {
        rec.note(win_step("check_breakaway", last_error(), None));
        return None;
    }
    if in_job == 0 {
        rec.ok("check_breakaway", Some("bindprobe is in no job".to_owned()));
        return None;
    }
    match query_limits(null_mut()) {
        Ok(l) => {
            let f = l.BasicLimitInformation.LimitFlags;
            let allowed = f & (JOB_OBJECT_LIMIT_BREAKAWAY_OK | JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK) != 0;
            rec.ok(
                "check_breakaway",
                Some(format!(
                    "bindprobe is in a job: LimitFlags=0x{f:08X}, breakaway allowed: {allowed}"
                )),
            );
            (!allowed).then_some(f)
        }
        Err(err) => {
            rec.note(win_step(
                "check_breakaway",
                err,
                Some("bindprobe is in a job".to_owned()),
            ));
            None
        }
    }
}

/// One silo-only binding to make.
struct Binding {
    kind: &'static str,
    source: String,
    root: String,
    read_only: bool,
    make_source: bool,
}

/// hcsshim `JobObject.ApplyFileBinding(root, target, readOnly)` (jobobject.go:474-518) for each binding:
/// `MkdirAll(filepath.Dir(root))`, then `BfSetupFilter(job, USE_CURRENT_SILO_MAPPING [| READ_ONLY_MAPPING], root,
/// target, NULL, 0)`. Directory sources are created when missing.
fn silo_bindings(bindings: &[Binding], rec: &mut Recorder, silo: &mut SiloInfo, job: &OwnedHandle) -> bool {
    if bindings.is_empty() {
        return true;
    }
    let wrap = |e: String| e;
    let Some(bf) = BindFilter::load(rec, &wrap) else {
        return false;
    };
    for b in bindings {
        let mut flags = gopath::BINDFLT_FLAG_USE_CURRENT_SILO_MAPPING;
        if b.read_only {
            flags |= gopath::BINDFLT_FLAG_READ_ONLY_MAPPING;
        }
        let mut binding = SiloBinding {
            kind: b.kind.to_owned(),
            source: b.source.clone(),
            root: b.root.clone(),
            flags: format!("0x{flags:08X}"),
            bound: false,
        };
        let step = format!("BfSetupFilter(silo {})", b.kind);
        let ok = (!b.make_source || mkdir_all(rec, &format!("mkdir_{}_source", b.kind.replace('-', "_")), &b.source))
            && mkdir_all(
                rec,
                &format!("mkdir_{}_root_parent", b.kind.replace('-', "_")),
                &gopath::dir(&b.root),
            );
        if ok {
            let detail = Some(format!(
                "flags=0x{flags:08X} root={} target={} job=silo",
                b.root, b.source
            ));
            match bf.setup_filter(job.as_raw_handle(), flags, &b.root, &b.source) {
                Ok(()) => {
                    rec.ok(&step, detail);
                    binding.bound = true;
                }
                Err(err) => {
                    let mut text = format!(
                        "failed to bind target {} to root {} for job object: {}",
                        gopath::go_quote(&b.source),
                        gopath::go_quote(&b.root),
                        go_text(err)
                    );
                    if b.kind == "rootfs" {
                        text = format!("failed to bind rootfs to {}: {text}", b.root);
                    }
                    rec.fail(
                        Step::win_failed(&step, err, system_message(err), detail),
                        text,
                        Failure::Setup,
                    );
                }
            }
        }
        let bound = binding.bound;
        silo.bindings.push(binding);
        if !bound {
            return false;
        }
    }
    true
}

/// `AssignProcessToJobObject` then `ResumeThread`; terminates the child if either fails.
fn start_suspended(rec: &mut Recorder, job: &OwnedHandle, process: &OwnedHandle, thread: &OwnedHandle) -> bool {
    // SAFETY: both handles are valid; the process is suspended and not yet in any job of ours.
    let ok = unsafe { AssignProcessToJobObject(job.as_raw_handle(), process.as_raw_handle()) } != 0;
    let err = last_error();
    let mut started = record_bool(rec, "AssignProcessToJobObject", ok, err, None, None);
    if started {
        // SAFETY: `thread` is the child's suspended main thread.
        let previous = unsafe { ResumeThread(thread.as_raw_handle()) };
        let err = last_error();
        started = record_bool(rec, "ResumeThread", previous != u32::MAX, err, None, None);
    }
    if !started {
        // SAFETY: `process` is valid; the child never ran.
        unsafe { TerminateProcess(process.as_raw_handle(), 1) };
    }
    started
}

/// Waits for the child (up to `--timeout`), then reads its exit code.
fn wait(
    rec: &mut Recorder,
    a: &InSiloArgs,
    silo: &mut SiloInfo,
    job: &OwnedHandle,
    process: &OwnedHandle,
) -> Option<u32> {
    let millis = a.timeout_secs.map_or(INFINITE, |s| {
        u32::try_from(s.saturating_mul(1000)).unwrap_or(INFINITE - 1)
    });
    // SAFETY: `process` is a valid process handle.
    let waited = unsafe { WaitForSingleObject(process.as_raw_handle(), millis) };
    if waited == WAIT_TIMEOUT {
        silo.timed_out = true;
        // SAFETY: `job` is valid; every process in the silo is ended.
        unsafe { TerminateJobObject(job.as_raw_handle(), 1) };
        // SAFETY: as above.
        unsafe { WaitForSingleObject(process.as_raw_handle(), INFINITE) };
        rec.fail(
            Step::failed(
                "wait",
                "the child was still running at the timeout; the silo's job was terminated",
                None,
            ),
            format!("timed out after {} s", a.timeout_secs.unwrap_or_default()),
            Failure::Setup,
        );
        return None;
    }
    if waited != WAIT_OBJECT_0 {
        record_bool(rec, "WaitForSingleObject", false, last_error(), None, None);
        return None;
    }
    let mut code = 0u32;
    // SAFETY: `process` is valid and `code` writable.
    let ok = unsafe { GetExitCodeProcess(process.as_raw_handle(), &mut code) } != 0;
    let err = last_error();
    if !record_bool(
        rec,
        "GetExitCodeProcess",
        ok,
        err,
        None,
        Some(format!("exit code {code}")),
    ) {
        return None;
    }
    Some(code)
}
