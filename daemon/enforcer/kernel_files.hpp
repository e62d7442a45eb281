// Where the running kernel says what it has.
#pragma once

namespace lockc {

// The active LSMs, comma-separated ("lockdown,capability,bpf").
inline constexpr const char *kKernelLsmFile = "/sys/kernel/security/lsm";
// The kernel's BTF: CO-RE relocations, and which LSM hooks exist.
inline constexpr const char *kKernelBtfFile = "/sys/kernel/btf/vmlinux";

} // namespace lockc
