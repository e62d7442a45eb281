#include "optional_programs.hpp"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace lockc {

namespace {

struct BtfDeleter {
    void operator()(btf *b) const noexcept { btf__free(b); }
};

constexpr std::string_view kLsmSection = "lsm/";

// A hook whose program is safe only where the kernel has another hook too.
struct Requirement {
    std::string_view hook;
    std::string_view needs;
};

// Before Linux 6.10 the kernel checked the capability that security.*
// extended attributes take only when every LSM's inode_setxattr or
// inode_removexattr returned the hook's default, 1: a BPF program that
// allows (returns 0) would have turned the check off for every task. 6.10
// moved the check before the hooks, asked of inode_xattr_skipcap.
constexpr std::array<Requirement, 2> kRequirements = {{
    {"inode_setxattr", "inode_xattr_skipcap"},
    {"inode_removexattr", "inode_xattr_skipcap"},
}};

bool has_hook(const btf *kernel, std::string_view hook) {
    const std::string entry = "bpf_lsm_" + std::string(hook);
    return btf__find_by_name_kind(kernel, entry.c_str(), BTF_KIND_FUNC) >= 0;
}

// Whether the kernel has `hook`, and every hook its program needs.
bool can_load(const btf *kernel, std::string_view hook) {
    return has_hook(kernel, hook) && std::ranges::all_of(kRequirements, [&](const Requirement &r) {
               return r.hook != hook || has_hook(kernel, r.needs);
           });
}

} // namespace

std::vector<std::string> enable_optional_lsm_programs(bpf_object *object,
                                                      const std::filesystem::path &btf_file) {
    std::unique_ptr<btf, BtfDeleter> kernel;
    std::vector<std::string> left_out;
    bpf_program *prog = nullptr;
    bpf_object__for_each_program(prog, object) {
        // Only an optional program starts with its autoload off: libbpf
        // has taken the '?' off its section name.
        const std::string_view section = bpf_program__section_name(prog);
        if (bpf_program__autoload(prog) || bpf_program__type(prog) != BPF_PROG_TYPE_LSM ||
            !section.starts_with(kLsmSection)) {
            continue;
        }
        if (!kernel) {
            kernel.reset(btf__parse(btf_file.c_str(), nullptr));
            if (!kernel) {
                throw std::system_error(errno, std::generic_category(),
                                        "cannot read the kernel's BTF " + btf_file.string());
            }
        }
        const std::string hook(section.substr(kLsmSection.size()));
        if (!can_load(kernel.get(), hook)) {
            left_out.push_back(hook);
            continue;
        }
        if (const int err = bpf_program__set_autoload(prog, true); err != 0) {
            throw std::system_error(-err, std::generic_category(),
                                    "cannot load program " + std::string(bpf_program__name(prog)));
        }
    }
    return left_out;
}

} // namespace lockc
