#include "kernel_support.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace lockc {

std::vector<std::string> parse_lsm_list(const std::string &text) {
    std::vector<std::string> out;
    std::string item;
    std::istringstream in(text);
    while (std::getline(in, item, ',')) {
        std::erase_if(item, [](unsigned char c) { return std::isspace(c) != 0; });
        if (!item.empty()) {
            out.push_back(item);
        }
    }
    return out;
}

KernelSupport check_kernel_support(const std::filesystem::path &lsm_file,
                                   const std::filesystem::path &btf_file) {
    KernelSupport ks;
    std::error_code ec;
    ks.btf_present = std::filesystem::exists(btf_file, ec);

    std::ifstream in(lsm_file);
    if (!in) {
        ks.problem = "cannot read " + lsm_file.string() +
                     " (is securityfs mounted?); lockc needs the BPF LSM: boot with "
                     "'lsm=...,bpf' on the kernel command line";
        return ks;
    }
    std::stringstream text;
    text << in.rdbuf();
    ks.lsm_list = parse_lsm_list(text.str());
    ks.bpf_lsm_active = std::ranges::find(ks.lsm_list, "bpf") != ks.lsm_list.end();

    std::string joined;
    for (const auto &l : ks.lsm_list) {
        joined += (joined.empty() ? "" : ",") + l;
    }
    if (!ks.bpf_lsm_active) {
        ks.problem = "the BPF LSM is not active: " + lsm_file.string() + " lists '" + joined +
                     "'. Add bpf to the kernel's lsm= boot parameter, e.g. 'lsm=" +
                     (joined.empty() ? std::string() : joined + ",") +
                     "bpf', and reboot (kernel 5.7 or newer with CONFIG_BPF_LSM=y)";
    } else if (!ks.btf_present) {
        ks.problem = "the kernel has no BTF (" + btf_file.string() +
                     " is missing); lockc needs a kernel built with CONFIG_DEBUG_INFO_BTF=y";
    }
    return ks;
}

} // namespace lockc
