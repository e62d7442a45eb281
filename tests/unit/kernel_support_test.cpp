#include "kernel_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace lockc {
namespace {

class KernelSupportTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/lockc-ks-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        std::ofstream(dir_ / "btf") << "x";
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::filesystem::path lsm(const std::string &content) {
        std::ofstream(dir_ / "lsm") << content;
        return dir_ / "lsm";
    }
    std::filesystem::path dir_;
};

TEST(ParseLsmList, SplitsAndTrims) {
    EXPECT_EQ(parse_lsm_list("lockdown,capability,bpf\n"),
              (std::vector<std::string>{"lockdown", "capability", "bpf"}));
    EXPECT_TRUE(parse_lsm_list("").empty());
    EXPECT_EQ(parse_lsm_list(",bpf,,").size(), 1u);
}

TEST_F(KernelSupportTest, BpfInTheListIsSupported) {
    const auto ks = check_kernel_support(lsm("lockdown,capability,yama,bpf"), dir_ / "btf");
    EXPECT_TRUE(ks.supported()) << ks.problem;
    EXPECT_TRUE(ks.bpf_lsm_active);
}

TEST_F(KernelSupportTest, WithoutBpfTheMessageNamesTheLsmBootParameter) {
    const auto ks = check_kernel_support(lsm("lockdown,capability,apparmor"), dir_ / "btf");
    EXPECT_FALSE(ks.supported());
    EXPECT_NE(ks.problem.find("lsm=lockdown,capability,apparmor,bpf"), std::string::npos)
        << ks.problem;
}

TEST_F(KernelSupportTest, BpffooIsNotBpf) {
    EXPECT_FALSE(check_kernel_support(lsm("bpffoo,capability"), dir_ / "btf").supported());
}

TEST_F(KernelSupportTest, MissingFilesAreReportedNotThrown) {
    const auto ks = check_kernel_support(dir_ / "none", dir_ / "btf");
    EXPECT_FALSE(ks.supported());
    EXPECT_NE(ks.problem.find("lsm="), std::string::npos);
    const auto nobtf = check_kernel_support(lsm("bpf"), dir_ / "nobtf");
    EXPECT_FALSE(nobtf.supported());
    EXPECT_NE(nobtf.problem.find("BTF"), std::string::npos);
}

} // namespace
} // namespace lockc
