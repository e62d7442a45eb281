// lockc-notify's texts and coalescing (notify/denial_digest.hpp): wording
// per hook, the coalescing window, containers kept apart, markup escaping
// and the cap on the containers tracked.
#include "denial_digest.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <string>

namespace lockc::notify {
namespace {

using namespace std::chrono_literals;

const std::string kDockerId = "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988";

cli::Denial denial(const std::string &container, const std::string &hook, const std::string &target,
                   const std::string &mode = "enforce") {
    cli::Denial d;
    d.container = container;
    d.level = "baseline";
    d.mode = mode;
    d.hook = hook;
    d.target = target;
    d.pid = 42;
    d.uid = 0;
    d.comm = "cat";
    d.errnum = mode == "enforce" ? 1 : 0;
    return d;
}

DigestSettings settings(std::size_t max_containers = 64) {
    DigestSettings s;
    s.window = 5s;
    s.update_interval = 1s;
    s.max_containers = max_containers;
    return s;
}

TEST(DenialDigest, SummaryNamesTheContainerAndWhatItWasStoppedFromDoing) {
    EXPECT_EQ(denial_summary(denial("web-1", "file_open", "/sys/kernel/uevent_seqnum")),
              "lockc stopped web-1 from opening /sys/kernel/uevent_seqnum");
    EXPECT_EQ(denial_summary(denial("web-1", "sb_kern_mount", "debugfs")),
              "lockc stopped web-1 from mounting a filesystem of type debugfs");
    EXPECT_EQ(denial_summary(denial("web-1", "syslog", "")),
              "lockc stopped web-1 from reading the kernel log");
    EXPECT_EQ(denial_summary(denial("web-1", "unix_stream_connect", "/run/docker.sock")),
              "lockc stopped web-1 from connecting to the socket /run/docker.sock");
    EXPECT_EQ(denial_summary(denial("web-1", "file_open", "/sys/x", "audit")),
              "lockc would have stopped web-1 from opening /sys/x");
}

TEST(DenialDigest, EveryHookHasWordsAndUnknownOnesAreNamed) {
    for (const char *hook : {"sb_mount", "sb_kern_mount", "move_mount", "sb_pivotroot", "file_open",
                             "syslog", "kernel_module", "bpf", "perf_event_open", "ptrace",
                             "task_kill", "unix_stream_connect", "task_fix_setuid", "exec_setuid",
                             "userns_create", "socket_create", "capable", "cgroup_tree"}) {
        const auto words = hook_words(hook);
        EXPECT_NE(words, "using " + std::string(hook)) << hook;
        EXPECT_FALSE(words.empty()) << hook;
    }
    EXPECT_EQ(hook_words("new_hook"), "using new_hook");
}

TEST(DenialDigest, LongContainerIdsAreShownAsDockerShowsThem) {
    EXPECT_EQ(container_label(kDockerId), "1f2e3d4c5b6a");
    EXPECT_EQ(container_label("docker-" + kDockerId + ".scope"), "1f2e3d4c5b6a");
    EXPECT_EQ(container_label("lockc-run-abc"), "lockc-run-abc");
    EXPECT_EQ(container_label("tab\there"), "tab\\x09here");
}

TEST(DenialDigest, TheFirstDenialOfAContainerShowsAtOnce) {
    DenialDigest digest(settings());
    const auto t0 = Clock::time_point{} + 100s;
    const auto text = digest.add(denial(kDockerId, "file_open", "/sys/kernel/x"), t0);
    ASSERT_TRUE(text);
    EXPECT_EQ(text->container, kDockerId);
    EXPECT_EQ(text->replaces_id, 0U);
    EXPECT_EQ(text->summary, "lockc stopped 1f2e3d4c5b6a from opening /sys/kernel/x");
    EXPECT_NE(text->body.find("cat (pid 42, uid 0) in container " + kDockerId), std::string::npos)
        << text->body;
    EXPECT_EQ(text->urgency, Urgency::Normal);
    EXPECT_EQ(text->denials, 1U);
    EXPECT_FALSE(digest.next_deadline());
}

TEST(DenialDigest, DenialsWithinTheWindowUpdateTheSameNotification) {
    DenialDigest digest(settings());
    const auto t0 = Clock::time_point{} + 100s;
    ASSERT_TRUE(digest.add(denial("web-1", "file_open", "/sys/a"), t0));
    digest.shown("web-1", 7);
    // 49 more within the update interval: nothing at once, one update due.
    for (int i = 1; i < 50; ++i) {
        EXPECT_FALSE(digest.add(denial("web-1", "file_open", "/sys/b"), t0 + i * 10ms));
    }
    EXPECT_EQ(digest.next_deadline(), t0 + 1s);
    EXPECT_TRUE(digest.due(t0 + 999ms).empty());
    const auto due = digest.due(t0 + 1s);
    ASSERT_EQ(due.size(), 1U);
    EXPECT_EQ(due[0].replaces_id, 7U);
    EXPECT_EQ(due[0].denials, 50U);
    EXPECT_EQ(due[0].summary, "lockc stopped web-1 from opening /sys/a");
    EXPECT_TRUE(due[0].body.starts_with(
        "49 more operations denied in web-1; the latest: opening /sys/b by cat\n"))
        << due[0].body;
    EXPECT_FALSE(digest.next_deadline());
    // Once the update interval has passed, the next denial updates at once.
    const auto later = digest.add(denial("web-1", "syslog", ""), t0 + 3s);
    ASSERT_TRUE(later);
    EXPECT_EQ(later->replaces_id, 7U);
    EXPECT_EQ(later->denials, 51U);
}

TEST(DenialDigest, AfterAQuietWindowTheNextDenialIsANewNotification) {
    DenialDigest digest(settings());
    const auto t0 = Clock::time_point{} + 100s;
    ASSERT_TRUE(digest.add(denial("web-1", "file_open", "/sys/a"), t0));
    digest.shown("web-1", 7);
    // The window slides with each denial: 4 s apart keeps the burst.
    EXPECT_FALSE(digest.add(denial("web-1", "file_open", "/sys/a"), t0 + 500ms));
    const auto kept = digest.add(denial("web-1", "file_open", "/sys/a"), t0 + 4500ms);
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->replaces_id, 7U);
    EXPECT_EQ(kept->denials, 3U);
    const auto fresh = digest.add(denial("web-1", "file_open", "/sys/c"), t0 + 9500ms);
    ASSERT_TRUE(fresh);
    EXPECT_EQ(fresh->replaces_id, 0U);
    EXPECT_EQ(fresh->denials, 1U);
    EXPECT_EQ(fresh->summary, "lockc stopped web-1 from opening /sys/c");
}

TEST(DenialDigest, ContainersAreCoalescedSeparately) {
    DenialDigest digest(settings());
    const auto t0 = Clock::time_point{} + 100s;
    ASSERT_TRUE(digest.add(denial("web-1", "file_open", "/sys/a"), t0));
    digest.shown("web-1", 1);
    const auto other = digest.add(denial("db-1", "syslog", ""), t0 + 10ms);
    ASSERT_TRUE(other);
    EXPECT_EQ(other->replaces_id, 0U);
    EXPECT_EQ(other->summary, "lockc stopped db-1 from reading the kernel log");
    digest.shown("db-1", 2);
    EXPECT_FALSE(digest.add(denial("web-1", "file_open", "/sys/a"), t0 + 20ms));
    EXPECT_FALSE(digest.add(denial("db-1", "syslog", ""), t0 + 30ms));
    EXPECT_FALSE(digest.add(denial("db-1", "syslog", ""), t0 + 40ms));
    auto due = digest.due(t0 + 2s);
    ASSERT_EQ(due.size(), 2U);
    std::sort(due.begin(), due.end(),
              [](const auto &a, const auto &b) { return a.replaces_id < b.replaces_id; });
    EXPECT_EQ(due[0].container, "web-1");
    EXPECT_EQ(due[0].denials, 2U);
    EXPECT_EQ(due[1].container, "db-1");
    EXPECT_EQ(due[1].denials, 3U);
    EXPECT_TRUE(due[1].body.starts_with("2 more operations denied in db-1")) << due[1].body;
}

TEST(DenialDigest, TheBodyIsEscapedForNotificationMarkup) {
    DenialDigest digest(settings());
    auto d = denial("web-1", "file_open", "/tmp/<b>x&y</b>");
    d.comm = "a<i>";
    const auto first = digest.add(d, Clock::time_point{} + 100s);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->body.find('<'), std::string::npos) << first->body;
    EXPECT_NE(first->body.find("a&lt;i&gt; (pid 42"), std::string::npos) << first->body;
    (void)digest.add(d, Clock::time_point{} + 102s);
    const auto update = digest.add(d, Clock::time_point{} + 104s);
    ASSERT_TRUE(update);
    EXPECT_NE(update->body.find("/tmp/&lt;b&gt;x&amp;y&lt;/b&gt; by a&lt;i&gt;"), std::string::npos)
        << update->body;
    EXPECT_EQ(escape_markup("a&b<c>d"), "a&amp;b&lt;c&gt;d");
}

TEST(DenialDigest, LongTargetsAreCut) {
    DenialDigest digest(settings());
    const auto text =
        digest.add(denial("web-1", "file_open", "/" + std::string(5000, 'x')), Clock::time_point{});
    ASSERT_TRUE(text);
    EXPECT_LT(text->summary.size(), 300U);
    EXPECT_TRUE(text->summary.ends_with("…"));
}

TEST(DenialDigest, AuditedBurstsAreLowUrgencyAndSaySo) {
    DenialDigest digest(settings());
    const auto t0 = Clock::time_point{} + 100s;
    const auto first = digest.add(denial("web-1", "bpf", "", "audit"), t0);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->urgency, Urgency::Low);
    const auto update = digest.add(denial("web-1", "bpf", "", "audit"), t0 + 2s);
    ASSERT_TRUE(update);
    EXPECT_TRUE(update->body.starts_with("1 more operation reported (audit mode) in web-1"))
        << update->body;
}

TEST(DenialDigest, ARepeatedDenialCountsForEveryTimeItWasMade) {
    DenialDigest digest(settings());
    const auto t0 = Clock::time_point{} + 100s;
    auto repeated = denial("web-1", "file_open", "/proc/sysrq-trigger");
    repeated.count = 37; // one DeniedCoalesced entry
    const auto first = digest.add(repeated, t0);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->denials, 37U);
    EXPECT_TRUE(first->body.starts_with("36 more operations denied in web-1")) << first->body;
    const auto update = digest.add(denial("web-1", "file_open", "/proc/kcore"), t0 + 2s);
    ASSERT_TRUE(update);
    EXPECT_EQ(update->denials, 38U);
}

TEST(DenialDigest, AtMostMaxContainersAreTrackedTheLeastRecentGoesFirst) {
    DenialDigest digest(settings(3));
    const auto t0 = Clock::time_point{} + 100s;
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(digest.add(denial("c" + std::to_string(i), "bpf", ""), t0 + i * 10ms));
        digest.shown("c" + std::to_string(i), 10 + i);
    }
    // c0 was denied again most recently; c1 is the least recent.
    EXPECT_FALSE(digest.add(denial("c0", "bpf", ""), t0 + 50ms));
    ASSERT_TRUE(digest.add(denial("c3", "bpf", ""), t0 + 60ms));
    EXPECT_EQ(digest.tracked(), 3U);
    // c1 was forgotten: its next denial is a new notification.
    const auto c1 = digest.add(denial("c1", "bpf", ""), t0 + 70ms);
    ASSERT_TRUE(c1);
    EXPECT_EQ(c1->replaces_id, 0U);
    EXPECT_EQ(digest.tracked(), 3U);
    // A thousand containers at once: still three.
    for (int i = 0; i < 1000; ++i) {
        (void)digest.add(denial("many-" + std::to_string(i), "bpf", ""), t0 + 100ms);
    }
    EXPECT_EQ(digest.tracked(), 3U);
}

TEST(DenialDigest, ANotificationNoServerTookIsTriedAgain) {
    DenialDigest digest(settings());
    const auto t0 = Clock::time_point{} + 100s;
    const auto first = digest.add(denial("web-1", "bpf", ""), t0);
    ASSERT_TRUE(first);
    digest.not_shown("web-1", t0 + 10s);
    EXPECT_EQ(digest.next_deadline(), t0 + 10s);
    EXPECT_TRUE(digest.due(t0 + 9s).empty());
    const auto again = digest.due(t0 + 10s);
    ASSERT_EQ(again.size(), 1U);
    EXPECT_EQ(again[0].replaces_id, 0U);
    EXPECT_EQ(again[0].summary, first->summary);
}

} // namespace
} // namespace lockc::notify
