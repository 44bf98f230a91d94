#!/usr/bin/env bash
# Lays out an action cache for `kindling replay --action-cache DIR` (act's offline layout: owner/repo@ref at
# DIR/owner/repo/ref, a sub-path action owner/repo/path@ref at DIR/owner/repo/ref/path) from local git mirrors.
#
# usage: tests/corpus/action-cache.sh MIRROR_DIR OUT_DIR [WORKFLOW_DIR | owner/repo[/path]@ref ...]
#   MIRROR_DIR holds one git directory per repository as owner+repo/repo (or owner+repo itself a git directory).
#   The actions to lay out are the uses: of every .yml/.yaml under WORKFLOW_DIR, or the ones given; actions found
#   in the cache that use other remote actions (composites) bring theirs too. Each ref (a tag, a branch or a full
#   commit) is extracted whole with git archive. A repository or ref the mirrors lack is reported and skipped: the
#   replay then says "not in the action cache" for it. A checkout's `repository: owner/repo` lays out the mirror's
#   HEAD (its default branch) as DIR/owner/repo/HEAD, which replay takes where the checkout gives no with.ref.
set -euo pipefail
mirrors=${1:?usage: $0 MIRROR_DIR OUT_DIR [WORKFLOW_DIR | owner/repo[/path]@ref ...]}
out=${2:?usage: $0 MIRROR_DIR OUT_DIR [WORKFLOW_DIR | owner/repo[/path]@ref ...]}
shift 2
mkdir -p "$out"

# uses: values of the YAML files under a directory: owner/repo[/path]@ref only (not ./local, not docker://).
# (an action's own tree: only its action.yml / action.yaml files, not its CI workflows)
uses_in() {
  local include=(--include='*.yml' --include='*.yaml')
  if [ "$1" = --actions ]; then include=(--include=action.yml --include=action.yaml); shift; fi
  grep -rhoE "${include[@]}" "uses:[[:space:]]*['\"]?[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[A-Za-z0-9_./-]+" "$@" 2>/dev/null \
    | sed -E "s/^uses:[[:space:]]*['\"]?//" || true
}

# actions/checkout's with.repository: owner/repo (no ref in the same line): the repository's default branch, which
# replay takes from DIR/owner/repo/HEAD (the mirror's HEAD) where a checkout gives no with.ref.
repositories_in() {
  grep -rhoE --include='*.yml' --include='*.yaml' "^[[:space:]]*repository:[[:space:]]*['\"]?[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+['\"]?[[:space:]]*$" "$@" 2>/dev/null \
    | sed -E "s/^[[:space:]]*repository:[[:space:]]*['\"]?//; s/['\"]?[[:space:]]*$//; s/$/@HEAD/" || true
}

declare -A seen=()
queue=()
if [ $# -eq 1 ] && [ -d "$1" ]; then
  mapfile -t queue < <({ uses_in "$1"; repositories_in "$1"; } | sort -u)
else
  queue=("$@")
fi

laid=0 skipped=0
while [ ${#queue[@]} -gt 0 ]; do
  uses=${queue[0]}
  queue=("${queue[@]:1}")
  [ -n "$uses" ] && [ -z "${seen[$uses]:-}" ] || continue
  seen[$uses]=1
  ref=${uses##*@}
  IFS=/ read -r owner repo _ <<<"${uses%@*}"
  # a reusable workflow (owner/repo/.github/workflows/x.yml@ref) lives in the same tree: the ref is laid out whole
  dest="$out/$owner/$repo/$ref"
  if [ -d "$dest" ]; then
    continue
  fi
  git=""
  for candidate in "$mirrors/$owner+$repo/repo" "$mirrors/$owner+$repo"; do
    if git --git-dir="$candidate" rev-parse --git-dir >/dev/null 2>&1; then git=$candidate; break; fi
  done
  if [ -z "$git" ]; then
    echo "skip $uses: no mirror of $owner/$repo under $mirrors" >&2
    skipped=$((skipped + 1))
    continue
  fi
  commit=""
  if [ "$ref" = HEAD ]; then
    commit=$(git --git-dir="$git" rev-parse --verify -q "HEAD^{commit}" || true)
  fi
  for name in "refs/tags/$ref" "refs/heads/$ref" "refs/remotes/origin/$ref"; do
    [ -z "$commit" ] || break
    if commit=$(git --git-dir="$git" rev-parse --verify -q "$name^{commit}"); then break; fi
    commit=""
  done
  if [ -z "$commit" ] && [[ $ref =~ ^[0-9a-f]{40}$ ]]; then
    commit=$(git --git-dir="$git" rev-parse --verify -q "$ref^{commit}" || true)
  fi
  if [ -z "$commit" ]; then
    echo "skip $uses: $owner/$repo has no tag, branch or commit $ref" >&2
    skipped=$((skipped + 1))
    continue
  fi
  mkdir -p "$dest.partial"
  git --git-dir="$git" archive "$commit" | tar -x -C "$dest.partial"
  mv "$dest.partial" "$dest"
  laid=$((laid + 1))
  echo "$owner/$repo@$ref -> $dest ($commit)"
  while IFS= read -r more; do queue+=("$more"); done < <(uses_in --actions "$dest" | sort -u)
done
echo "action cache $out: $laid laid out, $skipped skipped" >&2
