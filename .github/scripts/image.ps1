<#
.SYNOPSIS
    Nightly phase 2: the HostProcess image the scenario deploys, built on the runner and imported into k0s's
    containerd (namespace k8s.io) under exactly the scenario's image name. No registry.

.DESCRIPTION
    1. harness.exe and bindprobe.exe: `cargo build --release --locked` (the Rust of rust-toolchain.toml).
    2. The image name: `harness render` of the scenario's reproduction variant for this buildkit version.
    3. buildkitd.exe and buildctl.exe from moby/buildkit's source at -BuildkitVersion (shallow clone), with the
       runner's Go, the way buildkit's Dockerfile builds them (stages `buildctl` and `buildkitd`, copied as .exe by
       `binaries-windows`): CGO_ENABLED=0, -ldflags "-X <pkg>/version.Version=... -X <pkg>/version.Revision=...
       -X <pkg>/version.Package=github.com/moby/buildkit", buildkitd with tags "osusergo netgo static_build seccomp".
    4. The image, in the format `docker save` writes: the official HostProcess base image
       mcr.microsoft.com/oss/kubernetes/windows-host-process-containers-base-image:v1.0.0 (fetched over the
       registry API), plus one layer with
         Files/buildkit/buildkitd.exe   -> C:\hpc\buildkit\buildkitd.exe, the DaemonSet's command
                                           ($env:CONTAINER_SANDBOX_MOUNT_POINT/buildkit/buildkitd.exe)
         Files/buildkit/buildctl.exe
         Files/bindprobe.exe            -> C:\hpc\bindprobe.exe, at the image root because hcsshim appends the
                                           container's mount point (C:\hpc\) to PATH for every process it starts
                                           in a HostProcess container, exec'd ones included
                                           (internal/jobcontainers/jobcontainer.go, "Add the rootfs location to
                                           PATH"; in v0.11.7 for containerd 1.7 and v0.15.0-rc.3 for 2.3), so the
                                           cluster lane's `bindprobe.exe` resolves with no PATH in the image.
       Assembled by hand, as Microsoft's New-HostProcessBaseImage.ps1 assembles the base image itself: neither
       `docker build` (moby/moby#44992: "hcsshim::ImportLayer failed ... The configuration registry database is
       corrupt") nor a native buildkitd (moby/buildkit#5196, open) can build on this base on Windows.
    5. In-runner: `k0s.exe ctr -n k8s.io images import`, then the image must be listed under its name.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)][string]$BuildkitVersion,
    [string]$Scenario = 'scenarios/buildkit-6590.yaml',
    # Import into the local k0s's containerd (in-runner); without it only the archive is written.
    [switch]$Import,
    [string]$K0sExe = $env:K0S_EXE,
    [string]$Work = (Join-Path $env:RUNNER_TEMP 'nightly'),
    # Where the image archive goes (uploaded as an artifact when the cluster is not this runner).
    [string]$ArchiveDir = (Join-Path $env:GITHUB_WORKSPACE 'out/image')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$PSNativeCommandUseErrorActionPreference = $true
. "$PSScriptRoot/common.ps1"

$BaseRepository = 'oss/kubernetes/windows-host-process-containers-base-image'
$BaseTag = 'v1.0.0'
$Registry = 'https://mcr.microsoft.com'
$Tar = Join-Path $env:SystemRoot 'System32\tar.exe'   # Windows's bsdtar, the one New-HostProcessBaseImage.ps1 uses

$root = Join-Path $Work 'image'
Remove-Item -Recurse -Force -LiteralPath $root -ErrorAction SilentlyContinue
New-Item -ItemType Directory -Force -Path $root, $ArchiveDir | Out-Null

function Build-Rust {
    Write-Phase '1. harness.exe and bindprobe.exe (cargo build --release --locked)'
    & rustup show active-toolchain | Out-Host
    Show-Command 'cargo build --release --locked -p harness -p bindprobe'
    & cargo build --release --locked -p harness -p bindprobe | Out-Host
    $exe = @{
        Harness   = (Resolve-Path 'target/release/harness.exe').Path
        Bindprobe = (Resolve-Path 'target/release/bindprobe.exe').Path
    }
    Write-Host "harness: $($exe.Harness); bindprobe: $($exe.Bindprobe)"
    return $exe
}

function Get-ImageName {
    param([Parameter(Mandatory)][string]$Harness)
    Write-Phase "2. The image name $Scenario deploys for buildkit $BuildkitVersion"
    $rendered = @(& $Harness render $Scenario --variant reproduction --cell "buildkit=$BuildkitVersion")
    $names = @($rendered | ForEach-Object { if ($_ -match '^\s*image:\s*"?([^"\s]+)"?\s*$') { $Matches[1] } } | Sort-Object -Unique)
    if ($names.Count -ne 1) { throw "expected one image in the rendered scenario, found: $($names -join ', ')" }
    $name = $names[0]
    if ($name -notmatch [regex]::Escape($BuildkitVersion)) { throw "image $name does not name buildkit $BuildkitVersion" }
    Write-Host "image: $name"
    return $name
}

function Build-Buildkit {
    Write-Phase "3. buildkitd.exe and buildctl.exe from moby/buildkit $BuildkitVersion with the runner's Go"
    $src = Join-Path $Work 'buildkit-src'
    Remove-Item -Recurse -Force -LiteralPath $src -ErrorAction SilentlyContinue
    Show-Command "git clone --depth 1 --branch $BuildkitVersion https://github.com/moby/buildkit.git $src"
    & git -c advice.detachedHead=false clone --quiet --depth 1 --branch $BuildkitVersion https://github.com/moby/buildkit.git $src | Out-Host
    $revision = (& git -C $src rev-parse HEAD | Out-String).Trim()
    Write-Host "moby/buildkit $BuildkitVersion is commit $revision"
    $out = Join-Path $Work 'buildkit-bin'
    New-Item -ItemType Directory -Force -Path $out | Out-Null

    Push-Location $src
    try {
        # go.mod may ask for a newer Go than the runner's: the go command then fetches that toolchain (GOTOOLCHAIN=auto).
        & go version | Out-Host
        & go env GOVERSION GOTOOLCHAIN | Out-Host
        $env:CGO_ENABLED = '0'
        $env:GOOS = 'windows'
        $env:GOARCH = 'amd64'
        $pkg = 'github.com/moby/buildkit'
        $ldflags = "-X $pkg/version.Version=$BuildkitVersion -X $pkg/version.Revision=$revision -X $pkg/version.Package=$pkg"
        Show-Command "go build -mod=vendor -ldflags `"$ldflags`" -o buildctl.exe ./cmd/buildctl"
        & go build -mod=vendor -ldflags $ldflags -o (Join-Path $out 'buildctl.exe') ./cmd/buildctl | Out-Host
        Show-Command "go build -mod=vendor -ldflags `"$ldflags`" -tags `"osusergo netgo static_build seccomp`" -o buildkitd.exe ./cmd/buildkitd"
        & go build -mod=vendor -ldflags $ldflags -tags 'osusergo netgo static_build seccomp' -o (Join-Path $out 'buildkitd.exe') ./cmd/buildkitd | Out-Host
    } finally {
        Pop-Location
        Remove-Item Env:CGO_ENABLED, Env:GOOS, Env:GOARCH -ErrorAction SilentlyContinue
    }
    & (Join-Path $out 'buildkitd.exe') --version | Out-Host
    & (Join-Path $out 'buildctl.exe') --version | Out-Host
    return $out
}

function Get-RegistryFile {
    # One GET against MCR's registry API (anonymous), saved to a file; a blob is checked against its digest.
    param(
        [Parameter(Mandatory)][string]$Path,
        [Parameter(Mandatory)][string]$OutFile,
        [string]$Accept = '',
        [string]$Digest = ''
    )
    $url = "$Registry/v2/$BaseRepository/$Path"
    $curlArgs = @('-fsSL', '--retry', '3', '-o', $OutFile)
    if ($Accept) { $curlArgs += @('-H', "Accept: $Accept") }
    Show-Command "curl.exe $($curlArgs -join ' ') $url"
    & curl.exe @curlArgs $url | Out-Host
    if ($Digest) {
        $actual = "sha256:$(Get-FileSha256 $OutFile)"
        if ($actual -ne $Digest) { throw "$url has digest $actual, expected $Digest" }
    }
}

function Get-BaseImage {
    Write-Phase "4a. The base image $($Registry -replace '^https://', '')/${BaseRepository}:$BaseTag"
    $dir = Join-Path $root 'base'
    New-Item -ItemType Directory -Force -Path $dir | Out-Null
    $indexTypes = 'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json'
    $manifestTypes = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'
    $top = Join-Path $dir 'top.json'
    Get-RegistryFile -Path "manifests/$BaseTag" -OutFile $top -Accept "$indexTypes, $manifestTypes"
    $manifest = Get-Content -Raw $top | ConvertFrom-Json -AsHashtable
    if ($manifest.ContainsKey('manifests')) {
        # A list: take windows/amd64 (the base has no os.version, so any Windows build matches).
        $entry = @($manifest['manifests'] | Where-Object {
                $_.ContainsKey('platform') -and $_['platform']['os'] -eq 'windows' -and $_['platform']['architecture'] -eq 'amd64'
            }) | Select-Object -First 1
        if ($null -eq $entry) { throw "no windows/amd64 entry in the base image's index" }
        Write-Host "index -> windows/amd64 manifest $($entry['digest'])"
        $file = Join-Path $dir 'manifest.json'
        Get-RegistryFile -Path "manifests/$($entry['digest'])" -OutFile $file -Accept $manifestTypes -Digest $entry['digest']
        $manifest = Get-Content -Raw $file | ConvertFrom-Json -AsHashtable
    }
    $configDigest = $manifest['config']['digest']
    $configFile = Join-Path $dir 'config.json'
    Get-RegistryFile -Path "blobs/$configDigest" -OutFile $configFile -Digest $configDigest
    $layers = @()
    foreach ($layer in @($manifest['layers'])) {
        $file = Join-Path $dir "$($layer['digest'] -replace '^sha256:', '').layer"
        Write-Host "base layer $($layer['digest']) ($($layer['mediaType']), $($layer['size']) bytes)"
        Get-RegistryFile -Path "blobs/$($layer['digest'])" -OutFile $file -Digest $layer['digest']
        $layers += $file
    }
    return @{ Config = (Get-Content -Raw $configFile | ConvertFrom-Json -AsHashtable); Layers = $layers }
}

function New-ToolLayer {
    param([Parameter(Mandatory)][string]$BuildkitBin, [Parameter(Mandatory)][string]$Bindprobe)
    Write-Phase '4b. The layer: Files/buildkit/buildkitd.exe, Files/buildkit/buildctl.exe, Files/bindprobe.exe'
    $stage = Join-Path $root 'layer'
    # A Windows layer's tar holds Hives/ and Files/ (as buildkit's util/winlayers writes them), parents first.
    New-Item -ItemType Directory -Force -Path (Join-Path $stage 'Hives'), (Join-Path $stage 'Files/buildkit') | Out-Null
    Copy-Item -LiteralPath (Join-Path $BuildkitBin 'buildkitd.exe'), (Join-Path $BuildkitBin 'buildctl.exe') -Destination (Join-Path $stage 'Files/buildkit')
    Copy-Item -LiteralPath $Bindprobe -Destination (Join-Path $stage 'Files/bindprobe.exe')
    $layer = Join-Path $root 'layer.tar'
    Show-Command "tar.exe -cf $layer -C $stage Hives Files"
    & $Tar -cf $layer -C $stage Hives Files | Out-Host
    & $Tar -tvf $layer | Out-Host
    return $layer
}

function New-ImageArchive {
    param(
        [Parameter(Mandatory)][string]$Name,
        [Parameter(Mandatory)][hashtable]$Base,
        [Parameter(Mandatory)][string]$Layer,
        [Parameter(Mandatory)][string]$BuildkitVersion
    )
    Write-Phase "4c. The archive, in docker save's format: $Name"
    $dir = Join-Path $root 'archive'
    New-Item -ItemType Directory -Force -Path (Join-Path $dir 'layers') | Out-Null
    $layerNames = @()
    foreach ($file in $Base.Layers) {
        $name = "layers/$(Split-Path -Leaf $file)"
        Copy-Item -LiteralPath $file -Destination (Join-Path $dir $name)
        $layerNames += $name
    }
    $layerHash = Get-FileSha256 $Layer
    Copy-Item -LiteralPath $Layer -Destination (Join-Path $dir "layers/$layerHash.tar")
    $layerNames += "layers/$layerHash.tar"

    $config = $Base.Config
    $now = [DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ssZ')
    $config['created'] = $now
    $config['rootfs']['diff_ids'] = @($config['rootfs']['diff_ids']) + "sha256:$layerHash"
    $history = if ($config.ContainsKey('history')) { @($config['history']) } else { @() }
    $entry = [ordered]@{ created = $now; created_by = "nightly image.ps1: buildkitd.exe, buildctl.exe (moby/buildkit $BuildkitVersion), bindprobe.exe" }
    $config['history'] = $history + , $entry
    # No os.version: containerd then takes the image for this host's build (containerd/containerd#7431).
    $config.Remove('os.version')
    if ($config['os'] -ne 'windows' -or $config['architecture'] -ne 'amd64') { throw "base config is $($config['os'])/$($config['architecture'])" }
    $configText = $config | ConvertTo-Json -Depth 32 -Compress
    $configTemp = Join-Path $root 'config.json'
    [IO.File]::WriteAllText($configTemp, $configText, [Text.UTF8Encoding]::new($false))
    $configName = "$(Get-FileSha256 $configTemp).json"
    Move-Item -LiteralPath $configTemp -Destination (Join-Path $dir $configName)

    $manifest = ConvertTo-Json -Depth 8 -Compress -InputObject @(
        [ordered]@{ Config = $configName; RepoTags = @($Name); Layers = $layerNames }
    )
    [IO.File]::WriteAllText((Join-Path $dir 'manifest.json'), $manifest, [Text.UTF8Encoding]::new($false))
    Write-Host "manifest.json: $manifest"

    $archive = Join-Path $ArchiveDir 'harness-buildkitd-image.tar'
    Show-Command "tar.exe -cf $archive -C $dir manifest.json $configName layers"
    & $Tar -cf $archive -C $dir manifest.json $configName layers | Out-Host
    Write-Host "archive: $archive ($((Get-Item $archive).Length) bytes)"
    return $archive
}

function Import-Image {
    param([Parameter(Mandatory)][string]$Archive, [Parameter(Mandatory)][string]$Name)
    Write-Phase "5. Import into k0s's containerd, namespace k8s.io"
    if (-not $K0sExe -or -not (Test-Path -LiteralPath $K0sExe)) { throw "k0s.exe not found (K0S_EXE='$K0sExe')" }
    Show-Command "k0s.exe ctr -n k8s.io images import $Archive"
    & $K0sExe ctr -n k8s.io images import $Archive | Out-Host
    $listed = @(& $K0sExe ctr -n k8s.io images ls -q)
    $listed | Out-Host
    if ($listed -notcontains $Name) { throw "$Name is not listed in containerd's k8s.io namespace after the import" }
    Write-Host "listed in k8s.io: $Name"
}

$exe = Build-Rust
$name = Get-ImageName -Harness $exe.Harness
$buildkitBin = Build-Buildkit
$base = Get-BaseImage
$layer = New-ToolLayer -BuildkitBin $buildkitBin -Bindprobe $exe.Bindprobe
$archive = New-ImageArchive -Name $name -Base $base -Layer $layer -BuildkitVersion $BuildkitVersion
if ($Import) {
    Import-Image -Archive $archive -Name $name
} else {
    Write-Host "not imported (the cluster is not this runner): import $archive on each Windows node with"
    Write-Host "  ctr -n k8s.io images import harness-buildkitd-image.tar"
}
Add-GitHubEnv -Name 'HARNESS_IMAGE' -Value $name
