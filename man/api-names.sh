#!/usr/bin/env bash
# api-names.sh FILE...
#
# Prints, one a line, the names that org.lockc.Manager(5) must mention,
# taken from the files that define them:
#   *.xml     D-Bus introspection data (dbus/org.lockc.Manager.xml): every
#             interface, method, property and signal name;
#   *.policy  polkit actions (polkit/org.lockc.Manager.policy): every
#             action id;
#   *.hpp     C++ headers (daemon/lockcd/api_error.hpp): every D-Bus error
#             name in a string literal ("org.lockc.Error.NotFound").
# man/CMakeLists.txt runs it at configure time (again whenever one of the
# files changes) for the word list of the test man/org.lockc.Manager.5.
# Exit status: 0; 1 when a file cannot be read, is not well-formed or names
# nothing; 77 when xmllint (libxml2-utils) is not installed.

set -euo pipefail

if (($# == 0)); then
    echo 'usage: api-names.sh FILE...' >&2
    exit 1
fi
if ! command -v xmllint >/dev/null; then
    echo 'api-names.sh: xmllint is not installed (apt-get install libxml2-utils)' >&2
    exit 77
fi

for file in "$@"; do
    case $file in
    *.xml | *.policy)
        if [[ $file == *.xml ]]; then
            xpath='//interface/@name | //method/@name | //property/@name | //signal/@name'
        else
            xpath='//action/@id'
        fi
        # xmllint prints each attribute as ` name="Value"`; --nonet: the
        # DOCTYPE's DTD is not fetched.
        if ! out=$(xmllint --nonet --xpath "$xpath" "$file"); then
            echo "api-names.sh: cannot read $file" >&2
            exit 1
        fi
        names=$(grep -o '="[^"]*"' <<<"$out" | sed 's/^="//; s/"$//') || names=
        ;;
    *.hpp)
        if ! names=$(grep -o '"org\.[A-Za-z0-9_.]*\.Error\.[A-Za-z0-9_.]*"' "$file"); then
            echo "api-names.sh: no error names in $file" >&2
            exit 1
        fi
        names=${names//\"/}
        ;;
    *)
        echo "api-names.sh: $file: not .xml, .policy or .hpp" >&2
        exit 1
        ;;
    esac
    if [[ -z $names ]]; then
        echo "api-names.sh: no names in $file" >&2
        exit 1
    fi
    printf '%s\n' "$names"
done | sort -u
