#!/usr/bin/env bash
# zsh-test.sh COMPLETION_FILE
#
# `zsh -n` on completions/_lockcctl, then real completions: for each partial
# command line, zsh-complete.zsh runs an interactive zsh on a pseudo-terminal
# (zsh/zpty) with compinit and the directory of COMPLETION_FILE first in
# fpath, presses TAB and prints the matches, which are compared exactly
# (sorted and without duplicates: zsh orders and groups them itself).
# Container ids come from tests/completions/fake-lockcctl, a stand-in for
# lockcctl and lockcd placed first in PATH.
# Exit status: 0 passed, 1 failed, 77 zsh (or its zpty module) is missing.

set -o pipefail
completion=${1:?usage: zsh-test.sh COMPLETION_FILE}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

if ! command -v zsh >/dev/null; then
    echo 'SKIP: zsh is not installed (apt-get install zsh)'
    exit 77
fi
if ! zsh -fc 'zmodload zsh/zpty' 2>/dev/null; then
    echo 'SKIP: zsh has no zsh/zpty module'
    exit 77
fi

if [[ $(head -n1 "$completion") == '#compdef lockcctl' ]]; then
    pass
else
    fail "$completion starts with '#compdef lockcctl'" "$(head -n1 "$completion")"
fi
if out=$(zsh -n "$completion" 2>&1); then
    pass
else
    fail "zsh -n $completion" "$out"
fi
if [[ $(basename "$completion") == _lockcctl ]]; then
    pass
else
    fail "the file is named _lockcctl (compinit finds it by that name)" "$completion"
fi

completion_dir=$(cd "$(dirname "$completion")" && pwd)

# complete_line LINE: the matches for LINE, sorted, in $reply; in $printed,
# what the harness printed on stderr and any error message that appeared on
# the inner shell's terminal (which also shows the prompt and the line, so
# it is searched for what errors look like: "lockcctl: ..." from lockcctl,
# "_lockcctl...: ..." from zsh in the completion functions).
complete_line() {
    local status
    reply=$(ZSH_COMPLETE_TERMINAL=$scratch/terminal timeout 60 \
        zsh -f "$here/zsh-complete.zsh" "$completion_dir" "$1" 2>"$scratch/printed")
    status=$?
    reply=$(sorted <<<"$reply")
    printed=$(<"$scratch/printed")
    ((status == 0)) || printed+=" (exit status $status)"
    if [[ -f $scratch/terminal ]]; then
        printed+=$(grep -aoE '(lockcctl|_lockcctl[a-z_]*):[^[:cntrl:]]*' "$scratch/terminal")
        rm -f "$scratch/terminal"
    fi
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
global_all=(--json --no-pager --no-legend --no-ask-password -q --quiet -h --help --version)
# shellcheck disable=SC2016  # a literal id, see fake-lockcctl
odd_id='x$(id)'
ids=(-dash api k8s:web web web-db "$odd_id")

# Commands.
check 'lockcctl ' "${verbs[@]}"
check 'lockcctl s' status show set-level set-mode set-default
check 'lockcctl --json s' status show set-level set-mode set-default
check 'lockcctl re' register reload
check 'lockcctl r' register reload run

# Levels and modes.
check 'lockcctl set-level web ' "${levels[@]}"
check 'lockcctl set-level web b' baseline
check 'lockcctl --no-ask-password set-level -q web r' restricted
check 'lockcctl set-mode web ' "${modes[@]}"
check 'lockcctl register web --level ' "${levels[@]}"
check 'lockcctl register web --level baseline --mode ' "${modes[@]}"
check 'lockcctl set-default ' "${levels[@]}"
check 'lockcctl set-default --mode ' "${modes[@]}"

# Options. (With nothing left to complete, zsh offers the options.)
check 'lockcctl -' "${global_all[@]}"
check 'lockcctl register web --' "${global_long[@]}" --level --mode --cgroup --scope --pid --runtime
check 'lockcctl set-default --' "${global_long[@]}" --mode
check 'lockcctl set-level --' "${global_long[@]}"
check 'lockcctl set-level web baseline ' "${global_all[@]}"

# run: its options, then CMD's line as a command line of its own: CMD's name
# (a probe command first in PATH), then CMD's own completion (the probe's,
# or lockcctl's); nothing in CMD's line is lockcctl's.
printf '#!/bin/sh\n' >"$scratch/bin/lockcctl-run-probe"
chmod 0755 "$scratch/bin/lockcctl-run-probe"
check 'lockcctl run --level ' "${levels[@]}"
check 'lockcctl run --level baseline --mode ' "${modes[@]}"
check 'lockcctl run -' "${global_all[@]}" --level --mode --unit --description
check 'lockcctl run --unit '
check 'lockcctl run lockcctl-run-p' lockcctl-run-probe
check 'lockcctl run --level baseline lockcctl-run-p' lockcctl-run-probe
check 'lockcctl --json run --level baseline -- lockcctl-run-p' lockcctl-run-probe
check 'lockcctl run --level baseline lockcctl-run-probe -'
check 'lockcctl run --level baseline -- lockcctl s' status show set-level set-mode set-default
check 'lockcctl run --level baseline -- lockcctl run --level ' "${levels[@]}"

# Container ids, from the fake lockcctl.
: >"$FAKE_LOCKCCTL_LOG"
check 'lockcctl show ' "${ids[@]}"
expect_list "the completion runs 'lockcctl list --no-legend'" 'list --no-legend' "$(<"$FAKE_LOCKCCTL_LOG")"
check 'lockcctl show we' web web-db
check 'lockcctl --json show --no-pager a' api
check 'lockcctl unregister ' "${ids[@]}"
check 'lockcctl set-level ' "${ids[@]}"
check 'lockcctl set-mode w' web web-db
check 'lockcctl monitor web ' -dash api k8s:web web-db "$odd_id"
# After "--" every word is an id, even one that starts with '-'.
check 'lockcctl show -- ' "${ids[@]}"
check 'lockcctl show -- -' -dash
check 'lockcctl -q set-level -- -dash ' "${levels[@]}"
check 'lockcctl show k8s:' k8s:web
check 'lockcctl run --level baseline lockcctl show w' web web-db

# lockcd not reachable: lockcctl fails (and prints a row and an error first).
FAKE_LOCKCCTL_MODE=fail
check 'lockcctl show '
FAKE_LOCKCCTL_MODE=ok

# A daemon that never answers: the completion gives up within seconds.
FAKE_LOCKCCTL_MODE=hang
start=$SECONDS
check 'lockcctl show '
if ((SECONDS - start <= 6)); then
    pass
else
    fail 'a hanging lockcctl is given up within 6 s' "took $((SECONDS - start)) s"
fi
FAKE_LOCKCCTL_MODE=ok

# No lockcctl at all.
PATH=$no_lockcctl_path:$base_path
if ! command -v lockcctl >/dev/null; then
    check 'lockcctl show '
fi
PATH=$scratch/bin:$base_path

# --cgroup: relative to the cgroup root, under the cgroup2 mount.
if [[ -n $test_cgroup_rel ]]; then
    check "lockcctl register web --cgroup $test_cgroup_rel/" \
        "$test_cgroup_rel/alpha.scope" "$test_cgroup_rel/beta-2.scope" "$test_cgroup_rel/beta.scope"
    check "lockcctl register web --cgroup $test_cgroup_rel/b" \
        "$test_cgroup_rel/beta-2.scope" "$test_cgroup_rel/beta.scope"
    check "lockcctl register web --cgroup $test_cgroup/al" "$test_cgroup/alpha.scope"
else
    echo "note: no writable cgroup2 mount: completion in the cgroup tree not checked"
fi

finish
