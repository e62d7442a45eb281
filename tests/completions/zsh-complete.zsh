#!/usr/bin/env zsh
# zsh-complete.zsh DIR 'COMMAND LINE'
#
# Prints, one per line, the matches zsh's completion system offers for the
# end of COMMAND LINE, with the completion functions of DIR first in fpath.
#
# Completion widgets only run inside ZLE, and ZLE only runs in an
# interactive shell on a terminal, so this starts `zsh -f -i` on a
# pseudo-terminal (zsh/zpty), loads compinit there, types the line and TAB.
# A compadd wrapper in that shell writes each match (with the prefixes and
# suffixes compadd was given: IPREFIX, -P, -p, -s, -S) to a file, and a
# comppostfuncs hook marks the end and exits. Reading that file instead of
# the terminal's output keeps prompts and escape sequences out of the way.
# With ZSH_COMPLETE_TERMINAL=FILE, what the terminal showed goes to FILE.
# Exit status: 0 done, 2 usage, 3 the inner shell did not answer in time,
# 77 no zsh/zpty.
emulate -R zsh
setopt no_unset pipe_fail

(( $# == 2 )) || { print -ru2 -- "usage: $0 DIR 'COMMAND LINE'"; exit 2 }
zmodload zsh/zpty 2>/dev/null || { print -ru2 -- "zsh/zpty is missing"; exit 77 }
zmodload zsh/datetime

local dir=${1:A} cmdline=$2
local tmp
tmp=$(mktemp -d) || exit 1
# No EXIT trap: the shell zpty forks would run it too, and remove $tmp.
finish() { zpty -d lockcctl_z 2>/dev/null; rm -rf -- $tmp; exit $1 }
local out=$tmp/matches init=$tmp/init.zsh
: >$out

# The inner shell's setup, with $out and $dir filled in here.
cat >$init <<EOF
PS1='' PROMPT='' RPROMPT='' PROMPT_EOL_MARK=''
unsetopt zle_bracketed_paste 2>/dev/null
fpath=(${(q)dir} \$fpath)
autoload -Uz compinit && compinit -u -D
zmodload zsh/zutil
zstyle ':completion:*' insert-tab false
zstyle ':completion:*' list-grouped false
bindkey '^I' complete-word
__capture_out=${(q)out}
compadd() {
  # Calls that only ask for matches (-O, -A, -D) are internal: pass them on.
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then
    builtin compadd "\$@"
    return
  fi
  local -a __hits
  local -A __o
  builtin compadd -O __hits "\$@"
  zparseopts -E -A __o P: p: S: s: W:
  local h
  for h in \$__hits; do
    print -r -- "\$IPREFIX\${__o[-P]-}\${__o[-p]-}\$h\${__o[-s]-}\${__o[-S]-}" >>\$__capture_out
  done
  builtin compadd "\$@"
}
__capture_done() { print -r -- '<<done>>' >>\$__capture_out; exit 0 }
comppostfuncs=(__capture_done)
print -r -- '<<ready>>' >>\$__capture_out
EOF

# Waits up to 20 seconds for the line $1 in $out.
local terminal='' chunk
await() {
  local deadline=$(( EPOCHREALTIME + 20 )) chunk
  while (( EPOCHREALTIME < deadline )); do
    [[ -n ${(M)${(f)"$(<$out)"}:#$1} ]] && return 0
    # Drain the terminal (it must not fill up), keeping what it showed.
    while zpty -r -t lockcctl_z chunk 2>/dev/null; do
      terminal+=$chunk
    done
    sleep 0.05
  done
  return 1
}

zpty lockcctl_z 'zsh -f -i' || finish 1
zpty -w lockcctl_z "source ${(q)init}"
await '<<ready>>' || { print -ru2 -- "zsh did not start"; finish 3 }
zpty -w -n lockcctl_z "$cmdline"$'\t'
await '<<done>>' || { print -ru2 -- "zsh did not complete '$cmdline'"; finish 3 }
while zpty -r -t lockcctl_z chunk 2>/dev/null; do
  terminal+=$chunk
done
print -rl -- ${${(f)"$(<$out)"}:#<<*>>}
# What the inner shell's terminal showed (prompts, the line, and anything a
# completion printed): for the caller to check, if it asks.
if [[ -n ${ZSH_COMPLETE_TERMINAL-} ]]; then
  print -r -- $terminal >$ZSH_COMPLETE_TERMINAL
fi
finish 0
