//! Delivery: a Windows `bindprobe.exe`, or a program of the scenario's own, copied onto the node through exec into the
//! HostProcess container (which sees the host's file system), checked by SHA-256 on arrival, run from there, and
//! removed afterwards with the case's folder.
//!
//! The bytes go through the exec's stdin and the script in the pod reads exactly as many as were sent, so it never
//! waits for the end of the stream (which kwok's exec, on the test bed, never delivers).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::lanes::cluster::exec::{ExecError, Workload, exec, exec_with_input};
use crate::render;
use crate::scenario::matrix::Case;

/// Where on the node the harness's files go: one folder per case under it, which teardown and the janitor remove.
pub const NODE_FOLDER: &str = r"C:\ProgramData\harness";

/// A probe ready to be sent: its bytes and their SHA-256 (upper-case hex, as `Get-FileHash` prints it).
#[derive(Clone)]
pub struct Probe {
    pub path: PathBuf,
    bytes: std::sync::Arc<Vec<u8>>,
    pub sha256: String,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field("path", &self.path)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

impl Probe {
    /// Reads `path`, which must be a Windows executable (it starts with `MZ`).
    pub fn read(path: &Path) -> Result<Probe, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read the probe {}: {e}", path.display()))?;
        if !bytes.starts_with(b"MZ") {
            return Err(format!("{} is not a Windows executable", path.display()));
        }
        let sha256 = Sha256::digest(&bytes).iter().map(|b| format!("{b:02X}")).collect();
        Ok(Probe {
            path: path.to_owned(),
            bytes: std::sync::Arc::new(bytes),
            sha256,
        })
    }

    /// Reads `path` as it is (a program of a scenario's own, or its Linux twin).
    pub fn any(path: &Path) -> Result<Probe, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let sha256 = Sha256::digest(&bytes).iter().map(|b| format!("{b:02X}")).collect();
        Ok(Probe {
            path: path.to_owned(),
            bytes: std::sync::Arc::new(bytes),
            sha256,
        })
    }

    /// `BINDPROBE` when it is a Windows executable, else the MinGW or MSVC release build beside the harness
    /// (`target/x86_64-pc-windows-{gnu,msvc}/release/bindprobe.exe`, or `target/release` on Windows).
    pub fn find() -> Result<Probe, String> {
        if let Some(path) = std::env::var_os("BINDPROBE") {
            return Probe::read(Path::new(&path));
        }
        let exe = std::env::current_exe().map_err(|e| format!("cannot find the harness binary: {e}"))?;
        let mut candidates = Vec::new();
        for target in exe.ancestors().skip(1).take(3) {
            for triple in ["x86_64-pc-windows-gnu", "x86_64-pc-windows-msvc"] {
                candidates.push(target.join(triple).join("release").join("bindprobe.exe"));
            }
            if cfg!(windows) {
                candidates.push(target.join("release").join("bindprobe.exe"));
            }
        }
        let found = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
            "no Windows bindprobe.exe was found (give --probe, set BINDPROBE, or build it with \
             `cargo build -p bindprobe --release --target x86_64-pc-windows-gnu`)"
                .to_owned()
        })?;
        Probe::read(found)
    }
}

/// The folder of one case of run `run_id` on the node, `<NODE_FOLDER>\<run id>_<case hash>`: cases of a run that share
/// a node never touch each other's files, teardown removes the case's folder whole, and the janitor finds a run's
/// folders by their name (`_` is never part of a run id).
pub fn case_folder(run_id: &str, case: &Case) -> String {
    format!(r"{NODE_FOLDER}\{run_id}_{}", render::case_hash(case))
}

/// Copies `probe` to `<case folder>\bindprobe.exe` on the node `pod` runs on; the path it arrived at, or why not.
pub async fn deliver(workload: &Workload, pod: &str, probe: &Probe, folder: &str) -> Result<String, ExecError> {
    send(workload, pod, probe, &format!(r"{folder}\bindprobe.exe")).await
}

/// Why a program was not delivered.
pub enum NotDelivered {
    /// It cannot run here (a Windows program on a simulated node without a twin).
    Skipped(String),
    Failed(ExecError),
}

/// Copies the program of probe `name` to `<case folder>\programs\<name>\<its file name>`: the program itself, or on
/// a `simulated` node its twin under the program's name. The path it arrived at.
pub async fn program(
    workload: &Workload,
    pod: &str,
    root: &Path,
    program: &crate::scenario::model::ProgramProbe,
    name: &str,
    folder: &str,
    simulated: bool,
) -> Result<String, NotDelivered> {
    let file = match (&program.twin, simulated) {
        (_, false) => &program.file,
        (Some(twin), true) => twin,
        (None, true) => {
            return Err(NotDelivered::Skipped(
                "the test bed's node is simulated and runs no Windows program; give the probe a `twin`".to_owned(),
            ));
        }
    };
    let sent = Probe::any(&root.join(file)).map_err(|e| NotDelivered::Failed(ExecError::Failed(e)))?;
    let base = Path::new(&program.file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    send(workload, pod, &sent, &format!(r"{folder}\programs\{name}\{base}"))
        .await
        .map_err(NotDelivered::Failed)
}

/// Sends `probe`'s bytes to `target` on the node; the path it arrived at, or why not (a timeout kept as one).
async fn send(workload: &Workload, pod: &str, probe: &Probe, target: &str) -> Result<String, ExecError> {
    let target = target.to_owned();
    let script = receive_script(&target, probe.bytes.len(), &probe.sha256);
    let output = exec_with_input(workload, pod, render::powershell(&script), probe.bytes.clone()).await?;
    let arrived = format!("harness-received {}", probe.sha256);
    if output.stdout.lines().any(|l| l.trim() == arrived) {
        Ok(target)
    } else {
        Err(ExecError::Failed(format!(
            "{} did not arrive intact at {target}: {}",
            probe.path.display(),
            output.first_line()
        )))
    }
}

/// Removes a case's `folder` from the node `pod` runs on.
pub async fn remove(workload: &Workload, pod: &str, folder: &str) -> Result<(), String> {
    let shown = folder;
    let folder = render::single_quoted(folder);
    let script = format!("Remove-Item -LiteralPath {folder} -Recurse -Force -ErrorAction SilentlyContinue\n");
    let output = exec(workload, pod, render::powershell(&script)).await?;
    match output.success {
        Some(false) => Err(format!("cannot remove {}: {}", shown, output.stderr.trim())),
        _ => Ok(()),
    }
}

/// The PowerShell that receives `size` bytes on stdin into `path` and checks their SHA-256 against `sha256`.
fn receive_script(path: &str, size: usize, sha256: &str) -> String {
    let path = render::single_quoted(path);
    format!(
        r#"# harness: receive-file
$ErrorActionPreference = 'Stop'
$path = {path}
$size = {size}
$want = '{sha256}'
New-Item -ItemType Directory -Force -Path (Split-Path -Parent $path) | Out-Null
$in = [Console]::OpenStandardInput()
$file = [IO.File]::Create($path)
try {{
    $buffer = New-Object byte[] 65536
    $left = $size
    while ($left -gt 0) {{
        $read = $in.Read($buffer, 0, [Math]::Min($buffer.Length, $left))
        if ($read -le 0) {{ throw "stdin ended after $($size - $left) of $size bytes" }}
        $file.Write($buffer, 0, $read)
        $left -= $read
    }}
}} finally {{
    $file.Close()
}}
$got = (Get-FileHash -Algorithm SHA256 -LiteralPath $path).Hash
if ($got -ne $want) {{
    Remove-Item -LiteralPath $path -Force
    throw "SHA-256 of $path is $got, expected $want"
}}
Write-Output "harness-received $got"
"#
    )
}
