//! The filter manager's view of the bind filter: its instances (`FilterInstanceFindFirst`/`Next`, fltlib.dll), listed before and after each probe.

use std::ffi::c_void;
use std::mem::size_of;
use std::ptr::null_mut;

use windows_sys::Win32::Foundation::{ERROR_NO_MORE_ITEMS, HANDLE};
use windows_sys::Win32::Storage::InstallableFileSystems::{
    FilterInstanceFindClose, FilterInstanceFindFirst, FilterInstanceFindNext, INSTANCE_FULL_INFORMATION,
    InstanceFullInformation,
};

use super::{system_message, wide};
use crate::hresult::WinError;
use crate::report::{FilterInstance, FilterInstances, InstanceListing, Report};

/// The minifilter whose instances are listed.
pub(crate) const BINDFLT: &str = "bindflt";

/// A UTF-16 string at `offset`, `len` bytes long, inside `buf`.
fn field(buf: &[u8], offset: u16, len: u16) -> String {
    let (start, end) = (offset as usize, offset as usize + len as usize);
    let bytes = buf.get(start..end).unwrap_or_default();
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// One `INSTANCE_FULL_INFORMATION` record in `buf`.
fn instance(buf: &[u8]) -> Option<FilterInstance> {
    if buf.len() < size_of::<INSTANCE_FULL_INFORMATION>() {
        return None;
    }
    // SAFETY: `buf` holds at least one INSTANCE_FULL_INFORMATION (checked above); read_unaligned copies it
    // whatever the buffer's alignment.
    let info: INSTANCE_FULL_INFORMATION = unsafe { std::ptr::read_unaligned(buf.as_ptr().cast()) };
    Some(FilterInstance {
        instance: field(buf, info.InstanceNameBufferOffset, info.InstanceNameLength),
        altitude: field(buf, info.AltitudeBufferOffset, info.AltitudeLength),
        volume: field(buf, info.VolumeNameBufferOffset, info.VolumeNameLength),
    })
}

fn hresult_text(hr: i32) -> String {
    let err = WinError::from_hresult(hr as u32);
    format!("{} {}", err.hresult_hex(), system_message(err).unwrap_or_default())
        .trim()
        .to_owned()
}

/// Every instance of `filter`, or why they could not be listed.
pub(crate) fn list(filter: &str) -> InstanceListing {
    let name = wide(filter);
    let mut buf = vec![0u8; 4096];
    let mut returned = 0u32;
    let mut find: HANDLE = null_mut();
    // SAFETY: `name` is NUL-terminated, `buf` is writable for its length, `returned` and `find` are writable.
    let hr = unsafe {
        FilterInstanceFindFirst(
            name.as_ptr(),
            InstanceFullInformation,
            buf.as_mut_ptr().cast::<c_void>(),
            buf.len() as u32,
            &mut returned,
            &mut find,
        )
    };
    let no_more = WinError::from_win32(ERROR_NO_MORE_ITEMS).hresult_hex();
    if hr < 0 {
        if WinError::from_hresult(hr as u32).hresult_hex() == no_more {
            return InstanceListing {
                instances: Some(Vec::new()),
                error: None,
            };
        }
        return InstanceListing {
            instances: None,
            error: Some(hresult_text(hr)),
        };
    }
    let mut instances: Vec<FilterInstance> = instance(&buf[..returned as usize]).into_iter().collect();
    let mut error = None;
    loop {
        // SAFETY: `find` came from FilterInstanceFindFirst; the buffer and count are writable.
        let hr = unsafe {
            FilterInstanceFindNext(
                find,
                InstanceFullInformation,
                buf.as_mut_ptr().cast::<c_void>(),
                buf.len() as u32,
                &mut returned,
            )
        };
        if hr < 0 {
            if WinError::from_hresult(hr as u32).hresult_hex() != no_more {
                error = Some(hresult_text(hr));
            }
            break;
        }
        instances.extend(instance(&buf[..returned as usize]));
    }
    // SAFETY: `find` is a live search handle, closed once.
    unsafe { FilterInstanceFindClose(find) };
    InstanceListing {
        instances: if error.is_none() { Some(instances) } else { None },
        error,
    }
}

/// Runs `probe` between two listings of the bind filter's instances and records both in its report.
pub(crate) fn around(probe: impl FnOnce() -> Report) -> Report {
    let before = list(BINDFLT);
    let mut report = probe();
    report.filter_instances = Some(FilterInstances {
        filter: BINDFLT.to_owned(),
        before,
        after: list(BINDFLT),
    });
    report
}
