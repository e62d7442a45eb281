// SPDX-License-Identifier: GPL-2.0
/*
 * lockc's enforcement: BPF programs on LSM hooks that decide, per container,
 * whether an operation that could escape the container is allowed.
 *
 * A task's container is the nearest cgroup (its own, then its ancestors) that
 * has an entry in the `policies` map. Tasks without one are host tasks and are
 * never denied anything. `privileged` entries are never denied anything.
 * Everything else follows the rules in the maps, which user space fills.
 *
 * Reading guide: every `return 0` below that is reached by a confined task is
 * an allow path and carries a comment saying why it is safe.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "lockc_shared.h"

char LICENSE[] SEC("license") = "GPL";

#define EPERM 1
#define EEXIST 17
/* mount(2) flags (uapi/linux/mount.h) */
#define MS_REMOUNT 32
#define MS_BIND 4096
#define MS_MOVE 8192
#define MS_UNBINDABLE (1 << 17)
#define MS_PRIVATE (1 << 18)
#define MS_SLAVE (1 << 19)
#define MS_SHARED (1 << 20)
#define MS_PROPAGATION (MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED)
#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
#define S_IFMT 00170000
#define S_IFBLK 0060000
#define S_IFCHR 0020000
#define S_IFDIR 0040000
#define MINORBITS 20
#define MINORMASK ((1U << MINORBITS) - 1)
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define AF_PACKET 17
#define SOCK_RAW 3
#define SOCK_TYPE_MASK 0xf
#define PROC_SUPER_MAGIC 0x9fa0
#define NR_open_by_handle_at 304

/* ---- maps ------------------------------------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LOCKC_MAX_POLICIES);
	__type(key, __u64); /* cgroup v2 id */
	__type(value, struct lockc_policy);
} policies SEC(".maps");

/* Cgroup levels that hold entries (lockc_shared.h, LOCKC_ENTRY_LEVELS). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LOCKC_ENTRY_LEVELS);
	__type(key, __u32);
	__type(value, __u32);
} entry_levels SEC(".maps");

/* Advanced before and after every write to `policies`: a level remembered
 * under an older value may be stale (see current_level()). Mappable, so
 * that lockcd advances it with atomic adds as the programs do. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} policy_generation SEC(".maps");

/* The level of the cgroup a task on this CPU last asked about (see
 * current_level()). Per CPU, keyed by cgroup: no memory per task or per
 * container, and the tasks of one container share it. Not pinned: another
 * build's programs start with none remembered. */
struct level_memo {
	__u64 seq;	  /* odd while written; +2 per write */
	__u64 generation; /* of policy_generation when looked up */
	__u64 cgroup_id;  /* the task's own cgroup (never reused; 0: none) */
	__u32 level;	  /* LOCKC_LEVEL_*, PRIVILEGED for "not confined" */
	__u32 unused;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct level_memo);
} level_memos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LOCKC_MAX_PENDING);
	__type(key, struct lockc_pending_key);
	__type(value, struct lockc_policy);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lockc_settings);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, LOCKC_MAX_PATH_RULES);
	__type(key, struct lockc_path_key);
	__type(value, struct lockc_rule);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} path_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lockc_rule_summary);
} rule_summary SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LOCKC_MAX_FS_RULES);
	__type(key, __u64); /* superblock magic */
	__type(value, struct lockc_fs_rule);
} fs_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LOCKC_MAX_DEV_RULES + LOCKC_DRIVER_MAJORS_ROOM);
	__type(key, struct lockc_dev_key);
	__type(value, struct lockc_rule);
} dev_rules SEC(".maps");

/* Rules for character device drivers whose major the kernel picks: copied
 * into dev_rules, for every minor, when such a driver registers a major. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LOCKC_MAX_DRIVER_RULES);
	__type(key, struct lockc_driver_key);
	__type(value, struct lockc_rule);
} driver_rules SEC(".maps");

/* Rules for misc devices by name: copied into dev_rules, for the device's
 * minor, when such a device registers. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LOCKC_MAX_MISC_RULES);
	__type(key, struct lockc_driver_key);
	__type(value, struct lockc_rule);
} misc_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, LOCKC_DEFAULT_RINGBUF_BYTES); /* loader may resize */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lockc_counters);
} counters SEC(".maps");

/* Which build of this object the attached programs are (a hash of the
 * object, written by the loader): a loader that carries another build
 * replaces the programs, keeping every map above (see Enforcer::open).
 * The programs never read it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} build SEC(".maps");

#ifdef LOCKC_TEST_VARIANT
/* Test builds only (the upgrade check in the VM): an object whose bytes
 * differ from the real one's while every decision is the same. */
const volatile __u32 lockc_test_variant = LOCKC_TEST_VARIANT;
#endif

/* When the reader was last woken (boot-time ns): events that follow within
 * LOCKC_EVENT_COALESCE_NS ride on that wakeup (see wakeup_flag()). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} last_wakeup SEC(".maps");

/* Per-CPU scratch space: the BPF stack (512 bytes) cannot hold these. LSM
 * programs do not sleep here and do not nest on one CPU with each other,
 * except the cgroup_mkdir tracepoint, which has its own buffer. */
#define LOCKC_FS_WALK_DEPTH 32
#define LOCKC_SCRATCH_LEN 512
struct scratch {
	struct lockc_path_key key;
	char buf[LOCKC_SCRATCH_LEN];
	__u64 chain[LOCKC_FS_WALK_DEPTH]; /* dentries, leaf first */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_space SEC(".maps");

struct mkdir_scratch {
	struct lockc_pending_key name;
	char parent[2 * LOCKC_PATTERN_PARENT_LEN]; /* the parent directory's name */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mkdir_scratch);
} mkdir_space SEC(".maps");

static const __u32 zero = 0;

/* One load or store each, in program order, never merged or repeated. */
#define READ_ONCE(x) (*(const volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))

/* v & mask, kept even where the compiler can prove the mask redundant: the
 * verifier's bounds are often weaker than the compiler's knowledge. */
#define BOUND(v, mask)                                                                             \
	({                                                                                         \
		__u64 __b = (v);                                                                   \
		asm volatile("%[b] &= %[m]" : [b] "+r"(__b) : [m] "i"(mask));                      \
		__b;                                                                               \
	})

/*
 * What an LSM program may return is checked (6.12: within [-4095, 0]); the
 * compiler turns "audit ? 0 : -EPERM" into arithmetic the verifier cannot
 * bound. Hide the value from the compiler, then bound it for the verifier.
 */
static __always_inline int lsm_ret(int ret)
{
	__s64 r = ret;

	asm volatile("" : "+r"(r));
	if (r < -4095 || r > 0)
		return -EPERM;
	return (int)r;
}

/* ---- who is asking ------------------------------------------------------ */

/* The policy of a task: its cgroup's entry, else the nearest ancestor's. */
struct subject {
	struct lockc_policy *policy; /* NULL: host task, never confined */
	__u64 policy_cgroup_id;
	__u64 cgroup_id; /* 0 for the calling task: read when an event needs it */
};

static __always_inline struct cgroup *task_cgroup(struct task_struct *task)
{
	return BPF_CORE_READ(task, cgroups, dfl_cgrp);
}

/* The ancestor of cgrp at `level` (cgrp itself at its own level), from the
 * flexible array cgroup->ancestors[]: its offset relocated by CO-RE, the
 * entry probe-read, as the verifier cannot bound an index into it. The
 * caller keeps `level` at or below cgrp's. */
static __always_inline struct cgroup *cgroup_ancestor(struct cgroup *cgrp, int level)
{
	void *ancestors = (void *)cgrp + bpf_core_field_offset(struct cgroup, ancestors);
	struct cgroup *anc = NULL;

	bpf_probe_read_kernel(&anc, sizeof(anc), ancestors + level * sizeof(anc));
	return anc;
}

/*
 * Looks at the cgroup itself, then its ancestors, deepest first, through
 * cgroup->ancestors[] (indexed by level). A cgroup deeper than
 * LOCKC_CGROUP_MAX_DEPTH starts the search at that depth: nesting cgroups
 * inside a container cannot hide a task from the container's entry.
 */
static __always_inline void subject_of_cgroup(struct cgroup *cgrp, struct subject *s)
{
	s->policy = NULL;
	s->policy_cgroup_id = 0;
	s->cgroup_id = 0;
	if (!cgrp)
		return;
	s->cgroup_id = BPF_CORE_READ(cgrp, kn, id);

	int level = BPF_CORE_READ(cgrp, level);

	if (level > LOCKC_CGROUP_MAX_DEPTH)
		level = LOCKC_CGROUP_MAX_DEPTH;
	for (int i = LOCKC_CGROUP_MAX_DEPTH; i >= 1; i--) {
		if (i > level)
			continue;
		struct cgroup *anc = cgroup_ancestor(cgrp, i);

		if (!anc)
			continue;
		__u64 id = BPF_CORE_READ(anc, kn, id);
		struct lockc_policy *p = bpf_map_lookup_elem(&policies, &id);

		if (p) {
			s->policy = p;
			s->policy_cgroup_id = id;
			return;
		}
	}
}

/*
 * The entry deciding for the calling task. Every hook starts here, host
 * tasks' calls too, so this reads ids with the helpers made for it rather
 * than following cgroup pointers with bpf_probe_read_kernel() (three probe
 * reads per level): measured by instruction count, a host process's open()
 * cost 18.8% more with lockc on before, 6.5% after (docs/benchmarks.md).
 * Same search as subject_of_cgroup(), but levels where no entry was ever
 * made are skipped (entry_levels).
 */
static __always_inline void current_subject(struct subject *s)
{
	struct task_struct *task = bpf_get_current_task_btf();
	int level = task->cgroups->dfl_cgrp->level; /* direct load, CO-RE */

	s->policy = NULL;
	s->policy_cgroup_id = 0;
	/* Only a denial's event shows the task's own cgroup: deny() reads it
	 * then, and no allowed call pays for the helper. */
	s->cgroup_id = 0;
	if (level > LOCKC_CGROUP_MAX_DEPTH)
		level = LOCKC_CGROUP_MAX_DEPTH;
	for (int i = 0; i < LOCKC_CGROUP_MAX_DEPTH; i++) {
		int at = level - i;

		if (at < 1)
			break;
		/* No entry was ever made at this level (its flag is set before
		 * the first one is written): nothing to look up. An array
		 * lookup is inlined by the verifier, a few instructions where
		 * the helper and the hash lookup cost some 170. */
		__u32 at_key = at;
		__u32 *made = bpf_map_lookup_elem(&entry_levels, &at_key);

		if (made && !*made)
			continue;
		__u64 id = bpf_get_current_ancestor_cgroup_id(at);

		if (!id)
			continue;
		struct lockc_policy *p = bpf_map_lookup_elem(&policies, &id);

		if (p) {
			s->policy = p;
			s->policy_cgroup_id = id;
			return;
		}
	}
}

/* Confined: any entry but privileged, the only level that skips checks
 * (an out-of-range level counts as restricted, see level_of). */
static __always_inline bool confined(const struct subject *s)
{
	return s->policy && s->policy->level != LOCKC_LEVEL_PRIVILEGED;
}

static __always_inline __u8 level_of(const struct subject *s)
{
	__u8 level = s->policy->level;

	/* An out-of-range level (a bug in user space) is treated as the
	 * strictest level rather than as privileged. */
	return level < LOCKC_LEVEL_COUNT ? level : LOCKC_LEVEL_RESTRICTED;
}

/* Around every write to `policies`, before and after: a task that looked
 * its level up while the write was under way, or before it, remembered it
 * under a generation that is gone once the write is done. */
static __always_inline void advance_policy_generation(void)
{
	__u64 *gen = bpf_map_lookup_elem(&policy_generation, &zero);

	if (gen)
		__sync_fetch_and_add(gen, 1);
}

/* The task's own cgroup v2 id, read afresh (direct loads, CO-RE). */
static __always_inline __u64 own_cgroup_id(struct task_struct *task)
{
	asm volatile("" ::: "memory"); /* no load from before this reused */
	return task->cgroups->dfl_cgrp->kn->id;
}

/*
 * The calling task's level, LOCKC_LEVEL_PRIVILEGED if it is not confined
 * (no entry, or a privileged one): current_subject()'s answer, remembered
 * per CPU for the task's cgroup. A hook whose allowed case needs the level
 * alone (file_open, the most frequent, and unix_stream_connect) takes it
 * from here and calls current_subject() only to deny.
 *
 * The memo answers only for the cgroup it was made for, and only while
 * policy_generation is what it was then: every writer of `policies`
 * advances the generation before and after its write, and the generation
 * is read here before the search, so a memo made before or during a write
 * is older than the generation once the write is done (x86-64 keeps the
 * order of loads).
 *
 * The programs run with migration off but may be preempted, and another
 * task's program may then use the same CPU's memo: a sequence count keeps
 * every read whole. A writer takes the count from even to odd with a
 * compare-and-exchange (a second writer, or one whose count moved, gives
 * up: the memo is only an optimisation), writes, and makes it even again.
 * A reader uses what it read only if the count was even and unchanged
 * around its reads.
 */
static __always_inline __u8 current_level(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 *gen_ptr = bpf_map_lookup_elem(&policy_generation, &zero);
	struct level_memo *memo = bpf_map_lookup_elem(&level_memos, &zero);
	__u64 cgroup_id = own_cgroup_id(task);
	/* Arrays of one element: never missing; without them, no memo. */
	__u64 gen = gen_ptr ? READ_ONCE(*gen_ptr) : 0;

	if (!gen_ptr)
		memo = NULL;
	if (memo) {
		__u64 seq = READ_ONCE(memo->seq);

		if (!(seq & 1) && READ_ONCE(memo->generation) == gen &&
		    READ_ONCE(memo->cgroup_id) == cgroup_id) {
			__u32 level = READ_ONCE(memo->level);

			if (READ_ONCE(memo->seq) == seq)
				/* Bounded again for the verifier; never to
				 * privileged. */
				return level < LOCKC_LEVEL_COUNT ? level : LOCKC_LEVEL_RESTRICTED;
		}
	}

	struct subject s;

	current_subject(&s);
	__u8 level = confined(&s) ? level_of(&s) : LOCKC_LEVEL_PRIVILEGED;

	/* Moved while it searched (by another task; the search reads the
	 * task's cgroup at each level): the level may be another cgroup's,
	 * so it is used once and not remembered. Only a move there and back
	 * within the search would go unseen, which takes a host process
	 * racing the task's own open: root on the host can do more. */
	if (memo && own_cgroup_id(task) == cgroup_id) {
		__u64 seq = READ_ONCE(memo->seq);

		if (!(seq & 1) && __sync_val_compare_and_swap(&memo->seq, seq, seq + 1) == seq) {
			WRITE_ONCE(memo->generation, gen);
			WRITE_ONCE(memo->cgroup_id, cgroup_id);
			WRITE_ONCE(memo->level, level);
			WRITE_ONCE(memo->seq, seq + 2);
		}
	}
	return level;
}

/* A map update's result as an errno. Before 6.4 the kernel calls the map's
 * update directly and it returns an int: the upper half of the 64-bit
 * result is zero, so -EEXIST reads as 4294967279 (seen on 6.1). The lower
 * half is right on every kernel. */
static __always_inline int map_update_result(long ret)
{
	return (int)ret;
}

/* ---- decisions and events ---------------------------------------------- */

static __always_inline void count(enum lockc_hook hook, bool audit)
{
	struct lockc_counters *c = bpf_map_lookup_elem(&counters, &zero);

	if (!c || hook >= LOCKC_HOOK_COUNT)
		return;
	if (audit)
		c->audited[hook]++;
	else
		c->denied[hook]++;
}

/* A container-like cgroup that could not get its entry (map full). */
static __always_inline void count_classify_failure(void)
{
	struct lockc_counters *c = bpf_map_lookup_elem(&counters, &zero);

	if (c)
		c->classify_failures++;
}

static __always_inline void count_drop(void)
{
	struct lockc_counters *c = bpf_map_lookup_elem(&counters, &zero);

	if (c)
		c->ringbuf_drops++;
}

/*
 * Whether submitting an event wakes the reader. A wakeup per event (a
 * context switch per denial on a busy CPU) cost a denied call more than the
 * decision itself, so events within LOCKC_EVENT_COALESCE_NS of the last
 * wakeup ride on it: the reader, once woken, keeps looking every
 * LOCKC_EVENT_COALESCE_NS for a while (Enforcer::events_due()), so it
 * still reads them within about that time. A ring a quarter full wakes it at
 * once, so that a burst is not dropped while the reader sleeps out its
 * interval. The shared timestamp is a hint: a race between CPUs costs at
 * most an extra wakeup, never a lost one, since an event is only held back
 * when some wakeup happened within the interval.
 */
static __always_inline __u64 wakeup_flag(__u64 now)
{
	__u64 *last = bpf_map_lookup_elem(&last_wakeup, &zero);

	if (!last)
		return BPF_RB_FORCE_WAKEUP;
	if (now - *last < LOCKC_EVENT_COALESCE_NS &&
	    bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) * 4 <
		bpf_ringbuf_query(&events, BPF_RB_RING_SIZE))
		return BPF_RB_NO_WAKEUP;
	*last = now;
	return BPF_RB_FORCE_WAKEUP;
}

/*
 * Report an operation that the rules deny and return what the hook returns:
 * -EPERM in enforce mode, 0 in audit mode. `target` is a kernel string or
 * NULL; `size`, when not 0, is its length with the NUL, known to the caller
 * (see deny_sized()).
 */
static __always_inline int deny_target(const struct subject *s, enum lockc_hook hook,
				       enum lockc_target_kind kind, const char *target, __u32 size)
{
	bool audit = s->policy->mode == LOCKC_MODE_AUDIT;
	int ret = lsm_ret(audit ? 0 : -EPERM);
	struct lockc_event *e;

	count(hook, audit);
	if (hook < LOCKC_HOOK_COUNT)
		__sync_fetch_and_add(&s->policy->decisions[hook], 1);

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop();
		return ret;
	}
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	e->time_ns = bpf_ktime_get_boot_ns();
	/* Events are the calling task's (current_subject() left it 0). */
	e->cgroup_id = s->cgroup_id ? s->cgroup_id : bpf_get_current_cgroup_id();
	e->policy_cgroup_id = s->policy_cgroup_id;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->hook = hook;
	e->level = s->policy->level;
	e->mode = s->policy->mode;
	e->tag = s->policy->tag;
	e->error = -ret;
	e->target_kind = kind;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->target[0] = 0;
	if (target && size) {
		/* One copy of known length (in 8-byte words), where a string
		 * copy goes byte by byte; cut to the event's room. */
		__u32 n = size < LOCKC_TARGET_LEN ? size : LOCKC_TARGET_LEN;

		n = BOUND(n - 1, LOCKC_TARGET_LEN - 1);
		bpf_probe_read_kernel(e->target, n + 1, target);
		e->target[BOUND(n, LOCKC_TARGET_LEN - 1)] = 0;
	} else if (target) {
		bpf_probe_read_kernel_str(e->target, sizeof(e->target), target);
	}
	bpf_ringbuf_submit(e, wakeup_flag(e->time_ns));
	return ret;
}

static __always_inline int deny(const struct subject *s, enum lockc_hook hook,
				enum lockc_target_kind kind, const char *target)
{
	return deny_target(s, hook, kind, target, 0);
}

/* deny() for a target composed in scratch memory whose size (with its NUL,
 * at least 1) the caller knows: the paths of denied opens and connects. */
static __always_inline int deny_sized(const struct subject *s, enum lockc_hook hook,
				      enum lockc_target_kind kind, const char *target, __u32 size)
{
	return deny_target(s, hook, kind, target, size ? size : 1);
}

/*
 * A denial by a hook that decided on current_level(): the entry deciding,
 * looked up in full now for its mode, counters and event, and `size` bytes
 * of the target (with its NUL; 0: a NUL-terminated text; NULL: none). If
 * the entry is gone or privileged by now (a write since the level was
 * read), the call is allowed, as it would have been a moment later. Not
 * inlined: such hooks deny in several places, and each inlined copy of the
 * search would be verified again.
 */
static __noinline int deny_now(enum lockc_hook hook, enum lockc_target_kind kind,
			       const char *target, __u32 size)
{
	struct subject s;

	current_subject(&s);
	if (!confined(&s))
		return 0;
	if (size)
		return deny_sized(&s, hook, kind, target, size);
	return deny(&s, hook, kind, target);
}

static __always_inline struct scratch *get_scratch(void)
{
	return bpf_map_lookup_elem(&scratch_space, &zero);
}

/* Deny with a target that `fmt` formats from `args` (`size` bytes of them,
 * a constant). Without scratch space the denial still stands, untargeted. */
static __always_inline int deny_formatted(const struct subject *s, enum lockc_hook hook,
					  enum lockc_target_kind kind, const char *fmt, __u64 *args,
					  __u32 size)
{
	struct scratch *sc = get_scratch();

	if (!sc)
		return deny(s, hook, LOCKC_TARGET_NONE, NULL);
	bpf_snprintf(sc->buf, 64, fmt, args, size);
	return deny(s, hook, kind, sc->buf);
}

/* The caller is denied, reported under capable as fmt with args, if it is
 * confined; a host task or privileged container goes on. For the uses of
 * what the caller already holds (a terminal, a host socket) that reach
 * beyond it, as CAP_SYS_ADMIN and CAP_NET_ADMIN uses would. */
static __always_inline int deny_confined_capable(const char *fmt, __u64 *args, __u32 size)
{
	struct subject s;

	current_subject(&s);
	if (!confined(&s))
		return 0;
	return deny_formatted(&s, LOCKC_HOOK_CAPABLE, LOCKC_TARGET_OTHER, fmt, args, size);
}

/* ---- rule lookups ------------------------------------------------------- */

/*
 * Finish a trie key whose path occupies key->path[0..len): append the '/'
 * that makes prefixes match whole components only, and set the bit length.
 * A path that fills the key is left truncated: rules are prefixes, and
 * they still match its beginning.
 */
static __always_inline void finish_key(struct lockc_path_key *key, __u32 space, __u32 len)
{
	key->space = space;
	/* A round trip through map memory gives the verifier fresh bounds on
	 * len: the unrolled loops of some callers leave contradictory ones
	 * (min > max) on paths that cannot happen, and 6.1 rejects pointer
	 * arithmetic with those. */
	*(volatile __u32 *)&key->prefixlen = len;
	len = *(volatile __u32 *)&key->prefixlen;
	if (len < LOCKC_PATH_LEN) {
		key->path[len] = '/';
		len++;
	} else {
		len = LOCKC_PATH_LEN;
	}
	key->prefixlen = 32 + 8 * len;
}

/* Whether the current task's network namespace has inode number `ino`. */
static __always_inline bool current_in_netns(__u32 ino)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return BPF_CORE_READ(task, nsproxy, net_ns, ns.inum) == ino;
}

static __always_inline bool in_host_netns(void)
{
	struct lockc_settings *cfg = bpf_map_lookup_elem(&settings, &zero);

	if (!cfg || !cfg->host_netns_ino)
		return true; /* unknown: fail closed */
	return current_in_netns(cfg->host_netns_ino);
}

static __always_inline __u8 path_rule_deny(struct lockc_path_key *key, __u8 level, bool *found)
{
	struct lockc_rule *r = bpf_map_lookup_elem(&path_rules, key);

	*found = r != NULL;
	if (!r || level >= LOCKC_LEVEL_COUNT)
		return 0;
	if ((r->flags & LOCKC_RULE_UNLESS_OWN_NETNS) && !in_host_netns())
		return 0; /* the container's own network namespace */
	return r->deny[level];
}

/*
 * Copy a NUL-terminated kernel string into key->path and return its length
 * (without NUL), or a negative error.
 */
static __always_inline long string_key(struct lockc_path_key *key, const char *str)
{
	long n = bpf_probe_read_kernel_str(key->path, sizeof(key->path), str);

	if (n <= 0)
		return -1;
	return n - 1;
}

struct compose_ctx {
	__u32 pos;   /* bytes written to scratch.buf */
	__u32 depth; /* dentries in scratch.chain */
};

/* Appends "/<name>" of the j-th dentry from the top to scratch.buf. */
static long compose_component(__u32 j, void *data)
{
	struct compose_ctx *c = data;
	struct scratch *sc = bpf_map_lookup_elem(&scratch_space, &zero);

	if (!sc || c->pos >= LOCKC_PATH_LEN || j >= c->depth)
		return 1;
	__u32 i = c->depth - 1 - j;
	struct dentry *cur = (struct dentry *)sc->chain[BOUND(i, LOCKC_FS_WALK_DEPTH - 1)];
	const unsigned char *name = BPF_CORE_READ(cur, d_name.name);
	__u32 len = BPF_CORE_READ(cur, d_name.len);
	__u32 pos = c->pos;

	sc->buf[BOUND(pos, LOCKC_SCRATCH_LEN / 2 - 1)] = '/';
	pos++;
	len = BOUND(len, 0xff);
	bpf_probe_read_kernel(&sc->buf[BOUND(pos, LOCKC_SCRATCH_LEN / 2 - 1)], len, name);
	c->pos = pos + len;
	return 0;
}

/*
 * The path of a dentry inside its filesystem ("/fs/btrfs/x" for
 * /sys/fs/btrfs/x), whatever it is mounted on: rules on pseudo filesystems
 * cannot be dodged by mounting them elsewhere or by chroot. Returns the
 * length written to key->path or a negative error when the tree is deeper
 * than we walk (callers deny then).
 */
static __always_inline long fs_internal_path(struct scratch *sc, struct dentry *d)
{
	int depth = 0;

	for (int i = 0; i < LOCKC_FS_WALK_DEPTH; i++) {
		struct dentry *parent = BPF_CORE_READ(d, d_parent);

		if (!parent || parent == d)
			break;
		sc->chain[i] = (__u64)d;
		depth = i + 1;
		d = parent;
		if (i == LOCKC_FS_WALK_DEPTH - 1) {
			parent = BPF_CORE_READ(d, d_parent);
			if (parent && parent != d)
				return -1; /* deeper than we walk */
		}
	}

	struct compose_ctx c = {.pos = 0, .depth = depth};

	/* bpf_loop: the verifier checks the step once, not once per level
	 * of two nested loops. */
	bpf_loop(depth, compose_component, &c, 0);
	__u32 pos = c.pos;

	if (pos > LOCKC_PATH_LEN)
		pos = LOCKC_PATH_LEN;
	bpf_probe_read_kernel(sc->key.path, sizeof(sc->key.path), sc->buf);
	return pos;
}

/* ---- cgroup creation: confined before the first instruction ------------ */

static __always_inline bool name_matches(const char *name, __u32 len, const char *parent_name,
					 const struct lockc_name_pattern *p)
{
	__u32 plen = 0, slen = 0;

	if (!p->prefix[0] && !p->parent[0])
		return false; /* an empty pattern would match every cgroup */
	/* The parent's name, exactly: parent_name holds up to twice the
	 * pattern's length, so a longer name differs at the pattern's NUL. */
	for (int i = 0; p->parent[0] && i < LOCKC_PATTERN_PARENT_LEN; i++) {
		if (p->parent[i] != parent_name[i])
			return false;
		if (!p->parent[i])
			break;
	}
	for (int i = 0; i < LOCKC_PATTERN_PREFIX_LEN; i++) {
		if (!p->prefix[i])
			break;
		if (i >= len || name[i & (LOCKC_CGROUP_NAME_LEN - 1)] != p->prefix[i])
			return false;
		plen++;
	}
	for (int i = 0; i < LOCKC_PATTERN_SUFFIX_LEN; i++) {
		if (!p->suffix[i])
			break;
		slen++;
	}
	if (plen + slen > len)
		return false;
	for (int i = 0; i < LOCKC_PATTERN_SUFFIX_LEN; i++) {
		if (i >= slen)
			break;
		__u32 at = len - slen + i;

		if (name[at & (LOCKC_CGROUP_NAME_LEN - 1)] != p->suffix[i])
			return false;
	}
	return true;
}

/* Before an entry is made for cgrp: the hooks look at its level from now
 * on. Levels past LOCKC_ENTRY_LEVELS have no flag (and are deeper than
 * the hooks look, LOCKC_CGROUP_MAX_DEPTH). */
static __always_inline void mark_entry_level(struct cgroup *cgrp)
{
	__u32 level = BPF_CORE_READ(cgrp, level);
	__u32 *made = bpf_map_lookup_elem(&entry_levels, &level);

	if (made)
		*made = 1;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(lockc_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	struct mkdir_scratch *sc = bpf_map_lookup_elem(&mkdir_space, &zero);
	struct lockc_settings *cfg = bpf_map_lookup_elem(&settings, &zero);
	struct subject parent;
	__u64 id;

	if (!sc || !cfg)
		return 0;

	/* A cgroup inside a container inherits the container's entry: never
	 * give it one of its own here, or a container could weaken itself by
	 * creating a cgroup with a registered or container-like name. */
	struct cgroup *parent_cgrp = (struct cgroup *)BPF_CORE_READ(cgrp, self.parent);

	subject_of_cgroup(parent_cgrp, &parent);
	if (parent.policy)
		return 0;

	__builtin_memset(sc->name.name, 0, sizeof(sc->name.name));
	long n = bpf_probe_read_kernel_str(sc->name.name, sizeof(sc->name.name),
					   BPF_CORE_READ(cgrp, kn, name));
	if (n <= 1)
		return 0;
	id = BPF_CORE_READ(cgrp, kn, id);

	struct lockc_policy *want = bpf_map_lookup_elem(&pending, &sc->name);

	if (want) {
		struct lockc_policy p = *want;

		p.origin = LOCKC_ORIGIN_PENDING;
		mark_entry_level(cgrp);
		advance_policy_generation();
		if (bpf_map_update_elem(&policies, &id, &p, BPF_ANY))
			count_classify_failure();
		advance_policy_generation();
		/* One-shot: the name belongs to this cgroup now. */
		bpf_map_delete_elem(&pending, &sc->name);
		return 0;
	}

	__u32 len = n - 1;
	__u8 count = cfg->pattern_count;

	/* The parent directory's name, for patterns that name one. */
	__builtin_memset(sc->parent, 0, sizeof(sc->parent));
	if (parent_cgrp)
		bpf_probe_read_kernel_str(sc->parent, sizeof(sc->parent),
					  BPF_CORE_READ(parent_cgrp, kn, name));
	for (int i = 0; i < LOCKC_MAX_PATTERNS; i++) {
		if (i >= count)
			break;
		if (!name_matches(sc->name.name, len, sc->parent, &cfg->patterns[i]))
			continue;
		struct lockc_policy p = {
		    .level = cfg->default_level,
		    .mode = cfg->default_mode,
		    .phase = LOCKC_PHASE_SETUP,
		    .origin = LOCKC_ORIGIN_PATTERN,
		};
		mark_entry_level(cgrp);
		/* BPF_NOEXIST: an entry user space registered first wins. */
		advance_policy_generation();
		int err = map_update_result(bpf_map_update_elem(&policies, &id, &p, BPF_NOEXIST));

		advance_policy_generation();

		if (err && err != -EEXIST)
			count_classify_failure(); /* e.g. the map is full */
		return 0;
	}
	return 0;
}

/* A removed cgroup's entry can never match again (ids are not reused):
 * drop it so the map holds live containers only. */
SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(lockc_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	__u64 id = BPF_CORE_READ(cgrp, kn, id);

	advance_policy_generation();
	bpf_map_delete_elem(&policies, &id);
	advance_policy_generation();
	return 0;
}

/* ---- drivers registering a major ---------------------------------------- */

/* Counted where a driver's major could not be ruled (dev_rules full): its
 * devices stay open to containers until the rules are applied again. */
static __always_inline void count_driver_rule_failure(void)
{
	struct lockc_counters *c = bpf_map_lookup_elem(&counters, &zero);

	if (c)
		c->driver_rule_failures++;
}

/* The rule in `rules` (driver_rules or misc_rules) that names this driver
 * or device, if any. */
static __always_inline struct lockc_rule *rule_named(void *rules, const char *name)
{
	struct lockc_driver_key key;

	__builtin_memset(&key, 0, sizeof(key));
	if (bpf_probe_read_kernel_str(key.name, sizeof(key.name), name) <= 0)
		return NULL;
	return bpf_map_lookup_elem(rules, &key);
}

static __always_inline struct lockc_rule *rule_of_driver(const char *name)
{
	return rule_named(&driver_rules, name);
}

/* A driver that `rule` names has just registered `major` (all its minors):
 * the rule applies to that major from now on, before any device node of
 * the driver can be opened. Loading a module is not a container's doing
 * (lockc denies it to containers); this closes the gap between a module
 * loaded after the rules and the next time user space applies them. A rule
 * already there for the major stays: one for the device itself decides,
 * as when user space compiles the rules (or it is this driver's own, from
 * an earlier load). */
static __always_inline void rule_major(struct lockc_rule *rule, __u32 major)
{
	struct lockc_dev_key dev = {.type = LOCKC_DEV_CHAR, .major = major, .minor = LOCKC_DEV_ANY};
	int err = map_update_result(bpf_map_update_elem(&dev_rules, &dev, rule, BPF_NOEXIST));

	if (err && err != -EEXIST)
		count_driver_rule_failure(); /* dev_rules is full */
}

/* The kernel has just handed `dev` (a driver's major, or a misc device's
 * minor) to a driver or device that `rule` names, or that no rule names
 * (NULL). A rule of a driver on it (LOCKC_RULE_OF_DRIVER) was left by one
 * that has since gone: it is replaced by this one's rule, or dropped, so
 * that nothing inherits another's rule. A rule for the device itself
 * (without the flag) stays, as in rule_major(). */
static __always_inline void rule_handed_out(struct lockc_rule *rule, struct lockc_dev_key *dev)
{
	struct lockc_rule *held = bpf_map_lookup_elem(&dev_rules, dev);

	if (held && !(held->flags & LOCKC_RULE_OF_DRIVER))
		return; /* the device's own rule decides */
	if (!rule) {
		if (held)
			bpf_map_delete_elem(&dev_rules, dev);
		return;
	}
	int err = map_update_result(bpf_map_update_elem(&dev_rules, dev, rule, BPF_ANY));

	if (err)
		count_driver_rule_failure(); /* dev_rules is full */
}

/* A driver got `major` from the kernel's dynamic range, which hands out
 * only a major that no region holds (find_dynamic_major(), under the lock
 * that registration holds), so a driver's rule on it is a departed
 * driver's. The one case this would get wrong needs a driver to register a
 * fixed major inside the dynamic range between the allocation and this
 * program: loading drivers is the host's doing, and lockc denies it to
 * containers. */
static __always_inline void rule_dynamic_major(struct lockc_rule *rule, __u32 major)
{
	struct lockc_dev_key dev = {.type = LOCKC_DEV_CHAR, .major = major, .minor = LOCKC_DEV_ANY};

	rule_handed_out(rule, &dev);
}

/* The three ways a driver gets a character major; the kernel's own
 * (misc, mem, tty) use the last two with fixed numbers. */
SEC("fexit/alloc_chrdev_region")
int BPF_PROG(lockc_chrdev_alloc, dev_t *dev, unsigned int baseminor, unsigned int count,
	     const char *name, int ret)
{
	dev_t first;

	if (ret != 0)
		return 0;
	/* Every driver, named by a rule or not: its major may hold a rule
	 * that an unloaded driver left. */
	struct lockc_rule *rule = rule_of_driver(name);

	if (bpf_probe_read_kernel(&first, sizeof(first), dev)) {
		if (rule)
			count_driver_rule_failure();
		return 0;
	}
	rule_dynamic_major(rule, first >> MINORBITS);
	return 0;
}

SEC("fexit/__register_chrdev")
int BPF_PROG(lockc_chrdev_register, unsigned int major, unsigned int baseminor, unsigned int count,
	     const char *name, const struct file_operations *fops, int ret)
{
	/* With major 0 the kernel picks one and returns it; else returns 0. */
	if (ret < 0 || (major == 0 && ret == 0))
		return 0;
	struct lockc_rule *rule = rule_of_driver(name);

	if (major == 0)
		rule_dynamic_major(rule, (__u32)ret);
	else if (rule)
		rule_major(rule, major);
	return 0;
}

/* A region may span majors, each of them the driver's. Past
 * LOCKC_REGION_MAJORS of them (no driver named by a rule takes so many) the
 * rest are counted as not ruled. */
#define LOCKC_REGION_MAJORS 8
SEC("fexit/register_chrdev_region")
int BPF_PROG(lockc_chrdev_region, dev_t from, unsigned int count, const char *name, int ret)
{
	if (ret != 0 || count == 0)
		return 0;
	struct lockc_rule *rule = rule_of_driver(name);

	if (!rule)
		return 0;
	__u32 first = from >> MINORBITS;
	__u32 last = (__u32)(((__u64)from + count - 1) >> MINORBITS);

	for (__u32 i = 0; i < LOCKC_REGION_MAJORS; i++) {
		if (first + i > last)
			return 0;
		rule_major(rule, first + i);
	}
	count_driver_rule_failure();
	return 0;
}

/* A misc device registered: its minor, fixed or picked by the kernel, is
 * free until this succeeds, so a misc device's rule on it
 * (LOCKC_RULE_OF_DRIVER) was left by a device that has since gone. As for
 * a dynamic major (rule_handed_out()): this device's rule replaces it, or
 * it is dropped; a rule for the number itself stays. A device that goes
 * keeps its rule on the minor until the minor is handed out again, which
 * denies nothing that exists meanwhile. */
SEC("fexit/misc_register")
int BPF_PROG(lockc_misc_register, struct miscdevice *misc, int ret)
{
	if (ret != 0)
		return 0;
	int minor = BPF_CORE_READ(misc, minor);

	if (minor < 0)
		return 0;
	struct lockc_dev_key dev = {
	    .type = LOCKC_DEV_CHAR, .major = LOCKC_MISC_MAJOR, .minor = (__u32)minor};

	rule_handed_out(rule_named(&misc_rules, BPF_CORE_READ(misc, name)), &dev);
	return 0;
}

/* ---- container life cycle ------------------------------------------------ */

/* pivot_root(2) is the runtime entering the container's root filesystem. */
SEC("lsm/sb_pivotroot")
int BPF_PROG(lockc_sb_pivotroot, const struct path *old_path, const struct path *new_path)
{
	struct subject s;

	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	if (s.policy->phase == LOCKC_PHASE_RUNNING) {
		/* A running restricted container may not rearrange its mounts;
		 * baseline may (it only reaches what it already sees). */
		if (level_of(&s) == LOCKC_LEVEL_RESTRICTED)
			return deny(&s, LOCKC_HOOK_SB_PIVOTROOT, LOCKC_TARGET_NONE, NULL);
		return 0;
	}
	s.policy->phase = LOCKC_PHASE_PIVOTED;
	return 0; /* the runtime's own pivot during setup */
}

/* runc --no-pivot moves the rootfs and chroots instead of pivot_root. */
SEC("lsm/path_chroot")
int BPF_PROG(lockc_path_chroot, const struct path *path)
{
	struct subject s;

	current_subject(&s);
	if (confined(&s) && s.policy->phase == LOCKC_PHASE_SETUP)
		s.policy->phase = LOCKC_PHASE_PIVOTED;
	/* chroot itself is allowed: it only narrows what a task sees. */
	return 0;
}

/* The first exec after the pivot is the container's own program. */
SEC("lsm/bprm_committed_creds")
int BPF_PROG(lockc_bprm_committed_creds, struct linux_binprm *bprm)
{
	struct subject s;

	current_subject(&s);
	if (s.policy && s.policy->phase == LOCKC_PHASE_PIVOTED)
		s.policy->phase = LOCKC_PHASE_RUNNING;
	return 0;
}

/* ---- mounts --------------------------------------------------------------- */

/* True when the string has a ".." component: the kernel would resolve it,
 * so prefix rules on the string would mean nothing. */
static __always_inline bool has_dotdot(const char *p, long len)
{
	for (int i = 0; i + 2 < LOCKC_PATH_LEN; i++) {
		if (i + 1 >= len)
			break;
		if (p[i] != '.' || p[i + 1] != '.')
			continue;
		bool start = i == 0 || p[(i - 1) & 0xff] == '/';
		bool end = i + 2 >= len || p[(i + 2) & 0xff] == '/';

		if (start && end)
			return true;
	}
	return false;
}

struct walk_ctx {
	__u64 dentry, vfsmount, mount; /* where the walk is */
	__u64 root, root_mnt;	       /* the task's root */
	__u32 depth;		       /* dentries in scratch.chain */
	int reached;		       /* 1: the task's root; -1: gave up */
};

/* One step up from w->dentry: to its parent, or across the mount it is the
 * root of to where that is mounted. Leaf first into scratch.chain. */
static long walk_step(__u32 i, void *data)
{
	struct walk_ctx *w = data;
	struct dentry *d = (struct dentry *)w->dentry;
	struct vfsmount *vmnt = (struct vfsmount *)w->vfsmount;

	if (w->dentry == w->root && w->vfsmount == w->root_mnt) {
		w->reached = 1;
		return 1;
	}
	if (d == BPF_CORE_READ(vmnt, mnt_root)) {
		struct mount *mnt = (struct mount *)w->mount;
		struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);

		if (parent == mnt) {
			w->reached = -1; /* the namespace's root, above the task's */
			return 1;
		}
		w->dentry = (__u64)BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mount = (__u64)parent;
		w->vfsmount = (__u64)parent + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	struct scratch *sc = bpf_map_lookup_elem(&scratch_space, &zero);

	if (!sc || w->depth >= LOCKC_FS_WALK_DEPTH) {
		w->reached = -1; /* deeper than we walk */
		return 1;
	}
	sc->chain[BOUND(w->depth, LOCKC_FS_WALK_DEPTH - 1)] = w->dentry;
	w->depth++;
	w->dentry = (__u64)BPF_CORE_READ(d, d_parent);
	return 0;
}

/*
 * The path of a mount point as the current task sees it from its root, as
 * d_path would write it, in sc->buf (NUL-terminated); its length, or -1
 * when it is deeper than we walk or not below the task's root.
 */
static __always_inline long path_from_root(struct scratch *sc, const struct path *target)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct vfsmount *vmnt = BPF_CORE_READ(target, mnt);
	struct walk_ctx w = {
	    .dentry = (__u64)BPF_CORE_READ(target, dentry),
	    .vfsmount = (__u64)vmnt,
	    .mount = (__u64)container_of(vmnt, struct mount, mnt),
	    .root = (__u64)BPF_CORE_READ(task, fs, root.dentry),
	    .root_mnt = (__u64)BPF_CORE_READ(task, fs, root.mnt),
	};

	/* bpf_loop: the verifier checks one step, not every path through
	 * LOCKC_FS_WALK_DEPTH of them. Mount crossings count as steps. */
	bpf_loop(2 * LOCKC_FS_WALK_DEPTH, walk_step, &w, 0);
	if (w.reached != 1)
		return -1;
	if (!w.depth) {
		sc->buf[0] = '/';
		sc->buf[1] = 0;
		return 1;
	}
	struct compose_ctx c = {.pos = 0, .depth = w.depth};

	bpf_loop(w.depth, compose_component, &c, 0);
	if (c.pos >= LOCKC_PATH_LEN)
		return -1;
	sc->buf[BOUND(c.pos, LOCKC_SCRATCH_LEN / 2 - 1)] = 0;
	return c.pos;
}

struct compare_ctx {
	int same;
};

/* Whether scratch.buf and scratch.key.path agree at i (bpf_loop: one
 * step to verify, not one per possible length). */
static long compare_step(__u32 i, void *data)
{
	struct compare_ctx *c = data;
	struct scratch *sc = bpf_map_lookup_elem(&scratch_space, &zero);

	if (!sc || i >= LOCKC_PATH_LEN ||
	    sc->buf[BOUND(i, LOCKC_SCRATCH_LEN / 2 - 1)] != sc->key.path[BOUND(i, 0xff)]) {
		c->same = 0;
		return 1;
	}
	return 0;
}

/* The fd number of a "/proc/self/fd/<n>" source, or -1. */
static __always_inline long proc_self_fd_number(const char *p, long len)
{
	const char prefix[] = "/proc/self/fd/";
	const int plen = sizeof(prefix) - 1;
	long fd = 0;

	if (len <= plen || len > plen + 7)
		return -1;
	for (int i = 0; i < plen; i++) {
		if (p[i] != prefix[i])
			return -1;
	}
	for (int i = plen; i < plen + 7; i++) {
		if (i >= len)
			break;
		char c = p[i];

		if (c < '0' || c > '9')
			return -1;
		fd = fd * 10 + (c - '0');
	}
	return fd;
}

/*
 * Runtimes bind a path onto itself before they pivot: runc its rootfs (so
 * that it is a mount point for pivot_root), crun masked and read-only paths
 * through an O_PATH fd it opened inside the new root ("/proc/self/fd/8"
 * onto proc/bus). Binding a path onto itself shows nothing that is not
 * already there, so it is allowed when the source is the mount point:
 * - "/proc/self/fd/<n>": the task's fd n is the very mount point (same
 *   mount, same dentry), read from its file table;
 * - a path: it is the mount point's path from the task's root, as d_path
 *   writes it. Such a string has no "." or ".." and crosses no symlink the
 *   source lookup may not follow (inode_follow_link), so the kernel's
 *   lookup after this hook arrives at the same place.
 * Only the runtime itself could race either (another of its threads
 * replacing fd n or the mounts); during setup no code of the container
 * runs yet.
 */
static __always_inline bool binds_onto_itself(struct scratch *sc, long len,
					      const struct path *target)
{
	long fd = proc_self_fd_number(sc->key.path, len);

	if (fd < 0) {
		long n = path_from_root(sc, target);

		if (n != len || n <= 0)
			return false;
		struct compare_ctx c = {.same = 1};

		bpf_loop(n, compare_step, &c, 0);
		return c.same;
	}
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned int max_fds = BPF_CORE_READ(fdt, max_fds);

	if ((unsigned long)fd >= max_fds)
		return false;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;

	if (bpf_probe_read_kernel(&file, sizeof(file), fds + fd) || !file)
		return false;
	return BPF_CORE_READ(file, f_path.dentry) == BPF_CORE_READ(target, dentry) &&
	       BPF_CORE_READ(file, f_path.mnt) == BPF_CORE_READ(target, mnt);
}

SEC("lsm/sb_mount")
int BPF_PROG(lockc_sb_mount, const char *dev_name, const struct path *path, const char *type,
	     unsigned long flags, void *data)
{
	struct subject s;
	struct scratch *sc;

	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	__u8 level = level_of(&s);

	if (level == LOCKC_LEVEL_RESTRICTED && s.policy->phase == LOCKC_PHASE_RUNNING)
		return deny(&s, LOCKC_HOOK_SB_MOUNT, LOCKC_TARGET_PATH, dev_name);

	/* Remounts change flags of mounts the task already has, propagation
	 * changes their sharing; MS_MOVE moves a mount inside the task's own
	 * namespace. None of them brings anything new into view. */
	if (flags & (MS_REMOUNT | MS_MOVE))
		return 0;
	if (!(flags & MS_BIND))
		/* A propagation change or a new filesystem: new superblocks are
		 * checked in sb_kern_mount, which sees the real fs type. */
		return 0;

	/* A bind mount. */
	sc = get_scratch();
	if (!sc || !dev_name)
		return deny(&s, LOCKC_HOOK_SB_MOUNT, LOCKC_TARGET_PATH, dev_name);
	long len = string_key(&sc->key, dev_name);

	/* A source longer than the key was cut: its unread tail could hold
	 * ".." components, so only sources read whole are judged. */
	if (len <= 0 || len >= LOCKC_PATH_LEN - 1 || sc->key.path[0] != '/' ||
	    has_dotdot(sc->key.path, len))
		return deny(&s, LOCKC_HOOK_SB_MOUNT, LOCKC_TARGET_PATH, dev_name);
	/* Once the container has entered its root filesystem, a source names
	 * something the container already sees (its rootfs, its vetted
	 * volumes, its own proc and sysfs whose files are decided by their
	 * in-filesystem paths); magic links to other tasks' roots pass the
	 * ptrace hook. runc binds /proc/bus & co. onto themselves then. */
	if (s.policy->phase != LOCKC_PHASE_SETUP)
		return 0;
	if (binds_onto_itself(sc, len, path))
		return 0;
	/* During setup the runtime still sees the host: the source must be
	 * under an allowed prefix (runtime storage, volumes). */
	finish_key(&sc->key, LOCKC_SPACE_MOUNT_SOURCE, len);

	bool found;
	__u8 d = path_rule_deny(&sc->key, level, &found);

	if (!found || d)
		return deny(&s, LOCKC_HOOK_SB_MOUNT, LOCKC_TARGET_PATH, dev_name);
	return 0; /* source under an allow-listed prefix (runtime storage...) */
}

/*
 * The kernel resolves a bind source after sb_mount, following symlinks: a
 * symlink under an allowed prefix (say /home/u/x -> /) would bind what the
 * prefix rule never saw. While a container is being set up, the source
 * lookup of its bind mounts may not follow symlinks other than procfs's own
 * (/proc/self, /proc/self/fd/N, whose targets the task holds already; those
 * of other tasks pass the ptrace hook). The source lookup is the one in
 * mount(2) with LOOKUP_AUTOMOUNT (do_loopback); the target lookup has no
 * such flag and may cross symlinks (runc's state dir under /var/run).
 * x86-64 syscall numbers.
 */
#define NR_mount 165
#define LOOKUP_AUTOMOUNT 0x0004
SEC("lsm/inode_follow_link")
int BPF_PROG(lockc_inode_follow_link, struct dentry *dentry, struct inode *inode, bool rcu)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	struct subject s;

	/* Every symlink on the system passes here: cheap tests first. */
	if (BPF_CORE_READ(regs, orig_ax) != NR_mount)
		return 0; /* not inside mount(2) */
	if (!(BPF_CORE_READ(task, nameidata, flags) & LOOKUP_AUTOMOUNT))
		return 0; /* the mount point's lookup, not the bind source's */
	if (BPF_CORE_READ(dentry, d_sb, s_magic) == PROC_SUPER_MAGIC)
		return 0; /* procfs links: see above */
	current_subject(&s);
	if (!confined(&s) || s.policy->phase != LOCKC_PHASE_SETUP)
		return 0; /* outside setup bind sources are not checked by prefix */
	return deny(&s, LOCKC_HOOK_SB_MOUNT, LOCKC_TARGET_PATH,
		    (const char *)BPF_CORE_READ(dentry, d_name.name));
}

/* Every new superblock, from mount(2) or fsconfig(2): the real fs type. */
SEC("lsm/sb_kern_mount")
int BPF_PROG(lockc_sb_kern_mount, const struct super_block *sb)
{
	struct subject s;

	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	__u8 level = level_of(&s);
	const char *fstype = BPF_CORE_READ(sb, s_type, name);

	/* A running restricted container's mount(2) was decided in sb_mount
	 * already; through fsconfig(2) it can only get a detached tree, which
	 * move_mount keeps detached. Both paths meet the type rules here. */
	/* Block-device filesystems expose the host's disks. */
	if (BPF_CORE_READ(sb, s_bdev))
		return deny(&s, LOCKC_HOOK_SB_KERN_MOUNT, LOCKC_TARGET_FS_TYPE, fstype);

	__u64 magic = BPF_CORE_READ(sb, s_magic);
	struct lockc_fs_rule *r = bpf_map_lookup_elem(&fs_rules, &magic);

	if (!r || r->mount_deny[level & 3])
		return deny(&s, LOCKC_HOOK_SB_KERN_MOUNT, LOCKC_TARGET_FS_TYPE, fstype);
	return 0; /* an allow-listed fs type (proc, sysfs, tmpfs, ...) */
}

/* move_mount(2) attaches detached trees (open_tree, fsmount). runc 1.1 and
 * the engines of Debian 12 do not use it; deny it to confined containers
 * rather than reason about detached trees of unknown origin. */
SEC("lsm/move_mount")
int BPF_PROG(lockc_move_mount, const struct path *from_path, const struct path *to_path)
{
	struct subject s;

	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	return deny(&s, LOCKC_HOOK_MOVE_MOUNT, LOCKC_TARGET_NONE, NULL);
}

/* ---- file opens ------------------------------------------------------------ */

/* The file_open program's denials (see deny_now()). */
static __always_inline int deny_open(enum lockc_target_kind kind, const char *target, __u32 size)
{
	return deny_now(LOCKC_HOOK_FILE_OPEN, kind, target, size);
}

/* Writes "<prefix>:<path>" to sc->buf, the path being the len bytes
 * fs_internal_path() left in sc->key (and whatever finish_key() appended
 * after them, which the report drops). The prefix is cut to 31 bytes. */
static __always_inline void compose_fs_path(struct scratch *sc, const char *prefix, long len)
{
	long n = bpf_probe_read_kernel_str(sc->buf, 32, prefix);

	if (n <= 0)
		n = 1;
	__u32 at = BOUND(n - 1, 31);
	sc->buf[at] = ':';
	bpf_probe_read_kernel_str(&sc->buf[BOUND(at + 1, 31)], LOCKC_PATH_LEN, sc->key.path);
	if (len < LOCKC_PATH_LEN)
		sc->buf[BOUND(at + 1 + len, LOCKC_SCRATCH_LEN - 1)] = 0;
}

/* Denies an open reported as "<fstype>:<path>" (see compose_fs_path()). */
static __always_inline int deny_open_fs_path(struct scratch *sc, const char *fstype, long len)
{
	compose_fs_path(sc, fstype, len);
	return deny_open(LOCKC_TARGET_FS_PATH, sc->buf, 0);
}

/* ---- cgroup v2 files ---------------------------------------------------- */

#define CGROUP2_SUPER_MAGIC 0x63677270
#define LOCKC_CGROUP_FILE_NAME 24
#define LOCKC_PID_NS_MAX_LEVEL 32 /* the kernel's MAX_PID_NS_LEVEL */

/* The level at which the cgroup `id` is cgrp or an ancestor of it; -1 if
 * it is neither, or lies deeper than LOCKC_CGROUP_MAX_DEPTH (where
 * current_subject() stops looking for entries too). */
static __noinline int ancestor_level(struct cgroup *cgrp, __u64 id)
{
	if (!cgrp)
		return -1;
	int level = BPF_CORE_READ(cgrp, level);

	for (int i = 0; i <= LOCKC_CGROUP_MAX_DEPTH; i++) {
		if (i > level)
			break;
		struct cgroup *anc = cgroup_ancestor(cgrp, i);

		if (anc && BPF_CORE_READ(anc, kn, id) == id)
			return i;
	}
	return -1;
}

/* Whether the init of the caller's PID namespace runs in the cgroup `id`
 * or below: the tasks it can name by pid are then its container's, but
 * for a host task that joined the namespace and not the cgroup (nsenter
 * -p). Not so in the host's namespace (--pid=host) or one shared with
 * another container (--pid=container:...). */
static __always_inline bool pid_namespace_within(struct task_struct *task, __u64 id)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);

	if (level == 0 || level > LOCKC_PID_NS_MAX_LEVEL)
		return false;
	struct upid *numbers = (void *)pid + bpf_core_field_offset(struct pid, numbers);
	struct pid_namespace *ns = BPF_CORE_READ(numbers + level, ns);
	struct task_struct *init = BPF_CORE_READ(ns, child_reaper);

	return init && ancestor_level(BPF_CORE_READ(init, cgroups, dfl_cgrp), id) >= 0;
}

/* The cgroup of a cgroup v2 directory, or of the directory holding a
 * file. An inode of kernfs holds its node as private data; a directory's
 * node holds its cgroup (the root's too), a file's its cftype. */
static __always_inline struct cgroup *cgroup_of_dentry(struct dentry *dentry)
{
	struct inode *inode = BPF_CORE_READ(dentry, d_inode);

	if (!inode)
		return NULL;
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFDIR)
		inode = BPF_CORE_READ(dentry, d_parent, d_inode);
	struct kernfs_node *kn = BPF_CORE_READ(inode, i_private);

	return BPF_CORE_READ(kn, priv);
}

static __always_inline bool cgroup_file_is(const char *name, const char *want)
{
	for (int i = 0; i < LOCKC_CGROUP_FILE_NAME; i++) {
		if (name[i] != want[i])
			return false;
		if (!want[i])
			return true;
	}
	return false;
}

/*
 * A cgroup v2 file opened for writing by a confined task. A container that
 * shares the host's cgroup namespace (docker run --cgroupns=host) sees the
 * host's whole hierarchy, writable with --privileged. One write of "0" to
 * another cgroup's cgroup.procs then moves the writer out of its
 * container's cgroup, and so out of every check lockc makes; cgroup.kill
 * and cgroup.freeze stop host services (lockcd too: cgroup.kill signals
 * without task_kill), and resource files starve the host. A confined task
 * may write:
 * - the files of cgroups below its container's, as a runtime or systemd
 *   inside it does;
 * - of its container's own cgroup, only cgroup.procs, cgroup.threads and
 *   cgroup.subtree_control: what the kernel's nsdelegate leaves to a
 *   namespace's root (not its own limits);
 * - cgroup.procs and cgroup.threads only from a cgroup namespace whose root
 *   lies in its container, so that no task can be moved out; and so that
 *   no host task can be moved in, where it would share the container's
 *   entry, either on a hierarchy mounted with nsdelegate (as systemd
 *   mounts it), where the kernel keeps both ends of every migration
 *   through the file inside the opener's namespace, or, without it, from
 *   a PID namespace of the container's own (pid_namespace_within()). A
 *   container started with --cgroupns=host clears nsdelegate for the
 *   whole host when runc mounts cgroup2 for it (seen on 6.12). The kernel
 *   judges by the namespaces of the opener, as here.
 */
static __noinline int check_cgroup_write(struct file *file)
{
	struct subject s;

	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
	struct cgroup *cgrp = cgroup_of_dentry(dentry);
	char name[LOCKC_CGROUP_FILE_NAME] = {};

	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(dentry, d_name.name));
	bool migration =
	    cgroup_file_is(name, "cgroup.procs") || cgroup_file_is(name, "cgroup.threads");
	bool delegated = migration || cgroup_file_is(name, "cgroup.subtree_control");
	int at = ancestor_level(cgrp, s.policy_cgroup_id);
	bool allowed = at >= 0 && (at < BPF_CORE_READ(cgrp, level) || delegated);

	if (allowed && migration) {
		struct task_struct *task = bpf_get_current_task_btf();
		struct cgroup *ns_root =
		    BPF_CORE_READ(task, nsproxy, cgroup_ns, root_cset, dfl_cgrp);
		/* An anonymous enum in the kernel's BTF, so not relocatable;
		 * the bit has been 1 << 3 since nsdelegate came (4.13). */
		__u32 nsdelegate = CGRP_ROOT_NS_DELEGATE;

		allowed = ancestor_level(ns_root, s.policy_cgroup_id) >= 0 &&
			  ((BPF_CORE_READ(cgrp, root, flags) & nsdelegate) ||
			   pid_namespace_within(task, s.policy_cgroup_id));
	}
	if (allowed)
		return 0;
	struct scratch *sc = get_scratch();

	if (!sc)
		return deny_open(LOCKC_TARGET_NONE, NULL, 0);
	long len = fs_internal_path(sc, dentry);

	if (len < 0) {
		/* Deeper than we walk: reported by the filesystem alone. */
		bpf_probe_read_kernel_str(sc->buf, 64, "cgroup2");
		return deny_open(LOCKC_TARGET_FS_TYPE, sc->buf, 0);
	}
	return deny_open_fs_path(sc, "cgroup2", len);
}

/*
 * A change to the cgroup tree rather than to what a file holds: a cgroup
 * made or removed, a mode or an owner changed. A container sharing the
 * host's cgroup namespace reaches the host's tree with these too: rmdir
 * removes the empty cgroups systemd keeps for units between their
 * processes, mkdir fills the tree up to cgroup.max.descendants, and chmod
 * or chown hands a host cgroup to a host user (systemd's Delegate= is a
 * chown). A confined task may change only its container's part of the
 * tree: `cgrp`, the cgroup changed, must lie below its container's
 * cgroup, or be that cgroup where `own_too` (mkdir, whose new cgroup lies
 * below). Reported under cgroup_tree as "<op>:<path of dentry>".
 */
static __noinline int check_cgroup_tree(struct cgroup *cgrp, bool own_too, struct dentry *dentry,
					const char *op)
{
	struct subject s;

	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	int at = ancestor_level(cgrp, s.policy_cgroup_id);

	if (at >= 0 && (own_too || at < BPF_CORE_READ(cgrp, level)))
		return 0;
	struct scratch *sc = get_scratch();

	if (!sc)
		return deny(&s, LOCKC_HOOK_CGROUP_TREE, LOCKC_TARGET_NONE, NULL);
	long len = fs_internal_path(sc, dentry);

	if (len < 0) {
		/* Deeper than we walk: reported by the operation alone. */
		bpf_probe_read_kernel_str(sc->buf, 32, op);
		return deny(&s, LOCKC_HOOK_CGROUP_TREE, LOCKC_TARGET_OTHER, sc->buf);
	}
	compose_fs_path(sc, op, len);
	return deny(&s, LOCKC_HOOK_CGROUP_TREE, LOCKC_TARGET_OTHER, sc->buf);
}

static __always_inline bool on_cgroup2(struct dentry *dentry)
{
	return BPF_CORE_READ(dentry, d_sb, s_magic) == CGROUP2_SUPER_MAGIC;
}

/* A new cgroup is a child of the directory it is made in: that directory
 * may be the container's own cgroup (a runtime or systemd inside it makes
 * its cgroups there). */
SEC("lsm/path_mkdir")
int BPF_PROG(lockc_path_mkdir, const struct path *dir, struct dentry *dentry, umode_t mode)
{
	struct dentry *parent = BPF_CORE_READ(dir, dentry);

	if (!on_cgroup2(parent))
		return 0;
	return check_cgroup_tree(cgroup_of_dentry(parent), true, dentry, "mkdir cgroup2");
}

/* The cgroup removed must lie below the container's: the container's own
 * is its parent's to remove. */
SEC("lsm/path_rmdir")
int BPF_PROG(lockc_path_rmdir, const struct path *dir, struct dentry *dentry)
{
	if (!on_cgroup2(dentry))
		return 0;
	return check_cgroup_tree(cgroup_of_dentry(dentry), false, dentry, "rmdir cgroup2");
}

/* The container's own cgroup and its files included: who may write them
 * is its parent's to say, as nsdelegate has it. */
SEC("lsm/path_chmod")
int BPF_PROG(lockc_path_chmod, const struct path *path, umode_t mode)
{
	struct dentry *dentry = BPF_CORE_READ(path, dentry);

	if (!on_cgroup2(dentry))
		return 0;
	return check_cgroup_tree(cgroup_of_dentry(dentry), false, dentry, "chmod cgroup2");
}

/* As path_chmod. The owner arguments (kuid_t, kgid_t) are not read. */
SEC("lsm/path_chown")
int BPF_PROG(lockc_path_chown, const struct path *path)
{
	struct dentry *dentry = BPF_CORE_READ(path, dentry);

	if (!on_cgroup2(dentry))
		return 0;
	return check_cgroup_tree(cgroup_of_dentry(dentry), false, dentry, "chown cgroup2");
}

/*
 * Extended attributes, where systemd keeps what it knows of a unit's cgroup
 * (trusted.invocation_id, by which the journal names the unit's logs;
 * trusted.delegate), as chmod. The programs load only on kernels that ask
 * inode_xattr_skipcap before these hooks (Linux 6.10 on; see
 * optional_programs.cpp): before, the kernel made its own capability check
 * of security.* attributes only when every LSM returned this hook's
 * default, 1, and a program returning 0 to allow would have turned that
 * check off for every task. The first argument's type changed in 6.3
 * (struct mnt_idmap *); it is not read.
 */
SEC("?lsm/inode_setxattr")
int BPF_PROG(lockc_inode_setxattr, void *idmap, struct dentry *dentry)
{
	if (!on_cgroup2(dentry))
		return 0;
	return check_cgroup_tree(cgroup_of_dentry(dentry), false, dentry, "setxattr cgroup2");
}

SEC("?lsm/inode_removexattr")
int BPF_PROG(lockc_inode_removexattr, void *idmap, struct dentry *dentry)
{
	if (!on_cgroup2(dentry))
		return 0;
	return check_cgroup_tree(cgroup_of_dentry(dentry), false, dentry, "removexattr cgroup2");
}

static __always_inline int check_device(__u8 level, struct inode *inode, __u32 access,
					struct scratch *sc)
{
	umode_t mode = inode->i_mode;
	__u32 type;

	if ((mode & S_IFMT) == S_IFBLK)
		type = LOCKC_DEV_BLOCK;
	else if ((mode & S_IFMT) == S_IFCHR)
		type = LOCKC_DEV_CHAR;
	else
		return 0; /* not a device node */

	dev_t rdev = inode->i_rdev;
	struct lockc_dev_key k = {
	    .type = type, .major = rdev >> MINORBITS, .minor = rdev & MINORMASK};
	struct lockc_rule *r = bpf_map_lookup_elem(&dev_rules, &k);

	if (!r) {
		k.minor = LOCKC_DEV_ANY;
		r = bpf_map_lookup_elem(&dev_rules, &k);
	}
	if (!r) {
		k.major = LOCKC_DEV_ANY;
		r = bpf_map_lookup_elem(&dev_rules, &k);
	}
	if (!r || !(r->deny[level & 3] & access))
		return 0; /* no rule denies this device */

	__u64 args[2] = {rdev >> MINORBITS, rdev & MINORMASK};

	if (type == LOCKC_DEV_BLOCK)
		bpf_snprintf(sc->buf, 32, "b %u:%u", args, sizeof(args));
	else
		bpf_snprintf(sc->buf, 32, "c %u:%u", args, sizeof(args));
	return deny_open(LOCKC_TARGET_DEVICE, sc->buf, 0);
}

SEC("lsm/file_open")
int BPF_PROG(lockc_file_open, struct file *file)
{
	struct scratch *sc;
	/* Below LOCKC_LEVEL_COUNT; the mask tells the verifier, whose bounds
	 * of a value from either of current_level()'s paths are too weak. */
	__u8 level = BOUND(current_level(), 3);

	if (level == LOCKC_LEVEL_PRIVILEGED)
		return 0; /* host task or privileged container */
	sc = get_scratch();
	if (!sc)
		return deny_open(LOCKC_TARGET_NONE, NULL, 0);

	/* open_by_handle_at(2) opens by inode number, around the container's
	 * root and every path rule (the "shocker" escape; CAP_DAC_READ_SEARCH
	 * in privileged containers). x86-64 syscall number. */
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	if (regs->orig_ax == NR_open_by_handle_at) {
		bpf_probe_read_kernel_str(sc->buf, 32, "open_by_handle_at");
		return deny_open(LOCKC_TARGET_OTHER, sc->buf, 0);
	}

	/* Direct loads on this path, as in current_subject(). */
	fmode_t fmode = file->f_mode;
	__u32 access = 0;

	if (fmode & FMODE_READ)
		access |= LOCKC_ACCESS_READ;
	if (fmode & FMODE_WRITE)
		access |= LOCKC_ACCESS_WRITE;
	if (!access)
		/* O_PATH and similar: no data can be read or written. */
		access = LOCKC_ACCESS_READ;

	struct inode *inode = file->f_inode;
	int ret = check_device(level, inode, access, sc);

	if (ret)
		return ret;
	__u64 magic = inode->i_sb->s_magic;

	if (magic == CGROUP2_SUPER_MAGIC && (access & LOCKC_ACCESS_WRITE)) {
		ret = check_cgroup_write(file);
		if (ret)
			return ret;
	}

	/* What the rules can deny at all (see struct lockc_rule_summary); not
	 * ready: they are being replaced, look everything up. */
	struct lockc_rule_summary *summary = bpf_map_lookup_elem(&rule_summary, &zero);

	/* Filesystem rules, by superblock magic. */
	struct lockc_fs_rule *fr = NULL;
	__u32 bit = lockc_fs_filter_bit(magic);

	if (!summary || !summary->ready ||
	    (summary->fs_filter[BOUND(bit >> 6, LOCKC_FILTER_WORDS - 1)] & (1ULL << (bit & 63))))
		fr = bpf_map_lookup_elem(&fs_rules, &magic);
	if (fr && (fr->flags & LOCKC_FS_OPEN_BY_PATH)) {
		long len = fs_internal_path(sc, BPF_CORE_READ(file, f_path.dentry));
		const char *fstype = BPF_CORE_READ(inode, i_sb, s_type, name);

		if (len < 0) {
			/* Deeper than we walk: we cannot tell, so deny. */
			bpf_probe_read_kernel_str(sc->buf, 64, fstype);
			return deny_open(LOCKC_TARGET_FS_TYPE, sc->buf, 0);
		}
		finish_key(&sc->key, (__u32)magic, len);
		bool found;
		__u8 d = path_rule_deny(&sc->key, level, &found);

		if (d & access)
			return deny_open_fs_path(sc, fstype, len);
	} else if (fr && (fr->open_deny[level & 3] & access)) {
		bpf_probe_read_kernel_str(sc->buf, 64, BPF_CORE_READ(inode, i_sb, s_type, name));
		return deny_open(LOCKC_TARGET_FS_TYPE, sc->buf, 0);
	}

	/* Paths as the container sees them (e.g. service-account tokens).
	 * Composing one is the costliest step of an allowed open, and only
	 * restricted has such rules by default: skip it when no open-path
	 * rule denies this level this access. */
	if (summary && summary->ready && level < LOCKC_LEVEL_COUNT &&
	    !(summary->path_deny[level] & access))
		return 0;

	long n = bpf_d_path((struct path *)&file->f_path, sc->buf, LOCKC_SCRATCH_LEN);

	if (n <= 0)
		/* Longer than 512 bytes: only the rules of this space are
		 * skipped; device and filesystem rules above still applied. */
		return 0;
	/* The key needs the path's bytes only (the trie compares prefixlen
	 * bits), at most LOCKC_PATH_LEN of them. */
	__u32 size = n < LOCKC_PATH_LEN ? n : LOCKC_PATH_LEN;

	bpf_probe_read_kernel(sc->key.path, BOUND(size - 1, 0xff) + 1, sc->buf);
	n--; /* without NUL */
	finish_key(&sc->key, LOCKC_SPACE_OPEN_PATH, n > LOCKC_PATH_LEN ? LOCKC_PATH_LEN : n);
	bool found;
	__u8 d = path_rule_deny(&sc->key, level, &found);

	if (d & access)
		return deny_open(LOCKC_TARGET_PATH, sc->buf, n + 1);
	return 0; /* no rule denies this file */
}

/* ---- kernel interfaces a container never needs ------------------------ */

SEC("lsm/syslog")
int BPF_PROG(lockc_syslog, int type)
{
	struct subject s;

	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	return deny(&s, LOCKC_HOOK_SYSLOG, LOCKC_TARGET_NONE, NULL);
}

SEC("lsm/kernel_read_file")
int BPF_PROG(lockc_kernel_read_file, struct file *file, enum kernel_read_file_id id, bool contents)
{
	struct subject s;

	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	/* Modules, kexec images, policies, firmware, certificates: a
	 * container has no business feeding any of them to the kernel. */
	return deny(&s, LOCKC_HOOK_KERNEL_MODULE, LOCKC_TARGET_NONE, NULL);
}

SEC("lsm/kernel_load_data")
int BPF_PROG(lockc_kernel_load_data, enum kernel_load_data_id id, bool contents)
{
	struct subject s;

	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	return deny(&s, LOCKC_HOOK_KERNEL_MODULE, LOCKC_TARGET_NONE, NULL);
}

/* Automatic module loading on behalf of a container (e.g. socket(AF_X))
 * widens the kernel's attack surface. */
SEC("lsm/kernel_module_request")
int BPF_PROG(lockc_kernel_module_request, char *kmod_name)
{
	struct subject s;

	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	return deny(&s, LOCKC_HOOK_KERNEL_MODULE, LOCKC_TARGET_OTHER, kmod_name);
}

/* bpf(2) would reach lockc's own maps and programs. */
SEC("lsm/bpf")
int BPF_PROG(lockc_bpf, int cmd, union bpf_attr *attr, unsigned int size)
{
	struct subject s;

	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	return deny(&s, LOCKC_HOOK_BPF, LOCKC_TARGET_NONE, NULL);
}

SEC("lsm/perf_event_open")
int lockc_perf_event_open(unsigned long long *ctx)
{
	struct subject s;

	/* The hook was (attr, type) and is (type) since Linux 6.4; the first
	 * argument is a kernel pointer in the old form, 0..3 in the new. */
	__u64 type = ctx[0] <= 3 ? ctx[0] : ctx[1];

	/* One perf_event_open(2) asks again with PERF_SECURITY_CPU, _KERNEL
	 * or _TRACEPOINT after PERF_SECURITY_OPEN (0); deciding once per call
	 * is enough, and the first question already covers the call. */
	if (type != 0)
		return 0;
	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	return deny(&s, LOCKC_HOOK_PERF_EVENT, LOCKC_TARGET_NONE, NULL);
}

/* ---- the container boundary between tasks ------------------------------ */

/* Report the other task as "pid <n> <comm>". */
static __always_inline int deny_task(const struct subject *s, enum lockc_hook hook,
				     struct task_struct *other)
{
	char comm[LOCKC_COMM_LEN];

	BPF_CORE_READ_STR_INTO(&comm, other, comm);
	__u64 args[2] = {BPF_CORE_READ(other, tgid), (__u64)comm};

	return deny_formatted(s, hook, LOCKC_TARGET_TASK, "pid %u %s", args, sizeof(args));
}

/* A confined task may only reach tasks of its own container. */
static __always_inline int check_other_task(enum lockc_hook hook, struct task_struct *other)
{
	struct subject s, o;

	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	subject_of_cgroup(task_cgroup(other), &o);
	if (o.policy && o.policy_cgroup_id == s.policy_cgroup_id)
		return 0; /* same container */
	return deny_task(&s, hook, other);
}

/* Also guards /proc/<pid>/{root,cwd,mem,environ,ns/...} of other tasks. */
SEC("lsm/ptrace_access_check")
int BPF_PROG(lockc_ptrace_access_check, struct task_struct *child, unsigned int mode)
{
	return check_other_task(LOCKC_HOOK_PTRACE, child);
}

SEC("lsm/ptrace_traceme")
int BPF_PROG(lockc_ptrace_traceme, struct task_struct *parent)
{
	return check_other_task(LOCKC_HOOK_PTRACE, parent);
}

SEC("lsm/task_kill")
int BPF_PROG(lockc_task_kill, struct task_struct *p, struct kernel_siginfo *info, int sig,
	     const struct cred *cred)
{
	return check_other_task(LOCKC_HOOK_TASK_KILL, p);
}

/* ---- signals through a file's owner ------------------------------------- */

/*
 * A file's owner (fcntl F_SETOWN or F_SETOWN_EX, the socket ioctls
 * FIOSETOWN and SIOCSPGRP) gets SIGIO, SIGURG or the signal F_SETSIG chose
 * when I/O happens on the file. The kernel sends those without
 * security_task_kill(), so lockc_task_kill never sees them, and SIGIO's
 * default action ends its target: a --pid=host container could end any
 * host process, lockcd too, by making it the owner of a pipe and writing to
 * the pipe. The send (file_send_sigiotask) happens in whatever context did
 * the I/O, where the owner's setter is no longer known, so the owner is
 * judged when it is set. A task in a PID namespace of its own names only
 * tasks of that namespace (its container's); one in the host's may make
 * itself (its process or its thread) the owner, or nobody. F_SETOWN's pid
 * is the argument itself; F_SETOWN_EX and the ioctls pass it in the
 * caller's memory, which another of its threads can change after a hook
 * has read it, so they are denied to a confined task of the host's PID
 * namespace. Reported under task_kill, as a signal across the boundary.
 */
static __always_inline int check_signal_owner(__s64 pid, const char *how)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct subject s;

	if (BPF_CORE_READ(task, thread_pid, level) != 0)
		return 0; /* it names only tasks of its own PID namespace */
	if (!how &&
	    (pid == 0 || pid == BPF_CORE_READ(task, tgid) || pid == BPF_CORE_READ(task, pid)))
		return 0; /* nobody, or itself */
	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	if (how)
		return deny(&s, LOCKC_HOOK_TASK_KILL, LOCKC_TARGET_OTHER, how);
	__u64 args[1] = {pid};

	return deny_formatted(&s, LOCKC_HOOK_TASK_KILL, LOCKC_TARGET_OTHER, "signal owner %d", args,
			      sizeof(args));
}

#define F_SETOWN 8
#define F_SETOWN_EX 15

/* Every fcntl(2) of every task passes here: all but the two commands that
 * set an owner leave after comparing the command. */
SEC("lsm/file_fcntl")
int BPF_PROG(lockc_file_fcntl, struct file *file, unsigned int cmd, unsigned long arg)
{
	if (cmd == F_SETOWN)
		/* An int: negative names a process group, never the caller. */
		return check_signal_owner((int)arg, NULL);
	if (cmd == F_SETOWN_EX)
		return check_signal_owner(0, "signal owner by F_SETOWN_EX");
	return 0;
}

/* Connecting to a container engine's socket means starting containers of
 * any level. The listener's address is the name the host bound it to. */
SEC("lsm/unix_stream_connect")
int BPF_PROG(lockc_unix_stream_connect, struct sock *sock, struct sock *other, struct sock *newsk)
{
	struct scratch *sc;
	/* Bounded for the verifier, as in file_open. */
	__u8 level = BOUND(current_level(), 3);

	if (level == LOCKC_LEVEL_PRIVILEGED)
		return 0; /* host task or privileged container */
	sc = get_scratch();
	if (!sc)
		return deny_now(LOCKC_HOOK_UNIX_CONNECT, LOCKC_TARGET_NONE, NULL, 0);

	/* Direct loads through the helper's typed pointer, as in
	 * current_subject(): every connect of a confined task comes here. */
	struct unix_sock *listener = bpf_skc_to_unix_sock(other);

	if (!listener) /* not a unix socket */
		return deny_now(LOCKC_HOOK_UNIX_CONNECT, LOCKC_TARGET_NONE, NULL, 0);
	struct unix_address *addr = listener->addr;

	if (!addr)
		return 0; /* unbound listener: no name a rule could match */
	/* sun_path starts after sun_family (2 bytes). */
	int plen = addr->len - 2;
	const char *sun_path = (const char *)addr->name[0].sun_path;

	if (plen <= 0)
		return 0; /* unnamed socket */
	if (plen > LOCKC_PATH_LEN - 1)
		plen = LOCKC_PATH_LEN - 1;
	/* The kernel keeps the name's length: a bound path's with its NUL
	 * (unix_mkname_bsd() counts it with strlen), an abstract name's from
	 * its leading NUL on. */
	__u64 head = 0;
	int head_len = plen < LOCKC_SOCK_HEAD_LEN ? plen : LOCKC_SOCK_HEAD_LEN;
	__u32 head_size = BOUND(head_len - 1, LOCKC_SOCK_HEAD_LEN - 1) + 1;

	/* An unreadable name is denied. */
	if (bpf_probe_read_kernel(&head, head_size, sun_path) != 0)
		return deny_now(LOCKC_HOOK_UNIX_CONNECT, LOCKC_TARGET_NONE, NULL, 0);
	bool abstract = (head & 0xff) == 0;
	/* The name as shown and matched: an abstract one as "@name". */
	__u32 len = abstract ? plen : plen - 1;

	if (abstract)
		head |= '@';
	/* Whether any rule can match the name (see struct lockc_rule_summary;
	 * x86 is little-endian, so the u64 read is lockc_sock_head()). A name
	 * shorter than the head can match only a rule shorter than it. */
	struct lockc_rule_summary *summary = bpf_map_lookup_elem(&rule_summary, &zero);

	if (summary && summary->ready && !summary->sock_short) {
		if (len < LOCKC_SOCK_HEAD_LEN)
			return 0; /* no rule is this short */
		__u32 bit = lockc_sock_filter_bit(head);

		if (!(summary->sock_filter[BOUND(bit >> 6, LOCKC_FILTER_WORDS - 1)] &
		      (1ULL << (bit & 63))))
			return 0; /* no rule starts like this name */
	}
	/* One copy of the name's length, in 8-byte words. */
	if (bpf_probe_read_kernel(sc->key.path, BOUND(plen - 1, 0xff) + 1, sun_path) != 0)
		return deny_now(LOCKC_HOOK_UNIX_CONNECT, LOCKC_TARGET_NONE, NULL, 0);
	if (abstract)
		sc->key.path[0] = '@';
	finish_key(&sc->key, LOCKC_SPACE_UNIX_SOCKET, len);
	bool found;
	__u8 d = path_rule_deny(&sc->key, level, &found);

	if (!d)
		return 0; /* not a listed engine socket */
	/* The key is done with: the event's name is its path, cut where
	 * finish_key() put the '/' (len < LOCKC_PATH_LEN). */
	sc->key.path[BOUND(len, 0xff)] = 0;
	return deny_now(LOCKC_HOOK_UNIX_CONNECT, LOCKC_TARGET_SOCKET, sc->key.path, len + 1);
}

/* ---- capabilities over the whole host ----------------------------------- */

/* Capability numbers (include/uapi/linux/capability.h, a stable ABI;
 * vmlinux.h has no macros). */
#define LOCKC_CAP_NET_ADMIN 12
#define LOCKC_CAP_SYS_RAWIO 17
#define LOCKC_CAP_SYS_BOOT 22
#define LOCKC_CAP_SYS_TIME 25
#define LOCKC_CAP_AUDIT_CONTROL 30
/* security_capable()'s opts: the kernel only asks, to choose a behaviour
 * of its own, and wants no audit record (include/linux/security.h). */
#define LOCKC_CAP_OPT_NOAUDIT (1 << 1)

/*
 * Capabilities whose every use acts on the whole machine, never on the
 * container alone: a `--privileged` container has them all, and none of the
 * hooks above sees what they are used for.
 * - CAP_SYS_RAWIO: iopl(2) and ioperm(2) give raw port I/O (reset the
 *   machine, reprogram devices behind the kernel's back); also raw device
 *   I/O the file_open rules already stop.
 * - CAP_SYS_TIME: the host's clock (settimeofday, clock_settime, adjtimex,
 *   the RTC); time namespaces do not virtualise CLOCK_REALTIME.
 * - CAP_AUDIT_CONTROL: the host's audit rules and state (auditctl -D,
 *   -e 0): a container could switch off the host's audit trail.
 * - CAP_SYS_BOOT: reboot(2) and kexec_load(2), judged only in the host's
 *   PID namespace (--pid=host); in a container's own one reboot(2) ends
 *   the container alone.
 * - CAP_NET_ADMIN, judged only in the host's network namespace
 *   (--net=host): the host's interfaces, routes and firewall. In the
 *   container's own network namespace it configures that alone.
 * Docker's default capability set has none of them, and Kubernetes'
 * baseline allows none of them, nor the host's PID or network namespace;
 * so only containers given extra capabilities meet this. Returns the name
 * for the event, or NULL for a capability left alone.
 */
static __always_inline const char *host_wide_capability(int cap)
{
	switch (cap) {
	case LOCKC_CAP_SYS_RAWIO:
		return "CAP_SYS_RAWIO";
	case LOCKC_CAP_SYS_BOOT:
		return "CAP_SYS_BOOT";
	case LOCKC_CAP_SYS_TIME:
		return "CAP_SYS_TIME";
	case LOCKC_CAP_AUDIT_CONTROL:
		return "CAP_AUDIT_CONTROL";
	case LOCKC_CAP_NET_ADMIN:
		return "CAP_NET_ADMIN";
	default:
		return NULL;
	}
}

/* Every capability check of every task passes here: the cheap tests come
 * first, the entry lookup only for the capabilities above. */
SEC("lsm/capable")
int BPF_PROG(lockc_capable, const struct cred *cred, struct user_namespace *ns, int cap,
	     unsigned int opts)
{
	const char *name = host_wide_capability(cap);

	if (!name)
		return 0; /* not one that acts on the whole host */
	/* Only the initial user namespace's capability reaches the host; one
	 * in a user namespace of the container's own (a time namespace's
	 * offsets, say) reaches nothing outside it. */
	if (BPF_CORE_READ(ns, level) != 0)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();

	/* has_capability() of another task asks about that task's
	 * credentials: not a use by the caller. The caller's own are its
	 * subjective ones (current_cred()) or, asked as an object, its real
	 * ones. */
	if ((__u64)cred != (__u64)BPF_CORE_READ(task, cred) &&
	    (__u64)cred != (__u64)BPF_CORE_READ(task, real_cred))
		return 0;
	/* reboot(2) in a PID namespace of the container's own only ends it. */
	if (cap == LOCKC_CAP_SYS_BOOT && BPF_CORE_READ(task, thread_pid, level) != 0)
		return 0;
	/* Its own network namespace is the container's to configure. */
	if (cap == LOCKC_CAP_NET_ADMIN && !in_host_netns())
		return 0;
	struct subject s;

	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	if (opts & LOCKC_CAP_OPT_NOAUDIT)
		/* The kernel asks without acting on it: the same answer as an
		 * audited check, but no decision is counted or reported. */
		return lsm_ret(s.policy->mode == LOCKC_MODE_AUDIT ? 0 : -EPERM);
	return deny(&s, LOCKC_HOOK_CAPABLE, LOCKC_TARGET_OTHER, name);
}

/* ---- the host's network through a socket handed in ------------------------ */

/*
 * A socket stays in the network namespace it was made in. A socket of the
 * host's handed to a container with a network namespace of its own (over a
 * unix socket, or left open across an exec) would let the container act on
 * the host's network with CAP_NET_ADMIN. The kernel checks the capability
 * against the user namespace owning the socket's network namespace. For a
 * container without a user namespace of its own, that is the host's too,
 * and lockc_capable cannot tell the two apart: it sees the caller's network
 * namespace, the container's. These hooks look at the socket's instead.
 *
 * What a socket does with its own traffic (reads, writes, options of its
 * connection) is what the host handed over, and stays allowed: socket
 * activation hands containers the host's listening sockets, and their
 * connections are the host's namespace's too. What configures the
 * namespace itself is denied: netlink, the interface, routing and device
 * ioctls, the firewall and multicast routing options. Reported under
 * capable, as the same use of the host's network that lockc_capable stops
 * in the host's namespace.
 */
static __always_inline bool handed_in_host_socket(const struct sock *sk)
{
	struct lockc_settings *cfg = bpf_map_lookup_elem(&settings, &zero);

	/* Unknown host namespace: lockc_capable then denies CAP_NET_ADMIN in
	 * every namespace (in_host_netns() fails closed), which covers these
	 * uses of it too. */
	if (!cfg || !cfg->host_netns_ino || !sk)
		return false;
	if (BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) != cfg->host_netns_ino)
		return false; /* not the host's socket */
	/* A caller in the host's namespace (a container with --net=host) is
	 * judged by lockc_capable, which sees that namespace. */
	return !current_in_netns(cfg->host_netns_ino);
}

/* Every netlink message sent by any task passes here. Netlink is how a
 * network namespace is configured (routes, addresses, links, nftables,
 * IPsec) and watched (sock_diag lists every socket): none of it is a
 * socket's own traffic, so a handed-in host socket may send nothing. */
SEC("lsm/netlink_send")
int BPF_PROG(lockc_netlink_send, struct sock *sk, struct sk_buff *skb)
{
	if (!handed_in_host_socket(sk))
		return 0;
	__u64 args[1] = {BPF_CORE_READ(sk, sk_protocol)};

	return deny_confined_capable("host socket netlink %u", args, sizeof(args));
}

#define S_IFSOCK 0140000

/* The ioctls that ask about or set the socket itself, allowed on a host
 * socket; any other on one (interfaces, routes, ARP, bridges, wireless,
 * device-private commands, SIOCGSKNS's handle on the namespace) is about
 * the namespace or a device in it. */
static __always_inline bool socket_own_ioctl(unsigned int cmd)
{
	switch (cmd) {
	case 0x5411:	 /* SIOCOUTQ: bytes not yet sent */
	case 0x541B:	 /* SIOCINQ (FIONREAD): bytes to read */
	case 0x5421:	 /* FIONBIO: non-blocking */
	case 0x5450:	 /* FIONCLEX */
	case 0x5451:	 /* FIOCLEX */
	case 0x5452:	 /* FIOASYNC */
	case 0x8903:	 /* FIOGETOWN: who gets SIGIO */
	case 0x8904:	 /* SIOCGPGRP */
	case 0x8905:	 /* SIOCATMARK: at the urgent mark */
	case 0x8906:	 /* SIOCGSTAMP_OLD: the last packet's time */
	case 0x8907:	 /* SIOCGSTAMPNS_OLD */
	case 0x80108906: /* SIOCGSTAMP_NEW */
	case 0x80108907: /* SIOCGSTAMPNS_NEW */
	case 0x894B:	 /* SIOCOUTQNSD: bytes not yet sent, without queued */
		return true;
	default:
		return false;
	}
}

#define TIOCSTI 0x5412
#define TIOCLINUX 0x541C
#define TIOCCONS 0x541D

/* Terminal ioctls that act on more than the caller's own use of a
 * terminal. TIOCSTI types into its input, for whoever reads it next: the
 * shell of the user who started `lockcctl run` once the command is gone,
 * or the host's side of a terminal handed in. TIOCLINUX does the same on
 * a virtual console (setting and pasting the selection) and reads its
 * screen. TIOCCONS sends the host's console output to the caller's
 * terminal. A container's own pty has no use for any of them (kernels
 * since 6.2 can turn TIOCSTI off, and Debian's 6.12 does), so they are
 * denied on every file: other files answer these numbers with ENOTTY. */
static __always_inline bool terminal_ioctl(unsigned int cmd)
{
	return cmd == TIOCSTI || cmd == TIOCLINUX || cmd == TIOCCONS;
}

/* Reported under capable, with the host-wide uses of terminals that take
 * CAP_SYS_ADMIN (TIOCCONS; TIOCSTI on another's terminal). */
static __always_inline int check_terminal_ioctl(unsigned int cmd)
{
	__u64 args[1] = {cmd};

	return deny_confined_capable("terminal ioctl 0x%x", args, sizeof(args));
}

/* Every ioctl of every task passes here: all but those on sockets leave
 * after reading the file's mode and three comparisons. The owner is set by
 * its own rule, before the host socket's (check_signal_owner(), above). */
static __always_inline int check_ioctl(struct file *file, unsigned int cmd)
{
	/* Direct loads on this path, as in lockc_file_open. */
	if ((file->f_inode->i_mode & S_IFMT) != S_IFSOCK)
		return terminal_ioctl(cmd) ? check_terminal_ioctl(cmd) : 0;
	/* The two that set a socket's owner: see check_signal_owner(). */
	if (cmd == 0x8901 || cmd == 0x8902) /* FIOSETOWN, SIOCSPGRP */
		return check_signal_owner(0, "signal owner by ioctl");
	if (socket_own_ioctl(cmd))
		return 0;
	/* A socket's file (sockfs: an S_IFSOCK inode that can be opened only
	 * by socket(2) and its kind) holds the socket as its private data. */
	struct socket *sock = BPF_CORE_READ(file, private_data);

	if (!handed_in_host_socket(BPF_CORE_READ(sock, sk)))
		return 0;
	__u64 args[1] = {cmd};

	return deny_confined_capable("host socket ioctl 0x%x", args, sizeof(args));
}

SEC("lsm/file_ioctl")
int BPF_PROG(lockc_file_ioctl, struct file *file, unsigned int cmd, unsigned long arg)
{
	return check_ioctl(file, cmd);
}

/* A 32-bit task's ioctls meet this hook instead of file_ioctl from Linux
 * 6.8 on and in the stable updates that took it (6.1.75, 6.6.14, ...). On
 * a kernel without it they still meet file_ioctl: the program loads only
 * where the hook exists ('?', see optional_programs.hpp). The commands
 * judged here have the same numbers in both worlds. */
SEC("?lsm/file_ioctl_compat")
int BPF_PROG(lockc_file_ioctl_compat, struct file *file, unsigned int cmd, unsigned long arg)
{
	return check_ioctl(file, cmd);
}

#define SOL_IP 0
#define SOL_IPV6 41
#define SO_ORIGINAL_DST 80

/* Socket options that configure the namespace rather than the socket: the
 * firewall (iptables, arptables, ebtables and IPVS, from 64 on SOL_IP;
 * ip6tables' 64, 65, 68 and 69 on SOL_IPV6) and multicast routing (from
 * 200 on either). IP's own options end at 52, IPv6's at 78 with none of
 * those four numbers. */
static __always_inline bool namespace_option(int level, int optname)
{
	if (level == SOL_IP)
		/* Where a redirected connection was going: the socket's own,
		 * and asked for by transparent proxies. */
		return optname >= 64 && optname != SO_ORIGINAL_DST;
	if (level == SOL_IPV6)
		return optname == 64 || optname == 65 || optname == 68 || optname == 69 ||
		       optname >= 200;
	return false;
}

static __always_inline int host_socket_option(struct socket *sock, int level, int optname,
					      const char *fmt)
{
	if (!namespace_option(level, optname) || !handed_in_host_socket(BPF_CORE_READ(sock, sk)))
		return 0;
	__u64 args[2] = {level, optname};

	return deny_confined_capable(fmt, args, sizeof(args));
}

/* Every setsockopt(2) and getsockopt(2) passes here: all but the options
 * above leave after two comparisons. Reading the host's firewall rules is
 * denied like changing them. */
SEC("lsm/socket_setsockopt")
int BPF_PROG(lockc_socket_setsockopt, struct socket *sock, int level, int optname)
{
	return host_socket_option(sock, level, optname, "host socket setsockopt %d:%d");
}

SEC("lsm/socket_getsockopt")
int BPF_PROG(lockc_socket_getsockopt, struct socket *sock, int level, int optname)
{
	return host_socket_option(sock, level, optname, "host socket getsockopt %d:%d");
}

/* The least vm.mmap_min_addr that lockc_mmap_addr uses: page 0 is never a
 * confined container's, whatever the settings say (or if there are none). */
#define LOCKC_PAGE_SIZE 4096

/*
 * A mapping below vm.mmap_min_addr (page 0: what turns a kernel NULL
 * dereference into code execution) takes CAP_SYS_RAWIO. The capability
 * LSM checks it with cap_capable() directly, not through
 * security_capable(), so lockc_capable never sees it; this hook does, and
 * only for tasks the capability LSM let through (those with
 * CAP_SYS_RAWIO). It is reported as that capability's use. Every mapping
 * of every task passes here: any other address leaves after one settings
 * lookup.
 */
SEC("lsm/mmap_addr")
int BPF_PROG(lockc_mmap_addr, unsigned long addr)
{
	struct lockc_settings *cfg = bpf_map_lookup_elem(&settings, &zero);
	__u64 min_addr = cfg ? cfg->mmap_min_addr : 0;

	if (min_addr < LOCKC_PAGE_SIZE)
		min_addr = LOCKC_PAGE_SIZE;
	if (addr >= min_addr)
		return 0; /* an ordinary address */
	struct subject s;

	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	return deny(&s, LOCKC_HOOK_CAPABLE, LOCKC_TARGET_OTHER, "CAP_SYS_RAWIO mmap_min_addr");
}

/*
 * vm.mmap_min_addr written: its handler (security/min_addr.c) has stored
 * the new limit in the variable its table points to (dac_mmap_min_addr,
 * what cap_mmap_addr compares with). Copied into the settings, so that
 * lockc_mmap_addr follows the sysctl at once, raised or lowered, instead
 * of at the next settings write. A failed or rejected write changed
 * nothing and is ignored.
 */
SEC("fexit/mmap_min_addr_handler")
int BPF_PROG(lockc_mmap_min_addr_set, struct ctl_table *table, int write, void *buffer,
	     size_t *lenp, loff_t *ppos, int ret)
{
	if (!write || ret != 0)
		return 0;
	struct lockc_settings *cfg = bpf_map_lookup_elem(&settings, &zero);
	unsigned long limit;

	if (!cfg || bpf_probe_read_kernel(&limit, sizeof(limit), BPF_CORE_READ(table, data)))
		return 0; /* the value written at the last settings write stays */
	cfg->mmap_min_addr = limit;
	return 0;
}

/*
 * The kernel's lockdown reasons that lockc_locked_down denies confined
 * containers, with the name their events give them; NULL for any other.
 * Each is an operation of the lockdown "integrity" class (what
 * lockdown=integrity forbids even root) that no earlier lockc hook sees:
 * - TIOCSSERIAL: moving a serial port's I/O base or IRQ (the kernel asks
 *   only when they change), after which the kernel's serial driver does
 *   port I/O wherever it was told: iopl by another road.
 * - HIBERNATION: /dev/snapshot, whose open is gated by this check. Opened,
 *   it freezes the host and reads out an image of its whole memory, or
 *   restores one.
 * - EFI_TEST: /dev/efi_test (a misc device with a dynamic minor, which no
 *   device rule can name): calls into the firmware's runtime services.
 * The other integrity reasons are all met after a check that lockc
 * already makes (iopl after CAP_SYS_RAWIO, /dev/mem and MSRs after their
 * open, module parameters after a module load, debugfs after its mount
 * and opens), so denying them here would only report an operation twice
 * in audit mode. The confidentiality class (reading kernel memory) is
 * decided where those reads happen (file_open, perf_event_open, bpf).
 * Values differ between kernels: CO-RE relocates each one.
 */
static __always_inline const char *lockdown_only_here(enum lockdown_reason what)
{
	if (what == bpf_core_enum_value(enum lockdown_reason, LOCKDOWN_TIOCSSERIAL))
		return "lockdown TIOCSSERIAL";
	if (what == bpf_core_enum_value(enum lockdown_reason, LOCKDOWN_HIBERNATION))
		return "lockdown HIBERNATION";
	if (what == bpf_core_enum_value(enum lockdown_reason, LOCKDOWN_EFI_TEST))
		return "lockdown EFI_TEST";
	return NULL;
}

/* Every lockdown check of every task passes here: the others leave after
 * three comparisons. Reported under capable: like the capabilities there,
 * each of these acts on the whole host. */
SEC("lsm/locked_down")
int BPF_PROG(lockc_locked_down, enum lockdown_reason what)
{
	const char *name = lockdown_only_here(what);

	if (!name)
		return 0; /* another reason: decided elsewhere, or harmless */
	struct subject s;

	current_subject(&s);
	if (!confined(&s))
		return 0; /* host task or privileged container */
	return deny(&s, LOCKC_HOOK_CAPABLE, LOCKC_TARGET_OTHER, name);
}

/* ---- restricted only -------------------------------------------------------- */

static __always_inline bool restricted(const struct subject *s)
{
	return confined(s) && level_of(s) == LOCKC_LEVEL_RESTRICTED;
}

static __always_inline bool cred_is_root(const struct cred *c)
{
	return BPF_CORE_READ(c, uid.val) == 0 || BPF_CORE_READ(c, euid.val) == 0 ||
	       BPF_CORE_READ(c, suid.val) == 0;
}

/* setuid(2) and friends: a non-root task may not become root. Dropping
 * root (runc switching to the container's user) stays allowed. The
 * credentials are looked at before the caller's entry: most changes gain
 * nothing and need no lookup; the decision is the same in either order. */
SEC("lsm/task_fix_setuid")
int BPF_PROG(lockc_task_fix_setuid, struct cred *new, const struct cred *old, int flags)
{
	struct subject s;

	if (cred_is_root(old))
		return 0; /* root already: not a gain */
	if (!cred_is_root(new) && BPF_CORE_READ(new, fsuid.val) != 0)
		return 0; /* a change between non-root ids */
	current_subject(&s);
	if (!restricted(&s))
		return 0; /* only restricted forbids this */
	return deny(&s, LOCKC_HOOK_SETUID, LOCKC_TARGET_NONE, NULL);
}

/* exec of a setuid-root binary by a non-root task. As above, the
 * credentials first: almost every exec is by a task that is root already
 * (uid 0 on the host) or makes nobody root, and then needs no lookup of
 * the caller's entry. */
SEC("lsm/bprm_creds_from_file")
int BPF_PROG(lockc_bprm_creds_from_file, struct linux_binprm *bprm, struct file *file)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *old = BPF_CORE_READ(task, cred);
	struct subject s;

	if (cred_is_root(old))
		return 0; /* root already: not a gain */
	if (BPF_CORE_READ(bprm, cred, euid.val) != 0)
		return 0; /* the exec does not make it root */
	current_subject(&s);
	if (!restricted(&s))
		return 0; /* only restricted forbids this */
	return deny(&s, LOCKC_HOOK_EXEC_SETUID, LOCKC_TARGET_PATH, BPF_CORE_READ(bprm, filename));
}

SEC("lsm/userns_create")
int BPF_PROG(lockc_userns_create, const struct cred *cred)
{
	struct subject s;

	current_subject(&s);
	if (!restricted(&s))
		return 0; /* only restricted forbids this */
	return deny(&s, LOCKC_HOOK_USERNS_CREATE, LOCKC_TARGET_NONE, NULL);
}

SEC("lsm/socket_create")
int BPF_PROG(lockc_socket_create, int family, int type, int protocol, int kern)
{
	struct subject s;

	if (kern)
		return 0; /* the kernel's own sockets */
	bool raw = (type & SOCK_TYPE_MASK) == SOCK_RAW && (family == AF_INET || family == AF_INET6);

	/* Ordinary sockets are never denied, whoever asks: the caller is
	 * looked up only for the kinds restricted forbids. */
	if (family != AF_PACKET && !raw)
		return 0;
	current_subject(&s);
	if (!restricted(&s))
		return 0; /* only restricted forbids this */
	__u64 args[2] = {family, type};

	return deny_formatted(&s, LOCKC_HOOK_SOCKET_CREATE, LOCKC_TARGET_OTHER, "family %d type %d",
			      args, sizeof(args));
}
