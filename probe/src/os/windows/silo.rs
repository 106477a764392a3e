//! Job objects and silos: create a kill-on-close job, promote it to a silo (hcsshim `internal/jobobject`
//! `Create` with `Silo: true`), start a program inside it and relay its output and exit code; `in-silo`.

use std::ffi::c_void;
use std::io::Read;
use std::mem::{size_of, size_of_val, zeroed};
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::ptr::{null, null_mut};

use windows_sys::Win32::Foundation::{HANDLE, HANDLE_FLAG_INHERIT, SetHandleInformation, WAIT_OBJECT_0, WAIT_TIMEOUT};
use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectCreateSilo, JobObjectExtendedLimitInformation,
    JobObjectSiloBasicInformation, QueryInformationJobObject, SetInformationJobObject, TerminateJobObject,
};
use windows_sys::Win32::System::Pipes::CreatePipe;
use windows_sys::Win32::System::SystemServices::SILOOBJECT_BASIC_INFORMATION;
use windows_sys::Win32::System::Threading::{
    CREATE_BREAKAWAY_FROM_JOB, CREATE_SUSPENDED, CREATE_UNICODE_ENVIRONMENT, CreateProcessW,
    DeleteProcThreadAttributeList, EXTENDED_STARTUPINFO_PRESENT, GetExitCodeProcess, INFINITE,
    InitializeProcThreadAttributeList, LPPROC_THREAD_ATTRIBUTE_LIST, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
    PROC_THREAD_ATTRIBUTE_JOB_LIST, PROCESS_INFORMATION, ResumeThread, STARTF_USESTDHANDLES, STARTUPINFOEXW,
    STARTUPINFOW, TerminateProcess, UpdateProcThreadAttribute, WaitForSingleObject,
};

use super::bindflt::{BindFilter, mkdir_all};
use super::{go_text, last_error, system_message, wide, win_step};
use crate::args::{Assign, InSiloArgs};
use crate::hresult::WinError;
use crate::report::{ChildInfo, Failure, Recorder, Report, SiloBasic, SiloBinding, SiloInfo, Step};
use crate::{cmdline, gopath};

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
        ..ChildInfo::default()
    };
    let exit = run(a, &command_line, &mut rec, &mut silo, &mut child);
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

/// Makes the silo, runs the child; returns its exit code when it ran to its end.
fn run(
    a: &InSiloArgs,
    command_line: &str,
    rec: &mut Recorder,
    silo: &mut SiloInfo,
    child: &mut ChildInfo,
) -> Option<u32> {
    // hcsshim jobobject.Create: CreateJobObject(nil, name).
    // SAFETY: default security, no name.
    let raw = unsafe { CreateJobObjectW(null(), null()) };
    let err = last_error();
    if !record_bool(rec, "CreateJobObjectW", !raw.is_null(), err, None, None) {
        return None;
    }
    // SAFETY: a fresh handle nothing else owns; closing it kills the silo's processes.
    let job = unsafe { OwnedHandle::from_raw_handle(raw) };
    silo.job_created = true;

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
    // SAFETY: `limits` is a valid JOBOBJECT_EXTENDED_LIMIT_INFORMATION of the size passed.
    let ok = unsafe {
        SetInformationJobObject(
            job.as_raw_handle(),
            JobObjectExtendedLimitInformation,
            (&raw const limits).cast::<c_void>(),
            size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        )
    } != 0;
    let err = last_error();
    let detail = Some(format!(
        "LimitFlags=0x{:08X} (KILL_ON_JOB_CLOSE)",
        limits.BasicLimitInformation.LimitFlags
    ));
    if !record_bool(
        rec,
        "SetInformationJobObject(JobObjectExtendedLimitInformation)",
        ok,
        err,
        None,
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

    if !silo_bindings(a, rec, silo, &job) {
        return None;
    }

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
    let mut flags = EXTENDED_STARTUPINFO_PRESENT | CREATE_UNICODE_ENVIRONMENT;
    if a.assign == Assign::Suspended {
        flags |= CREATE_SUSPENDED;
    }
    if a.breakaway {
        flags |= CREATE_BREAKAWAY_FROM_JOB;
    }
    let mut wcmd = wide(command_line);
    // SAFETY: PROCESS_INFORMATION is plain data; all-zero is a valid value.
    let mut pi: PROCESS_INFORMATION = unsafe { zeroed() };
    // SAFETY: `wcmd` is a writable NUL-terminated buffer (CreateProcessW may modify it); `si` is a
    // STARTUPINFOEXW announced by EXTENDED_STARTUPINFO_PRESENT whose attribute list and the handles
    // and job it refers to are alive; `pi` is writable. The environment and directory are inherited.
    let ok = unsafe {
        CreateProcessW(
            null(),
            wcmd.as_mut_ptr(),
            null(),
            null(),
            1,
            flags,
            null(),
            null(),
            (&raw const si).cast::<STARTUPINFOW>(),
            &mut pi,
        )
    } != 0;
    let err = last_error();
    drop(attrs);
    // The child holds its own copies now; ours must go so the pipes reach EOF when it exits.
    drop((nul, out_write, err_write));
    if !record_bool(
        rec,
        "CreateProcessW",
        ok,
        err,
        Some(format!("start {}: {}", command_line, go_text(err))),
        Some(command_line.to_owned()),
    ) {
        return None;
    }
    // SAFETY: CreateProcessW returned fresh process and thread handles that nothing else owns.
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

/// `--silo-bind SRC DST`: hcsshim `JobObject.ApplyFileBinding(root = DST, target = SRC, readOnly = false)`, as
/// HostProcess containers bind their rootfs at `C:\hpc`: `MkdirAll(filepath.Dir(root))`, then
/// `BfSetupFilter(job, USE_CURRENT_SILO_MAPPING, root, target, NULL, 0)`. SRC is created when missing.
fn silo_bindings(a: &InSiloArgs, rec: &mut Recorder, silo: &mut SiloInfo, job: &OwnedHandle) -> bool {
    if a.silo_binds.is_empty() {
        return true;
    }
    let wrap = |e: String| e;
    let Some(bf) = BindFilter::load(rec, &wrap) else {
        return false;
    };
    let flags = gopath::BINDFLT_FLAG_USE_CURRENT_SILO_MAPPING;
    for (source, root) in &a.silo_binds {
        let mut binding = SiloBinding {
            source: source.clone(),
            root: root.clone(),
            flags: format!("0x{flags:08X}"),
            bound: false,
        };
        let ok = mkdir_all(rec, "mkdir_silo_bind_source", source)
            && mkdir_all(rec, "mkdir_silo_bind_root_parent", &gopath::dir(root));
        if ok {
            let detail = Some(format!("flags=0x{flags:08X} root={root} target={source} job=silo"));
            match bf.setup_filter(job.as_raw_handle(), flags, root, source) {
                Ok(()) => {
                    rec.ok("BfSetupFilter(silo)", detail);
                    binding.bound = true;
                }
                Err(err) => {
                    let text = format!(
                        "failed to bind target {} to root {} for job object: {}",
                        gopath::go_quote(source),
                        gopath::go_quote(root),
                        go_text(err)
                    );
                    rec.fail(
                        Step::win_failed("BfSetupFilter(silo)", err, system_message(err), detail),
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
