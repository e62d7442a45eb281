/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the BPF programs and user space share: enums, map keys and values,
 * the event layout. One definition, included by lockc.bpf.c (with vmlinux.h
 * providing the __u* types) and by the C++ enforcer (with <linux/types.h>).
 */
#ifndef LOCKC_SHARED_H
#define LOCKC_SHARED_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Bumped whenever a map layout or a program's contract changes: a loader
 * only reuses pinned objects of the same ABI. The VM tests build a loader
 * with another number to stand for another release's (tests/vm). */
#ifdef LOCKC_TEST_ABI_VERSION
#define LOCKC_ABI_VERSION LOCKC_TEST_ABI_VERSION
#else
#define LOCKC_ABI_VERSION 13
#endif

/* Policy levels, ordered from weakest to strictest. */
enum lockc_level {
	LOCKC_LEVEL_PRIVILEGED = 0,
	LOCKC_LEVEL_BASELINE = 1,
	LOCKC_LEVEL_RESTRICTED = 2,
	LOCKC_LEVEL_COUNT = 3,
};

enum lockc_mode {
	LOCKC_MODE_ENFORCE = 0, /* deny with EPERM and report */
	LOCKC_MODE_AUDIT = 1,	/* allow and report */
	LOCKC_MODE_COUNT = 2,
};

/* Life cycle of a container, for rules that only apply once it runs. */
enum lockc_phase {
	LOCKC_PHASE_SETUP = 0,	 /* runtime is still building the container */
	LOCKC_PHASE_PIVOTED = 1, /* pivot_root/chroot into the rootfs done */
	LOCKC_PHASE_RUNNING = 2, /* the container's own program was exec'd */
};

/* How an entry came to be (reported, never used for decisions). */
enum lockc_origin {
	LOCKC_ORIGIN_REGISTERED = 0, /* user space put it there */
	LOCKC_ORIGIN_PENDING = 1,    /* pending name matched at cgroup_mkdir */
	LOCKC_ORIGIN_PATTERN = 2,    /* container-like name, default level */
};

/* Every place a decision is made. Keep lockc::hook_name() in sync. */
enum lockc_hook {
	LOCKC_HOOK_SB_MOUNT = 0,  /* mount(2): bind sources, flags */
	LOCKC_HOOK_SB_KERN_MOUNT, /* new superblock: fs type, block dev */
	LOCKC_HOOK_MOVE_MOUNT,	  /* move_mount(2) of detached trees */
	LOCKC_HOOK_SB_PIVOTROOT,  /* pivot_root(2) once running */
	LOCKC_HOOK_FILE_OPEN,	  /* sensitive files, pseudo fs, devices */
	LOCKC_HOOK_SYSLOG,	  /* dmesg, /dev/kmsg */
	LOCKC_HOOK_KERNEL_MODULE, /* init_module, finit_module, kexec */
	LOCKC_HOOK_BPF,		  /* bpf(2) */
	LOCKC_HOOK_PERF_EVENT,	  /* perf_event_open(2) */
	LOCKC_HOOK_PTRACE,	  /* ptrace and /proc/<pid> access */
	LOCKC_HOOK_TASK_KILL,	  /* signals across the boundary */
	LOCKC_HOOK_UNIX_CONNECT,  /* container-engine sockets */
	LOCKC_HOOK_SETUID,	  /* setuid(2) family to root */
	LOCKC_HOOK_EXEC_SETUID,	  /* exec of a setuid-root binary */
	LOCKC_HOOK_USERNS_CREATE, /* new user namespaces */
	LOCKC_HOOK_SOCKET_CREATE, /* raw and packet sockets */
	LOCKC_HOOK_CAPABLE,	  /* capabilities over the whole host */
	LOCKC_HOOK_CGROUP_TREE,	  /* mkdir, rmdir, chmod, chown, xattrs in cgroup2 */
	LOCKC_HOOK_COUNT,
};

/* What an event's target string holds. */
enum lockc_target_kind {
	LOCKC_TARGET_NONE = 0,
	LOCKC_TARGET_PATH = 1,	  /* a path as the container sees it */
	LOCKC_TARGET_FS_PATH = 2, /* "<fstype>:<path inside that fs>" */
	LOCKC_TARGET_FS_TYPE = 3,
	LOCKC_TARGET_DEVICE = 4, /* "c 1:1" / "b 8:0" */
	LOCKC_TARGET_SOCKET = 5, /* unix socket address, '@' = abstract */
	LOCKC_TARGET_TASK = 6,	 /* "pid <n> <comm>" */
	LOCKC_TARGET_OTHER = 7,	 /* hook-specific text, e.g. "cmd 5" */
};

/* Access bits in rule deny masks. */
#define LOCKC_ACCESS_READ 0x1
#define LOCKC_ACCESS_WRITE 0x2
#define LOCKC_ACCESS_ALL (LOCKC_ACCESS_READ | LOCKC_ACCESS_WRITE)

/* ---- policy entries: cgroup v2 id -> policy --------------------------- */
struct lockc_policy {
	__u8 level;  /* enum lockc_level */
	__u8 mode;   /* enum lockc_mode */
	__u8 phase;  /* enum lockc_phase, advanced by the programs */
	__u8 origin; /* enum lockc_origin */
	/* User space's number for the registration behind this entry (0:
	 * none). Pending entries carry it into the entry of the cgroup they
	 * bind to, and every event carries it, so that a denial can still be
	 * named after its cgroup is gone. */
	__u32 tag;
	/* Decisions (deny or audit) taken for this entry, per hook. */
	__u64 decisions[LOCKC_HOOK_COUNT];
};

#define LOCKC_MAX_POLICIES 65536
#define LOCKC_MAX_PENDING 4096
#define LOCKC_CGROUP_NAME_LEN 128
/* Entries are looked for at cgroup levels 1..32 (the root, level 0, never
 * has one); a task deeper than that is judged by its ancestors. */
#define LOCKC_CGROUP_MAX_DEPTH 32
/*
 * The entry_levels map: one __u32 flag per cgroup level (index = level),
 * set to 1 once an entry was made for a cgroup at that level. Whoever
 * makes an entry (the cgroup_mkdir program, the loader) sets the flag
 * first; nobody clears one while the maps live. The hooks skip the lookup
 * at a level whose flag is 0: no entry can be there. Host tasks, whose
 * path has no entry, pay only for the levels containers use. (ABI 5: maps
 * of ABI 4 have entries and no flags, and are never reused.)
 */
#define LOCKC_ENTRY_LEVELS 64

struct lockc_pending_key {
	char name[LOCKC_CGROUP_NAME_LEN]; /* cgroup directory name, NUL padded */
};

/* ---- global settings ---------------------------------------------------- */
#define LOCKC_MAX_PATTERNS 16
#define LOCKC_PATTERN_PREFIX_LEN 32
#define LOCKC_PATTERN_SUFFIX_LEN 16
#define LOCKC_PATTERN_PARENT_LEN 16

/* A container-like cgroup name: starts with prefix and ends with suffix,
 * and when parent is set, its parent directory has exactly that name
 * (runtimes on the cgroupfs driver name a container's cgroup by its id
 * alone: /docker/<id>). Without a parent the prefix may not be empty. */
struct lockc_name_pattern {
	char prefix[LOCKC_PATTERN_PREFIX_LEN];
	char suffix[LOCKC_PATTERN_SUFFIX_LEN];
	char parent[LOCKC_PATTERN_PARENT_LEN];
};

struct lockc_settings {
	__u32 abi_version;
	__u8 default_level;
	__u8 default_mode;
	__u8 pattern_count;
	__u8 pad;
	/* Inode number of the host's network namespace (dynamic before 6.x);
	 * 0 = unknown, and then every task counts as in the host's. */
	__u32 host_netns_ino;
	__u32 pad2;
	/* The host's vm.mmap_min_addr: below it a mapping takes
	 * CAP_SYS_RAWIO (lockc_mmap_addr). Read by user space when it writes
	 * the settings, then kept by lockc_mmap_min_addr_set as the sysctl
	 * changes. The programs never use less than one page. (ABI 8.) */
	__u64 mmap_min_addr;
	struct lockc_name_pattern patterns[LOCKC_MAX_PATTERNS];
};

/* ---- rules -------------------------------------------------------------- */
/*
 * One longest-prefix-match trie holds every path-like rule. The first 32 bits
 * of the key select a space; the rest is the path with a '/' appended, so the
 * rule "/sys/" matches "/sys" and "/sys/x" but not "/sysfoo".
 */
enum lockc_rule_space {
	LOCKC_SPACE_OPEN_PATH = 1,    /* file opens, path as the container sees it */
	LOCKC_SPACE_MOUNT_SOURCE = 2, /* bind-mount sources */
	LOCKC_SPACE_UNIX_SOCKET = 3,  /* unix socket addresses */
	/* Any other value is a filesystem magic: paths inside that fs. */
};

#define LOCKC_PATH_LEN 248 /* 4 + 248 bytes: the trie's 256-byte data limit */

struct lockc_path_key {
	__u32 prefixlen; /* in bits, counting space and path */
	__u32 space;
	char path[LOCKC_PATH_LEN];
};

/* Per level, the access kinds that are denied (LOCKC_ACCESS_*); for mount
 * sources and sockets any non-zero value denies. */
struct lockc_rule {
	__u8 deny[LOCKC_LEVEL_COUNT];
	__u8 flags; /* LOCKC_RULE_* */
};

/* A summary of the rules, so that an allowed open or connect skips what
 * cannot deny it (the one element of the rule_summary array, whose lookup
 * is a few inlined instructions):
 * - path_deny: the union of the open-path rules' deny bits per level. A
 *   container's view of the path is composed only when this can deny the
 *   caller's level the access asked for.
 * - fs_filter: a bit per filesystem rule that can decide an open (open
 *   deny bits or LOCKC_FS_OPEN_BY_PATH), at lockc_fs_filter_bit() of its
 *   magic. A clear bit: no such rule, the fs_rules hash is not looked up.
 * - sock_filter: a bit per unix-socket rule of LOCKC_SOCK_HEAD_LEN bytes
 *   or more, at lockc_sock_filter_bit() of its first LOCKC_SOCK_HEAD_LEN bytes
 *   (lockc_sock_head()). A rule matches a name it is a prefix of, so only
 *   a name with the same head can match it: when the name's bit is clear,
 *   the trie is not looked up. A name shorter than the head can match
 *   only a shorter rule, and any shorter rule sets sock_short, which makes
 *   every connect look up.
 * Until `ready` is set (before the loader's first rules, and while it
 * replaces them) every open and connect looks everything up. */
#define LOCKC_FILTER_WORDS 4
#define LOCKC_SOCK_HEAD_LEN 8
struct lockc_rule_summary {
	__u64 fs_filter[LOCKC_FILTER_WORDS];
	__u64 sock_filter[LOCKC_FILTER_WORDS];
	__u8 path_deny[LOCKC_LEVEL_COUNT];
	__u8 sock_short;
	__u8 ready;
	__u8 pad[3];
};

/* Which of fs_filter's 256 bits stands for a superblock magic: the magic
 * folded to 32 bits, then a multiplicative hash's top 8 bits. Of the
 * multipliers tried, this one (murmur3's) gives the built-in rules' magics
 * bits of their own that no common filesystem's magic shares (tmpfs,
 * overlay, ext4, xfs, btrfs, nfs, fuse, ...): their opens never pay for a
 * lookup that finds nothing. */
static inline __u32 lockc_fs_filter_bit(__u64 magic)
{
	__u32 folded = (__u32)magic ^ (__u32)(magic >> 32);

	return (__u32)(folded * 0x85EBCA6Bu) >> 24;
}

/* Which of sock_filter's 256 bits stands for a socket name's head: the
 * top 8 bits of a 64-bit multiplicative hash (murmur3's fmix64 constant),
 * which every byte of the head reaches. Folding to 32 bits first, as for
 * magics, gave "/tmp/.X11" the bit of a built-in rule's head. */
static inline __u32 lockc_sock_filter_bit(__u64 head)
{
	return (__u32)((head * 0xff51afd7ed558ccdULL) >> 56);
}

/* The head of a socket name for sock_filter: its first
 * LOCKC_SOCK_HEAD_LEN bytes, the first at the lowest address, as the
 * name is shown and matched (an abstract name's leading NUL as '@'). */
static inline __u64 lockc_sock_head(const char *name)
{
	__u64 head = 0;

	for (int i = LOCKC_SOCK_HEAD_LEN - 1; i >= 0; i--)
		head = head << 8 | (__u8)name[i];
	return head;
}

/* The rule denies only tasks in the host's (initial) network namespace:
 * /proc/sys/net is per network namespace, and runtimes set a container's
 * own net sysctls (Docker: net.ipv4.ip_unprivileged_port_start). */
#define LOCKC_RULE_UNLESS_OWN_NETNS 0x1
/* A dev_rules entry for a driver's major rather than for the device: a
 * driver named by a rule registered the major (or held it when the rules
 * were applied). Once the kernel hands the major out again, the entry is
 * the unloaded driver's and is replaced (lockc_chrdev_*). The same for a
 * misc device's minor (lockc_misc_register). The rules in driver_rules and
 * misc_rules carry it, so the entries written from them do. */
#define LOCKC_RULE_OF_DRIVER 0x2

/* Filesystem rules keyed by superblock magic. A filesystem without a rule
 * may be opened but not mounted by confined levels. */
#define LOCKC_FS_OPEN_BY_PATH 0x1 /* decide opens from the trie (space=magic) */
struct lockc_fs_rule {
	__u8 open_deny[LOCKC_LEVEL_COUNT];  /* access bits; unless OPEN_BY_PATH */
	__u8 mount_deny[LOCKC_LEVEL_COUNT]; /* non-zero: may not be mounted */
	__u8 flags;
	__u8 pad;
};

#define LOCKC_MAX_FS_RULES 64
#define LOCKC_MAX_PATH_RULES 1024
#define LOCKC_MAX_DEV_RULES 64
/* dev_rules' room beyond the compiled rules, for the majors that drivers
 * named by a rule register while lockc runs (lockc_chrdev_*), and the
 * minors of misc devices named by one (lockc_misc_register). */
#define LOCKC_DRIVER_MAJORS_ROOM 64
#define LOCKC_MAX_DRIVER_RULES 16
#define LOCKC_MAX_MISC_RULES 16
/* Misc devices share one character major; each has a minor, fixed or picked
 * by the kernel when it registers, and a name (/proc/misc). */
#define LOCKC_MISC_MAJOR 10

#define LOCKC_DEV_CHAR 1
#define LOCKC_DEV_BLOCK 2
#define LOCKC_DEV_ANY 0xffffffffu /* wildcard major or minor */

struct lockc_dev_key {
	__u32 type; /* LOCKC_DEV_* */
	__u32 major;
	__u32 minor;
};

/* A character device driver by the name it registers its major with (as
 * /proc/devices lists it), or a misc device by its name (as /proc/misc
 * lists it). The kernel's own names are at most 63 bytes. */
#define LOCKC_DRIVER_NAME_LEN 64
struct lockc_driver_key {
	char name[LOCKC_DRIVER_NAME_LEN];
};

/* ---- events and counters ------------------------------------------------ */
#define LOCKC_COMM_LEN 16
#define LOCKC_TARGET_LEN 256

struct lockc_event {
	__u64 time_ns;		/* CLOCK_BOOTTIME */
	__u64 cgroup_id;	/* the task's own cgroup */
	__u64 policy_cgroup_id; /* the cgroup whose entry decided */
	__u32 pid;		/* thread group id, as user space knows it */
	__u32 tid;
	__u32 uid;
	__u16 hook;	   /* enum lockc_hook */
	__u8 level;	   /* enum lockc_level */
	__u8 mode;	   /* enum lockc_mode */
	__s32 error;	   /* errno returned to the caller; 0 when audited */
	__u32 target_kind; /* enum lockc_target_kind */
	__u32 tag;	   /* the deciding entry's tag (struct lockc_policy) */
	char comm[LOCKC_COMM_LEN];
	char target[LOCKC_TARGET_LEN];
};

#define LOCKC_DEFAULT_RINGBUF_BYTES (256 * 1024)

/* Events within this long of the reader's last wakeup do not wake it again;
 * readers look this often while events come (lockc.bpf.c, wakeup_flag()). */
#define LOCKC_EVENT_COALESCE_NS (1000 * 1000)

struct lockc_counters {
	__u64 denied[LOCKC_HOOK_COUNT];	 /* enforce-mode denials */
	__u64 audited[LOCKC_HOOK_COUNT]; /* audit-mode would-be denials */
	__u64 ringbuf_drops;		 /* events lost: ring buffer full */
	__u64 classify_failures;	 /* new cgroups left without an entry */
	__u64 driver_rule_failures;	 /* a named driver's major or misc minor not ruled */
};

#endif /* LOCKC_SHARED_H */
