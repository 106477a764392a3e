//! Shared Windows helpers: UTF-16 strings, last-error capture, system messages, DLLs loaded from System32.

mod bindflt;
mod context;
mod fltmgr;
mod layer;
mod logon;
mod silo;
mod task;

pub use context::context;
pub use task::as_system;

use crate::args::{BindArgs, InSiloArgs, LayerArgs};
use crate::report::Report;

/// `bind`, between two listings of the bind filter's instances.
pub fn bind(a: &BindArgs) -> Report {
    fltmgr::around(|| bindflt::bind(a))
}

/// `layer`, between two listings of the bind filter's instances.
pub fn layer(a: &LayerArgs) -> Report {
    fltmgr::around(|| layer::layer(a))
}

/// `in-silo`, between two listings of the bind filter's instances.
pub fn in_silo(a: &InSiloArgs) -> Report {
    fltmgr::around(|| silo::in_silo(a))
}

use std::ffi::{CStr, OsStr};
use std::os::windows::ffi::OsStrExt;
use std::path::PathBuf;

use windows_sys::Win32::Foundation::{FARPROC, GetLastError, HMODULE};
use windows_sys::Win32::System::Diagnostics::Debug::{
    FORMAT_MESSAGE_ARGUMENT_ARRAY, FORMAT_MESSAGE_FROM_SYSTEM, FORMAT_MESSAGE_IGNORE_INSERTS, FormatMessageW,
};
use windows_sys::Win32::System::LibraryLoader::{GetProcAddress, LOAD_LIBRARY_SEARCH_SYSTEM32, LoadLibraryExW};
use windows_sys::Win32::System::SystemInformation::GetSystemDirectoryW;

use crate::hresult::{WinError, trim_system_message};
use crate::report::Step;

/// A NUL-terminated UTF-16 copy of `s` (Go's `syscall.UTF16PtrFromString`; the arguments cannot
/// hold NUL on Windows, so no check is needed beyond that).
pub(crate) fn wide(s: impl AsRef<OsStr>) -> Vec<u16> {
    s.as_ref().encode_wide().chain(std::iter::once(0)).collect()
}

/// The string in a UTF-16 buffer up to its first NUL (lossy, like Go's `UTF16ToString`).
pub(crate) fn from_wide(buf: &[u16]) -> String {
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    String::from_utf16_lossy(&buf[..end])
}

/// The calling thread's last Win32 error.
pub(crate) fn last_error() -> WinError {
    // SAFETY: GetLastError has no preconditions.
    WinError::from_win32(unsafe { GetLastError() })
}

/// The system message for the code go-winio would format (`syscall.Errno.Error()`): US English
/// first, then the language-neutral lookup (which yields the installed UI language, e.g. German).
pub(crate) fn system_message(err: WinError) -> Option<String> {
    let flags = FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_ARGUMENT_ARRAY | FORMAT_MESSAGE_IGNORE_INSERTS;
    let mut buf = [0u16; 512];
    for lang in [0x0409u32, 0] {
        // SAFETY: `buf` is writable for `buf.len()` UTF-16 units; with IGNORE_INSERTS no arguments
        // are read, so the NULL argument array is fine.
        let n = unsafe {
            FormatMessageW(
                flags,
                std::ptr::null(),
                err.go_errno(),
                lang,
                buf.as_mut_ptr(),
                buf.len() as u32,
                std::ptr::null(),
            )
        };
        if n > 0 {
            let text = String::from_utf16_lossy(&buf[..n as usize]);
            return Some(trim_system_message(&text).to_owned());
        }
    }
    None
}

/// A failed step for a Windows error, with the system's message.
pub(crate) fn win_step(name: &str, err: WinError, detail: Option<String>) -> Step {
    Step::win_failed(name, err, system_message(err), detail)
}

/// Go's text for `err` (`syscall.Errno.Error()`).
pub(crate) fn go_text(err: WinError) -> String {
    err.go_text(system_message(err).as_deref())
}

/// The Win32 view of an I/O error from `std` (its raw OS error is the Win32 code on Windows).
pub(crate) fn io_win_error(e: &std::io::Error) -> WinError {
    WinError::from_win32(e.raw_os_error().map_or(31 /* ERROR_GEN_FAILURE */, |c| c as u32))
}

/// `%SystemRoot%\System32`.
pub(crate) fn system32() -> PathBuf {
    let mut buf = [0u16; 512];
    // SAFETY: `buf` is writable for `buf.len()` UTF-16 units.
    let n = unsafe { GetSystemDirectoryW(buf.as_mut_ptr(), buf.len() as u32) } as usize;
    if n == 0 || n >= buf.len() {
        return PathBuf::from(r"C:\Windows\System32");
    }
    PathBuf::from(String::from_utf16_lossy(&buf[..n]))
}

/// A DLL loaded from System32 only, as Go's `windows.NewLazySystemDLL` does
/// (`LoadLibraryExW(name, NULL, LOAD_LIBRARY_SEARCH_SYSTEM32)`). It stays loaded for the process's
/// life, so function pointers taken from it never dangle.
pub(crate) struct SystemDll {
    name: &'static str,
    module: HMODULE,
}

impl SystemDll {
    /// Loads `name` (e.g. `bindfltapi.dll`). The error text is Go's `LazyDLL` wording.
    pub(crate) fn load(name: &'static str) -> Result<Self, (WinError, String)> {
        let wname = wide(name);
        // SAFETY: `wname` is NUL-terminated; the reserved file handle must be NULL.
        let module = unsafe { LoadLibraryExW(wname.as_ptr(), std::ptr::null_mut(), LOAD_LIBRARY_SEARCH_SYSTEM32) };
        if module.is_null() {
            let err = last_error();
            return Err((err, format!("Failed to load {name}: {}", go_text(err))));
        }
        Ok(Self { name, module })
    }

    /// The address of the export `proc`. The error text is Go's `LazyProc.Find` wording.
    pub(crate) fn proc(&self, proc: &CStr) -> Result<FARPROC, (WinError, String)> {
        // SAFETY: `module` is a loaded module handle and `proc` is NUL-terminated.
        let address = unsafe { GetProcAddress(self.module, proc.as_ptr().cast()) };
        if address.is_none() {
            let err = last_error();
            return Err((
                err,
                format!(
                    "Failed to find {} procedure in {}: {}",
                    proc.to_string_lossy(),
                    self.name,
                    go_text(err)
                ),
            ));
        }
        Ok(address)
    }
}
