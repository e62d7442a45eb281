#!/usr/bin/env bash
# check-page.sh PAGE [WORD...]
#
# The manual page PAGE renders with man-db and groff without a single
# warning (man exits 0 even when troff warns, so its stderr must be empty),
# its NAME section parses for whatis/apropos (lexgrog), and the rendered
# text contains every WORD (the commands, options, exit codes and JSON
# fields the page must document).
# Exit status: 0 passed, 1 failed, 77 man-db is not installed.

set -u
page=${1:?usage: check-page.sh PAGE [WORD...]}
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
# terminal, and the pages turn hyphenation off, so no word is split.
for word in "$@"; do
    if ! grep -qF -- "$word" "$scratch/text"; then
        echo "FAIL: $page does not mention '$word'"
        failed=1
    fi
done

if ((failed)); then
    exit 1
fi
echo "$page: renders without warnings; $# required words present"
