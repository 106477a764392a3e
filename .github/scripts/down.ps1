<#
.SYNOPSIS
    Nightly phase 5 (always): take down what cluster-up made.

.DESCRIPTION
    in-runner: k0s.exe stop and reset on the Windows side (win-wsl.yaml "Stop & reset k0s worker"), then the
    controller in WSL (systemctl stop k0scontroller, k0s reset), then the port forwards.
    kubeconfig: the cluster is not ours; only the janitor runs again for this run id (a no-op when run.ps1's
    janitor already cleaned up, and the clean-up when that step was cut off by its timeout).
    The runner is discarded after the job either way; every action is best effort and a failure is a warning.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)][ValidateSet('in-runner', 'kubeconfig')][string]$Target,
    [Parameter(Mandatory)][string]$RunId,
    [string]$Context = 'k0s-windows'
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$PSNativeCommandUseErrorActionPreference = $true
. "$PSScriptRoot/common.ps1"

$harness = Join-Path (Get-Location) 'target/release/harness.exe'
if ($env:KUBECONFIG -and (Test-Path -LiteralPath $harness)) {
    Invoke-BestEffort -What "harness janitor --context $Context --run-id $RunId" -Action {
        & $harness janitor --context $Context --run-id $RunId scenarios/
    } | Out-Null
}

if ($Target -eq 'kubeconfig') { return }

$k0s = $env:K0S_EXE
if ($k0s -and (Test-Path -LiteralPath $k0s)) {
    Write-Phase 'Windows worker: k0s stop, k0s reset'
    Invoke-BestEffort -What 'k0s.exe stop' -Action { & $k0s stop --debug } | Out-Null
    Invoke-BestEffort -What 'k0s.exe reset' -Action { & $k0s reset --debug } | Out-Null
} else {
    Write-Host 'no k0s.exe: the worker was never installed'
}

$distros = @()
try { $distros = @(& wsl.exe -l -q | ForEach-Object { "$_".Trim() } | Where-Object { $_ }) } catch { Write-Host "wsl -l: $_" }
if ($distros -contains $script:Distro) {
    Write-Phase 'Controller in WSL: stop, k0s reset'
    Invoke-BestEffort -What 'systemctl stop k0scontroller' -Action {
        & wsl.exe -d $script:Distro -u root -e /usr/bin/systemctl stop k0scontroller.service
    } | Out-Null
    Invoke-BestEffort -What 'k0s reset (controller)' -Action {
        & wsl.exe -d $script:Distro -u root -e /usr/local/bin/k0s reset --debug
    } | Out-Null
} else {
    Write-Host "no WSL distribution '$script:Distro': the controller was never set up"
}

if ($env:NODE_IP) {
    Write-Phase 'Port forwards'
    foreach ($port in 6443, 8132) {
        Invoke-BestEffort -What "netsh portproxy delete $($env:NODE_IP):$port" -Action {
            & netsh.exe interface portproxy delete v4tov4 listenaddress=$env:NODE_IP listenport=$port
        } | Out-Null
    }
}
Write-Host 'down: done'
