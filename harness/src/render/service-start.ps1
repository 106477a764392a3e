# The service workaround (moby/buildkit#6590's first): run the container's program as a Windows service, outside the
# HostProcess silo.
$source = $env:HARNESS_PROGRAM -replace '^(\$env:CONTAINER_SANDBOX_MOUNT_POINT|%CONTAINER_SANDBOX_MOUNT_POINT%)', $env:CONTAINER_SANDBOX_MOUNT_POINT

# A service of that name that the harness did not register (the node owner's, say) is refused before anything is
# changed; registering would fail on it with ERROR_SERVICE_EXISTS anyway.
$existing = Get-ExactService
if ($null -ne $existing -and [string]::IsNullOrEmpty((Get-HarnessMark))) {
    Write-Output "ERROR_SERVICE_EXISTS (1073) harness: service $name exists and was not registered by the harness; nothing was changed"
    exit 1
}
# A service left by an earlier harness pod would make registering fail the same way: remove it first.
Remove-HarnessService -AnyRun
# The sandbox mount (C:\hpc) exists only inside the silo and the service manager runs outside it:
# register from a copy in a real host folder.
New-Item -ItemType Directory -Force -Path $dir | Out-Null
Copy-Item -Force -LiteralPath $source -Destination $exe
# HARNESS_REGISTER_ARGS is the whole quoted command line: for the program, --register-service --service-name, its
# arguments, --log-file; for sc.exe, create NAME binPath= "PROGRAM ARGUMENTS" start= demand.
$registrar = if ($env:HARNESS_REGISTER_WITH -eq 'sc') { $sc } else { $exe }
$code = Invoke-Quoted $registrar $env:HARNESS_REGISTER_ARGS
if ($code -ne 0) { throw "registering service $name with $registrar exited with $code" }
Set-HarnessMark
Start-Service -InputObject (Get-ExactService)
Write-Output "harness: service $name registered from $exe and started"
while ($true) {
    $service = Get-ExactService
    $status = if ($null -eq $service) { 'Missing' } else { $service.Status }
    Write-Output "harness: service $name $status"
    if ($status -ne 'Running') { Remove-HarnessService; exit 1 }
    Start-Sleep -Seconds 30
}
