# The workaround of moby/buildkit#6590: run buildkitd as a Windows service, outside the HostProcess silo.
$log = $env:HARNESS_SERVICE_LOG
$daemonArgs = @($env:HARNESS_BUILDKITD_ARGS | ConvertFrom-Json)
$source = $env:HARNESS_BUILDKITD_EXE -replace '^(\$env:CONTAINER_SANDBOX_MOUNT_POINT|%CONTAINER_SANDBOX_MOUNT_POINT%)', $env:CONTAINER_SANDBOX_MOUNT_POINT

# A service left by an earlier pod makes --register-service fail with ERROR_SERVICE_EXISTS (1073): remove it first.
Remove-BuildkitService
# The sandbox mount (C:\hpc) exists only inside the silo and the service manager runs outside it:
# register from a copy in a real host folder.
New-Item -ItemType Directory -Force -Path $dir | Out-Null
Copy-Item -Force -Path $source -Destination $exe
& $exe --register-service --service-name $name @daemonArgs "--log-file=$log"
if ($LASTEXITCODE -ne 0) { throw "buildkitd --register-service exited with $LASTEXITCODE" }
Start-Service -Name $name
Write-Output "harness: service $name registered from $exe and started"
while ($true) {
    $status = (Get-Service -Name $name).Status
    Write-Output "harness: service $name $status"
    if ($status -ne 'Running') { Remove-BuildkitService; exit 1 }
    Start-Sleep -Seconds 30
}
