// Optional LSM programs (SEC("?lsm/...")) of lockc's own BPF object: on
// where the kernel's BTF has the hook, off where it does not, and never a
// mandatory program turned off. The BTF is written by the test (libbpf's
// BTF writer), so both kinds of kernel are tried on any host.
#include "lockc.skel.h"
#include "optional_programs.hpp"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace lockc {
namespace {

namespace fs = std::filesystem;

struct ObjectCloser {
    void operator()(bpf_object *object) const { bpf_object__close(object); }
};
struct BtfDeleter {
    void operator()(btf *b) const { btf__free(b); }
};

// A raw BTF file with one function for each of `functions`, as the
// kernel's has one per LSM hook (bpf_lsm_<hook>).
class BtfFile {
  public:
    explicit BtfFile(const std::vector<std::string> &functions)
        : path_(fs::temp_directory_path() /
                ("lockc-btf-" + std::to_string(::getpid()) + "-" + std::to_string(++count_))) {
        const std::unique_ptr<btf, BtfDeleter> b(btf__new_empty());
        const int proto = btf__add_func_proto(b.get(), 0);
        for (const auto &name : functions) {
            btf__add_func(b.get(), name.c_str(), BTF_FUNC_GLOBAL, proto);
        }
        std::uint32_t size = 0;
        const void *raw = btf__raw_data(b.get(), &size);
        std::ofstream(path_, std::ios::binary).write(static_cast<const char *>(raw), size);
    }
    BtfFile(const BtfFile &) = delete;
    BtfFile &operator=(const BtfFile &) = delete;
    BtfFile(BtfFile &&) = delete;
    BtfFile &operator=(BtfFile &&) = delete;
    ~BtfFile() { fs::remove(path_); }
    [[nodiscard]] const fs::path &path() const { return path_; }

  private:
    static inline int count_ = 0;
    fs::path path_;
};

// lockc's object, opened (not loaded) from the bytes its skeleton carries.
std::unique_ptr<bpf_object, ObjectCloser> open_object() {
    std::size_t size = 0;
    const void *bytes = lockc_bpf__elf_bytes(&size);
    std::unique_ptr<bpf_object, ObjectCloser> object(bpf_object__open_mem(bytes, size, nullptr));
    EXPECT_NE(object, nullptr);
    return object;
}

// Programs whose autoload is off.
std::vector<std::string> not_loaded(bpf_object *object) {
    std::vector<std::string> names;
    bpf_program *prog = nullptr;
    bpf_object__for_each_program(prog, object) {
        if (!bpf_program__autoload(prog)) {
            names.emplace_back(bpf_program__name(prog));
        }
    }
    return names;
}

// lockc's optional programs, in the object's order.
const std::vector<std::string> kOptional = {"lockc_inode_setxattr", "lockc_inode_removexattr",
                                            "lockc_file_ioctl_compat"};

TEST(OptionalPrograms, OnWhereTheKernelHasTheHook) {
    const auto object = open_object();
    ASSERT_TRUE(object);
    EXPECT_EQ(not_loaded(object.get()), kOptional);
    const BtfFile btf({"bpf_lsm_file_open", "bpf_lsm_file_ioctl_compat", "bpf_lsm_inode_setxattr",
                       "bpf_lsm_inode_removexattr", "bpf_lsm_inode_xattr_skipcap"});
    EXPECT_TRUE(enable_optional_lsm_programs(object.get(), btf.path()).empty());
    EXPECT_TRUE(not_loaded(object.get()).empty());
}

TEST(OptionalPrograms, OffWhereItLacksItAndTheOthersStayOn) {
    const auto object = open_object();
    ASSERT_TRUE(object);
    // A name close to the hook's is not the hook.
    const BtfFile btf({"bpf_lsm_file_ioctl", "file_ioctl_compat", "bpf_lsm_inode_setxattr",
                       "bpf_lsm_inode_removexattr", "bpf_lsm_inode_xattr_skipcap"});
    EXPECT_EQ(enable_optional_lsm_programs(object.get(), btf.path()),
              std::vector<std::string>{"file_ioctl_compat"});
    EXPECT_EQ(not_loaded(object.get()), std::vector<std::string>{"lockc_file_ioctl_compat"});
}

// Linux 6.1 has both xattr hooks but not inode_xattr_skipcap: a program
// there would turn off the kernel's capability check of security.*
// attributes, so neither loads.
TEST(OptionalPrograms, XattrProgramsOnlyWhereTheKernelChecksCapabilitiesBeforeThem) {
    const auto object = open_object();
    ASSERT_TRUE(object);
    const BtfFile btf({"bpf_lsm_file_ioctl_compat", "bpf_lsm_inode_setxattr",
                       "bpf_lsm_inode_removexattr", "bpf_lsm_inode_xattr_skipca"});
    EXPECT_EQ(enable_optional_lsm_programs(object.get(), btf.path()),
              (std::vector<std::string>{"inode_setxattr", "inode_removexattr"}));
    EXPECT_EQ(not_loaded(object.get()),
              (std::vector<std::string>{"lockc_inode_setxattr", "lockc_inode_removexattr"}));
}

TEST(OptionalPrograms, UnreadableBtfIsAnError) {
    const auto object = open_object();
    ASSERT_TRUE(object);
    EXPECT_THROW((void)enable_optional_lsm_programs(object.get(), "/nonexistent/lockc/btf"),
                 std::system_error);
    EXPECT_EQ(not_loaded(object.get()), kOptional);
}

} // namespace
} // namespace lockc
