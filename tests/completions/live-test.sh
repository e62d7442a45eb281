#!/usr/bin/env bash
# live-test.sh COMPLETIONS_DIR
#
# The container ids of the completions from the real lockcctl and the real
# lockcd (the other completion tests use a fake lockcctl): run under
# tests/dbus/test-bus.sh (a private system bus with polkitd), with
# LOCKCCTL and LOCKCD naming the binaries. Starts lockcd with
# --allow-unenforced, registers two containers by scope name with lockcctl,
# and checks that bash, fish and zsh offer exactly their ids; then stops
# lockcd (the private bus cannot activate it, so lockcctl fails at once)
# and checks that they offer nothing and print nothing.

set -uo pipefail
completions=$(cd "${1:?usage: live-test.sh COMPLETIONS_DIR}" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${LOCKCCTL:?}" "${LOCKCD:?}" "${DBUS_SYSTEM_BUS_ADDRESS:?run under tests/dbus/test-bus.sh}"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/lockcctl-live.XXXXXX") || exit 1
lockcd_pid=''
cleanup() {
    if [[ -n $lockcd_pid ]]; then
        kill "$lockcd_pid" 2>/dev/null
        wait "$lockcd_pid" 2>/dev/null
    fi
    rm -rf -- "$scratch"
}
trap cleanup EXIT
failures=0

mkdir -p "$scratch/bin" "$scratch/state"
ln -s "$LOCKCCTL" "$scratch/bin/lockcctl"
export PATH=$scratch/bin:$PATH
: >"$scratch/lockc.toml"
"$LOCKCD" --allow-unenforced --config "$scratch/lockc.toml" --state-dir "$scratch/state" \
    --pin-dir "$scratch/no-pins" >"$scratch/lockcd.log" 2>&1 &
lockcd_pid=$!
for _ in $(seq 100); do
    lockcctl status >/dev/null 2>&1 && break
    sleep 0.1
done
if ! lockcctl -q register web --level baseline --scope docker-lockcctl-live-1.scope ||
    ! lockcctl -q register db:main --level restricted --mode audit \
        --scope docker-lockcctl-live-2.scope; then
    echo "FAIL: cannot register the test containers; lockcd's log:"
    cat "$scratch/lockcd.log"
    exit 1
fi

# bash_ids LINE: _lockcctl's COMPREPLY for LINE (words split at blanks and
# at ':', as readline does), one per line.
bash_ids() {
    bash -c '
        . /usr/share/bash-completion/bash_completion
        . "$1/lockcctl.bash"
        COMP_LINE=$2 COMP_POINT=${#2}
        read -ra COMP_WORDS <<<"${2//:/ : }"
        [[ $2 == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        _lockcctl
        printf "%s\n" "${COMPREPLY[@]}"' bash "$completions" "$1"
}

fish_ids() {
    # shellcheck disable=SC2016  # fish code, expanded by fish
    fish --no-config -c 'set -g fish_complete_path; source $argv[1]; complete -C $argv[2]' \
        "$completions/lockcctl.fish" "$1" | cut -f1
}

zsh_ids() {
    timeout 60 zsh -f "$here/zsh-complete.zsh" "$completions" "$1" | LC_ALL=C sort -u
}

# check SHELL LINE EXPECTED...
check() {
    local shell=$1 line=$2 actual expected=''
    shift 2
    (($#)) && expected=$(printf '%s\n' "$@")
    if ! command -v "$shell" >/dev/null; then
        echo "note: $shell is not installed, not checked"
        return
    fi
    if [[ $shell == bash && ! -r /usr/share/bash-completion/bash_completion ]]; then
        echo "note: bash-completion is not installed, not checked"
        return
    fi
    actual=$("${shell}_ids" "$line" 2>"$scratch/stderr")
    if [[ $actual != "$expected" || -s $scratch/stderr ]]; then
        echo "FAIL: $shell '$line'"
        echo "      expected: [${expected//$'\n'/ }]"
        echo "      actual:   [${actual//$'\n'/ }] $(<"$scratch/stderr")"
        ((failures++))
    fi
}

for shell in bash fish zsh; do
    check "$shell" 'lockcctl show ' db:main web
    check "$shell" 'lockcctl set-level w' web
done
check bash 'lockcctl monitor web ' db:main
check bash 'lockcctl show db:' main

# lockcd gone: lockcctl fails with "not reachable", the completions say nothing.
kill "$lockcd_pid"
wait "$lockcd_pid"
lockcd_pid=''
if lockcctl list --no-legend >/dev/null 2>&1; then
    echo "FAIL: lockcctl list still works after lockcd stopped"
    ((failures++))
fi
for shell in bash fish zsh; do
    check "$shell" 'lockcctl show '
done

if ((failures)); then
    exit 1
fi
echo "live completions: all checks passed"
