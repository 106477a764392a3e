#!/usr/bin/env bash
# The nightly's one table across cells, from the artifacts the cells uploaded (collect.ps1's cell.json and the
# harness's outcomes.jsonl). Per cell: the containerd and Windows build observed, the harness's exit code, the
# cluster lane's verdicts for the probe and build steps of the reproduction and workaround variants, and whether
# moby/buildkit#6590 still reproduces there.
#
# Usage: report.sh ARTIFACTS_DIR REPORT_MD
#   ARTIFACTS_DIR holds one folder per artifact, nightly-<slug>-attempt-<n>/ (the newest attempt of a cell wins).
# Environment: MATRIX (the matrix job's JSON, so a cell that uploaded nothing still gets a row), RUN_URL.
# Prints GitHub outputs on stdout (the table goes to stderr, the job summary and REPORT_MD): moved=true when some
# cell's harness exited 1 (a verdict moved), else false.
set -euo pipefail

artifacts=${1:?usage: report.sh ARTIFACTS_DIR REPORT_MD}
report=${2:?usage: report.sh ARTIFACTS_DIR REPORT_MD}
matrix=${MATRIX:-'{"include":[]}'}

# The newest attempt's folder for a cell, or nothing.
folder_of() {
  local slug=$1 best="" best_n=-1 dir n
  for dir in "$artifacts"/nightly-"$slug"-attempt-*/; do
    [[ -d $dir ]] || continue
    n=${dir%/}
    n=${n##*-attempt-}
    [[ $n =~ ^[0-9]+$ ]] || continue
    if ((n > best_n)); then
      best_n=$n
      best=${dir%/}
    fi
  done
  printf '%s' "$best"
}

# "step: verdict (observed)" for the cluster lane's probe and build steps of one variant, joined by <br>.
verdicts() {
  local outcomes=$1 variant=$2
  [[ -f $outcomes ]] || { printf 'no outcomes'; return; }
  jq -rs --arg v "$variant" '
    [ .[]
      | select(.lane == "cluster" and .variant == $v and (.step | test("^(probe|build)/")))
      | if .verdict == "skipped" then "\(.step): skipped"
        else "\(.step): \(.verdict) (\(if .result == "failed" then .class else .result end))" end
    ]
    | if length == 0 then "none ran" else join("<br>") end' "$outcomes"
}

# Whether the bug still reproduces: the reproduction variant's steps that expect the bind filter's refusal.
still_reproduces() {
  local outcomes=$1
  [[ -f $outcomes ]] || { printf 'unknown (no outcomes)'; return; }
  jq -rs '
    [ .[] | select(.lane == "cluster" and .variant == "reproduction" and .expected == "bindflt-access-denied") | .verdict ] as $v
    | if ($v | index("reproduced")) then "**yes**"
      elif ($v | index("no-longer-reproduces")) then "**no** (no-longer-reproduces)"
      elif ($v | index("changed")) then "changed (fails differently)"
      else "unknown (\($v | unique | join(", ") | if . == "" then "not observed" else . end))"
      end' "$outcomes"
}

cell_value() {
  local json=$1 key=$2
  [[ -f $json ]] || { printf ''; return; }
  jq -r --arg k "$key" '.[$k] // "" | tostring' "$json"
}

moved=false
{
  echo "# Nightly: moby/buildkit#6590 across k0s/containerd cells"
  echo
  if [[ -n ${RUN_URL:-} ]]; then
    echo "Run: ${RUN_URL}"
    echo
  fi
  echo "| cell | containerd observed (shipped) | Windows build | harness exit | reproduction: probe and build steps | workaround: probe and build steps | #6590 reproduces |"
  echo "|---|---|---|---|---|---|---|"
  while IFS=$'\t' read -r k0s slug shipped target; do
    dir=$(folder_of "$slug")
    name=${k0s:-cluster from NIGHTLY_KUBECONFIG}
    if [[ -z $dir ]]; then
      echo "| $name | (no artifact) | | | | | unknown (the cell uploaded nothing) |"
      continue
    fi
    cell_json=$dir/cell.json
    outcomes=$dir/outcomes.jsonl
    containerd=$(cell_value "$cell_json" containerd)
    build=$(cell_value "$cell_json" windowsBuild)
    from=$(cell_value "$cell_json" windowsBuildFrom)
    exit_code=$(cell_value "$cell_json" harnessExit)
    phases=$(cell_value "$cell_json" phases)
    attempt=${dir##*-attempt-}
    [[ $exit_code == 1 ]] && moved=true
    exit_shown=${exit_code:-did not run}
    [[ -n $exit_code ]] || exit_shown="did not run ($phases)"
    [[ $target == kubeconfig ]] && shipped="n/a"
    echo "| $name (attempt $attempt) | ${containerd:-not observed} (${shipped:-?}) | ${build:-?}${from:+ ($from)} | $exit_shown | $(verdicts "$outcomes" reproduction) | $(verdicts "$outcomes" workaround) | $(still_reproduces "$outcomes") |"
  done < <(jq -r '.include[] | [.k0s, .slug, .containerd, .target] | @tsv' <<<"$matrix")
  echo
  echo "Exit codes: 0 every verdict as expected; 1 a verdict moved; 2 usage; 3 infrastructure; 130 interrupted."
  echo "Each cell's artifact holds its reports, cluster state and logs; its job summary lists the verdicts that moved."
} >"$report"

cat "$report" >&2
if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then
  cat "$report" >>"$GITHUB_STEP_SUMMARY"
fi
printf 'moved=%s\n' "$moved"
