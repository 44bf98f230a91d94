#!/usr/bin/env bash
# kindling replay -l / -n over nektos/act's own test workflows (pkg/runner/testdata), classified against act's
# expectations (tests/Kindling.Runner.Tests/Replay/ActCorpus). act's files are MIT but are not part of this tree:
# this script extracts them from a clone you point it at, into a temporary directory.
#
# usage: tests/corpus/act-corpus.sh ACT_GIT_DIR_OR_CLONE [REPORT_DIR]
#   prints the counts and the "not supported" reasons by frequency; REPORT_DIR (default artifacts/act-corpus)
#   gets summary.txt and outputs.txt (every file's -l and -n output, for review).
set -euo pipefail
src=${1:?usage: $0 ACT_GIT_DIR_OR_CLONE [REPORT_DIR]}
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
cd "$root"
dotnet build tests/Kindling.Runner.Tests -c Debug -nologo -clp:ErrorsOnly
rc=0
KINDLING_ACT_CORPUS="$work/testdata" KINDLING_ACT_CORPUS_REPORT="$report" \
  dotnet test tests/Kindling.Runner.Tests --no-build --filter "FullyQualifiedName~ActCorpusTests" || rc=$?
cat "$report/summary.txt"
exit $rc
