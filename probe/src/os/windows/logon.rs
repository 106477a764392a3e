//! Tokens for the `in-silo` child: hcsshim's `LogonUser(SYSTEM, NT AUTHORITY, LOGON32_LOGON_SERVICE)`, the token's environment block, and what a token's logon session is (`context`).

use std::ffi::c_void;
use std::os::windows::io::{FromRawHandle, OwnedHandle};
use std::ptr::{null, null_mut};

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::Security::Authentication::Identity::{
    LsaFreeReturnBuffer, LsaGetLogonSessionData, SECURITY_LOGON_SESSION_DATA,
};
use windows_sys::Win32::Security::{
    LOGON32_LOGON_SERVICE, LOGON32_PROVIDER_DEFAULT, LogonUserW, TOKEN_GROUPS, TOKEN_STATISTICS, TokenGroups,
    TokenPrimary, TokenStatistics,
};
use windows_sys::Win32::System::Environment::{CreateEnvironmentBlock, DestroyEnvironmentBlock};

use super::context::{sid_string, token_info};
use super::{last_error, wide, win_step};
use crate::hostprocess;
use crate::hresult::WinError;
use crate::report::{LogonInfo, Recorder, logon_type_name, well_known_logon_group};

/// hcsshim `processToken` for `NT AUTHORITY\SYSTEM` (logon.go:143-158): `LogonUserW("SYSTEM", "NT AUTHORITY",
/// NULL, LOGON32_LOGON_SERVICE, LOGON32_PROVIDER_DEFAULT)`. Needs SeTcbPrivilege.
pub(crate) fn system_service_token() -> Result<OwnedHandle, WinError> {
    let (user, domain) = (wide("SYSTEM"), wide("NT AUTHORITY"));
    let mut token: HANDLE = null_mut();
    // SAFETY: both strings are NUL-terminated; a NULL password is what hcsshim passes for service accounts;
    // `token` is writable.
    let ok = unsafe {
        LogonUserW(
            user.as_ptr(),
            domain.as_ptr(),
            null(),
            LOGON32_LOGON_SERVICE,
            LOGON32_PROVIDER_DEFAULT,
            &mut token,
        )
    } != 0;
    if !ok {
        return Err(last_error());
    }
    // SAFETY: LogonUserW returned a fresh token handle nothing else owns.
    Ok(unsafe { OwnedHandle::from_raw_handle(token) })
}

/// hcsshim `defaultEnvBlock` (env.go:25): `CreateEnvironmentBlock(&block, token, FALSE)`, as a list.
pub(crate) fn environment(token: HANDLE) -> Result<Vec<String>, WinError> {
    let mut block: *mut c_void = null_mut();
    // SAFETY: `block` is writable; `token` is a valid token handle with TOKEN_QUERY | TOKEN_DUPLICATE.
    if unsafe { CreateEnvironmentBlock(&mut block, token, 0) } == 0 {
        return Err(last_error());
    }
    let mut len = 0usize;
    // SAFETY: a block from CreateEnvironmentBlock ends with two NULs; the scan stops there.
    let units = unsafe {
        let p = block.cast::<u16>();
        while !(*p.add(len) == 0 && *p.add(len + 1) == 0) {
            len += 1;
        }
        std::slice::from_raw_parts(p, len + 2).to_vec()
    };
    // SAFETY: `block` came from CreateEnvironmentBlock and is destroyed once.
    unsafe { DestroyEnvironmentBlock(block) };
    Ok(hostprocess::parse_environment_block(&units))
}

/// The token's logon session: its id, LSA's logon type, the well-known logon groups, primary or impersonation.
pub(crate) fn logon_info(rec: &mut Recorder, token: HANDLE) -> LogonInfo {
    let mut info = LogonInfo::default();
    match token_info(token, TokenStatistics) {
        Ok(buf) => {
            // SAFETY: a successful TokenStatistics query fills a TOKEN_STATISTICS; `buf` is 8-byte aligned.
            let stats = unsafe { *buf.as_ptr().cast::<TOKEN_STATISTICS>() };
            let id = stats.AuthenticationId;
            info.logon_id = Some(format!("0x{:08X}:{:08X}", id.HighPart as u32, id.LowPart));
            info.token_type = Some(
                if stats.TokenType == TokenPrimary {
                    "primary"
                } else {
                    "impersonation"
                }
                .to_owned(),
            );
            let mut data: *mut SECURITY_LOGON_SESSION_DATA = null_mut();
            // SAFETY: `id` is a LUID and `data` writable; LSA allocates the result.
            let status = unsafe { LsaGetLogonSessionData(&id, &mut data) };
            if status == 0 && !data.is_null() {
                // SAFETY: LSA returned a valid SECURITY_LOGON_SESSION_DATA, freed once below.
                let logon_type = unsafe { (*data).LogonType };
                info.logon_type = Some(logon_type);
                info.logon_type_name = Some(logon_type_name(logon_type));
                // SAFETY: `data` came from LsaGetLogonSessionData.
                unsafe { LsaFreeReturnBuffer(data.cast::<c_void>()) };
            } else {
                let err = WinError::from_hresult(0x1000_0000 | status as u32);
                rec.note(win_step(
                    "LsaGetLogonSessionData",
                    err,
                    Some(format!("NTSTATUS 0x{:08X}", status as u32)),
                ));
            }
        }
        Err(err) => rec.note(win_step("GetTokenInformation(TokenStatistics)", err, None)),
    }
    match token_info(token, TokenGroups) {
        Ok(buf) => {
            let base = buf.as_ptr().cast::<TOKEN_GROUPS>();
            // SAFETY: a successful TokenGroups query fills a TOKEN_GROUPS followed by `GroupCount`
            // SID_AND_ATTRIBUTES entries whose SIDs point into the same buffer.
            let groups: &[windows_sys::Win32::Security::SID_AND_ATTRIBUTES] =
                unsafe { std::slice::from_raw_parts((&raw const (*base).Groups).cast(), (*base).GroupCount as usize) };
            for g in groups {
                if let Some(name) = sid_string(g.Sid).as_deref().and_then(well_known_logon_group) {
                    info.logon_groups.push(name.to_owned());
                }
            }
        }
        Err(err) => rec.note(win_step("GetTokenInformation(TokenGroups)", err, None)),
    }
    info
}
