// LSM programs that load only on kernels that have their hook.
#pragma once

#include "kernel_files.hpp"

#include <filesystem>
#include <string>
#include <vector>

struct bpf_object;

namespace lockc {

// A program declared SEC("?lsm/<hook>") starts with its autoload off
// (libbpf); this turns it on where the kernel's BTF (`btf_file`) has the
// hook's BPF entry point, bpf_lsm_<hook>. Such a hook is one that newer
// kernels, or newer stable updates, added for a path that older ones
// covered with another hook (file_ioctl_compat: before it, 32-bit ioctls
// met file_ioctl), or one whose program is safe only where the kernel has
// a further hook as well (inode_setxattr and inode_removexattr need
// inode_xattr_skipcap; optional_programs.cpp says why). Call between
// opening and loading `object`. Returns the hooks left out. Throws
// std::system_error when the BTF cannot be read.
std::vector<std::string>
enable_optional_lsm_programs(bpf_object *object,
                             const std::filesystem::path &btf_file = kKernelBtfFile);

} // namespace lockc
