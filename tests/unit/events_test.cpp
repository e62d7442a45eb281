#include "events.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace lockc {
namespace {

lockc_event sample() {
    lockc_event e{};
    e.time_ns = 42;
    e.cgroup_id = 7;
    e.policy_cgroup_id = 5;
    e.pid = 100;
    e.tid = 101;
    e.uid = 1000;
    e.hook = LOCKC_HOOK_FILE_OPEN;
    e.level = LOCKC_LEVEL_BASELINE;
    e.mode = LOCKC_MODE_ENFORCE;
    e.error = 1;
    e.target_kind = LOCKC_TARGET_FS_PATH;
    std::strcpy(e.comm, "cat");
    std::strcpy(e.target, "sysfs:/fs/btrfs");
    return e;
}

std::span<const std::byte> bytes(const lockc_event &e) {
    return {reinterpret_cast<const std::byte *>(&e), sizeof(e)};
}

TEST(DecodeEvent, DecodesEveryField) {
    const auto e = decode_event(bytes(sample()));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->boot_time.count(), 42);
    EXPECT_EQ(e->cgroup_id, 7u);
    EXPECT_EQ(e->policy_cgroup_id, 5u);
    EXPECT_EQ(e->pid, 100u);
    EXPECT_EQ(e->tid, 101u);
    EXPECT_EQ(e->uid, 1000u);
    EXPECT_EQ(e->hook, LOCKC_HOOK_FILE_OPEN);
    EXPECT_EQ(e->level, Level::Baseline);
    EXPECT_EQ(e->mode, Mode::Enforce);
    EXPECT_EQ(e->error, 1);
    EXPECT_EQ(e->comm, "cat");
    EXPECT_EQ(e->target, "sysfs:/fs/btrfs");
    EXPECT_EQ(describe(*e), "file_open denied pid 100 (cat) uid 1000: sysfs:/fs/btrfs "
                            "(baseline, enforce)");
}

TEST(DecodeEvent, RejectsWrongSizesAndOutOfRangeValues) {
    auto e = sample();
    std::vector<std::byte> short_record(sizeof(e) - 1);
    EXPECT_FALSE(decode_event(short_record));
    EXPECT_FALSE(decode_event({}));
    e.hook = LOCKC_HOOK_COUNT;
    EXPECT_FALSE(decode_event(bytes(e)));
    e = sample();
    e.level = LOCKC_LEVEL_COUNT;
    EXPECT_FALSE(decode_event(bytes(e)));
    e = sample();
    e.mode = 9;
    EXPECT_FALSE(decode_event(bytes(e)));
    e = sample();
    e.error = -1;
    EXPECT_FALSE(decode_event(bytes(e)));
}

TEST(DecodeEvent, UnterminatedStringsStayInsideTheirFields) {
    auto e = sample();
    std::memset(e.comm, 'x', sizeof(e.comm));
    std::memset(e.target, 'y', sizeof(e.target));
    const auto d = decode_event(bytes(e));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->comm, std::string(LOCKC_COMM_LEN, 'x'));
    EXPECT_EQ(d->target, std::string(LOCKC_TARGET_LEN, 'y'));
}

TEST(HookNames, RoundTripAndUnknown) {
    for (unsigned h = 0; h < LOCKC_HOOK_COUNT; ++h) {
        EXPECT_EQ(parse_hook(hook_name(h)), static_cast<lockc_hook>(h));
    }
    EXPECT_EQ(hook_name(LOCKC_HOOK_COUNT), "unknown");
    EXPECT_FALSE(parse_hook("nope"));
}

} // namespace
} // namespace lockc
