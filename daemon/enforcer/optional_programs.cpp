#include "optional_programs.hpp"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <memory>
#include <string_view>
#include <system_error>

namespace lockc {

namespace {

struct BtfDeleter {
    void operator()(btf *b) const noexcept { btf__free(b); }
};

constexpr std::string_view kLsmSection = "lsm/";

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
        if (btf__find_by_name_kind(kernel.get(), ("bpf_lsm_" + hook).c_str(), BTF_KIND_FUNC) < 0) {
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
