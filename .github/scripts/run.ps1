<#
.SYNOPSIS
    Nightly phase 3: the harness on this cell, cluster lane and host lane, then always the janitor.

.DESCRIPTION
    harness run <Scenarios> --lane cluster --lane host --context <Context> --require cluster --require host
                --run-id <RunId> --out <Out> --history <Out>/history
    The run is recorded as one file under <Out>/history/runs (the report job adds it to the harness-history branch).
    Its exit code is kept in <Out>/harness-exit.txt and is this script's exit code:
      0 every verdict as expected; 1 a verdict moved (regressed, no-longer-reproduces, changed);
      2 usage; 3 infrastructure (a lane that had to run ran nothing, or a step could not be observed);
      130 interrupted. Anything but 0 fails the job. The janitor's failure fails it too.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)][string]$RunId,
    [Parameter(Mandatory)][string]$Out,
    [string]$Context = 'k0s-windows',
    [string]$Scenarios = 'scenarios/',
    # The builds' client: image.ps1 builds it from the same buildkit source as the buildkitd under test.
    [string]$Buildctl = (Join-Path $env:RUNNER_TEMP 'nightly/buildkit-bin/buildctl.exe')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$PSNativeCommandUseErrorActionPreference = $true
. "$PSScriptRoot/common.ps1"

$meaning = @{
    0   = 'every verdict as expected'
    1   = 'a verdict moved (regressed, no-longer-reproduces or changed)'
    2   = 'usage: invalid input, or a context not in the kubeconfig or not allowed'
    3   = 'infrastructure: a lane that had to run ran nothing, or a step could not be observed'
    130 = 'interrupted'
}

Write-Phase 'The harness (a no-op build when image.ps1 built it already)'
& cargo build --release --locked -p harness -p bindprobe | Out-Host
$harness = (Resolve-Path 'target/release/harness.exe').Path
# The host lane runs bindprobe on this runner, natively and in a silo it makes.
$env:BINDPROBE = (Resolve-Path 'target/release/bindprobe.exe').Path
# The cluster lane sends each build to the workload's buildkitd with buildctl.
if (-not (Test-Path -LiteralPath $Buildctl -PathType Leaf)) { throw "buildctl.exe is not at $Buildctl: the image phase did not finish" }
$env:BUILDCTL = (Resolve-Path -LiteralPath $Buildctl).Path
New-Item -ItemType Directory -Force -Path $Out | Out-Null
if (-not $env:KUBECONFIG) { throw 'KUBECONFIG is not set: the cluster-up phase did not finish' }

$runArgs = @('run', $Scenarios, '--lane', 'cluster', '--lane', 'host', '--context', $Context,
    '--require', 'cluster', '--require', 'host', '--run-id', $RunId, '--out', $Out,
    '--history', (Join-Path $Out 'history'))
$code = 3
try {
    Write-Phase "harness $($runArgs -join ' ')"
    # The exit code is the result: read it, do not let it throw.
    $PSNativeCommandUseErrorActionPreference = $false
    & $harness @runArgs
    $code = $LASTEXITCODE
    $PSNativeCommandUseErrorActionPreference = $true
    $text = if ($meaning.ContainsKey($code)) { $meaning[$code] } else { 'unexpected' }
    Write-Host "harness run exited $code ($text)"
} finally {
    $PSNativeCommandUseErrorActionPreference = $true
    Set-Content -LiteralPath (Join-Path $Out 'harness-exit.txt') -Value $code -Encoding ascii
    Write-Phase "harness janitor --context $Context --run-id $RunId (always)"
    $PSNativeCommandUseErrorActionPreference = $false
    & $harness janitor --context $Context --run-id $RunId $Scenarios
    $janitor = $LASTEXITCODE
    $PSNativeCommandUseErrorActionPreference = $true
    Write-Host "harness janitor exited $janitor"
    if ($janitor -ne 0) {
        Write-Host "::error::harness janitor exited $janitor: namespaces of run $RunId may be left on context $Context"
        if ($code -eq 0) { $code = $janitor }
    }
}

if ($code -ne 0) {
    Write-Host "::error::harness run exited $code on this cell; the job summary lists the verdicts"
}
exit $code
