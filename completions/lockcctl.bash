# bash completion for lockcctl(1)                          -*- shell-script -*-
# shellcheck shell=bash
#
# bash-completion 2 style: installed as .../bash-completion/completions/lockcctl
# and loaded on demand the first time "lockcctl <TAB>" is pressed. Needs the
# bash-completion package (_init_completion, _filedir). The command line it
# completes is fixed by the lockcctl spec; keep this file, _lockcctl (zsh) and
# lockcctl.fish in step with it.

# Registered container ids: the first column of `lockcctl list --no-legend`.
# Pressing TAB must never hang nor print anything, whether lockcd is running,
# stuck, not installed or refusing: a short timeout, no stdin, no stderr, and
# nothing at all unless lockcctl succeeded.
__lockcctl_ids()
{
    local out id _
    command -v lockcctl >/dev/null 2>&1 || return 0
    command -v timeout >/dev/null 2>&1 || return 0
    out=$(timeout -k 1 2 lockcctl list --no-legend </dev/null 2>/dev/null) || return 0
    while read -r id _; do
        [[ -n $id ]] && printf '%s\n' "$id"
    done <<<"$out"
    return 0
}

# Adds the ids that start with $cur to COMPREPLY, leaving out those given as
# arguments (monitor takes several ids).
__lockcctl_complete_ids()
{
    local id given quoted
    while IFS= read -r id; do
        [[ $id == "$cur"* ]] || continue
        for given; do
            [[ $id == "$given" ]] && continue 2
        done
        # Ids are printable ASCII without spaces but may hold shell
        # metacharacters: quote them for the command line.
        printf -v quoted '%q' "$id"
        COMPREPLY+=("$quoted")
    done < <(__lockcctl_ids)
    __ltrim_colon_completions "$cur"
}

# The cgroup2 mount point, from /proc/self/mounts.
__lockcctl_cgroup_mount()
{
    local _dev mnt fstype _rest
    while read -r _dev mnt fstype _rest; do
        if [[ $fstype == cgroup2 ]]; then
            printf '%s\n' "$mnt"
            return 0
        fi
    done 2>/dev/null </proc/self/mounts
    return 1
}

# --cgroup PATH: lockcd takes a path relative to the cgroup root
# ("/system.slice/docker-ID.scope") or absolute under the cgroup2 mount.
# Offer the first (directories of the cgroup tree, with a leading "/") and
# the mount point itself; inside the mount, plain directory completion.
# Without a cgroup2 mount, plain directory completion.
__lockcctl_complete_cgroups()
{
    local mnt dir
    if ! mnt=$(__lockcctl_cgroup_mount) || [[ ! -d $mnt ]]; then
        _filedir -d
        return
    fi
    if [[ $cur == "$mnt"/* ]]; then
        _filedir -d
        return
    fi
    [[ -z $cur || $cur == /* ]] || return 0
    compopt -o filenames -o nospace 2>/dev/null
    while IFS= read -r dir; do
        COMPREPLY+=("${dir#"$mnt"}/")
    done < <(compgen -d -- "$mnt${cur:-/}")
    [[ $mnt/ == "$cur"* ]] && COMPREPLY+=("$mnt/")
    return 0
}

# --pid PID: the processes in /proc (no dependency on ps).
__lockcctl_complete_pids()
{
    local p
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [[ $p == "$cur"* ]] && COMPREPLY+=("$p")
    done
    return 0
}

# run's command line, from CMD on, is CMD's own: completes words[$1..cword]
# as a command line of its own (CMD's name at $1, then whatever CMD's
# completion offers), with bash-completion's _command_offset. That works on
# COMP_WORDS, which readline splits at ':' and '=' too; it is given the
# words of _init_completion instead, locally.
__lockcctl_complete_command()
{
    local offset=$1
    local COMP_LINE=$COMP_LINE COMP_POINT=$COMP_POINT COMP_CWORD=$cword
    local -a COMP_WORDS=("${words[@]}")
    if declare -F _comp_command_offset >/dev/null; then
        _comp_command_offset "$offset" # bash-completion >= 2.12
    elif declare -F _command_offset >/dev/null; then
        _command_offset "$offset"
    elif ((offset == cword)); then
        mapfile -t COMPREPLY < <(compgen -c -- "$cur")
    fi
    return 0
}

_lockcctl()
{
    local cur prev words cword split
    # Loaded without bash-completion (sourced by hand): stay quiet.
    declare -F _init_completion >/dev/null || return 0
    _init_completion -s -n : || return

    local verbs='status list ls show levels set-level set-mode set-default register unregister reload monitor run help'
    local global_opts='--json --no-pager --no-legend --no-ask-password -q --quiet -h --help --version'
    local levels='privileged baseline restricted'
    local modes='enforce audit'

    # The command and its arguments before the cursor. Global options may
    # come before or after the command; the options with a value take the
    # next word unless written as --option=value; after "--" every word is
    # an argument (ids may start with "-"). For run, the first argument (CMD)
    # starts a command line that is CMD's: nothing in it is lockcctl's.
    local i word verb='' options_end='' command_start=''
    local -a args=()
    for ((i = 1; i < cword; i++)); do
        word=${words[i]}
        if [[ -z $options_end ]]; then
            case $word in
                --)
                    options_end=1
                    continue
                    ;;
                --level | --mode | --cgroup | --scope | --pid | --runtime | --unit | --description)
                    i=$((i + 1))
                    continue
                    ;;
                -?*) continue ;;
            esac
        fi
        if [[ -z $verb ]]; then
            verb=$word
        elif [[ $verb == run ]]; then
            command_start=$i
            break
        else
            args+=("$word")
        fi
    done
    # In run's CMD, or at its start: after "--", or a word that is neither
    # an option nor an option's value (i is past cword after an option that
    # takes the word at the cursor as its value; split: --option=value).
    if [[ $verb == run ]]; then
        if [[ -n $command_start ]]; then
            __lockcctl_complete_command "$command_start"
            return
        fi
        if ((i == cword)) && [[ $split != true && (-n $options_end || $cur != -*) ]]; then
            __lockcctl_complete_command "$cword"
            return
        fi
    fi

    # The value of an option.
    [[ -n $options_end ]] || case $prev in
        --level)
            mapfile -t COMPREPLY < <(compgen -W "$levels" -- "$cur")
            return
            ;;
        --mode)
            mapfile -t COMPREPLY < <(compgen -W "$modes" -- "$cur")
            return
            ;;
        --cgroup)
            __lockcctl_complete_cgroups
            return
            ;;
        --pid)
            __lockcctl_complete_pids
            return
            ;;
        --scope | --runtime | --unit | --description)
            # Free text: a cgroup directory name not created yet
            # ("docker-ID.scope"), a runtime name ("docker", "podman"...),
            # a scope unit's name and description.
            return
            ;;
    esac
    [[ $split == true ]] && return

    if [[ $cur == -* && -z $options_end ]]; then
        local opts=$global_opts
        case $verb in
            register) opts+=' --level --mode --cgroup --scope --pid --runtime' ;;
            run) opts+=' --level --mode --unit --description' ;;
            set-default) opts+=' --mode' ;;
        esac
        mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
        return
    fi

    if [[ -z $verb ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$verbs" -- "$cur")
        return
    fi

    local n=${#args[@]}
    case $verb in
        show | unregister)
            ((n == 0)) && __lockcctl_complete_ids
            ;;
        set-level)
            if ((n == 0)); then
                __lockcctl_complete_ids
            elif ((n == 1)); then
                mapfile -t COMPREPLY < <(compgen -W "$levels" -- "$cur")
            fi
            ;;
        set-mode)
            if ((n == 0)); then
                __lockcctl_complete_ids
            elif ((n == 1)); then
                mapfile -t COMPREPLY < <(compgen -W "$modes" -- "$cur")
            fi
            ;;
        set-default)
            ((n == 0)) && mapfile -t COMPREPLY < <(compgen -W "$levels" -- "$cur")
            ;;
        monitor)
            __lockcctl_complete_ids "${args[@]}"
            ;;
        *)
            # register ID: a new id, nothing to offer. status, list, ls,
            # reload, help: no arguments. run: its CMD, above.
            ;;
    esac
    return 0
} &&
    complete -F _lockcctl lockcctl

# ex: filetype=sh
