//! Where the probe runs: job and silo membership, token user and privileges, the HostProcess environment,
//! the bindflt service and the OS build; the `context` subcommand.

use std::ffi::c_void;
use std::mem::{size_of, zeroed};
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::ptr::{null, null_mut};

use windows_sys::Wdk::System::SystemServices::RtlGetVersion;
use windows_sys::Win32::Foundation::{ERROR_NOT_ALL_ASSIGNED, HANDLE, LUID, LocalFree};
use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
use windows_sys::Win32::Security::{
    AdjustTokenPrivileges, GetTokenInformation, LUID_AND_ATTRIBUTES, LookupAccountSidW, LookupPrivilegeNameW,
    LookupPrivilegeValueW, SE_PRIVILEGE_ENABLED, SE_PRIVILEGE_ENABLED_BY_DEFAULT, SID_NAME_USE,
    TOKEN_ADJUST_PRIVILEGES, TOKEN_ELEVATION, TOKEN_INFORMATION_CLASS, TOKEN_PRIVILEGES, TOKEN_QUERY, TOKEN_USER,
    TokenElevation, TokenPrivileges, TokenUser,
};
use windows_sys::Win32::System::JobObjects::IsProcessInJob;
use windows_sys::Win32::System::Registry::{HKEY_LOCAL_MACHINE, RRF_RT_REG_DWORD, RRF_RT_REG_SZ, RegGetValueW};
use windows_sys::Win32::System::Services::{
    CloseServiceHandle, OpenSCManagerW, OpenServiceW, QueryServiceStatusEx, SC_HANDLE, SC_MANAGER_CONNECT,
    SC_STATUS_PROCESS_INFO, SERVICE_QUERY_STATUS, SERVICE_STATUS_PROCESS,
};
use windows_sys::Win32::System::SystemInformation::OSVERSIONINFOW;
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

use super::silo::{query_limits, query_silo};
use super::{from_wide, last_error, system32, wide, win_step};
use crate::hresult::WinError;
use crate::report::{
    ContextInfo, Failure, FileCheck, KeyPrivilege, OsInfo, Privilege, Recorder, Report, ServiceInfo, UserInfo,
    service_state_name,
};

/// `context`: every fact is gathered independently; a query that fails leaves its field null and
/// lists its failing step, without changing the exit code.
pub fn context() -> Report {
    let mut rec = Recorder::new();
    let mut c = ContextInfo {
        pid: std::process::id(),
        exe: std::env::current_exe().ok().map(|p| p.display().to_string()),
        container_sandbox_mount_point: std::env::var("CONTAINER_SANDBOX_MOUNT_POINT").ok(),
        temp_dir: Some(std::env::temp_dir().display().to_string()),
        ..ContextInfo::default()
    };

    token(&mut rec, &mut c);
    job(&mut rec, &mut c);
    c.bindflt_service = service(&mut rec, "bindflt");
    let sys32 = system32();
    for (dll, slot) in [
        ("bindfltapi.dll", &mut c.bindfltapi_dll),
        ("vmcompute.dll", &mut c.vmcompute_dll),
    ] {
        let path = sys32.join(dll);
        *slot = Some(FileCheck {
            exists: path.is_file(),
            path: path.display().to_string(),
        });
    }
    c.os = os_version(&mut rec);

    let mut report = rec.finish("context");
    report.context = Some(c);
    report
}

fn token(rec: &mut Recorder, c: &mut ContextInfo) {
    let mut raw: HANDLE = null_mut();
    // SAFETY: the pseudo handle of the current process needs no closing; `raw` is writable.
    let ok = unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut raw) } != 0;
    if !ok {
        rec.note(win_step("OpenProcessToken", last_error(), None));
        return;
    }
    // SAFETY: a fresh token handle nothing else owns.
    let token = unsafe { OwnedHandle::from_raw_handle(raw) };
    let h = token.as_raw_handle();

    match token_info(h, TokenUser) {
        Ok(buf) => {
            // SAFETY: a successful TokenUser query fills the buffer with a TOKEN_USER whose SID
            // points into the same buffer; `buf` is 8-byte aligned.
            let sid = unsafe { (*buf.as_ptr().cast::<TOKEN_USER>()).User.Sid };
            c.user = Some(UserInfo {
                name: account_name(sid),
                sid: sid_string(sid),
            });
        }
        Err(err) => rec.note(win_step("GetTokenInformation(TokenUser)", err, None)),
    }

    match token_info(h, TokenElevation) {
        Ok(buf) => {
            // SAFETY: a successful TokenElevation query fills a TOKEN_ELEVATION.
            let e = unsafe { *buf.as_ptr().cast::<TOKEN_ELEVATION>() };
            c.elevated = Some(e.TokenIsElevated != 0);
        }
        Err(err) => rec.note(win_step("GetTokenInformation(TokenElevation)", err, None)),
    }

    match token_info(h, TokenPrivileges) {
        Ok(buf) => {
            let base = buf.as_ptr().cast::<TOKEN_PRIVILEGES>();
            // SAFETY: a successful TokenPrivileges query fills a TOKEN_PRIVILEGES followed by
            // `PrivilegeCount` LUID_AND_ATTRIBUTES entries, all inside `buf`.
            let privileges: &[LUID_AND_ATTRIBUTES] = unsafe {
                let count = (*base).PrivilegeCount as usize;
                std::slice::from_raw_parts((&raw const (*base).Privileges).cast(), count)
            };
            for p in privileges {
                if let Some(name) = privilege_name(p) {
                    c.privileges.push(Privilege {
                        name,
                        enabled: p.Attributes & SE_PRIVILEGE_ENABLED != 0,
                        enabled_by_default: p.Attributes & SE_PRIVILEGE_ENABLED_BY_DEFAULT != 0,
                    });
                }
            }
            let key = |name: &str| {
                let p = c.privileges.iter().find(|p| p.name == name);
                Some(KeyPrivilege {
                    present: p.is_some(),
                    enabled: p.is_some_and(|p| p.enabled),
                })
            };
            c.se_backup = key("SeBackupPrivilege");
            c.se_restore = key("SeRestorePrivilege");
            c.se_tcb = key("SeTcbPrivilege");
        }
        Err(err) => rec.note(win_step("GetTokenInformation(TokenPrivileges)", err, None)),
    }
    c.logon = Some(super::logon::logon_info(rec, h));
}

/// `GetTokenInformation` with the usual two calls; the buffer is 8-byte aligned.
pub(crate) fn token_info(token: HANDLE, class: TOKEN_INFORMATION_CLASS) -> Result<Vec<u64>, WinError> {
    let mut needed = 0u32;
    // SAFETY: a NULL buffer of length 0 asks for the needed size.
    unsafe { GetTokenInformation(token, class, null_mut(), 0, &mut needed) };
    if needed == 0 {
        return Err(last_error());
    }
    let mut buf = vec![0u64; (needed as usize).div_ceil(8)];
    // SAFETY: `buf` is writable for at least `needed` bytes.
    let ok = unsafe {
        GetTokenInformation(
            token,
            class,
            buf.as_mut_ptr().cast::<c_void>(),
            (buf.len() * 8) as u32,
            &mut needed,
        )
    } != 0;
    if ok { Ok(buf) } else { Err(last_error()) }
}

fn account_name(sid: *mut c_void) -> Option<String> {
    let (mut name_len, mut domain_len) = (0u32, 0u32);
    let mut use_: SID_NAME_USE = 0;
    // SAFETY: NULL buffers with zero lengths ask for the sizes.
    unsafe {
        LookupAccountSidW(
            null(),
            sid,
            null_mut(),
            &mut name_len,
            null_mut(),
            &mut domain_len,
            &mut use_,
        )
    };
    if name_len == 0 {
        return None;
    }
    let mut name = vec![0u16; name_len as usize];
    let mut domain = vec![0u16; domain_len.max(1) as usize];
    // SAFETY: both buffers are writable for the lengths passed.
    let ok = unsafe {
        LookupAccountSidW(
            null(),
            sid,
            name.as_mut_ptr(),
            &mut name_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut use_,
        )
    } != 0;
    if !ok {
        return None;
    }
    let (name, domain) = (from_wide(&name), from_wide(&domain));
    Some(if domain.is_empty() {
        name
    } else {
        format!("{domain}\\{name}")
    })
}

pub(crate) fn sid_string(sid: *mut c_void) -> Option<String> {
    let mut out: *mut u16 = null_mut();
    // SAFETY: `sid` is a valid SID; `out` receives a LocalAlloc'd string.
    if unsafe { ConvertSidToStringSidW(sid, &mut out) } == 0 || out.is_null() {
        return None;
    }
    // SAFETY: `out` is a NUL-terminated UTF-16 string from ConvertSidToStringSidW.
    let s = unsafe {
        let len = (0..).take_while(|&i| *out.add(i) != 0).count();
        String::from_utf16_lossy(std::slice::from_raw_parts(out, len))
    };
    // SAFETY: the string was allocated with LocalAlloc and is not used afterwards.
    unsafe { LocalFree(out.cast()) };
    Some(s)
}

fn privilege_name(p: &LUID_AND_ATTRIBUTES) -> Option<String> {
    let mut buf = [0u16; 128];
    let mut len = buf.len() as u32;
    // SAFETY: `buf` is writable for `len` UTF-16 units.
    let ok = unsafe { LookupPrivilegeNameW(null(), &p.Luid, buf.as_mut_ptr(), &mut len) } != 0;
    ok.then(|| from_wide(&buf))
}

/// The privileges go-winio's `EnableProcessPrivileges` enables before backup-style file access (and the seed's
/// buildkitd process had enabled).
pub(crate) const BACKUP_RESTORE: &[&str] = &["SeBackupPrivilege", "SeRestorePrivilege"];

/// go-winio `EnableProcessPrivileges(names)`: `OpenProcessToken(TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY)`,
/// `LookupPrivilegeValueW` for each, `AdjustTokenPrivileges`, where ERROR_NOT_ALL_ASSIGNED is a failure.
/// Recorded as `AdjustTokenPrivileges`; a failure is a setup failure.
pub(crate) fn enable_privileges(rec: &mut Recorder, names: &[&str]) -> bool {
    const STEP: &str = "AdjustTokenPrivileges";
    let detail = Some(names.join(","));
    let fail = |rec: &mut Recorder, err: WinError| {
        let text = format!("could not enable {}: {}", names.join(", "), super::go_text(err));
        rec.fail(win_step(STEP, err, detail.clone()), text, Failure::Setup);
        false
    };
    let mut raw: HANDLE = null_mut();
    // SAFETY: the current-process pseudo handle; `raw` is writable.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &mut raw) } == 0 {
        return fail(rec, last_error());
    }
    // SAFETY: a fresh token handle nothing else owns.
    let token = unsafe { OwnedHandle::from_raw_handle(raw) };
    // TOKEN_PRIVILEGES with room for every entry: the header's one entry plus the rest, 8-byte aligned.
    let words = (size_of::<TOKEN_PRIVILEGES>() + names.len() * size_of::<LUID_AND_ATTRIBUTES>()).div_ceil(8);
    let mut buf = vec![0u64; words];
    let tp = buf.as_mut_ptr().cast::<TOKEN_PRIVILEGES>();
    for (i, name) in names.iter().enumerate() {
        let wname = wide(name);
        // SAFETY: LUID is plain data.
        let mut luid: LUID = unsafe { zeroed() };
        // SAFETY: `wname` is NUL-terminated and `luid` writable.
        if unsafe { LookupPrivilegeValueW(null(), wname.as_ptr(), &mut luid) } == 0 {
            return fail(rec, last_error());
        }
        // SAFETY: entry `i` lies inside `buf`, which has room for `names.len()` entries after the count.
        unsafe {
            let entry = (&raw mut (*tp).Privileges).cast::<LUID_AND_ATTRIBUTES>().add(i);
            entry.write(LUID_AND_ATTRIBUTES {
                Luid: luid,
                Attributes: SE_PRIVILEGE_ENABLED,
            });
        }
    }
    // SAFETY: `tp` points into `buf`.
    unsafe { (*tp).PrivilegeCount = names.len() as u32 };
    // SAFETY: the token was opened for adjusting; `tp` is a TOKEN_PRIVILEGES with `PrivilegeCount` entries;
    // no previous state is requested.
    let ok = unsafe { AdjustTokenPrivileges(token.as_raw_handle(), 0, tp, 0, null_mut(), null_mut()) } != 0;
    // AdjustTokenPrivileges succeeds even when it assigned nothing; the last error tells.
    let err = last_error();
    if !ok || err.win32 == Some(ERROR_NOT_ALL_ASSIGNED) {
        return fail(rec, err);
    }
    rec.ok(STEP, detail);
    true
}

fn job(rec: &mut Recorder, c: &mut ContextInfo) {
    let mut in_job = 0;
    // SAFETY: the current-process pseudo handle and NULL (any job) are valid; `in_job` is writable.
    if unsafe { IsProcessInJob(GetCurrentProcess(), null_mut(), &mut in_job) } == 0 {
        rec.note(win_step("IsProcessInJob", last_error(), None));
    } else {
        c.in_job = Some(in_job != 0);
        rec.ok("IsProcessInJob", Some((in_job != 0).to_string()));
    }
    if c.in_job == Some(true) {
        match query_limits(null_mut()) {
            Ok(l) => {
                c.job_limit_flags = Some(format!("0x{:08X}", l.BasicLimitInformation.LimitFlags));
                rec.ok("QueryInformationJobObject(JobObjectExtendedLimitInformation)", None);
            }
            Err(err) => rec.note(win_step(
                "QueryInformationJobObject(JobObjectExtendedLimitInformation)",
                err,
                None,
            )),
        }
    }
    // The query fails when this process's job is not a silo (or there is no job).
    match query_silo(null_mut()) {
        Ok(info) => {
            c.in_silo = true;
            c.silo = Some(info);
            rec.ok(
                "QueryInformationJobObject(JobObjectSiloBasicInformation)",
                Some(format!("silo_id={}", info.silo_id)),
            );
        }
        Err(err) => rec.note(win_step(
            "QueryInformationJobObject(JobObjectSiloBasicInformation)",
            err,
            Some("not a silo".to_owned()),
        )),
    }
}

/// Closes a service-control-manager handle on drop.
struct ScHandle(SC_HANDLE);

impl Drop for ScHandle {
    fn drop(&mut self) {
        // SAFETY: the handle came from OpenSCManagerW / OpenServiceW and is closed once.
        unsafe { CloseServiceHandle(self.0) };
    }
}

fn service(rec: &mut Recorder, name: &str) -> Option<ServiceInfo> {
    // SAFETY: local machine, default database.
    let scm = unsafe { OpenSCManagerW(null(), null(), SC_MANAGER_CONNECT) };
    if scm.is_null() {
        rec.note(win_step("OpenSCManagerW", last_error(), None));
        return None;
    }
    let scm = ScHandle(scm);
    let wname = wide(name);
    // SAFETY: `scm` is open and `wname` NUL-terminated.
    let svc = unsafe { OpenServiceW(scm.0, wname.as_ptr(), SERVICE_QUERY_STATUS) };
    if svc.is_null() {
        rec.note(win_step("OpenServiceW", last_error(), Some(name.to_owned())));
        return None;
    }
    let svc = ScHandle(svc);
    // SAFETY: SERVICE_STATUS_PROCESS is plain data; all-zero is a valid value.
    let mut status: SERVICE_STATUS_PROCESS = unsafe { zeroed() };
    let mut needed = 0u32;
    // SAFETY: `status` is writable for its size.
    let ok = unsafe {
        QueryServiceStatusEx(
            svc.0,
            SC_STATUS_PROCESS_INFO,
            (&raw mut status).cast::<u8>(),
            size_of::<SERVICE_STATUS_PROCESS>() as u32,
            &mut needed,
        )
    } != 0;
    if !ok {
        rec.note(win_step("QueryServiceStatusEx", last_error(), Some(name.to_owned())));
        return None;
    }
    let state = service_state_name(status.dwCurrentState);
    rec.ok("QueryServiceStatusEx", Some(format!("{name}: {state}")));
    Some(ServiceInfo {
        name: name.to_owned(),
        state,
        state_code: status.dwCurrentState,
        service_type: status.dwServiceType,
    })
}

const CURRENT_VERSION: &str = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion";

fn reg_dword(value: &str) -> Result<u32, WinError> {
    let (key, wvalue) = (wide(CURRENT_VERSION), wide(value));
    let mut data = 0u32;
    let mut size = size_of::<u32>() as u32;
    // SAFETY: `data` is writable for `size` bytes; both names are NUL-terminated.
    let rc = unsafe {
        RegGetValueW(
            HKEY_LOCAL_MACHINE,
            key.as_ptr(),
            wvalue.as_ptr(),
            RRF_RT_REG_DWORD,
            null_mut(),
            (&raw mut data).cast::<c_void>(),
            &mut size,
        )
    };
    if rc == 0 {
        Ok(data)
    } else {
        Err(WinError::from_win32(rc))
    }
}

fn reg_string(value: &str) -> Result<String, WinError> {
    let (key, wvalue) = (wide(CURRENT_VERSION), wide(value));
    let mut buf = vec![0u16; 256];
    let mut size = (buf.len() * 2) as u32;
    // SAFETY: `buf` is writable for `size` bytes; both names are NUL-terminated.
    let rc = unsafe {
        RegGetValueW(
            HKEY_LOCAL_MACHINE,
            key.as_ptr(),
            wvalue.as_ptr(),
            RRF_RT_REG_SZ,
            null_mut(),
            buf.as_mut_ptr().cast::<c_void>(),
            &mut size,
        )
    };
    if rc == 0 {
        Ok(from_wide(&buf))
    } else {
        Err(WinError::from_win32(rc))
    }
}

fn os_version(rec: &mut Recorder) -> Option<OsInfo> {
    // SAFETY: OSVERSIONINFOW is plain data; all-zero is a valid value.
    let mut v: OSVERSIONINFOW = unsafe { zeroed() };
    v.dwOSVersionInfoSize = size_of::<OSVERSIONINFOW>() as u32;
    // SAFETY: `v` is writable and its size field is set.
    let status = unsafe { RtlGetVersion(&mut v) };
    if status != 0 {
        rec.note(crate::report::Step::failed(
            "RtlGetVersion",
            format!("NTSTATUS 0x{:08X}", status as u32),
            None,
        ));
        return None;
    }
    rec.ok("RtlGetVersion", None);
    let ubr = match reg_dword("UBR") {
        Ok(u) => Some(u),
        Err(err) => {
            rec.note(win_step("RegGetValueW(UBR)", err, None));
            None
        }
    };
    let product = reg_string("ProductName").ok();
    Some(OsInfo::new(
        v.dwMajorVersion,
        v.dwMinorVersion,
        v.dwBuildNumber,
        ubr,
        product,
    ))
}
