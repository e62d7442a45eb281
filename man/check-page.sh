#!/usr/bin/env bash
# check-page.sh [-w] PAGE [WORD...]
#
# The manual page PAGE (roff, as the build makes it from its scdoc source)
# renders with man-db and groff without a single warning (man exits 0 even
# when troff warns, so its stderr must be empty), its NAME section parses
# for whatis/apropos (lexgrog), and the rendered text contains every WORD
# (the commands, options, exit codes and JSON fields the page must
# document). With -w, each WORD must appear as a whole word (grep -w), so
# that "Level" is not found inside "DefaultLevel".
# Exit status: 0 passed, 1 failed, 77 man-db is not installed.

set -u
whole_word=
if [[ ${1-} == -w ]]; then
    whole_word=w
    shift
fi
page=${1:?usage: check-page.sh [-w] PAGE [WORD...]}
shift
if ! command -v man >/dev/null || ! command -v lexgrog >/dev/null; then
    echo 'SKIP: man-db is not installed (apt-get install man-db groff-base)'
    exit 77
fi

scratch=$(mktemp -d) || exit 1
trap 'rm -rf -- "$scratch"' EXIT
failed=0

LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
    man --warnings -E UTF-8 -l "$page" >"$scratch/text" 2>"$scratch/warnings"
status=$?
if ((status != 0)) || [[ -s $scratch/warnings ]]; then
    echo "FAIL: man --warnings -l $page (exit status $status):"
    cat "$scratch/warnings"
    failed=1
fi
if [[ ! -s $scratch/text ]]; then
    echo "FAIL: $page renders to nothing"
    failed=1
fi

if ! out=$(lexgrog "$page" 2>&1); then
    echo "FAIL: lexgrog $page: $out"
    failed=1
fi

# Words as rendered: man writes plain text when its output is not a
# terminal, and the pages turn hyphenation and breaks after '-' off (the
# build adds that to scdoc's output), so no word is split.
for word in "$@"; do
    if ! grep -qF$whole_word -- "$word" "$scratch/text"; then
        echo "FAIL: $page does not mention '$word'"
        failed=1
    fi
done

if ((failed)); then
    exit 1
fi
echo "$page: renders without warnings; $# required words present"
