# Shared by the workaround's start and stop. Every scenario value comes from the environment, never pasted into
# this script: HARNESS_SERVICE_NAME, HARNESS_SERVICE_DIR, HARNESS_RUN_ID, HARNESS_PROGRAM (the container's program)
# and HARNESS_PROGRAM_FILE (its file name), HARNESS_REGISTER_WITH (`program` or `sc`), and the command lines the
# harness quoted for the program and sc.exe (HARNESS_*_ARGS).
$ErrorActionPreference = 'Stop'
$name = $env:HARNESS_SERVICE_NAME
$dir = $env:HARNESS_SERVICE_DIR
$runId = $env:HARNESS_RUN_ID

# Before anything is changed: refuse a name that is empty, a wildcard pattern, a path or has control characters.
# Lookups below are exact anyway; this is a second line behind the harness's own validation.
if ([string]::IsNullOrEmpty($name) -or $name -match '[*?\[\]\\/\p{Cc}]') {
    Write-Output "harness: refusing the service name $(ConvertTo-Json $name): empty, or has one of * ? [ ] \ / or a control character; nothing was changed"
    exit 1
}
if ([string]::IsNullOrEmpty($runId)) {
    Write-Output "harness: HARNESS_RUN_ID is empty; nothing was changed"
    exit 1
}

$exe = Join-Path $dir $env:HARNESS_PROGRAM_FILE
$sc = Join-Path $env:SystemRoot 'System32\sc.exe'
# Where the harness marks a service as its own: a value in the service's registry key, which goes with the service.
$key = "HKLM:\SYSTEM\CurrentControlSet\Services\$name"
$markName = 'HarnessRunId'

# The service with exactly this name (case-insensitive, as Windows compares them), or $null. Never Get-Service -Name:
# it takes wildcards.
function Get-ExactService {
    # A service this account may not query must not stop the lookup: such errors are skipped, not thrown.
    Get-Service -ErrorAction SilentlyContinue | Where-Object { $_.ServiceName -eq $name } | Select-Object -First 1
}

# The run id the harness marked the service with, or $null when the service is not the harness's.
function Get-HarnessMark {
    $item = Get-Item -LiteralPath $key -ErrorAction SilentlyContinue
    if ($null -eq $item) { return $null }
    $item.GetValue($markName)
}

# Marks the service just registered as the harness's, for this run.
function Set-HarnessMark {
    New-ItemProperty -LiteralPath $key -Name $markName -PropertyType String -Value $runId -Force | Out-Null
}

# Runs $program with $arguments, a command line the harness quoted (render/winargs.rs), and returns its exit code.
# ProcessStartInfo hands the line over as it is: PowerShell's own native argument passing, which does not escape
# embedded quotes, never sees a scenario value.
function Invoke-Quoted([string] $program, [string] $arguments) {
    $info = New-Object System.Diagnostics.ProcessStartInfo
    $info.FileName = $program
    $info.Arguments = $arguments
    $info.UseShellExecute = $false
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $process = [System.Diagnostics.Process]::Start($info)
    # Read stderr in the background so that neither pipe can fill up and block the program.
    $stderr = $process.StandardError.ReadToEndAsync()
    $stdout = $process.StandardOutput.ReadToEnd()
    $process.WaitForExit()
    foreach ($text in @($stdout, $stderr.Result)) {
        if ($text) { Write-Host $text.TrimEnd() }
    }
    $process.ExitCode
}

# Stops, unregisters and deletes the service, but only one the harness registered: of this run, or of any run with
# -AnyRun (a leftover found at start). Any other service of that name is left untouched.
function Remove-HarnessService([switch] $AnyRun) {
    $service = Get-ExactService
    if ($null -eq $service) { return }
    $mark = Get-HarnessMark
    if ([string]::IsNullOrEmpty($mark)) {
        Write-Output "harness: service $name was not registered by the harness; left untouched"
        return
    }
    if (-not $AnyRun -and $mark -ne $runId) {
        Write-Output "harness: service $name belongs to another harness run; left untouched"
        return
    }
    if ($service.Status -ne 'Stopped') {
        Stop-Service -InputObject $service -Force
        $service.WaitForStatus('Stopped', [TimeSpan]::FromSeconds(60))
    }
    # --unregister-service deletes the service without stopping it first, hence the stop above.
    if ($env:HARNESS_UNREGISTER_ARGS -and (Test-Path -LiteralPath $exe)) { Invoke-Quoted $exe $env:HARNESS_UNREGISTER_ARGS | Out-Null }
    if ($null -ne (Get-ExactService)) { Invoke-Quoted $sc $env:HARNESS_SC_DELETE_ARGS | Out-Null }
    Write-Output "harness: service $name stopped and unregistered"
}
