# shellcheck shell=bash disable=SC2034  # its variables are for the scripts that source it
# Shared by the completion tests: a scratch directory, the fake lockcctl
# first in PATH, a scratch cgroup, and the assertions.

failures=0
checks=0

scratch=$(mktemp -d "${TMPDIR:-/tmp}/lockcctl-completion.XXXXXX") || exit 1
test_cgroup=''
cleanup() {
    if [[ -n $test_cgroup ]]; then
        rmdir "$test_cgroup"/*/ "$test_cgroup" 2>/dev/null
    fi
    rm -rf -- "$scratch"
}
trap cleanup EXIT

# The fake lockcctl (tests/completions/fake-lockcctl) stands in for the real
# command and the daemon: it prints a fixed `list --no-legend` table. Copied
# so that its mode bits do not depend on the checkout.
mkdir -p "$scratch/bin" "$scratch/empty-bin"
cp "$(dirname "${BASH_SOURCE[0]}")/fake-lockcctl" "$scratch/bin/lockcctl"
chmod 0755 "$scratch/bin/lockcctl"
export FAKE_LOCKCCTL_LOG=$scratch/fake.log
export FAKE_LOCKCCTL_MODE=ok
base_path=$PATH
export PATH=$scratch/bin:$base_path
# PATH without any lockcctl: only timeout (the completions check for it).
ln -s "$(command -v timeout)" "$scratch/empty-bin/timeout"
no_lockcctl_path=$scratch/empty-bin

# The cgroup2 mount, or nothing.
cgroup2_mount=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts 2>/dev/null)
# A scratch cgroup with two children, when the cgroup2 mount is writable
# (root); empty otherwise. Name relative to the cgroup root in test_cgroup_rel.
test_cgroup_rel=''
if [[ -n $cgroup2_mount && -w $cgroup2_mount ]]; then
    test_cgroup_rel=/lockc-completion-test.$$
    if mkdir "$cgroup2_mount$test_cgroup_rel" 2>/dev/null; then
        test_cgroup=$cgroup2_mount$test_cgroup_rel
        mkdir "$test_cgroup/alpha.scope" "$test_cgroup/beta.scope" "$test_cgroup/beta-2.scope" ||
            test_cgroup_rel=''
    else
        test_cgroup_rel=''
    fi
fi

pass() {
    ((checks++))
}

fail() {
    ((checks++, failures++))
    printf 'FAIL: %s\n' "$1"
    shift
    printf '      %s\n' "$@"
}

# expect_list WHAT EXPECTED ACTUAL: both newline-separated lists, compared
# exactly (order included).
expect_list() {
    if [[ $2 == "$3" ]]; then
        pass
    else
        fail "$1" "expected: [${2//$'\n'/ }]" "actual:   [${3//$'\n'/ }]"
    fi
}

# expect_empty WHAT TEXT
expect_empty() {
    if [[ -z $2 ]]; then
        pass
    else
        fail "$1" "expected nothing, got: [${2//$'\n'/ }]"
    fi
}

# Sorted, unique lines (for completions whose order the shell decides).
sorted() {
    LC_ALL=C sort -u
}

finish() {
    if ((failures)); then
        printf '%d of %d checks failed\n' "$failures" "$checks"
        exit 1
    fi
    printf 'all %d checks passed\n' "$checks"
    exit 0
}
