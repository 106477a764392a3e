//! The newest containerd snapshot on the node, for a layer probe that says `snapshot: latest`: the highest-numbered
//! folder with a `Files` subfolder under `<root>\io.containerd.snapshotter.v1.windows\snapshots`, where `<root>` is
//! the one the node's containerd really uses. containerd numbers snapshots from a bolt sequence that never goes back,
//! so the highest number is the newest.
//!
//! The root comes from the running `containerd.exe`'s command line (`--root`, which k0s always passes:
//! `C:\var\lib\k0s\containerd`), else the `root =` of the config it was given (`--config`, default
//! `%ProgramFiles%\containerd\config.toml`), else containerd's default (`%ProgramData%\containerd\root`), in
//! containerd's own order (flags over the config file over defaults: `cmd/containerd/command/main.go`).

use crate::lanes::cluster::exec::{Workload, exec};
use crate::render;

/// The snapshot folder found, and how its root was found.
pub struct Found {
    pub folder: String,
    pub root: String,
}

/// Finds the newest layer snapshot on the node `pod` runs on.
pub async fn newest(workload: &Workload, pod: &str) -> Result<Found, String> {
    let output = exec(workload, pod, render::powershell(SCRIPT)).await?;
    let mut root = None;
    let mut folder = None;
    for line in output.stdout.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("harness-root: ") {
            root = Some(rest.to_owned());
        } else if let Some(rest) = line.strip_prefix("harness-snapshot: ") {
            folder = Some(rest.to_owned());
        }
    }
    match (folder, root) {
        (Some(folder), Some(root)) => Ok(Found { folder, root }),
        _ => Err(format!(
            "no containerd snapshot was found on the node: {}",
            output.first_line()
        )),
    }
}

/// Windows PowerShell 5.1: prints `harness-root: <root> (<how>)` and `harness-snapshot: <folder>`.
const SCRIPT: &str = r#"# harness: newest-snapshot
$ErrorActionPreference = 'Stop'
function Get-FlagValue([string]$line, [string[]]$names) {
    foreach ($n in $names) {
        $m = [regex]::Match($line, '(?:^|\s)--?' + [regex]::Escape($n) + '(?:=|\s+)(?:"([^"]*)"|(\S+))')
        if ($m.Success) { if ($m.Groups[1].Success) { return $m.Groups[1].Value } else { return $m.Groups[2].Value } }
    }
    return $null
}
function Get-ConfigRoot([string]$path) {
    if (-not $path -or -not (Test-Path -LiteralPath $path -PathType Leaf)) { return $null }
    foreach ($line in Get-Content -LiteralPath $path) {
        $t = $line.Trim()
        if ($t.StartsWith('[')) { break }
        $m = [regex]::Match($t, '^root\s*=\s*(?:"((?:[^"\\]|\\.)*)"|''([^'']*)'')')
        if ($m.Success) {
            if ($m.Groups[1].Success) { return ($m.Groups[1].Value -replace '\\(["\\])', '$1') }
            return $m.Groups[2].Value
        }
    }
    return $null
}
$programData = if ($env:ProgramData) { $env:ProgramData } else { 'C:\ProgramData' }
$programFiles = if ($env:ProgramFiles) { $env:ProgramFiles } else { 'C:\Program Files' }
$root = $null; $how = $null
foreach ($p in @(Get-CimInstance -ClassName Win32_Process -Filter "Name = 'containerd.exe'")) {
    $line = [string]$p.CommandLine
    if (-not $line) { continue }
    $r = Get-FlagValue $line @('root')
    if ($r) { $root = $r; $how = "--root of containerd.exe (PID $($p.ProcessId))"; break }
    $config = Get-FlagValue $line @('config', 'c')
    if (-not $config) { $config = Join-Path $programFiles 'containerd\config.toml' }
    $r = Get-ConfigRoot $config
    if ($r) { $root = $r; $how = "root in $config"; break }
    $root = Join-Path $programData 'containerd\root'; $how = "containerd's default"; break
}
if (-not $root) {
    foreach ($c in @('C:\var\lib\k0s\containerd', (Join-Path $programData 'containerd\root'))) {
        if (Test-Path -LiteralPath (Join-Path $c 'io.containerd.snapshotter.v1.windows\snapshots')) { $root = $c; $how = 'the first known root that exists'; break }
    }
}
if (-not $root) { throw 'no containerd.exe runs here and no known containerd root exists' }
$snapshots = Join-Path $root 'io.containerd.snapshotter.v1.windows\snapshots'
$newest = @(Get-ChildItem -LiteralPath $snapshots -Directory | Where-Object { $_.Name -match '^\d+$' -and (Test-Path -LiteralPath (Join-Path $_.FullName 'Files') -PathType Container) }) |
    Sort-Object -Property @{ Expression = { [uint64]$_.Name } } -Descending | Select-Object -First 1
if (-not $newest) { throw "no snapshot with a Files folder under $snapshots" }
Write-Output "harness-root: $root ($how)"
Write-Output "harness-snapshot: $($newest.FullName)"
"#;
