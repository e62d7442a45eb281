#!/usr/bin/env bash
# bash-test.sh COMPLETION_FILE
#
# Loads bash-completion and completions/lockcctl.bash in this (non-
# interactive) bash, sets COMP_WORDS, COMP_CWORD, COMP_LINE and COMP_POINT
# as bash would for a partial command line, calls _lockcctl and compares
# COMPREPLY exactly. Container ids come from tests/completions/fake-lockcctl,
# a stand-in for lockcctl and lockcd placed first in PATH.
# Exit status: 0 passed, 1 failed, 77 bash-completion is not installed.

set -o pipefail
completion=${1:?usage: bash-test.sh COMPLETION_FILE}
here=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

bash_completion=''
for f in /usr/share/bash-completion/bash_completion /etc/bash_completion; do
    [[ -r $f ]] && { bash_completion=$f; break; }
done
if [[ -z $bash_completion ]]; then
    echo 'SKIP: bash-completion is not installed (apt-get install bash-completion)'
    exit 77
fi
# shellcheck source=/dev/null
. "$bash_completion"
# shellcheck source=/dev/null  # completions/lockcctl.bash, checked on its own
. "$completion"

if [[ $(complete -p lockcctl 2>&1) == 'complete -F _lockcctl lockcctl' ]]; then
    pass
else
    fail 'the script registers _lockcctl for lockcctl' "$(complete -p lockcctl 2>&1)"
fi

# compopt only works while readline runs a completion: record what the
# completion asks for instead.
compopt_args=''
# shellcheck disable=SC2317  # called by the completion
compopt() {
    compopt_args+=" $*"
}

# Splits LINE as readline does for COMP_WORDS: at blanks, and runs of
# COMP_WORDBREAKS characters other than blanks (":", "=") are words of their
# own. The cursor is at the end of LINE.
set_comp_words() {
    local line=$1 word='' ch i breaks=${COMP_WORDBREAKS//[[:space:]]/}
    COMP_WORDS=()
    for ((i = 0; i < ${#line}; i++)); do
        ch=${line:i:1}
        if [[ $ch == [[:space:]] ]]; then
            [[ -n $word ]] && COMP_WORDS+=("$word")
            word=''
        elif [[ $breaks == *"$ch"* ]]; then
            if [[ -n $word && $breaks != *"${word: -1}"* ]]; then
                COMP_WORDS+=("$word")
                word=''
            fi
            word+=$ch
        else
            if [[ -n $word && $breaks == *"${word: -1}"* ]]; then
                COMP_WORDS+=("$word")
                word=''
            fi
            word+=$ch
        fi
    done
    COMP_WORDS+=("$word") # the word at the cursor, maybe empty
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE=$line
    COMP_POINT=${#line}
}

# complete_line LINE: runs _lockcctl for LINE; the result, one per line, in
# $reply; what it printed (stdout and stderr) in $printed.
complete_line() {
    set_comp_words "$1"
    COMPREPLY=()
    compopt_args=''
    _lockcctl lockcctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" \
        >"$scratch/printed" 2>&1
    printed=$(<"$scratch/printed")
    if ((${#COMPREPLY[@]})); then
        reply=$(printf '%s\n' "${COMPREPLY[@]}")
    else
        reply=''
    fi
}

# check LINE EXPECTED...: COMPREPLY for LINE is exactly EXPECTED, in order,
# and the completion printed nothing.
check() {
    local line=$1 expected=''
    shift
    (($#)) && expected=$(printf '%s\n' "$@")
    complete_line "$line"
    expect_list "'$line'" "$expected" "$reply"
    expect_empty "'$line' prints nothing" "$printed"
}

# check_sorted LINE EXPECTED...: the same, in any order.
check_sorted() {
    local line=$1 expected=''
    shift
    (($#)) && expected=$(printf '%s\n' "$@" | sorted)
    complete_line "$line"
    expect_list "'$line'" "$expected" "$(sorted <<<"$reply")"
    expect_empty "'$line' prints nothing" "$printed"
}

verbs=(status list ls show levels set-level set-mode set-default register unregister reload monitor run help)
levels=(privileged baseline restricted)
modes=(enforce audit)
global_long=(--json --no-pager --no-legend --no-ask-password --quiet --help --version)
ids=(-dash api k8s:web web web-db 'x\$\(id\)')

# Commands.
check 'lockcctl ' "${verbs[@]}"
check 'lockcctl s' status show set-level set-mode set-default
check 'lockcctl --json s' status show set-level set-mode set-default
check 'lockcctl re' register reload
check 'lockcctl l' list ls levels
check 'lockcctl x'
check 'lockcctl r' register reload run

# Levels and modes.
check 'lockcctl set-level web ' "${levels[@]}"
check 'lockcctl set-level web b' baseline
check 'lockcctl --no-ask-password set-level -q web r' restricted
check 'lockcctl set-level web baseline '
check 'lockcctl set-mode web ' "${modes[@]}"
check 'lockcctl set-mode web a' audit
check 'lockcctl register web --level ' "${levels[@]}"
check 'lockcctl register web --level=' "${levels[@]}"
check 'lockcctl register web --level=re' restricted
check 'lockcctl register web --level baseline --mode ' "${modes[@]}"
check 'lockcctl register web --mode=e' enforce
check 'lockcctl set-default ' "${levels[@]}"
check 'lockcctl set-default --mode ' "${modes[@]}"
check 'lockcctl set-default --mode audit ' "${levels[@]}"
check 'lockcctl set-default restricted '

# Options.
check 'lockcctl -' --json --no-pager --no-legend --no-ask-password -q --quiet -h --help --version
check 'lockcctl --' "${global_long[@]}"
check 'lockcctl --no-' --no-pager --no-legend --no-ask-password
check 'lockcctl register web --' "${global_long[@]}" --level --mode --cgroup --scope --pid --runtime
check 'lockcctl register web --level baseline --s' --scope
check 'lockcctl set-default --' "${global_long[@]}" --mode
check 'lockcctl set-level --' "${global_long[@]}"
check 'lockcctl status --' "${global_long[@]}"
check 'lockcctl register web --scope '
check 'lockcctl register web --runtime '

# run: its options, then CMD's line as a command line of its own: CMD's name
# (a probe command first in PATH), then CMD's own completion (the probe's,
# or lockcctl's); nothing in CMD's line is lockcctl's.
printf '#!/bin/sh\n' >"$scratch/bin/lockcctl-run-probe"
chmod 0755 "$scratch/bin/lockcctl-run-probe"
complete -W 'alpha beta' lockcctl-run-probe
check 'lockcctl run --level ' "${levels[@]}"
check 'lockcctl run --level=r' restricted
check 'lockcctl run --level baseline --mode ' "${modes[@]}"
check 'lockcctl run --' "${global_long[@]}" --level --mode --unit --description
check 'lockcctl run --level baseline --u' --unit
check 'lockcctl run --unit '
check 'lockcctl run --level baseline --description '
check_sorted 'lockcctl run lockcctl-run-p' lockcctl-run-probe
check_sorted 'lockcctl run --level baseline lockcctl-run-p' lockcctl-run-probe
check_sorted 'lockcctl --json run --level=baseline -- lockcctl-run-p' lockcctl-run-probe
check 'lockcctl run --level baseline lockcctl-run-probe ' alpha beta
check 'lockcctl run --unit=a:b.scope --level baseline lockcctl-run-probe b' beta
check 'lockcctl run --level baseline lockcctl-run-probe --'
check 'lockcctl run --level baseline lockcctl-run-probe --mode ' alpha beta
check 'lockcctl run --level baseline -- lockcctl s' status show set-level set-mode set-default
check 'lockcctl run --level baseline -- lockcctl run --level ' "${levels[@]}"
complete -r lockcctl-run-probe

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
check 'lockcctl monitor web ' -dash api k8s:web web-db 'x\$\(id\)'
check 'lockcctl monitor api web we' web-db
# An id with a colon, which bash splits into words of its own.
# After "--" every word is an id, even one that starts with '-'.
check 'lockcctl show -- ' "${ids[@]}"
check 'lockcctl show -- -' -dash
check 'lockcctl -q set-level -- -dash ' "${levels[@]}"
check 'lockcctl show k8s:' web
check 'lockcctl show k8s:w' web
# Ids are data: 'x$(id)' is offered quoted, never run.
check 'lockcctl show x' 'x\$\(id\)'
check 'lockcctl register '
check 'lockcctl status '
check 'lockcctl reload '
check 'lockcctl run --level baseline lockcctl show w' web web-db

# lockcd not reachable: lockcctl fails (and prints a row and an error first).
FAKE_LOCKCCTL_MODE=fail
check 'lockcctl show '
check 'lockcctl set-level w'
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

# No lockcctl at all.
PATH=$no_lockcctl_path
check 'lockcctl show '
check 'lockcctl unregister w'
PATH=$scratch/bin:$base_path

# --pid: the processes in /proc, this shell among them.
complete_line 'lockcctl register web --pid '
expect_empty "'--pid ' prints nothing" "$printed"
if grep -qx "$$" <<<"$reply" && grep -qx 1 <<<"$reply" && ! grep -qv '^[0-9][0-9]*$' <<<"$reply"; then
    pass
else
    fail "'--pid ' offers pids (1 and $$ among them, nothing else)" "got: [${reply//$'\n'/ }]"
fi
complete_line "lockcctl register web --pid $$"
if grep -qx "$$" <<<"$reply" && ! grep -qv "^$$" <<<"$reply"; then
    pass
else
    fail "'--pid $$' offers pids starting with $$" "got: [${reply//$'\n'/ }]"
fi

# --cgroup: relative to the cgroup root, under the cgroup2 mount.
if [[ -n $test_cgroup_rel ]]; then
    # (In directory order: compared sorted.)
    check_sorted "lockcctl register web --cgroup $test_cgroup_rel/" \
        "$test_cgroup_rel/alpha.scope/" "$test_cgroup_rel/beta-2.scope/" "$test_cgroup_rel/beta.scope/"
    check_sorted "lockcctl register web --cgroup $test_cgroup_rel/b" \
        "$test_cgroup_rel/beta-2.scope/" "$test_cgroup_rel/beta.scope/"
    check "lockcctl register web --cgroup $test_cgroup_rel/beta." "$test_cgroup_rel/beta.scope/"
    if [[ $compopt_args == *nospace* ]]; then
        pass
    else
        fail 'cgroup directories are completed without a trailing space' "compopt:$compopt_args"
    fi
    check "lockcctl register web --cgroup=$test_cgroup_rel/a" "$test_cgroup_rel/alpha.scope/"
    # Absolute under the mount: plain directory completion.
    complete_line "lockcctl register web --cgroup $test_cgroup/al"
    expect_list "'--cgroup $test_cgroup/al'" "$test_cgroup/alpha.scope" "$reply"
else
    echo "note: no writable cgroup2 mount: completion in the cgroup tree not checked"
fi
if [[ -n $cgroup2_mount ]]; then
    # The mount point itself is offered with the cgroup tree.
    complete_line "lockcctl register web --cgroup ${cgroup2_mount:0:4}"
    if grep -qxF "$cgroup2_mount/" <<<"$reply"; then
        pass
    else
        fail "'--cgroup ${cgroup2_mount:0:4}' offers $cgroup2_mount/" "got: [${reply//$'\n'/ }]"
    fi
else
    # No cgroup2 mount: plain directory completion.
    mkdir -p "$scratch/cg/one" "$scratch/cg/two"
    : >"$scratch/cg/file"
    complete_line "lockcctl register web --cgroup $scratch/cg/"
    expect_list "'--cgroup $scratch/cg/' (no cgroup2 mount)" \
        "$(printf '%s\n' "$scratch/cg/one" "$scratch/cg/two")" "$(sorted <<<"$reply")"
fi

finish
