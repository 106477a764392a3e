<#
.SYNOPSIS
    Nightly phase 4 (always): everything a reader needs to judge the cell, in <Out>, which the job uploads.

.DESCRIPTION
    <Out>/outcomes.jsonl, junit.xml, summary.md   the harness's reports (when it ran)
    <Out>/cluster/                                 kubectl get nodes,pods,ds,events -A -o wide; describe of the
                                                   nodes and of the harness's namespaces; calico-node-windows
    <Out>/logs/                                    C:/var/lib/k0s/*.log, C:/var/log, `wsl journalctl -u k0scontroller`
                                                   (in-runner), as k0s's win-wsl.yaml collects them
    <Out>/cell.json                                what the final job's table reads: versions observed, harness exit,
                                                   how each phase ended
    and the job summary: a header naming the k0s, containerd and Windows build observed, which verdicts moved
    (on exit 1), then <Out>/summary.md. Every part is best effort: one that fails is a warning, never the end.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)][string]$Cell,
    [Parameter(Mandatory)][string]$Out,
    [Parameter(Mandatory)][ValidateSet('in-runner', 'kubeconfig')][string]$Target,
    [string]$K0sVersion = '',
    # "cluster-up=success image=failure ..." from the workflow (steps.<id>.outcome).
    [string]$Phases = ''
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$PSNativeCommandUseErrorActionPreference = $true
. "$PSScriptRoot/common.ps1"

New-Item -ItemType Directory -Force -Path $Out, (Join-Path $Out 'cluster'), (Join-Path $Out 'logs') | Out-Null
$haveCluster = [bool]$env:KUBECONFIG -and (Test-Path -LiteralPath $env:KUBECONFIG)

function Save-Output {
    # Runs a block and saves what it prints (errors included) to <Out>/<RelativePath>.
    param([Parameter(Mandatory)][string]$RelativePath, [Parameter(Mandatory)][scriptblock]$Command)
    $path = Join-Path $Out $RelativePath
    Invoke-BestEffort -What "$RelativePath" -Action {
        & $Command *>&1 | ForEach-Object { "$_" } | Out-File -FilePath $path -Encoding utf8
        Write-Host "saved $path"
    } | Out-Null
}

Write-Phase 'Cluster state'
if ($haveCluster) {
    Save-Output 'cluster/get-all.txt' { kubectl get nodes,pods,ds,events -A -o wide }
    Save-Output 'cluster/describe-nodes.txt' { kubectl describe nodes }
    Save-Output 'cluster/calico-node-windows.yaml' { kubectl -n kube-system get ds calico-node-windows -o yaml }
    # The harness's namespaces carry app.kubernetes.io/managed-by=harness; after a clean teardown there are none.
    Save-Output 'cluster/harness-namespaces.txt' {
        $listed = (kubectl get namespaces -l app.kubernetes.io/managed-by=harness -o 'jsonpath={.items[*].metadata.name}' | Out-String).Trim()
        $namespaces = @($listed -split '\s+' | Where-Object { $_ })
        if ($namespaces.Count -eq 0) { 'no namespace labelled app.kubernetes.io/managed-by=harness is left' }
        foreach ($ns in $namespaces) {
            "==== namespace $ns"
            kubectl describe namespace $ns
            kubectl -n $ns describe daemonsets,pods
            kubectl -n $ns get events -o wide
        }
    }
} else {
    Write-Host 'no KUBECONFIG: the cluster never came up, nothing to ask it'
}

if ($Target -eq 'in-runner') {
    Write-Phase 'k0s and containerd logs (as win-wsl.yaml collects them)'
    $logs = Join-Path $Out 'logs'
    Invoke-BestEffort -What 'C:/var/lib/k0s/*.log' -Action {
        if (Test-Path 'C:/var/lib/k0s') { Copy-Item -Path 'C:/var/lib/k0s/*.log' -Destination $logs -Force }
    } | Out-Null
    Invoke-BestEffort -What 'C:/var/log' -Action {
        if (Test-Path 'C:/var/log') { Copy-Item -Path 'C:/var/log' -Destination $logs -Recurse -Force }
    } | Out-Null
    Save-Output 'logs/k0scontroller.log' { wsl.exe -d $script:Distro -u root -e /usr/bin/journalctl --no-pager --boot -u k0scontroller.service }
    Save-Output 'logs/k0sworker-service.txt' { sc.exe queryex k0sworker; sc.exe qc k0sworker }
    Save-Output 'logs/containerd-images.txt' { & $env:K0S_EXE ctr -n k8s.io images ls }
}

Write-Phase 'Facts for the summary'
$node = $null
if ($haveCluster) {
    try {
        $nodes = kubectl get nodes -l kubernetes.io/os=windows -o json | Out-String | ConvertFrom-Json -AsHashtable
        $node = @($nodes['items']) | Select-Object -First 1
    } catch {
        Write-Host "::warning::could not read the Windows node: $_"
    }
}
$info = if ($null -ne $node) { $node['status']['nodeInfo'] } else { $null }
$exitFile = Join-Path $Out 'harness-exit.txt'
$harnessExit = if (Test-Path -LiteralPath $exitFile) { [int]((Get-Content -Raw $exitFile).Trim()) } else { $null }
$facts = [ordered]@{
    cell        = $Cell
    target      = $Target
    k0sRequested = $K0sVersion
    kubelet     = if ($info) { $info['kubeletVersion'] } else { $null }
    containerd  = if ($info) { ($info['containerRuntimeVersion'] -replace '^containerd://', '') } else { $null }
    windowsBuild = if ($info) { ($info['kernelVersion'] -replace '^10\.0\.', '') } else { Get-WindowsBuild }
    windowsBuildFrom = if ($info) { 'node' } else { 'runner' }
    node        = if ($node) { $node['metadata']['name'] } else { $null }
    runnerBuild = Get-WindowsBuild
    harnessExit = $harnessExit
    phases      = $Phases
    runAttempt  = $env:GITHUB_RUN_ATTEMPT
}
$facts | ConvertTo-Json -Depth 4 | Out-File -FilePath (Join-Path $Out 'cell.json') -Encoding utf8
Get-Content (Join-Path $Out 'cell.json') | Out-Host

Write-Phase 'Job summary'
$none = '(not observed)'
$k0sShown = if ($facts.kubelet) { $facts.kubelet } elseif ($K0sVersion) { "$K0sVersion (requested)" } else { $none }
$containerdShown = if ($facts.containerd) { $facts.containerd } else { $none }
$lines = @("## Cell $Cell - k0s $k0sShown, containerd $containerdShown, Windows $($facts.windowsBuild) ($($facts.windowsBuildFrom))", '')
$ran = if ($null -eq $harnessExit) {
    "The harness did not run (phases: $Phases)."
} else {
    "harness run exited **$harnessExit** (phases: $Phases)."
}
$lines += $ran
$outcomes = Join-Path $Out 'outcomes.jsonl'
if (Test-Path -LiteralPath $outcomes) {
    $moved = @(Get-Content $outcomes | Where-Object { $_.Trim() } | ForEach-Object { $_ | ConvertFrom-Json -AsHashtable } |
            Where-Object { $_['verdict'] -in 'regressed', 'no-longer-reproduces', 'changed' })
    if ($moved.Count -gt 0) {
        $lines += '', '**Verdicts that moved:**', '', '| verdict | lane | case | step | observed | expected |', '|---|---|---|---|---|---|'
        foreach ($o in $moved) {
            $seen = if ($o.ContainsKey('class')) { $o['class'] } else { $o['result'] }
            $expected = if ($o['expected']) { $o['expected'] } else { '' }
            $lines += "| $($o['verdict']) | $($o['lane']) | $($o['case']) | $($o['step']) | $seen | $expected |"
        }
    }
}
$summary = Join-Path $Out 'summary.md'
if (Test-Path -LiteralPath $summary) {
    $lines += '', (Get-Content -Raw $summary)
}
$text = ($lines -join "`n") + "`n"
if ($env:GITHUB_STEP_SUMMARY) { $text | Out-File -FilePath $env:GITHUB_STEP_SUMMARY -Append -Encoding utf8 }
Write-Host $text
