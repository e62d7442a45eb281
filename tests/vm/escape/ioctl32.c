// lockc-ioctl32: SIOCGIFFLAGS, then SIOCSIFFLAGS with the same flags, on the
// loopback interface through the socket at descriptor 3, as a 32-bit
// process: its ioctls take the kernel's compat path, which meets
// file_ioctl_compat instead of file_ioctl on kernels that have that hook.
// Exits 0 when both calls worked, else with the errno.
// Freestanding i386 (raw int $0x80): building it needs no 32-bit C library.

#define NR_exit 1
#define NR_ioctl 54
#define SIOCGIFFLAGS 0x8913
#define SIOCSIFFLAGS 0x8914

// struct ifreq: the name, then the flags in the union (32 bytes in the
// compat layout; 40 leaves room for the 64-bit one).
static char request[40] = "lo";

static long syscall3(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

void _start(void) {
    long ret = syscall3(NR_ioctl, 3, SIOCGIFFLAGS, (long)request);
    if (ret == 0) {
        ret = syscall3(NR_ioctl, 3, SIOCSIFFLAGS, (long)request);
    }
    syscall3(NR_exit, ret < 0 ? -ret : 0, 0, 0);
    for (;;) {
    }
}
