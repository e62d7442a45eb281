// The enforcer: loads lockc's BPF programs (or reattaches to the pinned
// ones), fills their maps and reads their events and counters.
#pragma once

#include "events.hpp"
#include "kernel_files.hpp"
#include "lockc_shared.h"
#include "policy.hpp"
#include "policy_generation.hpp"
#include "unique_fd.hpp"

#include <array>
#include <cstdint>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct lockc_bpf;
struct bpf_link;
struct ring_buffer;

namespace lockc {

// Where lockcd pins its programs and maps: a loader that finds them there
// reuses them (see docs/architecture.md).
inline constexpr const char *kDefaultPinDir = "/sys/fs/bpf/lockc";

struct EnforcerOptions {
    std::filesystem::path pin_dir = kDefaultPinDir;
    std::filesystem::path lsm_file = kKernelLsmFile;
    std::filesystem::path btf_file = kKernelBtfFile;
    // Ring buffer size in bytes (power of two, >= page size). Only used
    // when the programs are loaded fresh; pinned state keeps its size.
    std::uint32_t ringbuf_bytes = LOCKC_DEFAULT_RINGBUF_BYTES;
    // false: only reattach; throw Error(NotFound) when nothing is pinned
    // (for tools that inspect state and must not start enforcing).
    bool load_if_missing = true;
    // When the maps are new (nothing pinned, or another ABI's state that
    // cannot be reused): true makes open() load the programs without
    // attaching them, so that the caller fills the maps first and then
    // calls attach(); programs of another ABI attached meanwhile go on
    // deciding. false: open() attaches at once, with the default settings.
    bool defer_attach = false;
    // Where cgroup v2 is mounted, for attach(); empty: found then.
    std::filesystem::path cgroup_mount;
};

struct PolicyEntry {
    Level level = Level::Baseline;
    Mode mode = Mode::Enforce;
    Phase phase = Phase::Running;
    lockc_origin origin = LOCKC_ORIGIN_REGISTERED;
    std::uint32_t tag = 0; // the caller's number for the registration; 0: none
    std::array<std::uint64_t, LOCKC_HOOK_COUNT> decisions{};
};

struct Counters {
    std::array<std::uint64_t, LOCKC_HOOK_COUNT> denied{};
    std::array<std::uint64_t, LOCKC_HOOK_COUNT> audited{};
    std::uint64_t ringbuf_drops = 0;
    std::uint64_t classify_failures = 0;    // container cgroups left unclassified
    std::uint64_t driver_rule_failures = 0; // drivers' majors left without their rule
};

class Enforcer {
  public:
    // Reattaches to pinned programs of the same ABI, or loads, attaches and
    // pins them. Throws Error(KernelUnsupported) with a message that names
    // the lsm= boot parameter when the kernel cannot run them.
    static Enforcer open(const EnforcerOptions &options = {});

    Enforcer(Enforcer &&) noexcept;
    Enforcer &operator=(Enforcer &&) noexcept;
    Enforcer(const Enforcer &) = delete;
    Enforcer &operator=(const Enforcer &) = delete;
    // Closes handles; pinned programs keep enforcing.
    ~Enforcer();

    // True when an earlier loader's pinned maps (the state) were reused: its
    // programs reattached, or replaced by this build's.
    [[nodiscard]] bool reattached() const noexcept { return reattached_; }
    // True when the attached programs were another build's (same ABI) and
    // this binary's replaced them: each new program was attached before
    // the old one's link was dropped, on the same maps, so no operation
    // went undecided in between.
    [[nodiscard]] bool replaced_build() const noexcept { return replaced_build_; }
    // The ABI of the programs attached before this load, when it was
    // another one: their maps could not be reused, so attach() filled new
    // ones before replacing them.
    [[nodiscard]] std::optional<std::uint32_t> replaced_abi() const noexcept {
        return replaced_abi_;
    }
    // The pins of an earlier build's programs and maps that this build does
    // not have ("links/<name>", "maps/<name>"), removed when it took over.
    [[nodiscard]] const std::vector<std::string> &retired_pins() const noexcept {
        return retired_pins_;
    }

    // False between an open() with defer_attach that loaded new maps and
    // attach(): the maps can be filled, nothing of this load decides yet.
    [[nodiscard]] bool attached() const noexcept { return attached_; }
    // Attaches the loaded programs, replacing any pinned ones, and pins
    // them and their maps. In order: the cgroup tracepoints (new cgroups
    // get entries in these maps from then on), then the cgroups that exist
    // get the entries they would have got at creation
    // (classify_existing_cgroups()), then the LSM programs; only then are
    // the old links' pins replaced, which detaches the old programs. So
    // with another ABI's programs attached before, every operation is
    // decided by old or new programs or both, never by neither. Does
    // nothing when attached. On an error the old programs stay.
    void attach();
    // How many existing cgroups attach() gave an entry.
    [[nodiscard]] std::size_t classified_existing() const noexcept { return classified_existing_; }

    // Default level and mode, container-like cgroup names; with the host's
    // network namespace and vm.mmap_min_addr as they are now.
    void configure(const Settings &settings);
    [[nodiscard]] lockc_settings settings() const;
    // Replaces the rule maps' contents with `rules`; validates first, so an
    // invalid rule set changes nothing. Drivers named by a device rule get
    // it for the majors /proc/devices lists now and, from the kernel, for
    // each they register later.
    void apply_rules(const RuleSet &rules);

    // Creates or updates the entry of a cgroup. An update keeps the phase
    // (unless given) and the decision counters; the origin says who decided
    // (an entry user space wrote is REGISTERED, one it reset to what the
    // kernel would have given is PATTERN).
    // `tag`: nullopt keeps the entry's (0 for a new one).
    void set_policy(std::uint64_t cgroup_id, Level level, Mode mode,
                    std::optional<Phase> phase = std::nullopt,
                    lockc_origin origin = LOCKC_ORIGIN_REGISTERED,
                    std::optional<std::uint32_t> tag = std::nullopt);
    // Throws Error(NotFound) if there is no entry.
    void remove_policy(std::uint64_t cgroup_id);
    // The cgroup levels at which entries were ever made: the hooks look
    // nowhere else (LOCKC_ENTRY_LEVELS in lockc_shared.h).
    [[nodiscard]] std::vector<int> entry_levels() const;
    [[nodiscard]] std::optional<PolicyEntry> policy(std::uint64_t cgroup_id) const;
    [[nodiscard]] std::vector<std::pair<std::uint64_t, PolicyEntry>> policies() const;

    // A cgroup directory name that gets this level when it is created.
    void add_pending(std::string_view cgroup_name, Level level, Mode mode, std::uint32_t tag = 0);
    void remove_pending(std::string_view cgroup_name);
    [[nodiscard]] std::vector<std::string> pending_names() const;

    [[nodiscard]] Counters counters() const;

    // The ring buffer's epoll-able fd: readable when the kernel wakes the
    // reader. It does not for every event (lockc.bpf.c, wakeup_flag()):
    // a reader also calls consume_events() at events_due().
    [[nodiscard]] int event_fd() const;
    // When events may wait without a wakeup: while events come, every
    // LOCKC_EVENT_COALESCE_NS after the last look; nullopt when quiet.
    [[nodiscard]] std::optional<std::chrono::steady_clock::time_point> events_due() const;
    // Delivers waiting events without blocking; returns how many. Records
    // that fail to decode are counted in malformed_events(). At most
    // kMaxEventsPerLook per call: libbpf would otherwise read for as long
    // as the kernel writes, and a flood of denials would keep the reader
    // from everything else; events_due() then says to look again at once.
    std::size_t consume_events(const std::function<void(const Event &)> &handler);
    [[nodiscard]] std::uint64_t malformed_events() const noexcept;

    // Unpins everything and drops this object's handles: enforcement ends
    // once no other process holds the links.
    void uninstall();
    // The same for a pin directory, without an Enforcer (e.g. leftovers).
    static void uninstall(const std::filesystem::path &pin_dir);

    static constexpr std::size_t kMaxEventsPerLook = 4096;

  private:
    Enforcer() = default;
    void open_pinned_maps();
    void open_loaded_maps();
    void open_ring_buffer();
    // Attaches the programs of one kind (tracing or LSM) into links_.
    void attach_programs(bool tracing);
    void pin_links();
    void pin_maps();
    // Removes the pins in links/ and maps/ that this build has no program
    // or map for (an earlier build's), once this build's are pinned.
    void remove_retired_pins();
    void record_build();
    [[nodiscard]] int map_fd(std::string_view name) const;
    // Flags the level of a cgroup about to get its first entry (every
    // level when it cannot be told).
    void mark_entry_level(std::uint64_t cgroup_id);
    // The cgroup v2 mount lockc reads, and whether it shows the whole
    // hierarchy (is_hierarchy_root()): found once, on first use.
    struct CgroupView {
        std::filesystem::path mount;
        bool is_root = false;
    };
    const CgroupView &cgroup_view();
    [[nodiscard]] int ringbuf_fd() const;

    struct SkelDeleter {
        void operator()(lockc_bpf *skel) const;
    };
    struct LinkDeleter {
        void operator()(bpf_link *link) const;
    };
    struct RingBufferDeleter {
        void operator()(ring_buffer *rb) const;
    };

    std::filesystem::path pin_dir_;
    std::filesystem::path requested_cgroup_mount_; // EnforcerOptions::cgroup_mount
    std::optional<CgroupView> cgroup_view_;
    bool reattached_ = false;
    bool replaced_build_ = false;
    std::optional<std::uint32_t> replaced_abi_;
    std::vector<std::string> retired_pins_;
    bool attached_ = true;
    std::size_t classified_existing_ = 0;
    std::unique_ptr<lockc_bpf, SkelDeleter> skel_;
    // The links this object attached, by program name.
    std::vector<std::pair<std::string, std::unique_ptr<bpf_link, LinkDeleter>>> links_;
    std::vector<std::pair<std::string, UniqueFd>> maps_;
    PolicyGeneration generation_; // advanced around writes to "policies"
    // Where the ring buffer's C callback delivers; on the heap so that its
    // address, given to libbpf, survives moves of the Enforcer.
    struct EventSink {
        const std::function<void(const Event &)> *handler = nullptr;
        std::size_t delivered = 0;
        std::size_t taken = 0; // records this call, malformed or not
        std::size_t limit = 0;
        std::uint64_t malformed = 0;
    };
    std::unique_ptr<EventSink> sink_;
    std::chrono::steady_clock::time_point last_look_{};
    std::chrono::steady_clock::time_point last_event_{};
    bool more_waiting_ = false; // the last look stopped at its limit
    std::unique_ptr<ring_buffer, RingBufferDeleter> ringbuf_;
};

} // namespace lockc
