// The benchmarks' smoke run, the third in-guest driver (after lockcd's
// tests, in the same boot): bench/vm/guest.sh with tiny counts, so that CI
// sees every kernel benchmark run and check the outcomes it relies on.
// Nothing here looks at a timing; the figures of a smoke run mean nothing
// (docs/benchmarks.md has real ones, from bench/run.sh).
#include "vm_support.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using lockc::vmtest::sh;

fs::path out_dir() {
    const char *vm_out = std::getenv("LOCKC_VM_OUT");
    return fs::path(vm_out != nullptr ? vm_out : "/var/tmp") / "bench-smoke";
}

std::vector<std::vector<std::string>> tsv(const fs::path &file) {
    std::vector<std::vector<std::string>> rows;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
        std::vector<std::string> fields;
        std::stringstream s(line);
        for (std::string f; std::getline(s, f, '\t');) {
            fields.push_back(f);
        }
        rows.push_back(fields);
    }
    return rows;
}

class Benchmarks : public ::testing::Test {
  protected:
    // One smoke run for all checks: it boots nothing, but loads and unloads
    // the programs and starts Docker containers, a minute or two under TCG.
    static void SetUpTestSuite() {
        fs::remove_all(out_dir());
        run_ = sh(std::string(LOCKC_SOURCE_DIR) + "/bench/vm/guest.sh " + LOCKC_BINARY_DIR + " " +
                  out_dir().string() + " smoke");
        std::cout << run_.output;
    }
    static lockc::vmtest::CommandResult run_;
};
lockc::vmtest::CommandResult Benchmarks::run_;

TEST_F(Benchmarks, SmokeRunOfEveryKernelBenchmarkSucceeds) {
    EXPECT_EQ(run_.status, 0) << run_.output;
    // summarise.py --check: every benchmark left figures, and the map
    // memory did not depend on pid_max.
    const auto summary = sh("python3 " + std::string(LOCKC_SOURCE_DIR) +
                            "/bench/summarise.py --check " + out_dir().string());
    EXPECT_EQ(summary.status, 0) << summary.output;
}

TEST_F(Benchmarks, HookLoopsRanInEveryConfigurationWithTheIntendedOutcome) {
    // Each loop checks every operation against --expect (denied: EPERM),
    // so a row exists only if the loop ended as intended throughout.
    // The last column is the event reader's CPU time per operation: it
    // ran while the denied opens' events came, and is a share of the
    // denied loops' wall time that summarise.py takes out.
    std::set<std::string> seen;
    for (const auto &r : tsv(out_dir() / "hooks.tsv")) {
        ASSERT_EQ(r.size(), 6U);
        EXPECT_GT(std::stol(r[3]), 0) << "no operations in " << r[1] << "/" << r[2];
        EXPECT_GE(std::stod(r[5]), 0.0);
        if (r[1] == "denied" && r[2] == "open") {
            EXPECT_GT(std::stod(r[5]), 0.0) << "the reader never ran for the denied opens";
        }
        seen.insert(r[1] + "/" + r[2]);
    }
    for (const char *config : {"off", "off-cgroup", "floor", "host", "baseline", "denied"}) {
        for (const char *loop : {"open", "stat", "exec", "mount", "connect", "ioctl", "fcntl"}) {
            EXPECT_TRUE(seen.contains(std::string(config) + "/" + loop))
                << config << "/" << loop << " missing";
        }
    }
    // The stats pass saw lockc's programs run for the container callers.
    std::set<std::string> programs;
    for (const auto &r : tsv(out_dir() / "hooks-progs.tsv")) {
        programs.insert(r[0] + "/" + r[1]);
    }
    EXPECT_TRUE(programs.contains("baseline/lockc_file_open"));
    EXPECT_TRUE(programs.contains("denied/lockc_sb_mount"));
    // The ioctl and fcntl loops pass the programs that every task's
    // ioctls and fcntls meet.
    EXPECT_TRUE(programs.contains("baseline/lockc_file_ioctl"));
    EXPECT_TRUE(programs.contains("baseline/lockc_file_fcntl"));
}

TEST_F(Benchmarks, MapMemoryIsCountedAndContainersGetEntries) {
    std::map<std::string, std::pair<long, long>> cases; // entries, bytes
    for (const auto &r : tsv(out_dir() / "maps.tsv")) {
        ASSERT_EQ(r.size(), 3U);
        cases[r[0]] = {std::stol(r[1]), std::stol(r[2])};
    }
    ASSERT_TRUE(cases.contains("pid_max=32768"));
    ASSERT_TRUE(cases.contains("pid_max=4194304"));
    ASSERT_TRUE(cases.contains("containers=100"));
    EXPECT_GT(cases["pid_max=32768"].second, 0);
    EXPECT_EQ(cases["pid_max=32768"].second, cases["pid_max=4194304"].second);
    EXPECT_EQ(cases["containers=100"].first - cases["pid_max=4194304"].first, 100);
}

TEST_F(Benchmarks, ContainersStartedWithAndWithoutLockc) {
    std::map<std::string, int> runs;
    for (const auto &r : tsv(out_dir() / "container-start.tsv")) {
        ASSERT_EQ(r.size(), 4U);
        EXPECT_GT(std::stod(r[3]), 0.0);
        ++runs[r[1]];
    }
    EXPECT_EQ(runs["without"], 2);
    EXPECT_EQ(runs["with"], 2);
    // guest.sh leaves lockcd running: the last configuration was "with".
    EXPECT_EQ(sh("systemctl is-active --quiet lockcd.service").status, 0);
}

TEST_F(Benchmarks, EveryDecisionEventIsDeliveredOrCountedWhereItWasLost) {
    // lockc-events-bench: rate, mode, round, decisions, drops, read,
    // suppressed, received, ... (one row per rate and mode).
    const auto rows = tsv(out_dir() / "events.tsv");
    ASSERT_EQ(rows.size(), 6U) << "the smoke run has two rates, each in three modes";
    std::set<std::string> modes;
    for (const auto &r : rows) {
        ASSERT_EQ(r.size(), 13U);
        const auto step = r[0] + "/" + r[1];
        modes.insert(r[1]);
        const auto decisions = std::stoull(r[3]);
        const auto drops = std::stoull(r[4]);
        const auto read = std::stoull(r[5]);
        const auto suppressed = std::stoull(r[6]);
        const auto received = std::stoull(r[7]);
        EXPECT_GT(decisions, 0U) << step;
        EXPECT_GT(received, 0U) << step;
        EXPECT_EQ(drops + suppressed + received, decisions) << step;
        // What lockcd read it either signalled or suppressed.
        EXPECT_EQ(read, suppressed + received) << step;
    }
    EXPECT_EQ(modes, (std::set<std::string>{"single", "batched", "coalesced"}));
}

} // namespace
