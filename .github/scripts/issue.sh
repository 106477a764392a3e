#!/usr/bin/env bash
# Opens, or comments on, the nightly's one tracking issue when a verdict moved in some cell.
# The issue is found by its fixed title among open issues; without one, a new issue is opened.
#
# Usage: issue.sh REPORT_MD
# Environment: GH_TOKEN and GH_REPO (for the GitHub CLI), RUN_URL.
set -euo pipefail

report=${1:?usage: issue.sh REPORT_MD}
title="Nightly: a moby/buildkit#6590 verdict moved"

body=$(mktemp)
{
  echo "A nightly run found a verdict that differs from what scenarios/buildkit-6590.yaml expects."
  echo "Run: ${RUN_URL:-unknown}"
  echo
  cat "$report"
} >"$body"

number=$(gh issue list --state open --search "\"$title\" in:title" --json number,title --limit 50 |
  jq -r --arg t "$title" 'map(select(.title == $t)) | sort_by(.number) | first | .number // empty')

if [[ -n $number ]]; then
  echo "commenting on #$number"
  gh issue comment "$number" --body-file "$body"
else
  echo "opening \"$title\""
  gh issue create --title "$title" --body-file "$body"
fi
