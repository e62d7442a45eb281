#!/bin/bash
# Runs in the test VM, as root, with lockc installed (lockcd reachable on
# the system bus) and Docker running (guest/docker-setup.sh): lockc-notify
# against a real notification server. Each user gets a private session bus
# (dbus-daemon --session) and dunst on one Xvfb display; what dunst
# received is read from `dunstctl history`.
#
# Checks:
#   1. a user in group lockc sees a denial of a real Docker container as a
#      notification naming the container and what was denied;
#   2. a burst of 50 denials in one container is one notification with the
#      count in its body, not 50;
#   3. a user not in group lockc gets no notification, and lockc-notify
#      says once that it is not authorised;
#   4. when lockc is installed (cmake --install: the user unit is in
#      /usr/lib/systemd/user), the installed lockc-notify.service started by
#      a real systemd user manager (user@UID.service, with its own session
#      bus from dbus-user-session) shows a denial in that user's dunst.
#      Skipped (and said so) when the unit is not installed.
#
#   notify-test.sh --build-dir DIR
#     DIR: the build tree (DIR/notify/lockc-notify is tested).
#   Environment: LOCKC_NOTIFY_TIMEOUT  seconds each wait may take (default 240)
#                LOCKC_NOTIFY_IMAGE    image to run (lockc-test/busybox:latest)
#
# Exit status 0 when every check passed; 1 with "FAIL: ..." otherwise; 2 on
# a usage error. Cleans up what it started (Xvfb, dbus-daemons, dunsts,
# lockc-notify, containers, its users), also on failure.
set -euo pipefail

usage() { echo "usage: $0 --build-dir DIR" >&2; exit 2; }
build=''
while (($#)); do
  case $1 in
  --build-dir) build=${2-}; shift 2 || usage ;;
  -h | --help) usage ;;
  *) echo "notify-test: unknown argument $1" >&2; usage ;;
  esac
done
[[ -n $build ]] || usage

limit=${LOCKC_NOTIFY_TIMEOUT:-240}
image=${LOCKC_NOTIFY_IMAGE:-lockc-test/busybox:latest}
allowed_user=lockc-notify-ok
denied_user=lockc-notify-no
not_authorised_line="not authorised to see lockc's denials (polkit action org.lockc.manager.subscribe-denials); no notifications"

tab=$'\t'
say() { echo "notify-test: $*"; }
pass() { echo "notify-test: PASS: $*"; }
diagnosing=0
fail() {
  echo "notify-test: FAIL: $*" >&2
  if ((diagnosing == 0)); then
    diagnosing=1
    diagnostics >&2 || true
  fi
  exit 1
}

((EUID == 0)) || { echo "notify-test: must run as root" >&2; exit 2; }
for tool in Xvfb dunst dunstctl dbus-daemon setpriv useradd docker python3; do
  command -v "$tool" >/dev/null || { echo "notify-test: $tool is missing (scripts/install-deps.sh)" >&2; exit 2; }
done
[[ -x $build/notify/lockc-notify ]] || { echo "notify-test: no $build/notify/lockc-notify (build the target lockc-notify)" >&2; exit 2; }
getent group lockc >/dev/null || { echo "notify-test: no group lockc: install lockc first (guest/install-lockc.sh)" >&2; exit 2; }

# ---- Cleanup: everything this script starts is recorded here ----
work=$(mktemp -d /tmp/lockc-notify-test.XXXXXX)
chmod 755 "$work"
pids=()        # killed in reverse order
users=()       # removed
managers=()    # user@UID.service units stopped
lingering=()   # users whose lingering is turned off again
containers=()  # removed
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
  done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    # Not our children (dbus-daemon forked): wait until gone, 5 s at most.
    for _ in $(seq 50); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
    kill -9 "${pids[i]}" 2>/dev/null || true
  done
  for u in "${lingering[@]}"; do loginctl disable-linger "$u" >/dev/null 2>&1 || true; done
  for m in "${managers[@]}"; do systemctl stop "$m" >/dev/null 2>&1 || true; done
  for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  for u in "${users[@]}"; do
    userdel --remove "$u" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "notify-test: FAIL: a command failed (line $LINENO)" >&2' ERR

# The binary where every user may run it (the build tree may not be).
install -m 0755 "$build/notify/lockc-notify" "$work/lockc-notify"

# ---- X display ----
display_number=97
while [[ -e /tmp/.X$display_number-lock || -e /tmp/.X11-unix/X$display_number ]]; do
  display_number=$((display_number + 1))
done
display=:$display_number
Xvfb "$display" -nolisten tcp -ac -screen 0 1024x768x24 >"$work/xvfb.log" 2>&1 &
pids+=($!)
xvfb_pid=$!
for ((t = 0; t < limit * 10; t++)); do
  [[ -S /tmp/.X11-unix/X$display_number ]] && break
  kill -0 "$xvfb_pid" 2>/dev/null || fail "Xvfb exited: $(cat "$work/xvfb.log")"
  sleep 0.1
done
[[ -S /tmp/.X11-unix/X$display_number ]] || fail "Xvfb did not create its socket within ${limit} s"
say "Xvfb on $display"

cat >"$work/dunstrc" <<'EOF'
# Everything shown at once and kept until closed: the test reads the
# history after dunstctl close-all, and a notification that expired on
# its own would be a second history entry when it is replaced.
[global]
    notification_limit = 0
    history_length = 500
    sticky_history = yes
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
EOF
chmod 644 "$work/dunstrc"

# ---- Per user: a session bus and dunst on it ----
declare -A bus_of home_of
make_user() { # USER [GROUPS]
  local user=$1 groups=${2-}
  userdel --remove "$user" >/dev/null 2>&1 || true
  useradd --create-home --home-dir "/home/$user" --shell /bin/bash ${groups:+--groups "$groups"} "$user"
  users+=("$user")
  home_of[$user]=/home/$user
}
as_user() { # USER COMMAND...: with the user's ids, groups, session bus and display
  local user=$1
  shift
  setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --reset-env -- \
    env HOME="${home_of[$user]}" USER="$user" LOGNAME="$user" PATH=/usr/local/bin:/usr/bin:/bin \
    DISPLAY="$display" DBUS_SESSION_BUS_ADDRESS="${bus_of[$user]-}" "$@"
}
start_session() { # USER
  local user=$1 out
  out=$(as_user "$user" dbus-daemon --session --fork --print-address=1 --print-pid=1) ||
    fail "dbus-daemon --session did not start for $user"
  bus_of[$user]=$(sed -n 1p <<<"$out")
  pids+=("$(sed -n 2p <<<"$out")")
  as_user "$user" dunst -config "$work/dunstrc" >"$work/dunst-$user.log" 2>&1 &
  pids+=($!)
  local t
  for ((t = 0; t < limit; t++)); do
    as_user "$user" dunstctl is-paused >/dev/null 2>&1 && break
    sleep 1
  done
  as_user "$user" dunstctl is-paused >/dev/null 2>&1 ||
    fail "dunst did not answer on $user's session bus within ${limit} s: $(cat "$work/dunst-$user.log")"
  say "session bus and dunst for $user: ${bus_of[$user]}"
}
start_notify() { # USER: lockc-notify as USER, its stderr in $work/notify-USER.log
  local user=$1
  : >"$work/notify-$user.log"
  chmod 666 "$work/notify-$user.log"
  as_user "$user" "$work/lockc-notify" --verbose >"$work/notify-$user.log" 2>&1 &
  pids+=($!)
  notify_pid[$user]=$!
}
declare -A notify_pid

# What dunst has in its history, one notification a line:
# appname<TAB>summary<TAB>body (newlines in the body as \n). The call
# `dunstctl history` makes, on the user's bus by its address (dunstctl
# says only "Dunst is not running" whatever went wrong).
history_of() { # USER
  local json t
  for ((t = 0; t < 5; t++)); do
    json=$(as_user "$1" busctl --address="${bus_of[$1]}" --json=short call \
      org.freedesktop.Notifications /org/freedesktop/Notifications org.dunstproject.cmd0 \
      NotificationListHistory) && break
    sleep 1
  done
  [[ -n $json ]] || fail "cannot read the history of dunst on $1's session bus"
  python3 -c '
import json, sys
for group in json.load(sys.stdin)["data"]:
    for n in group:
        fields = [n.get(k, {}).get("data", "") for k in ("appname", "summary", "body")]
        print("\t".join(f.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", " ") for f in fields))
' <<<"$json"
}
count_of() { as_user "$1" dunstctl count "$2"; }

wait_for() { # SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds
  local seconds=$1 what=$2 start=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - start < seconds)) || fail "$what: not within ${seconds} s"
    sleep 1
  done
}

diagnostics() {
  local u
  for u in "${users[@]}"; do
    echo "--- lockc-notify of $u:"
    cat "$work/notify-$u.log" 2>/dev/null || true
    echo "--- dunst of $u (displayed $(count_of "$u" displayed 2>/dev/null), history):"
    (history_of "$u") 2>/dev/null || true
    tail -5 "$work/dunst-$u.log" 2>/dev/null || true
  done
  echo "--- lockc-notify in the journal:"
  journalctl --no-pager -q -n 20 SYSLOG_IDENTIFIER=lockc-notify 2>/dev/null || true
  echo "--- lockcd:"
  journalctl --no-pager -n 30 -u lockcd 2>/dev/null || true
}

# Runs a container that is denied what SHELL-COMMAND does; its full id in $cid.
cid=''
denied_container() { # NAME SHELL-COMMAND
  local name=$1
  containers+=("$name")
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run --name "$name" "$image" sh -c "$2" >/dev/null 2>&1 || true
  cid=$(docker inspect -f '{{.Id}}' "$name") || fail "docker run --name $name $image did not make a container"
}

log_has() { grep -qF -- "$2" "$work/notify-$1.log"; }

# ---- 1. An authorised user sees a denial ----
make_user "$allowed_user" lockc
start_session "$allowed_user"
start_notify "$allowed_user"
wait_for "$limit" "lockc-notify of $allowed_user subscribing to denials" \
  log_has "$allowed_user" "receiving lockc's denials"
pass "lockc-notify runs as $allowed_user (group lockc) and receives denials"

denied_container lockc-notify-one 'cat /sys/kernel/uevent_seqnum'
id1=$cid
[[ ${#id1} == 64 ]] || fail "no container id for lockc-notify-one: '$id1'"
short1=${id1:0:12}
say "container lockc-notify-one is $short1; it was denied /sys/kernel/uevent_seqnum"
wait_for "$limit" "a notification about $short1 (lockc-notify log)" \
  log_has "$allowed_user" "lockc stopped $short1 from opening"
# Let a late update (if any) arrive, then move everything to the history.
sleep 3
as_user "$allowed_user" dunstctl close-all
history_of "$allowed_user" >"$work/history1"
grep -F "lockc${tab}lockc stopped $short1 from opening " "$work/history1" | grep -F uevent_seqnum |
  grep -qF "in container $id1" ||
  fail "dunst has no notification from lockc naming $short1, the open of uevent_seqnum and the container: $(cat "$work/history1")"
pass "dunst shows: $(grep -F "$short1" "$work/history1" | cut -f2 | head -1)"
[[ $(grep -cF "$short1" "$work/history1") == 1 ]] || fail "more than one notification about $short1: $(cat "$work/history1")"
pass "one denial, one notification"

# ---- 2. A burst of 50 denials is one notification ----
# shellcheck disable=SC2016 # $(seq 50) is for the container's shell
denied_container lockc-notify-burst \
  'for i in $(seq 50); do cat /sys/kernel/uevent_seqnum 2>/dev/null; done; true'
id2=$cid
[[ ${#id2} == 64 ]] || fail "no container id for lockc-notify-burst: '$id2'"
short2=${id2:0:12}
say "container lockc-notify-burst is $short2; it was denied the same open 50 times"
burst_shown() { # the verbose log says a notification for all 50 went out
  grep -F "lockc stopped $short2 " "$work/notify-$allowed_user.log" |
    grep -oE '\(([0-9]+) denials\)' | tr -dc '0-9\n' | awk '$1 >= 50 {found = 1} END {exit !found}'
}
wait_for "$limit" "a notification counting 50 denials of $short2 (lockc-notify log)" burst_shown
sleep 3
as_user "$allowed_user" dunstctl close-all
history_of "$allowed_user" >"$work/history2"
about2=$(grep -cF "$short2" "$work/history2" || true)
[[ $about2 == 1 ]] || fail "expected 1 notification about $short2, dunst has $about2: $(cat "$work/history2")"
pass "50 denials in $short2 made 1 notification in dunst (lockc-notify made $(grep -cF "lockc stopped $short2 " "$work/notify-$allowed_user.log") Notify calls for it: the first, then updates with replaces_id)"
body2=$(grep -F "$short2" "$work/history2" | cut -f3)
more=$(grep -oE '^[0-9]+ more operations denied in '"$short2" <<<"$body2" | cut -d' ' -f1 || true)
if [[ -z $more ]] || ((more < 49)); then
  fail "the body does not count the other denials (want '49 more operations denied in $short2'): $body2"
fi
pass "its body counts them: ${body2%%\\n*}"
total=$(count_of "$allowed_user" history)
[[ $total == 2 ]] || fail "dunst of $allowed_user has $total notifications, expected 2: $(cat "$work/history2")"
pass "$allowed_user got 2 notifications in all, for 51 denials in 2 containers"

# ---- 3. A user not in group lockc gets none ----
make_user "$denied_user"
start_session "$denied_user"
start_notify "$denied_user"
wait_for "$limit" "lockc-notify of $denied_user saying it is not authorised" \
  log_has "$denied_user" "$not_authorised_line"
pass "lockc-notify of $denied_user (not in group lockc) printed: lockc-notify: $not_authorised_line"
denied_container lockc-notify-unseen 'cat /sys/kernel/uevent_seqnum'
id3=$cid
short3=${id3:0:12}
# The authorised user's lockc-notify shows that lockcd did signal it.
wait_for "$limit" "the denial of $short3 reaching $allowed_user" \
  log_has "$allowed_user" "lockc stopped $short3 from opening"
sleep 5
displayed=$(count_of "$denied_user" displayed)
waiting=$(count_of "$denied_user" waiting)
kept=$(count_of "$denied_user" history)
((displayed + waiting + kept == 0)) ||
  fail "dunst of $denied_user got notifications: $displayed displayed, $waiting waiting, $kept in history"
pass "$denied_user's dunst got no notification while $allowed_user's got the denial of $short3"
kill -0 "${notify_pid[$denied_user]}" 2>/dev/null ||
  fail "lockc-notify of $denied_user exited (it should stay idle, for systemd not to restart it)"
[[ $(grep -cF "$not_authorised_line" "$work/notify-$denied_user.log") == 1 ]] ||
  fail "lockc-notify of $denied_user should say once that it is not authorised: $(cat "$work/notify-$denied_user.log")"
pass "lockc-notify of $denied_user stays idle and said so once"

# ---- 4. The installed user unit under a real systemd user manager ----
unit=/usr/lib/systemd/user/lockc-notify.service
unit_user=lockc-notify-unit
if [[ ! -f $unit ]]; then
  say "SKIP: $unit is not installed (cmake --install), the user unit is not checked"
else
  make_user "$unit_user" lockc
  uid=$(id -u "$unit_user")
  managers+=("user@$uid.service")
  # dunst as the user manager starts it (dunst.service, Type=dbus), with
  # the test's configuration in the user's own config directory.
  install -d -o "$unit_user" -g "$unit_user" "/home/$unit_user/.config" "/home/$unit_user/.config/dunst"
  install -m 644 -o "$unit_user" -g "$unit_user" "$work/dunstrc" "/home/$unit_user/.config/dunst/dunstrc"
  # Lingering keeps user@UID.service (and its bus) without a login session:
  # logind stops a user's manager 10 s after the last session otherwise.
  lingering+=("$unit_user")
  loginctl enable-linger "$unit_user" || fail "loginctl enable-linger $unit_user failed"
  systemctl start "user@$uid.service" || fail "systemctl start user@$uid.service failed"
  bus_of[$unit_user]=unix:path=/run/user/$uid/bus
  wait_for "$limit" "the session bus of user@$uid.service" test -S "/run/user/$uid/bus"
  as_user_manager() { systemctl --user --machine="$unit_user@" "$@"; }
  as_user_manager set-environment DISPLAY="$display"
  as_user_manager start dunst.service || fail "dunst.service did not start for $unit_user"
  wait_for "$limit" "dunst of $unit_user answering" as_user "$unit_user" dunstctl is-paused
  as_user_manager start lockc-notify.service || fail "lockc-notify.service did not start for $unit_user"
  unit_log() { journalctl --no-pager -q -o cat _UID="$uid" SYSLOG_IDENTIFIER=lockc-notify; }
  unit_subscribed() { unit_log | grep -qF "receiving lockc's denials"; }
  wait_for "$limit" "lockc-notify.service of $unit_user subscribing (journal)" unit_subscribed
  pass "lockc-notify.service runs under user@$uid.service ($(as_user_manager show -p ExecStart --value lockc-notify.service | grep -o 'path=[^ ;]*' | head -1)) and receives denials"
  denied_container lockc-notify-unit 'cat /sys/kernel/uevent_seqnum'
  short4=${cid:0:12}
  shown4() { as_user "$unit_user" dunstctl count displayed | grep -qx '[1-9][0-9]*'; }
  wait_for "$limit" "a notification in $unit_user's dunst" shown4
  sleep 3
  as_user "$unit_user" dunstctl close-all
  # The history as dbus-send prints it (dunstctl's other commands use
  # dbus-send too; its history uses busctl, which failed once on this bus).
  as_user "$unit_user" dbus-send --session --print-reply --dest=org.freedesktop.Notifications \
    /org/freedesktop/Notifications org.dunstproject.cmd0.NotificationListHistory \
    >"$work/history4" 2>&1 || fail "cannot read the history of $unit_user's dunst: $(cat "$work/history4")"
  grep -qF "lockc stopped $short4 from opening sysfs:/kernel/uevent_seqnum" "$work/history4" ||
    fail "dunst of $unit_user has no notification about $short4: $(cat "$work/history4")"
  pass "through the installed unit, $unit_user's dunst shows: lockc stopped $short4 from opening sysfs:/kernel/uevent_seqnum"
fi

say "all checks passed"
