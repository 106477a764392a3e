#!/usr/bin/env bash
# The nightly's history: adds every cell's run file to the history kept on the branch `harness-history` (one file per
# run, append-only: a git-friendly store), pushes it, and writes what `harness report` says of it:
#   alerts.json / alerts.md  the changes of the newest runs, raised after RAISE runs in a row, cleared after CLEAR
#   upstream.md              a comment fit for the upstream bug: where it still reproduces, since when, the workaround
# and prints GitHub outputs: alert=true|false.
#
# Usage: history.sh CELLS_DIR HARNESS_BIN
# Environment: GH_TOKEN (contents: write), GITHUB_REPOSITORY, GITHUB_SERVER_URL; RAISE, CLEAR (defaults 1 and 2);
# HISTORY_REMOTE instead of the three first.
set -euo pipefail

cells=${1:?usage: history.sh CELLS_DIR HARNESS_BIN}
harness=${2:?usage: history.sh CELLS_DIR HARNESS_BIN}
branch="harness-history"
store=history-store
# HISTORY_REMOTE overrides where the branch lives (a local bare repository when this script is tried out).
remote="${HISTORY_REMOTE:-https://x-access-token:${GH_TOKEN:?}@${GITHUB_SERVER_URL#https://}/${GITHUB_REPOSITORY:?}.git}"

rm -rf "$store"
if git ls-remote --exit-code --heads "$remote" "$branch" >/dev/null 2>&1; then
  git clone --quiet --depth 1 --branch "$branch" "$remote" "$store"
else
  # The first night: a branch with nothing but the history.
  git init --quiet "$store"
  git -C "$store" checkout --quiet --orphan "$branch"
fi
mkdir -p "$store/runs"

added=0
while IFS= read -r -d '' file; do
  name=$(basename "$file")
  if [[ -e $store/runs/$name ]]; then
    echo "history: $name is there already (a re-run of the same attempt); kept as it was" >&2
    continue
  fi
  cp "$file" "$store/runs/$name"
  added=$((added + 1))
done < <(find "$cells" -path '*/history/runs/*.jsonl' -print0)
echo "history: $added run file(s) added" >&2

"$harness" report --history "$store" --alerts --json --raise "${RAISE:-1}" --clear "${CLEAR:-2}" >alerts.json
jq -r .markdown alerts.json >alerts.md
"$harness" report --history "$store" --upstream >upstream.md

if ((added > 0)); then
  git -C "$store" add runs
  git -C "$store" -c user.name="harness nightly" -c user.email="harness-nightly@users.noreply.github.com" \
    commit --quiet -m "history: ${added} run(s) of ${GITHUB_RUN_ID:-a nightly}"
  git -C "$store" push --quiet "$remote" "HEAD:$branch"
fi

alert=$(jq -r 'if .open or .changed then "true" else "false" end' alerts.json)
echo "alert=$alert"
