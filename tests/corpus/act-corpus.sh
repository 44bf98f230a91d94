#!/usr/bin/env bash
# kindling replay -l / -n over nektos/act's own test workflows (pkg/runner/testdata), classified against act's
# expectations (tests/Kindling.Runner.Tests/Replay/ActCorpus). act's files are MIT but are not part of this tree:
# this script extracts them from a clone you point it at, into a temporary directory.
#
# usage: tests/corpus/act-corpus.sh [--action-cache DIR | --mirrors DIR] [--only TEXT] ACT_GIT_DIR_OR_CLONE [REPORT_DIR]
#   prints the counts and the "not supported" reasons by frequency; REPORT_DIR (default artifacts/act-corpus)
#   gets summary.txt and outputs.txt (every file's -l and -n output, for review).
#   --action-cache DIR: remote actions (owner/repo@ref) from DIR/owner/repo/ref, as act's offline mode finds them;
#   --mirrors DIR: lay such a cache out first from git mirrors (owner+repo/repo), with tests/corpus/action-cache.sh;
#   --only TEXT: only the files whose path contains TEXT (for a quick look; the floor is not checked).
set -euo pipefail
usage="usage: $0 [--action-cache DIR | --mirrors DIR] [--only TEXT] ACT_GIT_DIR_OR_CLONE [REPORT_DIR]"
cache="" mirrors="" only=""
while [ $# -gt 0 ]; do
  case $1 in
    --action-cache) cache=$(cd "${2:?$usage}" && pwd); shift 2 ;;
    --mirrors) mirrors=$(cd "${2:?$usage}" && pwd); shift 2 ;;
    --only) only=${2:?$usage}; shift 2 ;;
    -*) echo "$usage" >&2; exit 2 ;;
    *) break ;;
  esac
done
src=${1:?$usage}
root=$(cd "$(dirname "$0")/../.." && pwd)
report=${2:-$root/artifacts/act-corpus}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -d "$src/pkg/runner/testdata" ]; then
  cp -r "$src/pkg/runner/testdata" "$work/testdata"
else
  # a bare git directory (or a clone's .git): HEAD's testdata file by file, so that a blob missing from a partial
  # clone (act's node_modules) skips that file instead of ending the extraction
  git --git-dir="$src" ls-tree -r -z HEAD pkg/runner/testdata | while IFS= read -r -d '' entry; do
    read -r _ type sha <<<"${entry%%$'\t'*}"
    path=${entry#*$'\t'}
    [ "$type" = blob ] || continue
    out="$work/testdata/${path#pkg/runner/testdata/}"
    mkdir -p "$(dirname "$out")"
    git --git-dir="$src" cat-file blob "$sha" >"$out" 2>/dev/null || rm -f "$out"
  done
fi
# act's tests run inside its own clone: github.repository is nektos/act there (issue-1195 asserts the owner).
git -C "$work/testdata" init -q
git -C "$work/testdata" remote add origin https://github.com/nektos/act.git
git -C "$work/testdata" add -A
git -C "$work/testdata" -c user.name=corpus -c user.email=corpus@localhost commit -qm corpus
if [ -n "$mirrors" ]; then
  cache="$work/action-cache"
  "$root/tests/corpus/action-cache.sh" "$mirrors" "$cache" "$work/testdata" >/dev/null
fi
cd "$root"
dotnet build tests/Kindling.Runner.Tests -c Debug -nologo -clp:ErrorsOnly
rc=0
KINDLING_ACT_CORPUS="$work/testdata" KINDLING_ACT_CORPUS_REPORT="$report" KINDLING_ACT_CORPUS_ACTIONS="$cache" KINDLING_ACT_CORPUS_ONLY="$only" \
  dotnet test tests/Kindling.Runner.Tests --no-build --filter "FullyQualifiedName~ActCorpusTests" || rc=$?
cat "$report/summary.txt"
exit $rc
