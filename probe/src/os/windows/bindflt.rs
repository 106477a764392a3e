//! The bind filter: `BfSetupFilter` / `BfRemoveMapping` from bindfltapi.dll, called exactly as go-winio v0.6.2
//! `pkg/bindfilter` `ApplyFileBinding` / `RemoveFileBinding` call them, and the `bind` subcommand.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::core::{HRESULT, PCWSTR};

use super::{SystemDll, go_text, io_win_error, system_message, wide, win_step};
use crate::args::BindArgs;
use crate::gopath;
use crate::hresult::WinError;
use crate::report::{BindInfo, Failure, Recorder, Report, Step};

/// `HRESULT BfSetupFilter(HANDLE JobHandle, ULONG Flags, LPCWSTR VirtualizationRootPath,
/// LPCWSTR VirtualizationTargetPath, LPCWSTR* VirtualizationExceptionPaths, ULONG
/// VirtualizationExceptionPathCount)` (hcsshim `internal/winapi/bindflt.go`).
type BfSetupFilterFn = unsafe extern "system" fn(
    job: HANDLE,
    flags: u32,
    root: PCWSTR,
    target: PCWSTR,
    exceptions: *const PCWSTR,
    exception_count: u32,
) -> HRESULT;

/// `HRESULT BfRemoveMapping(HANDLE JobHandle, LPCWSTR VirtualizationRootPath)`.
type BfRemoveMappingFn = unsafe extern "system" fn(job: HANDLE, root: PCWSTR) -> HRESULT;

/// The two bindfltapi.dll exports go-winio uses.
pub(crate) struct BindFilter {
    setup: BfSetupFilterFn,
    remove: BfRemoveMappingFn,
}

impl BindFilter {
    /// Loads bindfltapi.dll from System32 and resolves the exports; records `load_bindfltapi`. A
    /// failure's text is Go's `LazyDLL` wording passed through `wrap` (go-winio returns it from the
    /// first `bfSetupFilter` call, so `ApplyFileBinding` wraps it in its own message).
    pub(crate) fn load(rec: &mut Recorder, wrap: &dyn Fn(String) -> String) -> Option<Self> {
        const STEP: &str = "load_bindfltapi";
        let resolved = SystemDll::load("bindfltapi.dll").and_then(|dll| {
            let setup = dll.proc(c"BfSetupFilter")?;
            let remove = dll.proc(c"BfRemoveMapping")?;
            Ok((setup, remove))
        });
        match resolved {
            Ok((Some(setup), Some(remove))) => {
                rec.ok(STEP, Some(r"%SystemRoot%\System32\bindfltapi.dll".to_owned()));
                // SAFETY: the exports have exactly these signatures (hcsshim internal/winapi/bindflt.go,
                // go-winio pkg/bindfilter); the DLL is never unloaded, so the pointers stay valid.
                let (setup, remove) = unsafe {
                    (
                        std::mem::transmute::<unsafe extern "system" fn() -> isize, BfSetupFilterFn>(setup),
                        std::mem::transmute::<unsafe extern "system" fn() -> isize, BfRemoveMappingFn>(remove),
                    )
                };
                Some(Self { setup, remove })
            }
            Ok(_) => {
                rec.fail(
                    Step::failed(STEP, "GetProcAddress returned NULL", None),
                    wrap("bindfltapi.dll exports are missing".to_owned()),
                    Failure::Setup,
                );
                None
            }
            Err((err, text)) => {
                rec.fail(win_step(STEP, err, None), wrap(text), Failure::Setup);
                None
            }
        }
    }

    /// `BfSetupFilter(job, flags, root, target, NULL, 0)`.
    pub(crate) fn setup_filter(&self, job: HANDLE, flags: u32, root: &str, target: &str) -> Result<(), WinError> {
        let (wroot, wtarget) = (wide(root), wide(target));
        // SAFETY: both strings are NUL-terminated and outlive the call; no exception paths are passed,
        // as go-winio passes none (NULL, 0).
        let hr = unsafe { (self.setup)(job, flags, wroot.as_ptr(), wtarget.as_ptr(), std::ptr::null(), 0) };
        check(hr)
    }

    /// `BfRemoveMapping(job, root)`.
    pub(crate) fn remove_mapping(&self, job: HANDLE, root: &str) -> Result<(), WinError> {
        let wroot = wide(root);
        // SAFETY: `wroot` is NUL-terminated and outlives the call.
        let hr = unsafe { (self.remove)(job, wroot.as_ptr()) };
        check(hr)
    }
}

fn check(hr: HRESULT) -> Result<(), WinError> {
    if WinError::failed(hr as u32) {
        Err(WinError::from_hresult(hr as u32))
    } else {
        Ok(())
    }
}

/// `os.MkdirAll(path)`, recorded as `name`; Go's `mkdir <path>: <message>` on failure (a setup failure).
pub(crate) fn mkdir_all(rec: &mut Recorder, name: &str, path: &str) -> bool {
    match std::fs::create_dir_all(path) {
        Ok(()) => {
            rec.ok(name, Some(path.to_owned()));
            true
        }
        Err(e) => {
            let err = io_win_error(&e);
            rec.fail(
                win_step(name, err, Some(path.to_owned())),
                format!("mkdir {path}: {}", go_text(err)),
                Failure::Setup,
            );
            false
        }
    }
}

/// go-winio v0.6.2 `ApplyFileBinding(root, source, readOnly)`: `MkdirAll(filepath.Dir(root))`, the
/// `Volume{` rule, `NO_MULTIPLE_TARGETS | READ_ONLY_MAPPING`, job handle NULL. A failure is recorded
/// with `wrap(go-winio's error text)` as the report's error.
pub(crate) fn apply_file_binding(
    rec: &mut Recorder,
    bf: &BindFilter,
    root: &str,
    source: &str,
    read_only: bool,
    wrap: &dyn Fn(String) -> String,
) -> bool {
    let parent = gopath::dir(root);
    match std::fs::create_dir_all(&parent) {
        Ok(()) => rec.ok("mkdir_root_parent", Some(parent)),
        Err(e) => {
            let err = io_win_error(&e);
            let text = wrap(format!("mkdir {parent}: {}", go_text(err)));
            rec.fail(win_step("mkdir_root_parent", err, Some(parent)), text, Failure::Setup);
            return false;
        }
    }
    let source = gopath::bind_source(source);
    let flags = gopath::apply_file_binding_flags(read_only);
    let detail = Some(format!("flags=0x{flags:08X} root={root} target={source} job=NULL"));
    match bf.setup_filter(std::ptr::null_mut(), flags, root, &source) {
        Ok(()) => {
            rec.ok("BfSetupFilter", detail);
            true
        }
        Err(err) => {
            let text = wrap(gopath::bind_error_text(&source, root, &go_text(err)));
            rec.fail(
                Step::win_failed("BfSetupFilter", err, system_message(err), detail),
                text,
                Failure::Probed,
            );
            false
        }
    }
}

/// go-winio `RemoveFileBinding(root)`: `BfRemoveMapping(NULL, root)`, "removing file binding: ..." on failure.
pub(crate) fn remove_file_binding(rec: &mut Recorder, bf: &BindFilter, root: &str) -> bool {
    match bf.remove_mapping(std::ptr::null_mut(), root) {
        Ok(()) => {
            rec.ok("BfRemoveMapping", Some(root.to_owned()));
            true
        }
        Err(err) => {
            rec.fail(
                win_step("BfRemoveMapping", err, Some(root.to_owned())),
                format!("removing file binding: {}", go_text(err)),
                Failure::Probed,
            );
            false
        }
    }
}

/// `bind SRC DST [--rw]`: the seed's test-bind.exe, plus a proof that the binding works and its removal.
pub fn bind(a: &BindArgs) -> Report {
    let flags = gopath::apply_file_binding_flags(a.read_only);
    let mut info = BindInfo {
        source: a.source.clone(),
        root: a.root.clone(),
        bind_source: gopath::bind_source(&a.source),
        root_parent: gopath::dir(&a.root),
        read_only: a.read_only,
        flags: format!("0x{flags:08X}"),
        flag_names: gopath::bind_flag_names(flags).into_iter().map(str::to_owned).collect(),
        job_handle: None,
        ..BindInfo::default()
    };
    let mut rec = Recorder::new();
    let done = |rec: Recorder, info: BindInfo| {
        let mut r = rec.finish("bind");
        r.bind = Some(info);
        r
    };

    if a.enable_privileges && !super::context::enable_privileges(&mut rec, super::context::BACKUP_RESTORE) {
        return done(rec, info);
    }
    // The seed's test created DST (os.MkdirAll(os.Args[2])), as buildkit's os.MkdirTemp does.
    if !mkdir_all(&mut rec, "mkdir_source", &a.source) || !mkdir_all(&mut rec, "mkdir_root", &a.root) {
        return done(rec, info);
    }
    let bind_source = gopath::bind_source(&a.source);
    let go_winio_wrap = |e: String| gopath::bind_error_text(&bind_source, &a.root, &e);
    let Some(bf) = BindFilter::load(&mut rec, &go_winio_wrap) else {
        return done(rec, info);
    };
    if !apply_file_binding(&mut rec, &bf, &a.root, &a.source, a.read_only, &|e| e) {
        return done(rec, info);
    }
    info.bound = true;

    // Proof: a file written in SRC is read back through DST (go-winio's own test does the same).
    let pid = std::process::id();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let marker = format!("bindprobe-marker-{pid}-{nanos}.txt");
    let content = format!("bindprobe marker {pid} {nanos}\n");
    let in_source = Path::new(&a.source).join(&marker);
    let through_root = Path::new(&a.root).join(&marker);
    let wrote = match std::fs::write(&in_source, &content) {
        Ok(()) => {
            rec.ok("write_marker", Some(in_source.display().to_string()));
            true
        }
        Err(e) => {
            let err = io_win_error(&e);
            rec.fail(
                win_step("write_marker", err, Some(in_source.display().to_string())),
                format!("write {}: {}", in_source.display(), go_text(err)),
                Failure::Setup,
            );
            false
        }
    };
    if wrote {
        match std::fs::read_to_string(&through_root) {
            Ok(seen) if seen == content => {
                info.visible_through_root = Some(true);
                rec.ok("read_marker_through_root", Some(through_root.display().to_string()));
            }
            Ok(_) => {
                info.visible_through_root = Some(false);
                rec.fail(
                    Step::failed(
                        "read_marker_through_root",
                        "the file read through DST differs from the marker written in SRC",
                        Some(through_root.display().to_string()),
                    ),
                    "the binding reported success but DST shows other content than SRC",
                    Failure::Probed,
                );
            }
            Err(e) => {
                info.visible_through_root = Some(false);
                let err = io_win_error(&e);
                rec.fail(
                    win_step(
                        "read_marker_through_root",
                        err,
                        Some(through_root.display().to_string()),
                    ),
                    format!(
                        "the binding reported success but the marker is not visible through DST: open {}: {}",
                        through_root.display(),
                        go_text(err)
                    ),
                    Failure::Probed,
                );
            }
        }
    }

    info.removed = Some(remove_file_binding(&mut rec, &bf, &a.root));

    if wrote {
        match std::fs::remove_file(&in_source) {
            Ok(()) => rec.ok("remove_marker", Some(in_source.display().to_string())),
            Err(e) => rec.note(win_step(
                "remove_marker",
                io_win_error(&e),
                Some(in_source.display().to_string()),
            )),
        }
    }
    done(rec, info)
}
