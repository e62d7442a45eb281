// Whether this kernel can run lockc's programs, and why not.
#pragma once

#include "kernel_files.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lockc {

struct KernelSupport {
    bool bpf_lsm_active = false;
    bool btf_present = false;
    std::vector<std::string> lsm_list; // as /sys/kernel/security/lsm says
    std::string problem;               // empty when supported; else what to do
    [[nodiscard]] bool supported() const { return problem.empty(); }
};

// Parses a comma-separated LSM list ("lockdown,capability,bpf").
[[nodiscard]] std::vector<std::string> parse_lsm_list(const std::string &text);

// Reads the LSM list file and checks for BTF. Never throws: a missing file
// is reported in `problem`.
[[nodiscard]] KernelSupport
check_kernel_support(const std::filesystem::path &lsm_file = kKernelLsmFile,
                     const std::filesystem::path &btf_file = kKernelBtfFile);

} // namespace lockc
