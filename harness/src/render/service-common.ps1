# Shared by the workaround's start and stop: the service's name, folder and binary come from the
# environment only (HARNESS_SERVICE_NAME, HARNESS_SERVICE_DIR), never pasted into this script.
$ErrorActionPreference = 'Stop'
$name = $env:HARNESS_SERVICE_NAME
$dir = $env:HARNESS_SERVICE_DIR
$exe = Join-Path $dir 'buildkitd.exe'

function Remove-BuildkitService {
    $service = Get-Service -Name $name -ErrorAction SilentlyContinue
    if ($null -eq $service) { return }
    if ($service.Status -ne 'Stopped') {
        Stop-Service -Name $name -Force
        $service.WaitForStatus('Stopped', [TimeSpan]::FromSeconds(60))
    }
    # --unregister-service deletes the service without stopping it first, hence the stop above.
    if (Test-Path $exe) { & $exe --unregister-service --service-name $name }
    if ($null -ne (Get-Service -Name $name -ErrorAction SilentlyContinue)) { & sc.exe delete $name | Out-Null }
    Write-Output "harness: service $name stopped and unregistered"
}
