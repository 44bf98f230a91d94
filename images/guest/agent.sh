# Kindling in-guest job agent. Run by busybox sh: `/kindling/bin/busybox sh /kindling/agent.sh`.
# It is exec'd by init (after switch_root into the overlay root, or from the initramfs when there are no drives),
# so in a VM it is PID 1. Contract with the runner: images/guest/PROTOCOL.md (MMDS job tree, serial framing).
#
# Test switches (never set in a VM): KINDLING_CMDLINE replaces /proc/cmdline for kindling.* options;
# KINDLING_AGENT_NO_REBOOT=1 ends with `exit` instead of `reboot -f`; KINDLING_AGENT_NO_CLOCK=1 says the clock it
# would set without setting it; KINDLING_URANDOM replaces /dev/urandom as where host entropy is written; KINDLING_SCRIPTS_DIR
# replaces /run/kindling-scripts as where the tmpfs for scripts holding secrets is mounted. Independently of them, the agent only
# reboots when it is PID 1 and the real /proc/cmdline carries kindling.agent=1 (the runner's VMs do; a host
# never does).

BB=${KINDLING_BUSYBOX:-/kindling/bin/busybox}
PATH=${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}
export PATH
set -o pipefail
CR=$(printf '\r')
NL='
'
EXIT_AGENT_ERROR=125
TOKEN_TTL=21600
MMDS_PREFIX=kindling
MMDS_CANCEL=cancel

CMDLINE=${KINDLING_CMDLINE-$($BB cat /proc/cmdline 2>/dev/null)}

# arg NAME: the value of NAME=... on the command line; fails when absent.
arg() {
  for w in $CMDLINE; do
    case "$w" in "$1="*) printf '%s' "${w#*=}"; return 0 ;; esac
  done
  return 1
}

b64url() { printf '%s' "$1" | $BB base64 | $BB tr -d '\n=' | $BB tr '+/' '-_'; }
ctl() { printf '##kindling[%s]\n' "$*"; }
uptime_s() { $BB cut -d' ' -f1 /proc/uptime; }

end_vm() {
  code=$1
  $BB sync
  if [ "$$" = 1 ] && [ -z "$KINDLING_AGENT_NO_REBOOT" ] && $BB grep -qw 'kindling.agent=1' /proc/cmdline 2>/dev/null; then
    $BB reboot -f
    $BB sleep 5
  fi
  exit "$code"
}

fatal() {
  ctl "error message=$(b64url "$*")"
  ctl "job-end result=failed exit=$EXIT_AGENT_ERROR"
  end_vm "$EXIT_AGENT_ERROR"
}

MMDS=$(arg kindling.mmds) || MMDS=169.254.169.254
# kindling.http_timeout=SECONDS: hosts whose KVM emulates guest kernel code need far more than the default.
HTTP_TIMEOUT=$(arg kindling.http_timeout) || HTTP_TIMEOUT=10
TOKEN=

# http METHOD PATH [HEADER...]: one HTTP/1.1 request over busybox nc (wget cannot PUT). Sets HTTP_STATUS and
# HTTP_BODY. The request says Connection: close and half-closes; MMDS answers and closes (PROTOCOL.md).
http() {
  method=$1 path=$2
  shift 2
  req="$method $path HTTP/1.1\r\nHost: $MMDS\r\nAccept: text/plain\r\nConnection: close\r\n"
  for h in "$@"; do req="$req$h\r\n"; done
  resp=$(printf '%b\r\n' "$req" | $BB timeout "$HTTP_TIMEOUT" $BB nc "$MMDS" 80 2>/dev/null; echo .)
  resp=${resp%.}
  status_line=${resp%%"$NL"*}
  HTTP_STATUS=${status_line#* }
  HTTP_STATUS=${HTTP_STATUS%% *}
  case "$resp" in
    *"$CR$NL$CR$NL"*) HTTP_BODY=${resp#*"$CR$NL$CR$NL"} ;;
    *) HTTP_BODY= ; HTTP_STATUS=${HTTP_STATUS:-000} ;;
  esac
}

# get PATH: GET /kindling/PATH with the token into VALUE. 0 when found, 1 when absent (404); any other answer
# (401: bad or expired token) ends the job as an agent error.
get() {
  http GET "/$MMDS_PREFIX/$1" "X-metadata-token: $TOKEN"
  case "$HTTP_STATUS" in
    200) VALUE=$HTTP_BODY; return 0 ;;
    404) VALUE=; return 1 ;;
    401) fatal "MMDS refused the token (401) reading /$MMDS_PREFIX/$1" ;;
    *) fatal "MMDS answered ${HTTP_STATUS:-nothing} reading /$MMDS_PREFIX/$1" ;;
  esac
}

valid_name() {
  case "$1" in ''|[0-9]*|*[!A-Za-z0-9_]*) return 1 ;; esac
  return 0
}

# --- the job document (PROTOCOL.md): one GET, read with builtins -----------------------------------------------
# The runner writes the job as calls to these doc_* functions, every value single-quoted (a newline inside a value
# is '"$NL"'), so `eval` of the whole document runs nothing but them. They store fields in J_*, S_<n>_*, SE_<n>_*
# and N_* variables. The job's environment never enters this shell under its own names (a job variable called
# TOKEN, FAILED or n must not change the agent): a secret is KSV_<name> (exported, for mask's awk), the job's env
# and what $GITHUB_ENV adds are KV_<name>; user_env exports them under their names in a step's subshell.
KA_SECRETS=
KA_ENV=
# set_env NAME VALUE: NAME=VALUE in the environment of every later step (job env, $GITHUB_ENV).
set_env() {
  case " $KA_ENV " in *" $1 "*) ;; *) KA_ENV="$KA_ENV $1" ;; esac
  eval "KV_$1=\$2"
}

# user_env: in a step's subshell, the secrets then the job's env (with $GITHUB_ENV's entries) under their own names.
user_env() {
  for ue_k in $KA_SECRETS; do eval "export $ue_k=\"\$KSV_$ue_k\"; unset KSV_$ue_k"; done
  for ue_k in $KA_ENV; do eval "export $ue_k=\"\$KV_$ue_k\""; done
}

doc_version() { :; }
doc_complete() { DOC_COMPLETE=1; }
doc_job() {
  case "$1" in id|name|timeout_seconds|step_count|mode|stop_grace_ms|user|hostname) eval "J_$1=\$2" ;; *) fatal "job document: unknown job field '$1'" ;; esac
}
doc_secret() {
  valid_name "$1" || fatal "secret name '$1' is not a valid variable name"
  export "KSV_$1=$2"
  KINDLING_MASK_NAMES="$KINDLING_MASK_NAMES $1"
  KA_SECRETS="$KA_SECRETS $1"
}
doc_env() {
  valid_name "$1" || fatal "environment name '$1' under job env is not a valid variable name"
  set_env "$1" "$2"
}
doc_step() {
  case "$1" in ''|*[!0-9]*) fatal "job document: step number '$1' is not a number" ;; esac
  case "$2" in name|run|shell|working_directory|if|continue_on_error|timeout_seconds|add_path) eval "S_$1_$2=\$3"; eval "S_$1_set=1" ;;
    *) fatal "job document: unknown step field '$2'" ;; esac
}
doc_step_env() {
  case "$1" in ''|*[!0-9]*) fatal "job document: step number '$1' is not a number" ;; esac
  valid_name "$2" || fatal "step $1 env name '$2' is not a valid variable name"
  eval "SE_$1_$2=\$3; S_$1_env=\"\$S_$1_env \$2\"; S_$1_set=1"
}
doc_network() {
  case "$1" in address|gateway|dns) eval "N_$1=\$2" ;; *) fatal "job document: unknown network field '$1'" ;; esac
}
doc_host() {
  case "$1" in clock|generation|seed) eval "H_$1=\$2" ;; *) fatal "job document: unknown host field '$1'" ;; esac
}
doc_github() { JITCONFIG=$2; }
doc_end() { DOC_END=1; }

# read_doc PATH WHAT: GET /kindling/PATH (0 when found, 1 when absent) and run it as a job document. A body that
# is not a whole version 1 document (wrong start, no doc_complete: truncated) is an agent error.
read_doc() {
  get "$1" || return 1
  run_doc "$1"
}

# run_doc PATH: VALUE (the body of GET /kindling/PATH) run as a job document.
run_doc() {
  case "$VALUE" in "doc_version 1$NL"*) ;; *) fatal "/$MMDS_PREFIX/$1 is not a version 1 job document" ;; esac
  DOC_COMPLETE=
  eval "$VALUE"
  [ -n "$DOC_COMPLETE" ] || fatal "/$MMDS_PREFIX/$1 is incomplete (no doc_complete line)"
}

# mask: copies stdin to stdout line by line, replacing every secret value (the lines of each value named in
# KINDLING_MASK_NAMES, longest first) with ***, and prefixing lines that would forge a control line with a space.
mask() {
  $BB awk -v indent="${1:-1}" '
    BEGIN {
      n = 0
      split(ENVIRON["KINDLING_MASK_NAMES"], names, " ")
      for (i in names) {
        m = split(ENVIRON["KSV_" names[i]], parts, "\n")
        for (j = 1; j <= m; j++) { p = parts[j]; sub(/\r$/, "", p); if (length(p) > 0) s[++n] = p }
      }
      for (i = 2; i <= n; i++) { v = s[i]; for (j = i - 1; j >= 1 && length(s[j]) < length(v); j--) s[j + 1] = s[j]; s[j + 1] = v }
    }
    {
      line = $0
      for (i = 1; i <= n; i++) {
        out = ""
        while ((k = index(line, s[i])) > 0) { out = out substr(line, 1, k - 1) "***"; line = substr(line, k + length(s[i])) }
        line = out line
      }
      if (indent && substr(line, 1, 11) == "##kindling[") line = " " line
      print line
      fflush()
    }'
}

# mask_text: mask for a value (a command file's text): secrets replaced, no control-line indent.
mask_text() { mask 0; }

# --- secrets in a step's script (PROTOCOL.md) ------------------------------------------------------------------
# The runner writes %%kindling-secret:NAME%% where GitHub would paste a secret's value into the script text. The
# agent replaces each by KSV_NAME's value, byte for byte (index/substr, no regular expressions: & and \1 stay
# themselves), into a file on a tmpfs of its own (mounted at the first such step, never the overlay), and removes
# the step's folder there when the step ends.
SECRET_MARK='%%kindling-secret:'
SCRIPTS_DIR=${KINDLING_SCRIPTS_DIR:-/run/kindling-scripts}
SCRIPTS_RAM=

# fill_script N FILE: step N's script ($run) with its placeholders replaced, into FILE (mode 0600). On a malformed
# placeholder or one naming no secret of the job it prints why and fails.
fill_script() {
  if [ -z "$SCRIPTS_RAM" ]; then
    $BB mkdir -p "$SCRIPTS_DIR" && $BB mount -t tmpfs -o mode=0711,nosuid,nodev,noexec tmpfs "$SCRIPTS_DIR" || {
      echo "kindling: step $1: cannot mount a RAM filesystem at $SCRIPTS_DIR for the step's script (it holds secret values, which never go to the overlay)"
      return 1
    }
    SCRIPTS_RAM=1
  fi
  (umask 077; $BB mkdir -p "${2%/*}") || return 1
  (umask 077; KS_RUN=$run $BB awk -v n="$1" -v out="$2" -v mark="$SECRET_MARK" '
    BEGIN {
      s = ENVIRON["KS_RUN"]; res = ""
      while ((k = index(s, mark)) > 0) {
        res = res substr(s, 1, k - 1); s = substr(s, k + length(mark))
        e = index(s, "%%"); name = e > 0 ? substr(s, 1, e - 1) : ""
        if (name !~ /^[A-Za-z_][A-Za-z0-9_]*$/) { print "kindling: step " n ": the script holds a malformed secret placeholder"; exit 2 }
        if (!(("KSV_" name) in ENVIRON)) { print "kindling: step " n ": the script names the secret " name ", which the job document does not hold"; exit 2 }
        res = res ENVIRON["KSV_" name]; s = substr(s, e + 2)
      }
      printf "%s", res s > out
      close(out)
    }') || return 1
  # a job's user (container options --user) reads it; the folder stays closed to anyone else (the tmpfs is 0711)
  [ -z "$U_UID" ] || $BB chown -R "$U_UID:$U_GID" "${2%/*}"
}

# --- command files ($GITHUB_OUTPUT, $GITHUB_ENV, $GITHUB_PATH, $GITHUB_STEP_SUMMARY, $GITHUB_STATE) --------------
# Each step gets five fresh, empty files under $FILES_DIR/N. After it, the agent applies $GITHUB_ENV and
# $GITHUB_PATH to the environment of the later steps (as GitHub's runner does) and reports all five on the
# console, masked, in one step-files line (PROTOCOL.md), so the runner learns steps.<id>.outputs and the
# STATE_<name> values it gives that action's post step.
FILES_DIR=${KINDLING_FILES_DIR:-/tmp/kindling-steps}

step_files_open() {
  d=$FILES_DIR/$1
  $BB mkdir -p "$d" || fatal "cannot create $d for the step's command files"
  : > "$d/output"; : > "$d/env"; : > "$d/path"; : > "$d/summary"; : > "$d/state"
  [ -z "$U_UID" ] || $BB chown -R "$U_UID:$U_GID" "$d" || fatal "cannot hand $d to the job's user"
  STEP_FILES_ENV="GITHUB_OUTPUT=$d/output GITHUB_ENV=$d/env GITHUB_PATH=$d/path GITHUB_STEP_SUMMARY=$d/summary GITHUB_STATE=$d/state"
}

# env_file FILE: NAME=value and NAME<<DELIMITER ... DELIMITER entries (GitHub's format) into the later steps' env.
env_file() {
  ef_name= ef_delim= ef_val= ef_first=
  while IFS= read -r ef_line || [ -n "$ef_line" ]; do
    ef_line=${ef_line%"$CR"}
    if [ -n "$ef_delim" ]; then
      if [ "$ef_line" = "$ef_delim" ]; then
        valid_name "$ef_name" && set_env "$ef_name" "$ef_val"
        ef_delim=
      elif [ -n "$ef_first" ]; then
        ef_val=$ef_line; ef_first=
      else
        ef_val="$ef_val$NL$ef_line"
      fi
      continue
    fi
    case "$ef_line" in
      '') ;;
      *'<<'*) case "${ef_line%%<<*}" in
                *=*) ef_name=${ef_line%%=*}; valid_name "$ef_name" && set_env "$ef_name" "${ef_line#*=}" ;;
                *) ef_name=${ef_line%%<<*}; ef_delim=${ef_line#*<<}; ef_val=; ef_first=1 ;;
              esac ;;
      *=*) ef_name=${ef_line%%=*}; valid_name "$ef_name" && set_env "$ef_name" "${ef_line#*=}" ;;
    esac
  done < "$1"
}

# path_file FILE: each line is a directory put in front of PATH for the later steps.
path_file() {
  while IFS= read -r pf_line || [ -n "$pf_line" ]; do
    pf_line=${pf_line%"$CR"}
    [ -n "$pf_line" ] && PATH="$pf_line:$PATH"
  done < "$1"
  export PATH
}

# b64file FILE: the file's text, masked, as base64url (empty for an empty file).
b64file() {
  [ -s "$1" ] || return 0
  mask_text < "$1" | $BB base64 | $BB tr -d '\n=' | $BB tr '+/' '-_'
}

step_files_close() {
  d=$FILES_DIR/$1
  ctl "step-files n=$1 output=$(b64file "$d/output") env=$(b64file "$d/env") path=$(b64file "$d/path") summary=$(b64file "$d/summary") state=$(b64file "$d/state")"
  env_file "$d/env"
  path_file "$d/path"
}

elapsed() { $BB awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.2f", b - a }'; }

setup_network() {
  [ -e /sys/class/net/eth0 ] || return 0
  $BB ip link set lo up 2>/dev/null
  $BB ip link set eth0 up || fatal "cannot bring eth0 up"
  if [ -z "$($BB ip -4 addr show dev eth0 2>/dev/null | $BB grep inet)" ]; then
    $BB ip addr add 169.254.0.2/16 dev eth0 || fatal "cannot give eth0 a link-local address for MMDS"
  fi
  $BB ip route replace "$MMDS/32" dev eth0 || fatal "cannot route to MMDS $MMDS via eth0"
}

apply_network() {
  [ -n "$N_address" ] || return 0
  $BB ip addr add "$N_address" dev eth0 || fatal "cannot set eth0 address $N_address from the job document's network address"
  if [ -n "$N_gateway" ]; then $BB ip route replace default via "$N_gateway" dev eth0 || fatal "cannot add default route via $N_gateway"; fi
  if [ -n "$N_dns" ]; then printf 'nameserver %s\n' "$N_dns" > /etc/resolv.conf; fi
}

# apply_host: the host's clock and entropy from the document, before anything of the job runs (PROTOCOL.md,
# "Restored guests"): a guest restored from a snapshot wakes with the golden guest's clock and RNG state.
URANDOM=${KINDLING_URANDOM:-/dev/urandom}
apply_host() {
  if [ -n "$H_clock" ]; then
    case "$H_clock" in *[!0-9]*) fatal "job document: host clock '$H_clock' is not a number of seconds" ;; esac
    if [ -z "$KINDLING_AGENT_NO_CLOCK" ]; then
      $BB date -s "@$H_clock" > /dev/null 2>&1 || fatal "cannot set the clock to @$H_clock"
    fi
  fi
  rng=
  if [ -n "$H_seed" ]; then printf '%s' "$H_seed" > "$URANDOM" && rng=document; fi
  if [ -c /dev/hwrng ] && $BB timeout 2 $BB dd if=/dev/hwrng bs=64 count=1 2>/dev/null >> "$URANDOM"; then rng="${rng:+$rng+}hwrng"; fi
  [ -z "$H_clock$H_seed$H_generation" ] ||
    printf 'kindling: generation %s, clock @%s, rng reseeded from %s\n' "${H_generation:-0}" "${H_clock:-unchanged}" "${rng:-nothing}"
}

# token: a fresh MMDS V2 token into TOKEN.
token() {
  http PUT /latest/api/token "X-metadata-token-ttl-seconds: $TOKEN_TTL"
  [ "$HTTP_STATUS" = 200 ] || fatal "no MMDS V2 token from $MMDS (PUT /latest/api/token answered ${HTTP_STATUS:-nothing})"
  TOKEN=${HTTP_BODY%%"$CR"*}
  TOKEN=${TOKEN%%"$NL"*}
  [ -n "$TOKEN" ] || fatal "MMDS returned an empty token"
}

# park: with kindling.park=1 (the runner's golden snapshot boot), say agent-waiting and poll for the document until
# it is there. The runner snapshots the guest here; every clone wakes inside this loop, on a new VMM whose MMDS
# holds the job and whose tokens are its own (401: take a new one). Without it, the document must be there at once.
park() {
  ctl "agent-waiting"
  pk_delay=10000
  while :; do
    http GET "/$MMDS_PREFIX/document" "X-metadata-token: $TOKEN"
    case "$HTTP_STATUS" in
      200) VALUE=$HTTP_BODY; run_doc document; return 0 ;;
      401) token ;;
      *) $BB usleep "$pk_delay"; [ "$pk_delay" -ge 100000 ] || pk_delay=$((pk_delay * 2)) ;;
    esac
  done
}

# --- token, then the whole job in one GET ------------------------------------------------------------------------
setup_network
token

# Secrets: in the environment; a step's script that holds them is a file on a tmpfs (fill_script), never the overlay.
KINDLING_MASK_NAMES=
if [ "$(arg kindling.park)" = 1 ]; then
  park
else
  read_doc document || fatal "MMDS has no /$MMDS_PREFIX/document: the runner put no job"
fi
apply_host
[ -n "$J_id" ] || fatal "the job document has no job id"
JOB_ID=$J_id
export KINDLING_MASK_NAMES
apply_network
export CI=true KINDLING=true KINDLING_JOB_ID="$JOB_ID" HOME="${HOME:-/root}"
WORKSPACE=/workspace
[ -d "$WORKSPACE" ] || WORKSPACE=/
export KINDLING_WORKSPACE="$WORKSPACE"

ctl "job-start id=$(printf '%s' "$JOB_ID" | $BB tr -c 'A-Za-z0-9._-' '_')"

# --- GitHub jobs: the official runner, once -------------------------------------------------------------------
# run_actions_runner: run.sh --jitconfig as the image's `runner` user (never root), its output masked into the
# log, in its install folder (whose _work links to /workspace, on the overlay); the VM ends when run.sh exits.
RUNNER_USER=runner
RUNNER_DIR=/opt/actions-runner
run_actions_runner() {
  export KSV_KINDLING_JIT="$1"
  KINDLING_MASK_NAMES="$KINDLING_MASK_NAMES KINDLING_JIT"
  [ -x "$RUNNER_DIR/run.sh" ] || fatal "GitHub job but $RUNNER_DIR/run.sh is missing from the base image: build the image with kindling images build --flavour github"
  home=$($BB awk -F: -v u="$RUNNER_USER" '$1 == u { print $6 }' /etc/passwd)
  [ -n "$home" ] || fatal "GitHub job but the base image has no user '$RUNNER_USER' to run the actions runner as: build the image with kindling images build --flavour github"
  [ "$WORKSPACE" = / ] || $BB chown "$RUNNER_USER:$RUNNER_USER" "$WORKSPACE"
  # util-linux's setpriv where the image has it (by path: busybox sh prefers its own, smaller setpriv applet),
  # else busybox su; both keep the environment set here.
  setpriv=
  for p in /usr/bin/setpriv /bin/setpriv; do [ -x "$p" ] && setpriv=$p && break; done
  if [ -n "$setpriv" ]; then
    set -- "$setpriv" --reuid="$RUNNER_USER" --regid="$RUNNER_USER" --init-groups --
  else
    set -- $BB su -s /bin/sh -c 'exec "$0" "$@"' -- "$RUNNER_USER"
  fi
  ctl "step-start n=0 name=$(b64url "GitHub Actions runner")"
  t0=$(uptime_s)
  (user_env; cd "$RUNNER_DIR" && exec "$@" $BB env -u KSV_KINDLING_JIT -u KINDLING_MASK_NAMES HOME="$home" USER="$RUNNER_USER" LOGNAME="$RUNNER_USER" \
    ./run.sh --jitconfig "$KSV_KINDLING_JIT") 2>&1 < /dev/null | mask
  code=$?
  ctl "step-end n=0 exit=$code seconds=$(elapsed "$t0")"
  $BB sync
  if [ "$code" = 0 ]; then ctl "job-end result=succeeded exit=0"; else ctl "job-end result=failed exit=$code"; fi
  end_vm "$code"
}
if [ -n "$JITCONFIG" ]; then run_actions_runner "$JITCONFIG"; fi

# --- the job's hostname and user (PROTOCOL.md: a replayed container job's --hostname and --user) -------------------
if [ -n "${J_hostname:-}" ]; then
  $BB hostname "$J_hostname" 2>/dev/null || fatal "cannot set the hostname to '$J_hostname'"
fi
# user NAME, UID, NAME:GROUP or UID:GID, resolved as docker does: a name must be in /etc/passwd (a group name in
# /etc/group); a UID without an entry runs with GID 0 and HOME /. Steps run as it through util-linux's setpriv (by
# path: busybox's setpriv applet cannot change ids), else busybox su (a name with its own primary group only). The
# workspace and the step command files are handed to that user.
U_UID= U_GID= U_HOME= U_NAME= U_SU=
if [ -n "${J_user:-}" ]; then
  u=${J_user%%:*} g=
  case "$J_user" in *:*) g=${J_user#*:} ;; esac
  case "$u" in
    ''|*[!0-9]*) pw=$($BB awk -F: -v u="$u" '$1 == u { print; exit }' /etc/passwd 2>/dev/null)
                 [ -n "$pw" ] || fatal "unable to find user $u: no matching entries in passwd file" ;;
    *) pw=$($BB awk -F: -v u="$u" '$3 == u { print; exit }' /etc/passwd 2>/dev/null) ;;
  esac
  if [ -n "$pw" ]; then
    IFS=: read -r U_NAME _ U_UID U_GID _ U_HOME _ <<EOF_PW
$pw
EOF_PW
  else
    U_UID=$u U_GID=0 U_HOME=/
  fi
  case "$g" in
    '') ;;
    *[!0-9]*) U_GID=$($BB awk -F: -v g="$g" '$1 == g { print $3; exit }' /etc/group 2>/dev/null)
              [ -n "$U_GID" ] || fatal "unable to find group $g: no matching entries in group file" ;;
    *) U_GID=$g ;;
  esac
  # supplementary groups: the user's from /etc/group when it has a name and no group was given (docker's), else none
  U_GROUPS=--clear-groups
  [ -z "$U_NAME" ] || [ -n "$g" ] || U_GROUPS=--init-groups
  U_SETPRIV=
  for p in /usr/bin/setpriv /bin/setpriv; do [ -x "$p" ] && U_SETPRIV=$p && break; done
  if [ -z "$U_SETPRIV" ]; then
    [ -n "$U_NAME" ] && [ -z "$g" ] || fatal "cannot run steps as user '$J_user': this image has no setpriv (util-linux), and busybox su needs a user name from /etc/passwd with its own group (use the debian image)"
    U_SU=1
  fi
  [ -n "$U_HOME" ] || U_HOME=/
  [ "$WORKSPACE" = / ] || $BB chown -R "$U_UID:$U_GID" "$WORKSPACE" || fatal "cannot hand $WORKSPACE to user '$J_user'"
  $BB mkdir -p "$FILES_DIR" && $BB chown "$U_UID:$U_GID" "$FILES_DIR" || fatal "cannot hand $FILES_DIR to user '$J_user'"
fi

# --- run: steps ---------------------------------------------------------------------------------------------------
# Two modes (PROTOCOL.md). "all" (default): every step is in the document, step_count of them. "host": the runner
# decides each step when the one before has ended (expressions at step time) and puts it at /kindling/steps/N; the
# agent polls for it after reporting the step before, until it is there or says doc_end.
MODE=${J_mode:-all}
case "$MODE" in all|host) ;; *) fatal "job document: unknown mode '$MODE' (all or host)" ;; esac
if [ "$MODE" = all ]; then
  [ -n "$J_step_count" ] || fatal "the job document has no step_count"
  COUNT=$J_step_count
  case "$COUNT" in *[!0-9]*) fatal "job/step_count '$COUNT' is not a number" ;; esac
fi
TIMEOUT=${J_timeout_seconds:-0}
case "$TIMEOUT" in ''|*[!0-9]*) TIMEOUT=0 ;; esac
JOB_T0=$(uptime_s)
FAILED=0
FIRST_EXIT=0

# wait_step N: polls /kindling/steps/N until the runner has put it, backing off from 50 ms to 1 s between tries
# (the runner usually puts it before the agent asks: it reads step N-1's step-files line as it is written).
wait_step() {
  ws_delay=50000
  DOC_END=
  until read_doc "steps/$1"; do
    $BB usleep "$ws_delay"
    ws_delay=$((ws_delay * 2))
    [ "$ws_delay" -le 1000000 ] || ws_delay=1000000
  done
  [ -n "$DOC_END" ] || eval "[ -n \"\$S_$1_set\" ]" || fatal "/$MMDS_PREFIX/steps/$1 holds neither step $1 nor doc_end"
}

# uptime_cs: /proc/uptime in centiseconds, into UP_CS, with builtins only (no process: watch_step runs it often).
uptime_cs() {
  read -r up_s up_rest < /proc/uptime
  up_i=${up_s%.*} up_f=${up_s#*.}
  UP_CS=$(( up_i * 100 + ${up_f#0} ))
}

# Time a stopped step has after TERM before its process group gets KILL, in centiseconds: the job's stop_grace_ms
# (the runner's Kindling:StepStopGrace), else 5 s. GitHub gives a cancelled step's process 7.5 s after SIGINT and
# 2.5 s after SIGTERM; one TERM and the grace here.
STOP_GRACE_CS=500
case "${J_stop_grace_ms:-}" in ''|*[!0-9]*) ;; *) STOP_GRACE_CS=$(( J_stop_grace_ms / 10 )); [ "$STOP_GRACE_CS" -ge 1 ] || STOP_GRACE_CS=1 ;; esac

# watch_step N LIMIT: waits until step N's exit code is in $FILES_DIR/N/exit. Meanwhile it ends the step (TERM to
# its process group, KILL after STOP_GRACE_CS) when LIMIT seconds (its timeout_seconds; 0: none) have passed, or,
# in mode host, when the runner's kindling/cancel holds a step number N or higher (PROTOCOL.md). kindling/cancel is
# polled from 100 ms after the step starts, the gap doubling to 1 s: a step of a few seconds costs a few requests.
# Sets STOPPED to timed-out or cancelled when it ended the step.
watch_step() {
  wd_d=$FILES_DIR/$1
  uptime_cs
  wd_t0=$UP_CS
  wd_deadline=0
  [ "$2" -gt 0 ] && wd_deadline=$(( wd_t0 + $2 * 100 ))
  wd_poll=$(( wd_t0 + 10 )) wd_gap=10 wd_sleep=10000 wd_term=0 wd_killed=0
  while [ ! -s "$wd_d/exit" ]; do
    $BB usleep "$wd_sleep"
    [ "$wd_sleep" -ge 200000 ] || wd_sleep=$(( wd_sleep * 2 ))
    uptime_cs
    if [ -z "$STOPPED" ]; then
      if [ "$wd_deadline" -gt 0 ] && [ "$UP_CS" -ge "$wd_deadline" ]; then
        STOPPED=timed-out
        echo "kindling: step $1 timed out after $2 seconds (its timeout_seconds): ending it"
      elif [ "$MODE" = host ] && [ "$UP_CS" -ge "$wd_poll" ]; then
        if get "$MMDS_CANCEL" && [ -n "$VALUE" ] && [ "$VALUE" -ge "$1" ] 2>/dev/null; then
          STOPPED=cancelled
          echo "kindling: the job was cancelled: ending step $1"
        fi
        [ "$wd_gap" -ge 100 ] || wd_gap=$(( wd_gap * 2 ))
        wd_poll=$(( UP_CS + wd_gap ))
      fi
    fi
    [ -n "$STOPPED" ] && [ -s "$wd_d/pid" ] || continue
    read -r wd_pg < "$wd_d/pid"
    if [ "$wd_term" = 0 ]; then
      kill -TERM "-$wd_pg" 2>/dev/null
      wd_term=$(( UP_CS + STOP_GRACE_CS ))
      wd_sleep=10000
    elif [ "$UP_CS" -ge "$wd_term" ]; then
      [ "$wd_killed" = 1 ] || echo "kindling: step $1 still runs ${STOP_GRACE_CS}0 ms after TERM (its stop grace): KILL"
      wd_killed=1
      kill -KILL "-$wd_pg" 2>/dev/null
      wd_term=$(( UP_CS + STOP_GRACE_CS ))
    fi
  done
}

# field N KEY DEFAULT: step N's KEY into VALUE, or DEFAULT when the document does not have it.
field() { eval "VALUE=\${S_$1_$2-\$3}"; }

run_step() {
  n=$1
  field "$n" name "step $n"; name=$VALUE
  field "$n" if "success()"; cond=$VALUE
  field "$n" run ""; run=$VALUE
  field "$n" shell sh; shell=$VALUE
  field "$n" working_directory ""; wd=$VALUE
  field "$n" continue_on_error false; coe=$VALUE
  field "$n" env ""; step_env=$VALUE
  ename=$(b64url "$name")

  case "$cond" in
    ''|'success()') go=$([ "$FAILED" = 0 ] && echo 1 || echo 0) ;;
    'failure()') go=$([ "$FAILED" = 1 ] && echo 1 || echo 0) ;;
    'always()') go=1 ;;
    'cancelled()') go=0 ;;
    *) go=bad ;;
  esac
  if [ "$go" = 0 ]; then
    ctl "step-skip n=$n name=$ename reason=if"
    return 0
  fi

  ctl "step-start n=$n name=$ename"
  t0=$(uptime_s)
  case "$wd" in
    '') dir=$WORKSPACE ;;
    /*) dir=$wd ;;
    *) dir=$WORKSPACE/$wd ;;
  esac
  # A script with secrets runs from its RAM file (as GitHub runs {0}); any other as -c SCRIPT.
  script=
  case "$run" in *"$SECRET_MARK"*)
    case "$shell" in pwsh) script=$SCRIPTS_DIR/$n/script.ps1 ;; python*) script=$SCRIPTS_DIR/$n/script.py ;; *) script=$SCRIPTS_DIR/$n/script.sh ;; esac ;;
  esac
  case "$shell" in
    sh) set -- sh -e ;;
    bash) set -- bash --noprofile --norc -eo pipefail ;;
    *) set -- $shell ;;
  esac
  if [ -n "$script" ]; then set -- "$@" "$script"; else set -- "$@" -c "$run"; fi
  limit=
  if [ "$TIMEOUT" -gt 0 ]; then
    left=$($BB awk -v t="$TIMEOUT" -v a="$JOB_T0" -v b="$(uptime_s)" 'BEGIN { l = int(t - (b - a)); print (l < 1 ? 1 : l) }')
    limit="$BB timeout -s KILL $left"
  fi
  field "$n" add_path ""; add_path=$VALUE
  field "$n" timeout_seconds 0; step_limit=$VALUE
  case "$step_limit" in ''|*[!0-9]*) step_limit=0 ;; esac
  STOPPED=
  if [ "$go" = bad ]; then
    echo "kindling: step $n: unsupported if: '$cond' (use success(), failure(), always() or cancelled())"
    code=2
  elif [ -n "$script" ] && ! fill_script "$n" "$script"; then
    $BB rm -rf "${script%/*}"
    go=bad
    code=2
  else
    step_files_open "$n"
    # The step runs in a session of its own (setsid: its process group), so a cancel or its timeout can end all of
    # it; its exit code lands in $d/exit, which watch_step waits for. The pipe into mask ends when its output does.
    (
      (
        user_env
        for k in $step_env; do
          eval "export $k=\"\$SE_${n}_$k\""
        done
        export $STEP_FILES_ENV
        [ -z "$script" ] || export KINDLING_STEP_TMP="${script%/*}"
        # add_path: earlier steps' ::add-path:: directories, each put in front of PATH in turn (PROTOCOL.md).
        set -f; IFS=$NL
        for ap in $add_path; do PATH="$ap:$PATH"; done
        unset IFS; set +f; export PATH
        cd "$dir" 2>/dev/null || { echo "kindling: working directory '$dir' does not exist"; exit 2; }
        # the job's user (set up above): its HOME, then the command through setpriv or su
        if [ -n "$U_SU" ]; then
          export HOME="$U_HOME"; set -- $BB su -s /bin/sh -c 'exec "$0" "$@"' -- "$U_NAME" "$@"
        elif [ -n "$U_UID" ]; then
          export HOME="$U_HOME"; set -- "$U_SETPRIV" --reuid="$U_UID" --regid="$U_GID" "$U_GROUPS" -- "$@"
        fi
        exec $BB setsid $limit "$@" < /dev/null
      ) 2>&1 &
      echo "$!" > "$d/pid"
      wait "$!"
      echo "$?" > "$d/exit"
    ) | mask &
    step_pipe=$!
    watch_step "$n" "$step_limit"
    wait "$step_pipe"
    [ -z "$script" ] || $BB rm -rf "${script%/*}"
    read -r code < "$d/exit"
    # A step the agent ended never counts as a success, whatever it exited with when told to stop.
    if [ -n "$STOPPED" ] && [ "$code" = 0 ]; then
      if [ "$STOPPED" = timed-out ]; then code=124; else code=130; fi
    fi
  fi
  if [ -n "$STOPPED" ]; then
    ctl "step-end n=$n exit=$code seconds=$(elapsed "$t0") ended=$STOPPED"
  else
    ctl "step-end n=$n exit=$code seconds=$(elapsed "$t0")"
  fi
  if [ "$go" = bad ]; then ctl "step-files n=$n output= env= path= summary= state="; else step_files_close "$n"; fi
  if [ "$code" != 0 ] && [ "$coe" != true ] && [ "$FAILED" = 0 ]; then
    FAILED=1
    FIRST_EXIT=$code
  fi
}

n=0
while :; do
  if [ "$MODE" = host ]; then
    wait_step "$n"
    [ -z "$DOC_END" ] || break
  else
    [ "$n" -lt "$COUNT" ] || break
  fi
  run_step "$n"
  n=$((n + 1))
done

# The overlay is synced before job-end, so the runner may end the VM as soon as it reads that line.
$BB sync
if [ "$FAILED" = 0 ]; then
  ctl "job-end result=succeeded exit=0"
else
  ctl "job-end result=failed exit=$FIRST_EXIT"
fi
end_vm "$FIRST_EXIT"
