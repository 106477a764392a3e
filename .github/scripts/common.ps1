# Helpers the nightly's phase scripts dot-source (". $PSScriptRoot/common.ps1"). Nothing here runs on its own.
# Every phase script sets strict mode itself before dot-sourcing this file; the same settings here keep this file
# strict wherever it is loaded.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$PSNativeCommandUseErrorActionPreference = $true

# wsl.exe prints UTF-16 unless told otherwise; with this it prints UTF-8, which the logs can show.
$env:WSL_UTF8 = '1'

# The WSL distribution the controller runs in, named as k0s's win-wsl.yaml names it.
$script:Distro = 'Ubuntu'

function Write-Phase {
    # A heading in the log, so each phase reads top to bottom.
    param([Parameter(Mandatory)][string]$Title)
    Write-Host ''
    Write-Host "==== $Title"
}

function Show-Command {
    # Prints a command line before the caller runs it. Native commands are called directly, never through a
    # wrapper: an advanced function would take "-d" or "-n" as its own common parameters.
    param([Parameter(Mandatory)][string]$Line)
    Write-Host "> $Line"
}

function Show-Fact {
    # Runs a command only to show its output: a failure is printed with its exit code, never thrown.
    param(
        [Parameter(Mandatory)][string]$Title,
        [Parameter(Mandatory)][scriptblock]$Command
    )
    Write-Host "---- $Title"
    # Local to this function (and the block it runs): the caller keeps its own setting.
    $PSNativeCommandUseErrorActionPreference = $false
    $global:LASTEXITCODE = 0
    try {
        & $Command | Out-Host
        if ((Test-Path variable:LASTEXITCODE) -and $LASTEXITCODE -ne 0) {
            Write-Host "(exit code $LASTEXITCODE)"
        }
    } catch {
        Write-Host "(failed: $_)"
    }
}

function Invoke-BestEffort {
    # For clean-up and collection: runs the block, turns a failure into a warning annotation, returns $false.
    param(
        [Parameter(Mandatory)][string]$What,
        [Parameter(Mandatory)][scriptblock]$Action
    )
    Write-Host "---- $What"
    try {
        & $Action | Out-Host
        return $true
    } catch {
        Write-Host "::warning::$What failed: $_"
        return $false
    }
}

function Invoke-Retry {
    # k0s's win-wsl.yaml retry loops ("Prepare kubeconfig", "Wait for kube api", "Get join token"), as one function.
    param(
        [Parameter(Mandatory)][string]$What,
        [Parameter(Mandatory)][scriptblock]$Action,
        [int]$Attempts = 15,
        [int]$DelaySeconds = 5,
        [scriptblock]$OnFailure
    )
    for ($attempt = 1; ; $attempt++) {
        try {
            Write-Host "$What (attempt $attempt of $Attempts) ..."
            return (& $Action)
        } catch {
            if ($attempt -ge $Attempts) { throw }
            Write-Warning "$What failed: $_"
            if ($OnFailure) {
                try { & $OnFailure | Out-Host } catch { Write-Warning "$_" }
            }
            Start-Sleep -Seconds $DelaySeconds
        }
    }
}

function Add-GitHubEnv {
    # Makes NAME=VALUE visible to the job's later steps.
    param([Parameter(Mandatory)][string]$Name, [Parameter(Mandatory)][string]$Value)
    Write-Host "env for later steps: $Name=$Value"
    if ($env:GITHUB_ENV) {
        "$Name=$Value" | Out-File -FilePath $env:GITHUB_ENV -Append -Encoding utf8
    }
}

function Get-PrimaryIPv4 {
    # The runner's primary address, found as k0s's win-wsl.yaml finds it: the interface of the route to 8.8.8.8.
    $best = Find-NetRoute -RemoteIPAddress '8.8.8.8' | Select-Object -First 1
    $address = Get-NetIPAddress -InterfaceIndex $best.InterfaceIndex -AddressFamily IPv4 | Select-Object -First 1
    return $address.IPAddress
}

function ConvertTo-WslPath {
    # C:\a\b -> /mnt/c/a/b: the expression k0s's win-wsl.yaml uses for the k0s binary's folder.
    param([Parameter(Mandatory)][string]$Path)
    $full = (Resolve-Path -LiteralPath $Path).Path
    return "/mnt/$((Split-Path -Qualifier $full).ToLower()[0])$((Split-Path -NoQualifier $full) -replace '\\', '/')"
}

function Write-LfFile {
    # Writes text with LF line ends and no BOM: for files that WSL's bash or systemd read.
    param([Parameter(Mandatory)][string]$Path, [Parameter(Mandatory)][string]$Text)
    $lf = ($Text -replace "`r`n", "`n")
    [IO.File]::WriteAllText($Path, $lf, [Text.UTF8Encoding]::new($false))
}

function Invoke-WslScript {
    # Runs a bash script file as root in the controller's distribution (errexit, nounset, pipefail).
    param([Parameter(Mandatory)][string]$ScriptPath)
    $wslPath = ConvertTo-WslPath $ScriptPath
    Show-Command "wsl.exe -d $script:Distro -u root -e bash -euo pipefail $wslPath"
    & wsl.exe -d $script:Distro -u root -e bash -euo pipefail $wslPath
}

function Get-FileSha256 {
    param([Parameter(Mandatory)][string]$Path)
    return (Get-FileHash -Algorithm SHA256 -LiteralPath $Path).Hash.ToLowerInvariant()
}

function Get-WindowsBuild {
    # The runner's build and update revision, e.g. 20348.4773 (what the scenario's `windowsBuild` means).
    $cv = Get-ItemProperty 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
    return "$($cv.CurrentBuildNumber).$($cv.UBR)"
}
