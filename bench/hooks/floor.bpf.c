// SPDX-License-Identifier: GPL-2.0
// The floor of the hook benchmark: a program that does nothing (allows) on
// each LSM hook lockc uses. With these attached and lockc's programs off,
// the benchmark measures what any BPF LSM pays on those hooks before its
// program does anything: the kernel's call into the BPF trampoline, the
// trampoline and the program's entry and exit. lockc's own cost is what
// it adds on top (bench/vm/hooks.sh, configuration "floor").
//
// The list must be lockc's (bpf/lockc.bpf.c), optional hooks ('?')
// included: hooks.sh refuses to run when the number of programs differs
// from the number lockc-bench-switch moves.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define EMPTY_ON(hook)                                                                             \
    SEC("lsm/" #hook)                                                                              \
    int floor_##hook(void *ctx) {                                                                  \
        return 0;                                                                                  \
    }

EMPTY_ON(bpf)
EMPTY_ON(bprm_committed_creds)
EMPTY_ON(bprm_creds_from_file)
EMPTY_ON(capable)
EMPTY_ON(file_fcntl)
EMPTY_ON(file_ioctl)
EMPTY_ON(file_open)
EMPTY_ON(inode_follow_link)
EMPTY_ON(kernel_load_data)
EMPTY_ON(kernel_module_request)
EMPTY_ON(kernel_read_file)
EMPTY_ON(locked_down)
EMPTY_ON(mmap_addr)
EMPTY_ON(move_mount)
EMPTY_ON(netlink_send)
EMPTY_ON(path_chmod)
EMPTY_ON(path_chown)
EMPTY_ON(path_chroot)
EMPTY_ON(path_mkdir)
EMPTY_ON(path_rmdir)
EMPTY_ON(perf_event_open)
EMPTY_ON(ptrace_access_check)
EMPTY_ON(ptrace_traceme)
EMPTY_ON(sb_kern_mount)
EMPTY_ON(sb_mount)
EMPTY_ON(sb_pivotroot)
EMPTY_ON(socket_create)
EMPTY_ON(socket_getsockopt)
EMPTY_ON(socket_setsockopt)
EMPTY_ON(syslog)
EMPTY_ON(task_fix_setuid)
EMPTY_ON(task_kill)
EMPTY_ON(unix_stream_connect)
EMPTY_ON(userns_create)

// Loaded only where the kernel has the hook, as lockc's program on it.
SEC("?lsm/file_ioctl_compat")
int floor_file_ioctl_compat(void *ctx) {
    return 0;
}

// Loaded only where the kernel has inode_xattr_skipcap too, as lockc's.
SEC("?lsm/inode_setxattr")
int floor_inode_setxattr(void *ctx) {
    return 0;
}

SEC("?lsm/inode_removexattr")
int floor_inode_removexattr(void *ctx) {
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
