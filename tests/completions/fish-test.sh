#!/usr/bin/env bash
# fish-test.sh COMPLETION_FILE
#
# For each partial command line, starts `fish --no-config`, sources
# completions/lockcctl.fish and prints `complete -C LINE`; compares the
# candidates (without descriptions, sorted: fish sorts them itself) exactly.
# Container ids come from tests/completions/fake-lockcctl, a stand-in for
# lockcctl and lockcd placed first in PATH.
# Exit status: 0 passed, 1 failed, 77 fish is not installed.

set -o pipefail
completion=${1:?usage: fish-test.sh COMPLETION_FILE}
here=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

if ! command -v fish >/dev/null; then
    echo 'SKIP: fish is not installed (apt-get install fish)'
    exit 77
fi
if out=$(fish --no-execute "$completion" 2>&1); then
    pass
else
    fail "fish --no-execute $completion" "$out"
fi

# complete_line LINE: the candidates for LINE, sorted, in $reply; what fish
# printed on stderr in $printed. fish_complete_path is emptied so that an
# installed lockcctl.fish cannot add to the sourced one.
complete_line() {
    # shellcheck disable=SC2016  # fish code, expanded by fish
    reply=$(fish --no-config -c '
        set -g fish_complete_path
        source $argv[1]; or exit 3
        complete -C $argv[2]' "$completion" "$1" 2>"$scratch/printed" | cut -f1 | sorted)
    printed=$(<"$scratch/printed")
}

# check LINE EXPECTED...: exactly EXPECTED (in any order), nothing on stderr.
check() {
    local line=$1 expected=''
    shift
    (($#)) && expected=$(printf '%s\n' "$@" | sorted)
    complete_line "$line"
    expect_list "'$line'" "$expected" "$reply"
    expect_empty "'$line' prints nothing" "$printed"
}

verbs=(status list ls show levels set-level set-mode set-default register unregister reload monitor run help)
levels=(privileged baseline restricted)
modes=(enforce audit)
global_long=(--json --no-pager --no-legend --no-ask-password --quiet --help --version)
# shellcheck disable=SC2016  # a literal id, see fake-lockcctl
odd_id='x$(id)'
ids=(-dash api k8s:web web web-db "$odd_id")

# Commands.
check 'lockcctl ' "${verbs[@]}"
check 'lockcctl s' status show set-level set-mode set-default
check 'lockcctl --json s' status show set-level set-mode set-default
check 'lockcctl re' register reload
check 'lockcctl xyz'
check 'lockcctl r' register reload run

# Levels and modes.
check 'lockcctl set-level web ' "${levels[@]}"
check 'lockcctl set-level web b' baseline
check 'lockcctl --no-ask-password set-level -q web r' restricted
check 'lockcctl set-level web baseline '
check 'lockcctl set-mode web ' "${modes[@]}"
check 'lockcctl register web --level ' "${levels[@]}"
check 'lockcctl register web --level=re' --level=restricted
check 'lockcctl register web --level baseline --mode ' "${modes[@]}"
check 'lockcctl set-default ' "${levels[@]}"
check 'lockcctl set-default --mode ' "${modes[@]}"
check 'lockcctl set-default --mode audit ' "${levels[@]}"
check 'lockcctl set-default restricted '

# Options.
check 'lockcctl -' --json --no-pager --no-legend --no-ask-password -q --quiet -h --help --version
check 'lockcctl --' "${global_long[@]}"
check 'lockcctl register web --' "${global_long[@]}" --level --mode --cgroup --scope --pid --runtime
check 'lockcctl set-default --' "${global_long[@]}" --mode
check 'lockcctl set-level --' "${global_long[@]}"
check 'lockcctl register web --scope '
check 'lockcctl register web --runtime '

# run: its options, then CMD's line as a command line of its own: CMD's name
# (a probe command first in PATH), then CMD's own completion (the probe's,
# or lockcctl's); nothing in CMD's line is lockcctl's.
printf '#!/bin/sh\n' >"$scratch/bin/lockcctl-run-probe"
chmod 0755 "$scratch/bin/lockcctl-run-probe"
check 'lockcctl run --level ' "${levels[@]}"
check 'lockcctl run --level=re' --level=restricted
check 'lockcctl run --level baseline --mode ' "${modes[@]}"
check 'lockcctl run --' "${global_long[@]}" --level --mode --unit --description
check 'lockcctl run --unit '
check 'lockcctl run --level baseline --description '
check 'lockcctl run lockcctl-run-p' lockcctl-run-probe
check 'lockcctl run --level baseline lockcctl-run-p' lockcctl-run-probe
check 'lockcctl --json run --level baseline -- lockcctl-run-p' lockcctl-run-probe
check 'lockcctl run --level baseline lockcctl-run-probe --'
check 'lockcctl run --level baseline -- lockcctl s' status show set-level set-mode set-default
check 'lockcctl run --level baseline -- lockcctl run --level ' "${levels[@]}"

# Container ids, from the fake lockcctl.
: >"$FAKE_LOCKCCTL_LOG"
check 'lockcctl show ' "${ids[@]}"
expect_list "the completion runs 'lockcctl list --no-legend'" 'list --no-legend' "$(<"$FAKE_LOCKCCTL_LOG")"
check 'lockcctl show we' web web-db
check 'lockcctl show web '
check 'lockcctl --json show --no-pager a' api
check 'lockcctl unregister ' "${ids[@]}"
check 'lockcctl set-level ' "${ids[@]}"
check 'lockcctl set-mode w' web web-db
check 'lockcctl monitor ' "${ids[@]}"
check 'lockcctl monitor web ' -dash api k8s:web web-db "$odd_id"
# After "--" every word is an id, even one that starts with '-'.
check 'lockcctl show -- ' "${ids[@]}"
check 'lockcctl show -- -' -dash
check 'lockcctl -q set-level -- -dash ' "${levels[@]}"
check 'lockcctl show k8s:' k8s:web
check 'lockcctl register '
check 'lockcctl status '
check 'lockcctl run --level baseline lockcctl show w' web web-db

# lockcd not reachable: lockcctl fails (and prints a row and an error first).
FAKE_LOCKCCTL_MODE=fail
check 'lockcctl show '
check 'lockcctl monitor '
FAKE_LOCKCCTL_MODE=ok

# A daemon that never answers: the completion gives up within seconds.
FAKE_LOCKCCTL_MODE=hang
start=$SECONDS
check 'lockcctl show '
if ((SECONDS - start <= 5)); then
    pass
else
    fail 'a hanging lockcctl is given up within 5 s' "took $((SECONDS - start)) s"
fi
FAKE_LOCKCCTL_MODE=ok

# No lockcctl at all (fish itself is called by its full path).
fish_path=$(command -v fish)
fish() { PATH=$no_lockcctl_path "$fish_path" "$@"; }
check 'lockcctl show '
unset -f fish

# --pid: fish's own process completion (ps).
complete_line 'lockcctl register web --pid '
expect_empty "'--pid ' prints nothing" "$printed"
if grep -qx "$$" <<<"$reply" && ! grep -qv '^[0-9][0-9]*$' <<<"$reply"; then
    pass
else
    fail "'--pid ' offers pids ($$ among them, nothing else)" "got: [${reply//$'\n'/ }]"
fi

# --cgroup: relative to the cgroup root, under the cgroup2 mount.
if [[ -n $test_cgroup_rel ]]; then
    check "lockcctl register web --cgroup $test_cgroup_rel/" \
        "$test_cgroup_rel/alpha.scope/" "$test_cgroup_rel/beta-2.scope/" "$test_cgroup_rel/beta.scope/"
    check "lockcctl register web --cgroup $test_cgroup_rel/b" \
        "$test_cgroup_rel/beta-2.scope/" "$test_cgroup_rel/beta.scope/"
    check "lockcctl register web --cgroup $test_cgroup/al" "$test_cgroup/alpha.scope/"
else
    echo "note: no writable cgroup2 mount: completion in the cgroup tree not checked"
fi
if [[ -n $cgroup2_mount ]]; then
    complete_line "lockcctl register web --cgroup ${cgroup2_mount:0:4}"
    if grep -qxF "$cgroup2_mount/" <<<"$reply"; then
        pass
    else
        fail "'--cgroup ${cgroup2_mount:0:4}' offers $cgroup2_mount/" "got: [${reply//$'\n'/ }]"
    fi
else
    mkdir -p "$scratch/cg/one" "$scratch/cg/two"
    : >"$scratch/cg/file"
    check "lockcctl register web --cgroup $scratch/cg/" "$scratch/cg/one/" "$scratch/cg/two/"
fi

finish
