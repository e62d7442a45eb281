#include "cgroup.hpp"
#include "error.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

namespace lockc {
namespace {

TEST(Cgroup, OwnCgroupIsReadFromProc) {
    const auto path = cgroup_of_pid(::getpid());
    EXPECT_TRUE(path.is_absolute()) << path;
}

TEST(Cgroup, UnknownPidIsNotFound) {
    try {
        (void)cgroup_of_pid(-5);
        FAIL();
    } catch (const Error &e) {
        EXPECT_EQ(e.kind(), ErrorKind::NotFound);
    }
}

TEST(Cgroup, DepthCountsTheNamesBelowTheMount) {
    EXPECT_EQ(cgroup_depth("/"), 0);
    EXPECT_EQ(cgroup_depth(""), 0);
    EXPECT_EQ(cgroup_depth("/system.slice"), 1);
    EXPECT_EQ(cgroup_depth("/system.slice/docker-1.scope"), 2);
    EXPECT_EQ(cgroup_depth("/a/b/c/"), 3);
    EXPECT_EQ(cgroup_depth("a/b"), 2);
}

TEST(Cgroup, RootIdMatchesItsInodeNumber) {
    const auto root = cgroup2_mount();
    struct stat st {};
    ASSERT_EQ(::stat(root.c_str(), &st), 0) << root;
    // On 64-bit kernels a kernfs node's id is its inode number.
    EXPECT_EQ(cgroup_id(root), static_cast<std::uint64_t>(st.st_ino));
}

TEST(Cgroup, NonCgroupPathIsAnError) {
    EXPECT_THROW((void)cgroup_id("/nonexistent/lockc"), Error);
    try {
        (void)cgroup_id("/proc/self");
        FAIL();
    } catch (const Error &e) {
        EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument) << e.what();
    }
}

} // namespace
} // namespace lockc
