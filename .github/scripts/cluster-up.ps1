<#
.SYNOPSIS
    Nightly phase 1: a Kubernetes cluster whose Windows node is this runner, reachable as kube context `k0s-windows`.

.DESCRIPTION
    -Target in-runner follows k0s's own Windows smoke test step by step: .github/workflows/win-wsl.yaml in
    k0sproject/k0s (read at dff90cee, 2026-08-21; last changed in d9c3a4a8, 2026-07-31):
      1. firewall off, HNS overlay network for Calico, Calico's LastBootTime  ("Pre-create HNS networking")
      2. .wslconfig                                                            ("Configure WSL to NOT do local port forwarding")
      3. WSL 2, Ubuntu 24.04 imported, kept alive by a systemd unit            ("Prepare WSL")
      4. netsh portproxy 6443 and 8132 from the runner's IP to WSL's           ("Persistent port forwards win -> WSL")
      5. k0s binaries: here from the GitHub release of -K0sVersion            ("Download compiled binaries")
      6. the controller in WSL: kine, calico, --enable-worker --no-taints      ("Install and start k0s controller")
      7. retried admin kubeconfig, API check, worker token                     ("Prepare kubeconfig", "Wait for kube api", "Get join token")
      8. k0s.exe install worker --token-file ... ; k0s.exe start               ("Install & Start k0s worker")
    then renames the kubeconfig's context to `k0s-windows` and waits for the Windows node to be Ready.
    -Target kubeconfig uses the cluster in $env:NIGHTLY_KUBECONFIG instead (a context named `k0s-windows` is required).
    Either way it first prints what the runner is: bind filter, minifilters, groups, WSL, OS build and UBR.
    Exports KUBECONFIG and K0S_EXE to later steps.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)][ValidateSet('in-runner', 'kubeconfig')][string]$Target,
    # The k0s release of this cell, e.g. v1.36.3+k0s.2 (in-runner only).
    [string]$K0sVersion = '',
    [string]$Context = 'k0s-windows',
    [string]$Work = (Join-Path $env:RUNNER_TEMP 'nightly')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$PSNativeCommandUseErrorActionPreference = $true
. "$PSScriptRoot/common.ps1"

$bin = Join-Path $Work 'bin'
New-Item -ItemType Directory -Force -Path $Work, $bin | Out-Null
$kubeconfig = Join-Path $Work 'kubeconfig'

function Show-Runner {
    Write-Phase 'The runner, as it is before anything changes'
    Show-Fact 'sc.exe query bindflt' { sc.exe query bindflt }
    Show-Fact 'sc.exe qc bindflt' { sc.exe qc bindflt }
    Show-Fact 'fltmc filters' { fltmc filters }
    Show-Fact 'whoami /groups' { whoami /groups }
    Show-Fact 'wsl --status' { wsl.exe --status }
    Show-Fact 'OS build and UBR' {
        Get-ItemProperty 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion' |
            Select-Object ProductName, DisplayVersion, CurrentBuildNumber, UBR | Format-List
    }
    Show-Fact 'bindfltapi.dll (hcsshim binds HostProcess rootfs only when it exists)' {
        Test-Path (Join-Path $env:SystemRoot 'System32\bindfltapi.dll')
    }
}

function Initialize-HnsNetwork {
    Write-Phase '1. Firewall off, HNS overlay network for Calico (win-wsl.yaml "Pre-create HNS networking")'
    Show-Command 'Set-NetFirewallProfile -Profile Domain,Public,Private -Enabled False'
    Set-NetFirewallProfile -Profile Domain, Public, Private -Enabled False

    # The module URL is the one win-wsl.yaml downloads (unpinned there too).
    $hns = Join-Path $Work 'hns.psm1'
    $url = 'https://raw.githubusercontent.com/Microsoft/SDN/master/Kubernetes/windows/hns.psm1'
    Show-Command "Invoke-WebRequest $url -OutFile $hns"
    Invoke-WebRequest -Uri $url -OutFile $hns
    Unblock-File -LiteralPath $hns
    Import-Module $hns -Force

    $best = Find-NetRoute -RemoteIPAddress '8.8.8.8' | Select-Object -First 1
    $adapter = (Get-NetAdapter -InterfaceIndex $best.InterfaceIndex).Name
    Write-Host "Creating the overlay network 'External' (192.168.255.0/30, VSID 9999) on adapter '$adapter'"
    New-HNSNetwork -Type Overlay -AddressPrefix '192.168.255.0/30' -Gateway '192.168.255.1' -Name 'External' `
        -SubnetPolicies @(@{ Type = 'VSID'; VSID = 9999 }) -AdapterName $adapter -Verbose | Out-Host
    # The runner's network drops while HNS moves it to the new vSwitch; win-wsl.yaml waits 20 s.
    Start-Sleep -Seconds 20

    # Calico for Windows recreates the network unless its stored boot time is the machine's.
    $tigera = 'HKLM:\Software\Tigera'
    $calico = "$tigera\Calico"
    foreach ($key in $tigera, $calico) {
        if (-not (Test-Path $key)) { New-Item -Path $key | Out-Null }
    }
    $bootTime = (Get-CimInstance Win32_OperatingSystem).LastBootUpTime
    if ($null -eq $bootTime) { throw 'Failed to get last boot time' }
    # Calico compares it with a string in the "general" format, as win-wsl.yaml notes.
    Set-ItemProperty -Path $calico -Name 'LastBootTime' -Value $bootTime.ToString('G')
    Write-Host "Calico LastBootTime = $($bootTime.ToString('G'))"
}

function Initialize-Wsl {
    Write-Phase '2. .wslconfig: no localhost forwarding, NAT (win-wsl.yaml "Configure WSL to NOT do local port forwarding")'
    $wslconfig = Join-Path $env:USERPROFILE '.wslconfig'
    "[wsl2]`nlocalhostForwarding=false`nnetworkingMode=nat`n" | Out-File -FilePath $wslconfig -Encoding ascii
    Get-Content $wslconfig | Out-Host

    Write-Phase '3. WSL 2 with Ubuntu 24.04, kept alive (win-wsl.yaml "Prepare WSL")'
    Show-Command 'wsl --set-default-version 2'
    & wsl.exe --set-default-version 2
    Show-Command 'wsl --update'
    & wsl.exe --update

    # The image URL is the one win-wsl.yaml downloads.
    $image = Join-Path $Work 'ubuntu.wsl'
    $url = 'https://old-releases.ubuntu.com/releases/24.04.2/ubuntu-24.04.2-wsl-amd64.wsl'
    Show-Command "curl.exe -fsSL --retry 3 -o $image $url"
    & curl.exe -fsSL --retry 3 -o $image $url
    $root = Join-Path $Work 'ubuntu'
    New-Item -ItemType Directory -Force -Path $root | Out-Null
    Show-Command "wsl --import $script:Distro $root $image"
    & wsl.exe --import $script:Distro $root $image
    & wsl.exe -l -v | Out-Host

    # WSL stops an idle distribution, and the controller with it: a unit that keeps one wsl.exe running
    # (https://github.com/microsoft/WSL/issues/10138#issuecomment-2380431569, as win-wsl.yaml does).
    $unit = Join-Path $Work 'keepwsl.service'
    Write-LfFile -Path $unit -Text @'
[Unit]
Description=A simple service to keep WSL alive
Documentation=https://github.com/gardengim/keepwsl

[Service]
ExecStart=/mnt/c/Windows/System32/wsl.exe sleep infinity
Restart=always

[Install]
WantedBy=default.target
'@
    $keepScript = Join-Path $Work 'keepwsl.sh'
    Write-LfFile -Path $keepScript -Text @"
install -m644 -- '$(ConvertTo-WslPath $unit)' /etc/systemd/system/keepwsl.service
systemctl daemon-reload
systemctl start keepwsl.service
systemctl --no-pager status keepwsl.service || true
"@
    Invoke-WslScript $keepScript
}

function Initialize-PortProxy {
    Write-Phase '4. Port forwards runner -> WSL for 6443 and 8132 (win-wsl.yaml "Persistent port forwards win -> WSL")'
    $wslIP = (& wsl.exe -d $script:Distro -e sh -c "hostname -I | cut -f 1 -d ' '" | Out-String).Trim()
    $nodeIP = Get-PrimaryIPv4
    if (-not $wslIP -or -not $nodeIP) { throw "could not find the addresses (WSL '$wslIP', runner '$nodeIP')" }
    Write-Host "runner (node) IP: $nodeIP; WSL IP: $wslIP"
    foreach ($port in 6443, 8132) {
        # Deleting a forward that does not exist fails; win-wsl.yaml ignores that too.
        $PSNativeCommandUseErrorActionPreference = $false
        & netsh.exe interface portproxy delete v4tov4 listenaddress=$nodeIP listenport=$port | Out-Null
        $PSNativeCommandUseErrorActionPreference = $true
        Show-Command "netsh interface portproxy add v4tov4 listenaddress=$nodeIP listenport=$port connectport=$port connectaddress=$wslIP"
        & netsh.exe interface portproxy add v4tov4 listenaddress=$nodeIP listenport=$port connectport=$port connectaddress=$wslIP | Out-Host
    }
    & netsh.exe interface portproxy show v4tov4 | Out-Host
    Add-GitHubEnv -Name 'NODE_IP' -Value $nodeIP
    Add-GitHubEnv -Name 'WSL_IP' -Value $wslIP
    return @{ NodeIP = $nodeIP; WslIP = $wslIP }
}

function Get-K0sRelease {
    Write-Phase "5. k0s $K0sVersion from its GitHub release (k0s-<version>-amd64 for WSL, k0s-<version>-amd64.exe for Windows)"
    # Asset names as k0s's release.yml uploads them and docs/experimental-windows.md downloads them ('+' as %2B).
    $encoded = $K0sVersion.Replace('+', '%2B')
    $base = "https://github.com/k0sproject/k0s/releases/download/$encoded"
    $sums = Join-Path $Work 'sha256sums.txt'
    Show-Command "curl.exe -fsSL --retry 3 -o $sums $base/sha256sums.txt"
    & curl.exe -fsSL --retry 3 -o $sums "$base/sha256sums.txt" | Out-Host
    # release.yml writes it with `sha256sum -b`: "<hash> *<file>".
    $expected = @{}
    foreach ($line in Get-Content $sums) {
        if ($line -match '^([0-9a-f]{64}) [ *](.+)$') { $expected[$Matches[2].Trim()] = $Matches[1] }
    }
    $assets = @{ "k0s-$K0sVersion-amd64" = (Join-Path $bin 'k0s'); "k0s-$K0sVersion-amd64.exe" = (Join-Path $bin 'k0s.exe') }
    foreach ($asset in $assets.Keys) {
        $dest = $assets[$asset]
        Show-Command "curl.exe -fsSL --retry 3 -o $dest $base/$asset"
        & curl.exe -fsSL --retry 3 -o $dest "$base/$asset" | Out-Host
        if (-not $expected.ContainsKey($asset)) { throw "sha256sums.txt of $K0sVersion lists no $asset" }
        $actual = Get-FileSha256 $dest
        if ($actual -ne $expected[$asset]) { throw "$asset has sha256 $actual, sha256sums.txt says $($expected[$asset])" }
        Write-Host "$asset sha256 $actual (matches sha256sums.txt)"
    }
    $k0s = Join-Path $bin 'k0s.exe'
    & $k0s version | Out-Host
    Add-GitHubEnv -Name 'K0S_EXE' -Value $k0s
    return $k0s
}

function Start-Controller {
    param([Parameter(Mandatory)][hashtable]$IPs)
    Write-Phase '6. The controller in WSL: kine, calico, worker enabled, no taints (win-wsl.yaml "Install and start k0s controller")'
    # win-wsl.yaml enables node-local load balancing with Traefik from k0s 1.36 on (6c44a715, "Add Traefik as an
    # alternative NLLB backend"); release-1.35's copy has none and release-1.34 has no Windows smoke test at all,
    # so the 1.34 cell uses the 1.35 recipe.
    $minor = if ($K0sVersion -match '^v1\.(\d+)\.') { [int]$Matches[1] } else { throw "not a k0s version: $K0sVersion" }
    $nllb = if ($minor -ge 36) {
        "    nodeLocalLoadBalancing:`n      enabled: true`n      type: Traefik`n"
    } else { '' }
    $config = @"
spec:
  api:
    address: $($IPs.NodeIP)
    sans:
      - $($IPs.WslIP)
      - $($IPs.NodeIP)
  storage:
    type: kine
  network:
    provider: calico
$nllb
"@
    $configFile = Join-Path $Work 'k0s.yaml'
    Write-LfFile -Path $configFile -Text $config
    Write-Host 'k0s.yaml:'
    Get-Content $configFile | Out-Host

    $controllerScript = Join-Path $Work 'controller.sh'
    Write-LfFile -Path $controllerScript -Text @"
install -m644 -D -- '$(ConvertTo-WslPath $configFile)' /etc/k0s/k0s.yaml
install -m755 -D -- '$(ConvertTo-WslPath (Join-Path $bin 'k0s'))' /usr/local/bin/k0s
k0s version
k0s install controller --debug --enable-worker --no-taints --disable-components metrics-server
# Not "k0s start": win-wsl.yaml notes its error reporting is poor.
systemctl start k0scontroller.service
"@
    Invoke-WslScript $controllerScript
}

function Get-AdminKubeconfig {
    Write-Phase '7. Admin kubeconfig, API, join token, retried (win-wsl.yaml "Prepare kubeconfig", "Wait for kube api", "Get join token")'
    $status = { & wsl.exe -d $script:Distro -u root -e /usr/bin/systemctl --no-pager status k0scontroller.service }
    Invoke-Retry -What 'Getting the admin kubeconfig' -Attempts 6 -OnFailure $status -Action {
        & wsl.exe -d $script:Distro -u root -e /usr/local/bin/k0s kubeconfig admin | Out-File -FilePath $kubeconfig -Encoding utf8
    }
    $env:KUBECONFIG = $kubeconfig
    Invoke-Retry -What 'Checking kube API access' -Attempts 15 -OnFailure $status -Action {
        & kubectl get nodes -o wide | Out-Host
    }
    $token = Join-Path $Work 'k0s-worker-token'
    Invoke-Retry -What 'Getting a worker join token' -Attempts 15 -OnFailure $status -Action {
        & wsl.exe -d $script:Distro -u root -e /usr/local/bin/k0s token create --role=worker | Out-File -FilePath $token -Encoding utf8
    }
    return $token
}

function Rename-Context {
    Write-Phase "Kube context renamed to '$Context' (the one scenarios/buildkit-6590.yaml allows)"
    $current = (& kubectl config current-context | Out-String).Trim()
    if ($current -ne $Context) {
        Show-Command "kubectl config rename-context $current $Context"
        & kubectl config rename-context $current $Context
    }
    & kubectl config use-context $Context
    Add-GitHubEnv -Name 'KUBECONFIG' -Value $kubeconfig
}

function Start-Worker {
    param([Parameter(Mandatory)][string]$K0s, [Parameter(Mandatory)][string]$TokenFile)
    Write-Phase '8. This runner joins as the Windows worker (win-wsl.yaml "Install & Start k0s worker")'
    Show-Command "$K0s install worker --token-file=$TokenFile --debug --kubelet-extra-args=--hostname-override=windowsworker"
    & $K0s install worker "--token-file=$TokenFile" --debug '--kubelet-extra-args=--hostname-override=windowsworker'
    Show-Command "$K0s start"
    & $K0s start
}

function Wait-WindowsNode {
    param([int]$Minutes = 15)
    Write-Phase "Waiting for a Windows node to be Ready (up to $Minutes min)"
    $deadline = (Get-Date).AddMinutes($Minutes)
    while ($true) {
        try {
            $nodes = @(& kubectl get nodes -l kubernetes.io/os=windows -o name)
        } catch {
            Write-Host "kubectl get nodes: $_"
            $nodes = @()
        }
        if ($nodes.Count -gt 0) { break }
        if ((Get-Date) -gt $deadline) { throw "no Windows node registered within $Minutes min" }
        Write-Host 'no Windows node yet'
        Start-Sleep -Seconds 10
    }
    $left = [int][Math]::Max(60, ($deadline - (Get-Date)).TotalSeconds)
    Show-Command "kubectl wait --for=condition=Ready node -l kubernetes.io/os=windows --timeout=${left}s"
    & kubectl wait --for=condition=Ready node -l kubernetes.io/os=windows "--timeout=${left}s"
    # The DaemonSets k0s's inttest/windows waits for. The workload under test uses the host network, so a slow
    # Calico is reported here, not fatal.
    foreach ($ds in 'kube-proxy-windows', 'calico-node-windows') {
        Invoke-BestEffort -What "rollout of kube-system/$ds" -Action {
            & kubectl -n kube-system rollout status "ds/$ds" --timeout=5m
        } | Out-Null
    }
    & kubectl get nodes -o wide | Out-Host
    & kubectl get nodes -l kubernetes.io/os=windows `
        -o 'custom-columns=NODE:.metadata.name,KUBELET:.status.nodeInfo.kubeletVersion,RUNTIME:.status.nodeInfo.containerRuntimeVersion,KERNEL:.status.nodeInfo.kernelVersion,OS:.status.nodeInfo.osImage' |
        Out-Host
}

Show-Runner

if ($Target -eq 'kubeconfig') {
    Write-Phase "The cluster from the NIGHTLY_KUBECONFIG secret, context '$Context'"
    if (-not $env:NIGHTLY_KUBECONFIG) { throw 'target kubeconfig needs the NIGHTLY_KUBECONFIG secret (a kubeconfig file, as text)' }
    [IO.File]::WriteAllText($kubeconfig, $env:NIGHTLY_KUBECONFIG, [Text.UTF8Encoding]::new($false))
    $env:KUBECONFIG = $kubeconfig
    $contexts = @(& kubectl config get-contexts -o name)
    if ($contexts -notcontains $Context) {
        throw "the kubeconfig has no context named '$Context' (it has: $($contexts -join ', ')); the scenario allows only that one"
    }
    & kubectl config use-context $Context
    Add-GitHubEnv -Name 'KUBECONFIG' -Value $kubeconfig
    Wait-WindowsNode -Minutes 5
    return
}

if (-not $K0sVersion) { throw 'target in-runner needs -K0sVersion' }
Initialize-HnsNetwork
Initialize-Wsl
$ips = Initialize-PortProxy
$k0sExe = Get-K0sRelease
Start-Controller -IPs $ips
$tokenFile = Get-AdminKubeconfig
Rename-Context
Start-Worker -K0s $k0sExe -TokenFile $tokenFile
Wait-WindowsNode -Minutes 15
Write-Host "cluster up: k0s $K0sVersion, context '$Context', KUBECONFIG=$kubeconfig"
