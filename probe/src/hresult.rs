//! Windows error codes: HRESULT / Win32 decoding as go-winio's generated syscall wrappers do it.
//!
//! go-winio (`mkwinsyscall`, e.g. `pkg/bindfilter/zsyscall_windows.go`) turns a failing HRESULT `r0`
//! into a Go error like this:
//!
//! ```text
//! if int32(r0) < 0 {
//!     if r0&0x1fff0000 == 0x00070000 { r0 &= 0xffff }
//!     hr = syscall.Errno(r0)
//! }
//! ```
//!
//! so `0x80070005` becomes `Errno(5)`, whose text is the system message "Access is denied.", and a
//! non-Win32 HRESULT such as `0xC0370101` stays whole. hcsshim's vmcompute wrappers do the same.

use std::fmt;

/// Mask and value go-winio uses to recognise an HRESULT that wraps a Win32 error code
/// (facility `FACILITY_WIN32` = 7, the N and X bits clear).
const WIN32_FACILITY_MASK: u32 = 0x1fff_0000;
const WIN32_FACILITY_VALUE: u32 = 0x0007_0000;

/// One Windows failure: the HRESULT, and the Win32 error code when the HRESULT carries one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WinError {
    /// The 32-bit HRESULT (for a Win32 error: `HRESULT_FROM_WIN32(code)`).
    pub hresult: u32,
    /// The Win32 error code, when `hresult` is in the Win32 facility.
    pub win32: Option<u32>,
}

impl WinError {
    /// Decodes an HRESULT returned by an API (bindfltapi.dll, vmcompute.dll) as go-winio does.
    pub fn from_hresult(hresult: u32) -> Self {
        let win32 = if hresult & WIN32_FACILITY_MASK == WIN32_FACILITY_VALUE {
            Some(hresult & 0xffff)
        } else {
            None
        };
        Self { hresult, win32 }
    }

    /// Wraps a Win32 error code (`GetLastError`, `WIN32_ERROR` return values) as `HRESULT_FROM_WIN32`.
    pub fn from_win32(code: u32) -> Self {
        let hresult = if code as i32 <= 0 {
            code
        } else {
            (code & 0xffff) | 0x8007_0000
        };
        Self {
            hresult,
            win32: Some(code),
        }
    }

    /// True when an HRESULT signals failure (`FAILED(hr)`: the severity bit is set).
    pub fn failed(hresult: u32) -> bool {
        (hresult as i32) < 0
    }

    /// The value go-winio stores in `syscall.Errno`: the Win32 code when there is one, else the
    /// whole HRESULT. It is also the message id go-winio hands to `FormatMessageW`.
    pub fn go_errno(&self) -> u32 {
        self.win32.unwrap_or(self.hresult)
    }

    /// The HRESULT as the report writes it: `0x80070005`.
    pub fn hresult_hex(&self) -> String {
        format!("0x{:08X}", self.hresult)
    }

    /// What Go's `syscall.Errno.Error()` prints for this error, given the system message
    /// (`FormatMessageW`, trailing CR/LF removed) if there is one: the message, or
    /// `winapi error #<decimal>` when the system has none.
    pub fn go_text(&self, message: Option<&str>) -> String {
        match message {
            Some(m) if !m.is_empty() => m.to_owned(),
            _ => format!("winapi error #{}", self.go_errno()),
        }
    }

    /// hcsshim's `hcserror.HcsError` text: `<title> failed in Win32: <errno text> (0x<errno>)`
    /// followed by `rest` when it is not empty (hcsshim v0.14 `internal/hcserror`).
    pub fn hcs_text(&self, title: &str, message: Option<&str>, rest: &str) -> String {
        let mut s = title.to_owned();
        if !s.is_empty() && !s.ends_with(' ') {
            s.push(' ');
        }
        s.push_str(&format!(
            "failed in Win32: {} (0x{:x})",
            self.go_text(message),
            self.go_errno()
        ));
        if !rest.is_empty() {
            if !rest.starts_with(' ') {
                s.push(' ');
            }
            s.push_str(rest);
        }
        s
    }
}

impl fmt::Display for WinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.win32 {
            Some(code) => write!(f, "{} (win32 {code})", self.hresult_hex()),
            None => f.write_str(&self.hresult_hex()),
        }
    }
}

/// Removes what `FormatMessageW` leaves at the end of a message, exactly as Go does: trailing
/// `\r` and `\n` only (the final period stays: "Access is denied.").
pub fn trim_system_message(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_hresult_carries_win32_5() {
        let e = WinError::from_hresult(0x8007_0005);
        assert_eq!(e.win32, Some(5));
        assert_eq!(e.go_errno(), 5);
        assert_eq!(e.hresult_hex(), "0x80070005");
        assert_eq!(e.to_string(), "0x80070005 (win32 5)");
    }

    #[test]
    fn non_win32_facilities_stay_whole() {
        // HCS facility (0x37) and an NTSTATUS-style value: no Win32 code.
        for hr in [0xC037_0101u32, 0x8037_0100, 0xC000_0022, 0x8000_4005] {
            let e = WinError::from_hresult(hr);
            assert_eq!(e.win32, None, "{hr:#x}");
            assert_eq!(e.go_errno(), hr);
        }
    }

    #[test]
    fn the_n_and_x_bits_exclude_the_win32_reading() {
        // 0x90070005 has the N bit set: go-winio's mask (0x1fff0000) does not match.
        assert_eq!(WinError::from_hresult(0x9007_0005).win32, None);
        assert_eq!(WinError::from_hresult(0x8807_0005).win32, None);
    }

    #[test]
    fn win32_round_trips_through_hresult_from_win32() {
        for code in [2u32, 5, 32, 87, 1073, 0x2_0001] {
            let e = WinError::from_win32(code);
            assert_eq!(e.win32, Some(code));
            assert_eq!(e.hresult, 0x8007_0000 | (code & 0xffff));
        }
        assert_eq!(WinError::from_win32(0).hresult, 0);
    }

    #[test]
    fn failed_is_the_severity_bit() {
        assert!(WinError::failed(0x8007_0005));
        assert!(WinError::failed(0xC037_0101));
        assert!(!WinError::failed(0));
        assert!(!WinError::failed(1)); // S_FALSE
    }

    #[test]
    fn go_text_falls_back_like_syscall_errno() {
        let e = WinError::from_hresult(0xC037_0101);
        assert_eq!(e.go_text(None), "winapi error #3224830209");
        assert_eq!(
            WinError::from_win32(5).go_text(Some("Access is denied.")),
            "Access is denied."
        );
    }

    #[test]
    fn hcs_text_matches_hcserror() {
        let e = WinError::from_hresult(0x8007_0005);
        assert_eq!(
            e.hcs_text("hcsshim::ActivateLayer", Some("Access is denied."), ""),
            "hcsshim::ActivateLayer failed in Win32: Access is denied. (0x5)"
        );
        assert_eq!(
            e.hcs_text("hcsshim::GetLayerMountPath", Some("Access is denied."), "(first call)"),
            "hcsshim::GetLayerMountPath failed in Win32: Access is denied. (0x5) (first call)"
        );
        let hcs = WinError::from_hresult(0xC037_0101);
        assert_eq!(
            hcs.hcs_text("hcsshim::PrepareLayer", None, ""),
            "hcsshim::PrepareLayer failed in Win32: winapi error #3224830209 (0xc0370101)"
        );
    }

    #[test]
    fn trims_like_go() {
        assert_eq!(trim_system_message("Access is denied.\r\n"), "Access is denied.");
        assert_eq!(trim_system_message("Zugriff verweigert\r\n\r\n"), "Zugriff verweigert");
        assert_eq!(trim_system_message(" x \r"), " x ");
    }
}
