# fish completion for lockcctl(1)
#
# Installed as .../fish/vendor_completions.d/lockcctl.fish and loaded the
# first time lockcctl is completed. The command line it completes is fixed
# by the lockcctl spec; keep this file, lockcctl.bash and _lockcctl (zsh) in
# step with it.

# The command and its arguments before the cursor, one per line. Global
# options may come before or after the command; options with a value take
# the next token unless written as --option=value; after "--" every token
# is an argument (ids may start with "-").
function __lockcctl_args
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l skip 0
    set -l options_end 0
    for t in $tokens
        if test $skip -eq 1
            set skip 0
            continue
        end
        if test $options_end -eq 1
            printf '%s\n' $t
            continue
        end
        switch $t
            case --
                set options_end 1
            case --level --mode --cgroup --scope --pid --runtime --unit --description
                set skip 1
            case '-?*'
            case '*'
                printf '%s\n' $t
        end
    end
end

# lockcctl run: from CMD on (after "--", or from the first token after "run"
# that is neither an option nor an option's value) the line is CMD's own.
# True when the token at the cursor is in it; prints CMD's line (CMD first,
# the token at the cursor last).
function __lockcctl_run_command_line
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l verb
    set -l skip 0
    set -l options_end 0
    set -l i 0
    for t in $tokens
        set i (math $i + 1)
        if test $skip -eq 1
            set skip 0
            continue
        end
        if test $options_end -eq 0
            switch $t
                case --
                    set options_end 1
                    continue
                case --level --mode --cgroup --scope --pid --runtime --unit --description
                    set skip 1
                    continue
                case '-?*'
                    continue
            end
        end
        if test -z "$verb"
            set verb $t
        else if test "$verb" = run
            printf '%s\n' $tokens[$i..-1] (commandline -ct)
            return 0
        else
            return 1
        end
    end
    test "$verb" = run; and test $skip -eq 0; or return 1
    set -l current (commandline -ct)
    if test $options_end -eq 1; or not string match -q -- '-*' $current
        printf '%s\n' $current
        return 0
    end
    return 1
end

# Completes run's CMD line as a command line of its own: CMD's name, then
# whatever CMD's completion offers.
function __lockcctl_run_complete_command
    set -l line (__lockcctl_run_command_line)
    if test (count $line) -eq 1; and test -z "$line[1]"
        # Given an empty line, __fish_complete_subcommand would read the
        # whole command line instead (and take "run" for the command).
        complete -C ''
    else
        __fish_complete_subcommand --commandline $line
    end
end

# True while no command has been given yet.
function __lockcctl_needs_command
    set -l args (__lockcctl_args)
    test (count $args) -eq 0
end

# __lockcctl_command VERB...: true when the command is one of VERB.
function __lockcctl_command
    set -l args (__lockcctl_args)
    set -q args[1]; and contains -- $args[1] $argv
end

# __lockcctl_arg N VERB...: true when the next token is the command's N-th
# argument (1 is the first after the command) and the command is one of VERB.
function __lockcctl_arg
    set -l n $argv[1]
    set -l args (__lockcctl_args)
    set -q args[1]; and contains -- $args[1] $argv[2..-1]; and test (count $args) -eq $n
end

# Registered containers: the first column of `lockcctl list --no-legend`,
# described by level, mode and state. TAB must never hang nor print errors,
# whether lockcd is running, stuck or missing: a short timeout, no stdin, no
# stderr, and nothing at all unless lockcctl succeeded. Ids given as
# arguments (monitor takes several) are left out.
function __lockcctl_ids
    command -q lockcctl; or return 0
    command -q timeout; or return 0
    set -l out (timeout -k 1 2 lockcctl list --no-legend </dev/null 2>/dev/null); or return 0
    set -l given (__lockcctl_args)[2..-1]
    for line in $out
        # ID RUNTIME LEVEL MODE STATE DENIALS
        set -l f (string split -n ' ' -- $line)
        set -q f[1]; or continue
        contains -- $f[1] $given; and continue
        if set -q f[5]
            printf '%s\t%s\n' $f[1] "$f[3] $f[4] $f[5]"
        else
            printf '%s\n' $f[1]
        end
    end
end

# --cgroup PATH: lockcd takes a path relative to the cgroup root
# ("/system.slice/docker-ID.scope") or absolute under the cgroup2 mount.
# Offer the first (directories of the cgroup tree, with a leading "/") and
# the mount point itself; inside the mount, or without a cgroup2 mount,
# plain directory completion.
function __lockcctl_cgroups
    set -l token (commandline -ct)
    set -l mnt (string match -r -g '^\S+ (\S+) cgroup2 ' </proc/self/mounts 2>/dev/null)[1]
    if test -z "$mnt"; or not test -d "$mnt"; or string match -q -- "$mnt/*" "$token"
        __fish_complete_directories "$token" 'Directory'
        return 0
    end
    test -z "$token"; or string match -q -- '/*' "$token"; or return 0
    # The directory part of the token: "/a/b" -> "/a/", "" -> "/".
    set -l dir (string replace -r '[^/]*$' '' -- "$token")
    test -n "$dir"; or set dir /
    set -l skip (math (string length -- "$mnt") + 1)
    for d in $mnt$dir*/
        printf '%s\t%s\n' (string sub -s $skip -- $d) 'cgroup'
    end
    printf '%s\t%s\n' "$mnt/" 'cgroup2 mount'
end

function __lockcctl_levels
    printf '%s\t%s\n' privileged 'never denied anything' baseline confined restricted 'confined, stricter than baseline'
end

function __lockcctl_modes
    printf '%s\t%s\n' enforce 'deny and report' audit 'allow and report'
end

complete -c lockcctl -f

# Global options, before or after the command (but not in run's CMD line).
complete -c lockcctl -n 'not __lockcctl_run_command_line' -l json -d 'Machine output: JSON'
complete -c lockcctl -n 'not __lockcctl_run_command_line' -l no-pager -d 'Never pipe into a pager'
complete -c lockcctl -n 'not __lockcctl_run_command_line' -l no-legend -d 'No header/footer lines in tables'
complete -c lockcctl -n 'not __lockcctl_run_command_line' -l no-ask-password -d 'Never start a polkit agent'
complete -c lockcctl -n 'not __lockcctl_run_command_line' -s q -l quiet -d 'Print nothing on success'
complete -c lockcctl -n 'not __lockcctl_run_command_line' -s h -l help -d 'Show usage'
complete -c lockcctl -n 'not __lockcctl_run_command_line' -l version -d 'Show the version'

# Commands.
complete -c lockcctl -n __lockcctl_needs_command -a status -d 'Daemon and kernel state'
complete -c lockcctl -n __lockcctl_needs_command -a list -d 'List registered containers'
complete -c lockcctl -n __lockcctl_needs_command -a ls -d 'List registered containers'
complete -c lockcctl -n __lockcctl_needs_command -a show -d 'Show one container'
complete -c lockcctl -n __lockcctl_needs_command -a levels -d 'The levels and what each denies'
complete -c lockcctl -n __lockcctl_needs_command -a set-level -d "Change a container's level"
complete -c lockcctl -n __lockcctl_needs_command -a set-mode -d "Change a container's mode"
complete -c lockcctl -n __lockcctl_needs_command -a set-default -d 'Change the default level and/or mode'
complete -c lockcctl -n __lockcctl_needs_command -a register -d 'Confine a container'
complete -c lockcctl -n __lockcctl_needs_command -a unregister -d 'Forget a container'
complete -c lockcctl -n __lockcctl_needs_command -a reload -d "Reload lockcd's configuration"
complete -c lockcctl -n __lockcctl_needs_command -a monitor -d 'Print denials as they happen'
complete -c lockcctl -n __lockcctl_needs_command -a run -d 'Run a command confined, in a new systemd scope'
complete -c lockcctl -n __lockcctl_needs_command -a help -d 'Show usage'

# Arguments.
complete -c lockcctl -n '__lockcctl_arg 1 show unregister set-level set-mode' -a '(__lockcctl_ids)'
complete -c lockcctl -n '__lockcctl_command monitor' -a '(__lockcctl_ids)'
complete -c lockcctl -n '__lockcctl_arg 2 set-level' -a '(__lockcctl_levels)'
complete -c lockcctl -n '__lockcctl_arg 2 set-mode' -a '(__lockcctl_modes)'
complete -c lockcctl -n '__lockcctl_arg 1 set-default' -a '(__lockcctl_levels)'

# Options of register and set-default.
complete -c lockcctl -n '__lockcctl_command register' -l level -x -a '(__lockcctl_levels)' -d 'Level'
complete -c lockcctl -n '__lockcctl_command register set-default' -l mode -x -a '(__lockcctl_modes)' -d 'Mode'
complete -c lockcctl -n '__lockcctl_command register' -l cgroup -x -a '(__lockcctl_cgroups)' -d 'cgroup path of the container'
complete -c lockcctl -n '__lockcctl_command register' -l scope -x -d 'cgroup directory name, before it exists'
complete -c lockcctl -n '__lockcctl_command register' -l pid -x -a '(__fish_complete_pids)' -d 'A process in the container'
complete -c lockcctl -n '__lockcctl_command register' -l runtime -x -d 'Container runtime name'

# Options of run, and its CMD line.
complete -c lockcctl -n '__lockcctl_command run; and not __lockcctl_run_command_line' -l level -x -a '(__lockcctl_levels)' -d 'Level'
complete -c lockcctl -n '__lockcctl_command run; and not __lockcctl_run_command_line' -l mode -x -a '(__lockcctl_modes)' -d 'Mode'
complete -c lockcctl -n '__lockcctl_command run; and not __lockcctl_run_command_line' -l unit -x -d 'Name of the new scope unit (NAME.scope)'
complete -c lockcctl -n '__lockcctl_command run; and not __lockcctl_run_command_line' -l description -x -d 'Description of the new scope unit'
complete -c lockcctl -n __lockcctl_run_command_line -x -a '(__lockcctl_run_complete_command)'
