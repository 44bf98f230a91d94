#!/usr/bin/env bash
# Installs what the test suite needs (only what is missing), builds the solution and runs every test.
# Usage: tests/run.sh [extra `dotnet test` arguments, e.g. --filter Category!=Slow]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Debian packages the tests drive for real: gcc builds the freestanding test guests, qemu-system-x86 checks them
# against QEMU's own devices, e2fsprogs/cpio/busybox-static/lz4 build and inspect images, iproute2 makes TAPs and
# namespaces, dpkg-dev fetches the Debian kernel package, debootstrap builds the debian base image (slow test), chromium drives the admin page in browser tests,
# flex/bison/bc/libelf-dev/patch build Kindling's guest kernel from Debian's linux-source (hosts with emulated KVM),
# nftables holds the guest network's rules (tested in network namespaces of the tests' own), postgresql is the fleet's
# shared job store (the tests start a private server of their own on a unix socket; the package's cluster is not used).
packages=(gcc make libc6-dev e2fsprogs qemu-system-x86 lz4 busybox-static cpio iproute2 dpkg-dev strace
          util-linux kmod xz-utils zstd debootstrap chromium fonts-dejavu-core
          flex bison bc libelf-dev patch perl tar nftables postgresql)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tests/run.sh: missing Debian packages: ${missing[*]}; run as root or install them" >&2
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# The browser tests drive Debian's chromium (/usr/bin/chromium): Playwright must never fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# Downloaded and built test inputs (the Debian kernel, Kindling's guest kernel, built guests, npm packages) are keyed
# by their content, so one cache per user serves every checkout: a fresh clone does not rebuild the guest kernel.
export KINDLING_TEST_CACHE="${KINDLING_TEST_CACHE:-${XDG_CACHE_HOME:-${HOME:-$root}/.cache}/kindling-tests}"
mkdir -p "$KINDLING_TEST_CACHE"

# GitHub's official OpenAPI description: the runner's FakeForge responses are checked against it.
octokit_openapi=23.0.2
if [ ! -f "$KINDLING_TEST_CACHE/npm/node_modules/@octokit/openapi/package.json" ]; then
  log "installing @octokit/openapi@$octokit_openapi"
  npm install --silent --prefix "$KINDLING_TEST_CACHE/npm" "@octokit/openapi@$octokit_openapi"
fi

log "restoring and building"
dotnet restore Runner.sln
dotnet build Runner.sln -c Debug --no-restore -nologo -clp:ErrorsOnly

# kindling-vmm as one native binary (NativeAOT), once: its analyzer warnings are a test failure
# (AotCompatibilityTests reads the log), and the process-level VMM tests run a second time against it.
native="$root/artifacts/kindling-vmm-native"
rm -rf "$native"
mkdir -p "$native"
log "publishing kindling-vmm with NativeAOT"
if ! dotnet publish vmm/Kindling.Vmm.Cli -r linux-x64 -p:PublishAot=true -c Release -p:TreatWarningsAsErrors=false \
     -o "$native/publish" --artifacts-path "$native/artifacts" -nologo >"$native/publish.log" 2>&1; then
  cat "$native/publish.log" >&2
  echo "tests/run.sh: the NativeAOT publish of kindling-vmm failed (above)" >&2
  exit 1
fi

results="$root/artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"

# A test that failed is run once more on its own (at most $max_reruns of them, when nothing else went wrong): one that
# then passes is reported FLAKY by name in the summary, never silently; one that fails again fails the run.
max_reruns=3
rerun_failed() { # FIRST_RESULTS RERUN_RESULTS: 0 when every failed test passed on its own
  local failed=() line
  mapfile -t failed < <(python3 tests/results.py failed "$1")
  if ((${#failed[@]} == 0 || ${#failed[@]} > max_reruns)); then return 1; fi
  for line in "${failed[@]}"; do
    log "running ${line#*$'\t'} again on its own"
    dotnet test "${line%%$'\t'*}" -c Debug --no-build --nologo --filter "FullyQualifiedName=${line#*$'\t'}" \
      --logger "trx" --logger "console;verbosity=normal" --results-directory "$2" || return 1
  done
}

log "running tests"
status=0
# A hung test host is stopped (and the run reported ABORTED) instead of holding CI until its own limit; xunit names
# any test still running after 300 s (tests/xunit.runner.json).
hang=(--blame-hang-timeout 45m --blame-hang-dump-type none)
dotnet test Runner.sln -c Debug --no-build --nologo "${hang[@]}" \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results/main" "$@" \
  || rerun_failed "$results/main" "$results/main-rerun" || status=1

log "running the process-level VMM tests against the native kindling-vmm"
export KINDLING_VMM_NATIVE="$native/publish/kindling-vmm" KINDLING_VMM_NATIVE_PUBLISH_LOG="$native/publish.log"
dotnet test tests/Kindling.Vmm.Tests -c Debug --no-build --nologo "${hang[@]}" \
  --filter "(FullyQualifiedName~Kindling.Vmm.Tests.Cli.|FullyQualifiedName~Kindling.Vmm.Tests.Jail.|FullyQualifiedName~Kindling.Vmm.Tests.Guests.|FullyQualifiedName~Kindling.Vmm.Tests.Boot.DebianKernelBootTests)&FullyQualifiedName!~JailPublishedBuildTests" \
  --logger "trx;LogFileName=native.trx" --logger "console;verbosity=minimal" --results-directory "$results/native" \
  || rerun_failed "$results/native" "$results/native-rerun" || status=1
unset KINDLING_VMM_NATIVE KINDLING_VMM_NATIVE_PUBLISH_LOG

# One summary over every test assembly: each skipped test with its reason (skips are never silent), each flaky one,
# then each failure.
python3 tests/results.py summary "$results/main" "$results/main-rerun" "$results/native" "$results/native-rerun" || status=1
exit $status
