//! Container layers through vmcompute.dll (`ActivateLayer`, `PrepareLayer`, `GetLayerMountPath`, `UnprepareLayer`,
//! `DeactivateLayer`, `NameToGuid`) as hcsshim v0.14 `internal/wclayer` calls them, in the order containerd v2.2
//! `core/mount/mount_windows.go` mounts a `windows-layer`; the `layer` subcommand.

use windows_sys::core::{GUID, HRESULT, PCWSTR};

use super::bindflt::{BindFilter, apply_file_binding, mkdir_all, remove_file_binding};
use super::{SystemDll, from_wide, system_message, wide, win_step};
use crate::args::LayerArgs;
use crate::gopath;
use crate::hresult::WinError;
use crate::report::{Failure, LayerInfo, Recorder, Report, Step};

/// hcsshim's `driverInfo` / the C `struct DriverInfo { GraphDriverType Flavour; LPCWSTR HomeDir; }`
/// (`internal/wclayer/layerutils.go`). hcsshim always passes `{1 /* FilterDriver */, ""}` and the
/// layer's full path as the id (`layerPath(info, id)` = `filepath.Join(info.HomeDir, id)`).
#[repr(C)]
struct DriverInfo {
    flavour: i32,
    home_dir: PCWSTR,
}

/// `WC_LAYER_DESCRIPTOR { GUID LayerId; ULONG Flags; PCWSTR Path; }` (hcsshim `WC_LAYER_DESCRIPTOR`).
#[repr(C)]
struct WcLayerDescriptor {
    layer_id: GUID,
    flags: u32,
    path: PCWSTR,
}

/// containerd's `sourceStreamName`.
const SOURCE_STREAM: &str = "containerd.io-source";

type IdFn = unsafe extern "system" fn(info: *const DriverInfo, id: PCWSTR) -> HRESULT;
type PrepareLayerFn = unsafe extern "system" fn(
    info: *const DriverInfo,
    id: PCWSTR,
    descriptors: *const WcLayerDescriptor,
    count: usize,
) -> HRESULT;
type GetLayerMountPathFn =
    unsafe extern "system" fn(info: *const DriverInfo, id: PCWSTR, length: *mut usize, buffer: *mut u16) -> HRESULT;
type NameToGuidFn = unsafe extern "system" fn(name: PCWSTR, guid: *mut GUID) -> HRESULT;

struct Vmcompute {
    activate: IdFn,
    prepare: PrepareLayerFn,
    mount_path: GetLayerMountPathFn,
    unprepare: IdFn,
    deactivate: IdFn,
    name_to_guid: NameToGuidFn,
}

impl Vmcompute {
    /// Loads vmcompute.dll; a failure's text is Go's `LazyDLL` wording passed through `wrap` (hcsshim's
    /// `hcserror.New` returns a DLL error unchanged, so containerd wraps it directly).
    fn load(rec: &mut Recorder, wrap: &dyn Fn(String) -> String) -> Option<Self> {
        const STEP: &str = "load_vmcompute";
        let resolved = SystemDll::load("vmcompute.dll").and_then(|dll| {
            Ok([
                dll.proc(c"ActivateLayer")?,
                dll.proc(c"PrepareLayer")?,
                dll.proc(c"GetLayerMountPath")?,
                dll.proc(c"UnprepareLayer")?,
                dll.proc(c"DeactivateLayer")?,
                dll.proc(c"NameToGuid")?,
            ])
        });
        match resolved {
            Ok([Some(a), Some(p), Some(m), Some(u), Some(d), Some(n)]) => {
                rec.ok(STEP, Some(r"%SystemRoot%\System32\vmcompute.dll".to_owned()));
                type Raw = unsafe extern "system" fn() -> isize;
                // SAFETY: these are the vmcompute.dll exports with the signatures hcsshim's generated
                // wrappers use (internal/wclayer/zsyscall_windows.go); the DLL is never unloaded.
                unsafe {
                    Some(Self {
                        activate: std::mem::transmute::<Raw, IdFn>(a),
                        prepare: std::mem::transmute::<Raw, PrepareLayerFn>(p),
                        mount_path: std::mem::transmute::<Raw, GetLayerMountPathFn>(m),
                        unprepare: std::mem::transmute::<Raw, IdFn>(u),
                        deactivate: std::mem::transmute::<Raw, IdFn>(d),
                        name_to_guid: std::mem::transmute::<Raw, NameToGuidFn>(n),
                    })
                }
            }
            Ok(_) => {
                rec.fail(
                    Step::failed(STEP, "GetProcAddress returned NULL", None),
                    wrap("vmcompute.dll exports are missing".to_owned()),
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
}

fn check(hr: HRESULT) -> Result<(), WinError> {
    if WinError::failed(hr as u32) {
        Err(WinError::from_hresult(hr as u32))
    } else {
        Ok(())
    }
}

/// Records a vmcompute call: ok, or failed with hcsshim's `hcserror` text wrapped by containerd's `wrap`.
fn record(
    rec: &mut Recorder,
    name: &str,
    result: Result<(), WinError>,
    title: &str,
    rest: &str,
    wrap: &dyn Fn(String) -> String,
    detail: Option<String>,
) -> bool {
    match result {
        Ok(()) => {
            rec.ok(name, detail);
            true
        }
        Err(err) => {
            let message = system_message(err);
            let text = wrap(err.hcs_text(title, message.as_deref(), rest));
            rec.fail(Step::win_failed(name, err, message, detail), text, Failure::Probed);
            false
        }
    }
}

/// `layer LAYER_DIR DST`: the seed's test-mount.exe, containerd's `(*Mount).mount` for a windows-layer.
pub fn layer(a: &LayerArgs) -> Report {
    // containerd: `home, layerID := filepath.Split(m.Source)`; hcsshim rebuilds `filepath.Join(home, id)`.
    let (home, layer_id) = gopath::split(&a.layer);
    let path = gopath::join(&[&home, &layer_id]);
    let flags = gopath::apply_file_binding_flags(a.read_only);
    let mut info = LayerInfo {
        layer: path.clone(),
        home_dir: home,
        layer_id: layer_id.clone(),
        driver_flavour: 1,
        driver_home_dir: String::new(),
        parents: a.parents.clone(),
        base_layer: a.parents.is_empty(),
        root: a.root.clone(),
        read_only: a.read_only,
        flags: format!("0x{flags:08X}"),
        ..LayerInfo::default()
    };
    let mut rec = Recorder::new();
    let done = |rec: Recorder, info: LayerInfo| {
        let mut r = rec.finish("layer");
        r.layer = Some(info);
        r
    };

    if a.enable_privileges && !super::context::enable_privileges(&mut rec, super::context::BACKUP_RESTORE) {
        return done(rec, info);
    }
    let source = a.layer.clone();
    let activate_wrap = |e: String| format!("failed to activate layer {source}: {e}");
    let Some(vm) = Vmcompute::load(&mut rec, &activate_wrap) else {
        return done(rec, info);
    };
    let empty = [0u16];
    let di = DriverInfo {
        flavour: 1,
        home_dir: empty.as_ptr(),
    };
    let wid = wide(&path);

    // ActivateLayer ("failed to activate layer %s: %w").
    // SAFETY: `di` and `wid` are valid and NUL-terminated for the call.
    let r = check(unsafe { (vm.activate)(&di, wid.as_ptr()) });
    if !record(
        &mut rec,
        "ActivateLayer",
        r,
        "hcsshim::ActivateLayer",
        "",
        &activate_wrap,
        Some(path.clone()),
    ) {
        return done(rec, info);
    }

    let prepare_wrap = |e: String| format!("failed to prepare layer {source}: {e}");
    let prepared = prepare(&mut rec, &vm, &di, &wid, &a.parents, &prepare_wrap);

    if prepared {
        mount_and_bind(&mut rec, &vm, &di, &wid, a, &source, &layer_id, &mut info);
        // UnprepareLayer / DeactivateLayer, in containerd's cleanup order.
        // SAFETY: as above.
        let r = check(unsafe { (vm.unprepare)(&di, wid.as_ptr()) });
        let wrap = |e: String| format!("failed to unprepare layer {source}: {e}");
        record(
            &mut rec,
            "UnprepareLayer",
            r,
            "hcsshim::UnprepareLayer",
            "",
            &wrap,
            None,
        );
    }
    // SAFETY: as above.
    let r = check(unsafe { (vm.deactivate)(&di, wid.as_ptr()) });
    let wrap = |e: String| format!("failed to deactivate layer {source}: {e}");
    record(
        &mut rec,
        "DeactivateLayer",
        r,
        "hcsshim::DeactivateLayer- failed",
        "",
        &wrap,
        None,
    );
    done(rec, info)
}

/// hcsshim `PrepareLayer(path, parentLayerPaths)`: descriptors from `NameToGuid(base name)` of each
/// parent, then `PrepareLayer(&stdDriverInfo, path, descriptors, len)`.
fn prepare(
    rec: &mut Recorder,
    vm: &Vmcompute,
    di: &DriverInfo,
    wid: &[u16],
    parents: &[String],
    wrap: &dyn Fn(String) -> String,
) -> bool {
    let wparents: Vec<Vec<u16>> = parents.iter().map(wide).collect();
    let mut descriptors = Vec::with_capacity(parents.len());
    for (parent, wparent) in parents.iter().zip(&wparents) {
        let (_, base) = gopath::split(parent);
        let wbase = wide(&base);
        let mut guid = GUID::from_u128(0);
        // SAFETY: `wbase` is NUL-terminated and `guid` is writable.
        let r = check(unsafe { (vm.name_to_guid)(wbase.as_ptr(), &mut guid) });
        if !record(rec, "NameToGuid", r, "hcsshim::NameToGuid", "", wrap, Some(base)) {
            return false;
        }
        descriptors.push(WcLayerDescriptor {
            layer_id: guid,
            flags: 0,
            path: wparent.as_ptr(),
        });
    }
    let ptr = if descriptors.is_empty() {
        std::ptr::null()
    } else {
        descriptors.as_ptr()
    };
    // SAFETY: `ptr` is NULL or points at `descriptors.len()` descriptors whose paths (`wparents`)
    // outlive the call, as hcsshim passes `&descriptors[0], len(descriptors)`.
    let r = check(unsafe { (vm.prepare)(di, wid.as_ptr(), ptr, descriptors.len()) });
    record(rec, "PrepareLayer", r, "hcsshim::PrepareLayer", "", wrap, None)
}

/// GetLayerMountPath (two calls), `Files` for a base layer, the bind, its proof and removal.
#[allow(clippy::too_many_arguments)]
fn mount_and_bind(
    rec: &mut Recorder,
    vm: &Vmcompute,
    di: &DriverInfo,
    wid: &[u16],
    a: &LayerArgs,
    source: &str,
    layer_id: &str,
    info: &mut LayerInfo,
) {
    let wrap = |e: String| format!("failed to get volume path for layer {source}: {e}");
    // First call: the length (in UTF-16 units) with a NULL buffer.
    let mut length: usize = 0;
    // SAFETY: `length` is writable; a NULL buffer asks for the length only, as hcsshim does.
    let r = check(unsafe { (vm.mount_path)(di, wid.as_ptr(), &mut length, std::ptr::null_mut()) });
    if !record(
        rec,
        "GetLayerMountPath(length)",
        r,
        "hcsshim::GetLayerMountPath",
        "(first call)",
        &wrap,
        None,
    ) {
        return;
    }
    let mount = if length == 0 {
        String::new()
    } else {
        let mut buf = vec![0u16; length];
        // SAFETY: `buf` holds `length` UTF-16 units, the size the first call reported.
        let r = check(unsafe { (vm.mount_path)(di, wid.as_ptr(), &mut length, buf.as_mut_ptr()) });
        let detail_buf = from_wide(&buf);
        if !record(
            rec,
            "GetLayerMountPath(path)",
            r,
            "hcsshim::GetLayerMountPath",
            "(second call)",
            &wrap,
            Some(detail_buf.clone()),
        ) {
            return;
        }
        detail_buf
    };
    info.mount_path = Some(mount.clone());

    let mut volume = mount;
    if a.parents.is_empty() {
        // A base layer is mounted without WCIFS: containerd binds its Files folder.
        volume = gopath::join(&[&volume, "Files"]);
        match std::fs::metadata(&volume) {
            Ok(_) => rec.ok("stat_files", Some(volume.clone())),
            Err(e) => {
                let err = super::io_win_error(&e);
                rec.fail(
                    win_step("stat_files", err, Some(volume.clone())),
                    format!("no Files folder in layer {layer_id}"),
                    Failure::Probed,
                );
                return;
            }
        }
    }
    info.bind_source = Some(gopath::bind_source(&volume));

    // buildkit's mount point is an os.MkdirTemp directory: it exists before the bind.
    if !mkdir_all(rec, "mkdir_root", &a.root) {
        return;
    }
    let wrap = |e: String| format!("failed to set volume mount path for layer {source}: {e}");
    let bind_source = gopath::bind_source(&volume);
    let load_wrap = |e: String| wrap(gopath::bind_error_text(&bind_source, &a.root, &e));
    let Some(bf) = BindFilter::load(rec, &load_wrap) else {
        return;
    };
    if !apply_file_binding(rec, &bf, &a.root, &volume, a.read_only, &wrap) {
        return;
    }
    // containerd records the layer in an alternate data stream of the mount point.
    let stream = format!("{}:{SOURCE_STREAM}", gopath::clean(&a.root));
    match std::fs::write(&stream, source.as_bytes()) {
        Ok(()) => rec.ok("write_source_stream", Some(stream)),
        Err(e) => {
            let err = super::io_win_error(&e);
            rec.fail(
                win_step("write_source_stream", err, Some(stream.clone())),
                format!(
                    "failed to record source for layer {source}: open {stream}: {}",
                    super::go_text(err)
                ),
                Failure::Probed,
            );
        }
    }
    match std::fs::read_dir(&a.root) {
        Ok(entries) => {
            let n = entries.count() as u64;
            info.entries_visible = Some(n);
            rec.ok("list_root", Some(format!("{n} entries")));
        }
        Err(e) => {
            let err = super::io_win_error(&e);
            rec.fail(
                win_step("list_root", err, Some(a.root.clone())),
                format!(
                    "the binding reported success but DST cannot be listed: {}",
                    super::go_text(err)
                ),
                Failure::Probed,
            );
        }
    }
    remove_file_binding(rec, &bf, &a.root);
}
