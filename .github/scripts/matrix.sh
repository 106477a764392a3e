#!/usr/bin/env bash
# The nightly's cells, from versions.env: one per k0s release in NIGHTLY_K0S_VERSIONS (or the dispatch's choice of
# them), each with the containerd versions.env says that release ships; or one cell for a cluster given by kubeconfig.
# Prints GitHub outputs: matrix={"include":[{k0s, slug, containerd, target}, ...]} and buildkit=<BUILDKIT_VERSION>.
#
# Environment: CELLS (space-separated k0s versions, empty for all), TARGET (in-runner or kubeconfig),
# VERSIONS_FILE (default versions.env).
set -euo pipefail
set -f  # the requested cells are words, never globs

versions_file=${VERSIONS_FILE:-versions.env}
target=${TARGET:-in-runner}

# One variable of versions.env, read without running the file.
read_var() {
  local name=$1 line value
  line=$(grep -E "^${name}=" "$versions_file" | tail -n 1) || { echo "::error::$versions_file has no $name" >&2; exit 2; }
  value=${line#*=}
  value=${value#\"}
  value=${value%\"}
  printf '%s\n' "$value"
}

buildkit=$(read_var BUILDKIT_VERSION)
all=$(read_var NIGHTLY_K0S_VERSIONS)

case $target in
  in-runner)
    requested=${CELLS:-$all}
    entries=()
    for version in $requested; do
      if [[ ! $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+\+k0s\.[0-9]+$ ]]; then
        echo "::error::'$version' is not a k0s version (like v1.36.3+k0s.2)" >&2
        exit 2
      fi
      if [[ " $all " != *" $version "* ]]; then
        echo "::error::$version is not a cell of NIGHTLY_K0S_VERSIONS ($all)" >&2
        exit 2
      fi
      # "#   v1.34.2+k0s.0 -> containerd 1.7.29 ..." in versions.env's comment on NIGHTLY_K0S_VERSIONS.
      containerd=$(awk -v v="$version" '$1 == "#" && $2 == v && $3 == "->" && $4 == "containerd" { print $5; exit }' "$versions_file")
      slug=$(printf '%s' "$version" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9' '-' | sed -E 's/-+/-/g; s/^-//; s/-$//')
      entries+=("$(jq -cn --arg k0s "$version" --arg slug "$slug" --arg containerd "$containerd" \
        '{k0s: $k0s, slug: $slug, containerd: $containerd, target: "in-runner"}')")
    done
    if ((${#entries[@]} == 0)); then
      echo "::error::no cells to run" >&2
      exit 2
    fi
    matrix=$(printf '%s\n' "${entries[@]}" | jq -cs '{include: .}')
    ;;
  kubeconfig)
    matrix=$(jq -cn '{include: [{k0s: "", slug: "kubeconfig", containerd: "", target: "kubeconfig"}]}')
    ;;
  *)
    echo "::error::target must be in-runner or kubeconfig, not '$target'" >&2
    exit 2
    ;;
esac

echo "cells: $matrix" >&2
echo "buildkit: $buildkit" >&2
printf 'matrix=%s\n' "$matrix"
printf 'buildkit=%s\n' "$buildkit"
