#include "enforcer.hpp"

#include "cgroup.hpp"
#include "entry_levels.hpp"
#include "error.hpp"
#include "existing_cgroups.hpp"
#include "kernel_support.hpp"
#include "lockc.skel.h"
#include "optional_programs.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <system_error>

namespace lockc {

namespace fs = std::filesystem;

namespace {

// Maps shared between loaders (and with user space); scratch maps are not.
constexpr std::array<std::string_view, 13> kPinnedMaps = {
    "policies", "pending",      "settings",          "path_rules", "rule_summary",
    "fs_rules", "dev_rules",    "driver_rules",      "misc_rules", "events",
    "counters", "entry_levels", "policy_generation",
};
// Pinned since builds of ABI 11 remember levels (current_level() in
// lockc.bpf.c); the programs of an earlier build of that ABI have no such
// map and read none.
constexpr std::string_view kGenerationMap = "policy_generation";

// The build of the attached programs (see build_id()); kept apart from
// kPinnedMaps, which older loaders pinned without it.
constexpr std::string_view kBuildMap = "build";

// Whether a map of the skeleton is pinned (shared with the next loader).
bool is_pinned_map(std::string_view name) {
    return name == kBuildMap || std::ranges::find(kPinnedMaps, name) != kPinnedMaps.end();
}

constexpr std::uint32_t kZero = 0;
// What the ring buffer callback returns to make libbpf stop (ENOSPC is
// not one that libbpf itself returns from a consume).
constexpr int kStopConsuming = -ENOSPC;

fs::path maps_dir(const fs::path &pin_dir) {
    return pin_dir / "maps";
}
fs::path links_dir(const fs::path &pin_dir) {
    return pin_dir / "links";
}

// The programs this kernel loads: an optional one whose hook the kernel
// lacks (enable_optional_lsm_programs()) is not among them.
std::vector<std::string> program_names(const lockc_bpf *skel) {
    std::vector<std::string> names;
    bpf_program *prog = nullptr;
    bpf_object__for_each_program(prog, skel->obj) {
        if (bpf_program__autoload(prog)) {
            names.emplace_back(bpf_program__name(prog));
        }
    }
    return names;
}

// Which build of the BPF object this binary carries: FNV-1a over the
// object's bytes. Not a defence against anyone (only root can pin); it
// tells a loader whether the attached programs are its own.
std::uint64_t build_id() {
    std::size_t size = 0;
    const auto *bytes = static_cast<const unsigned char *>(lockc_bpf__elf_bytes(&size));
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (const unsigned char byte : std::span(bytes, size)) {
        hash ^= byte;
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

std::optional<std::uint64_t> pinned_build_id(const fs::path &pin_dir) {
    const UniqueFd fd(bpf_obj_get((maps_dir(pin_dir) / kBuildMap).c_str()));
    std::uint64_t id = 0;
    if (!fd.valid() || bpf_map_lookup_elem(fd.get(), &kZero, &id) != 0) {
        return std::nullopt;
    }
    return id;
}

// The settings record of a pinned settings map, if there is one.
std::optional<lockc_settings> pinned_settings(const fs::path &pin_dir) {
    const fs::path pin = maps_dir(pin_dir) / "settings";
    const UniqueFd fd(bpf_obj_get(pin.c_str()));
    if (!fd.valid()) {
        // Only a missing pin means "not loaded": any other error (no more
        // fds, no permission) is said as it is, not as a missing lockc.
        if (errno == ENOENT) {
            return std::nullopt;
        }
        throw_system("cannot open pinned map " + pin.string(), errno);
    }
    lockc_settings s{};
    // A map of another layout is another ABI (abi_version 0 here): never
    // read a value of another size into this struct.
    bpf_map_info info{};
    std::uint32_t info_size = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &info_size) != 0 ||
        info.value_size != sizeof(lockc_settings)) {
        return s;
    }
    if (bpf_map_lookup_elem(fd.get(), &kZero, &s) != 0) {
        return std::nullopt;
    }
    return s;
}

void create_dir(const fs::path &dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        throw Error(ErrorKind::System, "cannot create " + dir.string() + ": " + ec.message());
    }
}

template <typename Key> std::vector<Key> map_keys(int fd) {
    std::vector<Key> keys;
    Key key{};
    Key next{};
    const void *prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        keys.push_back(next);
        key = next;
        prev = &key;
        if (keys.size() > 1'000'000) {
            break; // a map changing under us must not loop forever
        }
    }
    return keys;
}

// Writes `entries` into the map, then deletes keys that are not among them:
// the map never passes through an empty state.
template <typename Key, typename Value, typename Less>
void replace_contents(int fd, const std::vector<std::pair<Key, Value>> &entries, const char *what,
                      Less less) {
    std::set<Key, Less> wanted(less);
    for (const auto &[key, value] : entries) {
        if (bpf_map_update_elem(fd, &key, &value, BPF_ANY) != 0) {
            throw_system(std::string("cannot write ") + what + " rule", errno);
        }
        wanted.insert(key);
    }
    for (const auto &key : map_keys<Key>(fd)) {
        if (!wanted.contains(key)) {
            bpf_map_delete_elem(fd, &key);
        }
    }
}

// The host's vm.mmap_min_addr: below it a mapping takes CAP_SYS_RAWIO. Kept
// as the kernel has it, as lockc_mmap_min_addr_set keeps it; the programs
// never use less than one page (lockc_mmap_addr).
std::uint64_t mmap_min_addr() {
    std::ifstream in("/proc/sys/vm/mmap_min_addr");
    std::uint64_t value = 0;
    if (!(in >> value)) {
        throw Error(ErrorKind::System, "cannot read /proc/sys/vm/mmap_min_addr");
    }
    return value;
}

// Tries at writing dev_rules while drivers register majors, or the
// settings while vm.mmap_min_addr changes.
constexpr int kRuleAttempts = 5;

template <typename T> bool bytes_less(const T &a, const T &b) {
    return std::memcmp(&a, &b, sizeof(T)) < 0;
}

lockc_pending_key pending_key(std::string_view name) {
    if (name.empty() || name.size() >= LOCKC_CGROUP_NAME_LEN ||
        name.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos || name == "." ||
        name == "..") {
        throw Error(ErrorKind::InvalidArgument,
                    "'" + std::string(name) + "' is not a valid cgroup directory name (1-" +
                        std::to_string(LOCKC_CGROUP_NAME_LEN - 1) + " bytes, no '/')");
    }
    lockc_pending_key key{};
    std::memcpy(key.name, name.data(), name.size());
    return key;
}

void check_level_mode(Level level, Mode mode) {
    if (static_cast<unsigned>(level) >= LOCKC_LEVEL_COUNT) {
        throw Error(ErrorKind::InvalidArgument, "invalid level");
    }
    if (static_cast<unsigned>(mode) >= LOCKC_MODE_COUNT) {
        throw Error(ErrorKind::InvalidArgument, "invalid mode");
    }
}

PolicyEntry to_entry(const lockc_policy &p) {
    PolicyEntry e;
    e.level = static_cast<Level>(std::min<unsigned>(p.level, LOCKC_LEVEL_RESTRICTED));
    e.mode = static_cast<Mode>(std::min<unsigned>(p.mode, LOCKC_MODE_AUDIT));
    e.phase = static_cast<Phase>(std::min<unsigned>(p.phase, LOCKC_PHASE_RUNNING));
    e.origin = static_cast<lockc_origin>(p.origin);
    e.tag = p.tag;
    std::copy(std::begin(p.decisions), std::end(p.decisions), e.decisions.begin());
    return e;
}

} // namespace

void Enforcer::SkelDeleter::operator()(lockc_bpf *skel) const {
    lockc_bpf__destroy(skel);
}
void Enforcer::LinkDeleter::operator()(bpf_link *link) const {
    bpf_link__destroy(link);
}
void Enforcer::RingBufferDeleter::operator()(ring_buffer *rb) const {
    ring_buffer__free(rb);
}

Enforcer::Enforcer(Enforcer &&) noexcept = default;
Enforcer &Enforcer::operator=(Enforcer &&) noexcept = default;
Enforcer::~Enforcer() = default;

Enforcer Enforcer::open(const EnforcerOptions &options) {
    const KernelSupport ks = check_kernel_support(options.lsm_file, options.btf_file);
    if (!ks.supported()) {
        throw Error(ErrorKind::KernelUnsupported, ks.problem);
    }

    Enforcer e;
    e.pin_dir_ = options.pin_dir;
    e.requested_cgroup_mount_ = options.cgroup_mount;
    e.skel_.reset(lockc_bpf__open());
    if (!e.skel_) {
        throw_system("cannot open the BPF object", errno);
    }
    try {
        (void)enable_optional_lsm_programs(e.skel_->obj, options.btf_file);
    } catch (const std::system_error &err) {
        throw Error(ErrorKind::KernelUnsupported, err.what());
    }
    const auto programs = program_names(e.skel_.get());

    // Reuse what an earlier loader pinned, if it is complete and ours.
    const auto pinned = pinned_settings(e.pin_dir_);
    const bool same_abi = pinned && pinned->abi_version == LOCKC_ABI_VERSION;
    const bool all_links = std::ranges::all_of(programs, [&](const std::string &name) {
        return fs::exists(links_dir(e.pin_dir_) / name);
    });
    // Another build of the same ABI (an upgrade or a downgrade) is replaced
    // below, keeping its maps; tools that must not load only look.
    const bool reusable = same_abi && all_links;
    if (reusable && (!options.load_if_missing || pinned_build_id(e.pin_dir_) == build_id())) {
        e.skel_.reset();
        e.reattached_ = true;
        e.open_pinned_maps();
        return e;
    }
    if (!options.load_if_missing) {
        throw Error(ErrorKind::NotFound,
                    same_abi ? "lockc's programs are not all attached (" + e.pin_dir_.string() +
                                   "/links is incomplete)"
                             : "lockc is not loaded (nothing of this version pinned in " +
                                   e.pin_dir_.string() + ")");
    }

    create_dir(maps_dir(e.pin_dir_));
    create_dir(links_dir(e.pin_dir_));
    if (same_abi) {
        // The pinned maps hold the state: the new programs are loaded on
        // them and replace the old ones at once, each attached before the
        // old one's pin goes.
        bpf_map *map = nullptr;
        bpf_object__for_each_map(map, e.skel_->obj) {
            const std::string name = bpf_map__name(map);
            if (!is_pinned_map(name)) {
                continue;
            }
            const fs::path pin = maps_dir(e.pin_dir_) / name;
            if (bpf_map__set_pin_path(map, pin.c_str()) != 0) {
                throw_system("cannot set the pin path of map " + name, errno);
            }
        }
    }
    // A pinned ring buffer keeps its size.
    if ((!same_abi || !fs::exists(maps_dir(e.pin_dir_) / "events")) &&
        bpf_map__set_max_entries(e.skel_->maps.events, options.ringbuf_bytes) != 0) {
        throw Error(ErrorKind::InvalidArgument,
                    "invalid ring buffer size " + std::to_string(options.ringbuf_bytes));
    }
    if (const int err = lockc_bpf__load(e.skel_.get()); err != 0) {
        throw Error(ErrorKind::KernelUnsupported,
                    std::string("the kernel refused lockc's BPF programs: ") + std::strerror(-err) +
                        " (needs the BPF LSM active: 'lsm=...,bpf')");
    }

    if (same_abi) {
        e.attach_programs(true);
        e.attach_programs(false);
        e.pin_links();
        e.remove_retired_pins();
        e.record_build();
        e.reattached_ = true;
        e.replaced_build_ = all_links;
        e.open_pinned_maps();
        return e;
    }

    // New maps, pinned only once the programs are attached: until then
    // the pins (and the links) are whatever was there, still deciding.
    if (pinned && fs::exists(links_dir(e.pin_dir_)) && !fs::is_empty(links_dir(e.pin_dir_))) {
        e.replaced_abi_ = pinned->abi_version;
    }
    e.attached_ = false;
    e.open_loaded_maps();
    e.configure(default_settings());
    if (!options.defer_attach) {
        e.attach();
    }
    return e;
}

void Enforcer::attach() {
    if (attached_) {
        return;
    }
    attach_programs(true);
    const auto &view = cgroup_view();
    classified_existing_ =
        classify_existing_cgroups(view.mount, view.is_root, settings(), map_fd("policies"),
                                  map_fd("pending"), map_fd("entry_levels"), generation_);
    attach_programs(false);
    pin_links();
    pin_maps();
    remove_retired_pins();
    // Last: a loader that stopped before this leaves no build (or the old
    // one), and the next one loads again.
    record_build();
    attached_ = true;
}

void Enforcer::attach_programs(bool tracing) {
    bpf_program *prog = nullptr;
    bpf_object__for_each_program(prog, skel_->obj) {
        if (!bpf_program__autoload(prog) ||
            (bpf_program__type(prog) == BPF_PROG_TYPE_TRACING) != tracing) {
            continue; // not loaded here, or not of this round
        }
        bpf_link *raw = bpf_program__attach(prog);
        if (raw == nullptr) {
            throw_system(std::string("cannot attach program ") + bpf_program__name(prog), errno);
        }
        links_.emplace_back(bpf_program__name(prog), raw);
    }
}

void Enforcer::pin_links() {
    for (const auto &[name, link] : links_) {
        if (bpf_link__pin_path(link.get()) != nullptr) {
            continue; // pinned by an earlier call
        }
        // The pin of an earlier load (older, another ABI's or incomplete):
        // the new link is attached already, so replacing the pin leaves no
        // gap; the old program detaches when its last reference goes.
        const fs::path pin = links_dir(pin_dir_) / name;
        fs::remove(pin);
        if (bpf_link__pin(link.get(), pin.c_str()) != 0) {
            throw_system("cannot pin link " + pin.string(), errno);
        }
    }
}

void Enforcer::pin_maps() {
    bpf_map *map = nullptr;
    bpf_object__for_each_map(map, skel_->obj) {
        const std::string name = bpf_map__name(map);
        if (!is_pinned_map(name)) {
            continue;
        }
        // Another ABI's map of this name: its programs are detached (their
        // links' pins are gone), so nothing reads it any more.
        const fs::path pin = maps_dir(pin_dir_) / name;
        fs::remove(pin);
        if (bpf_map__pin(map, pin.c_str()) != 0) {
            throw_system("cannot pin map " + pin.string(), errno);
        }
    }
}

void Enforcer::remove_retired_pins() {
    const auto programs = program_names(skel_.get());
    const auto remove_unless = [this](const fs::path &dir, const auto &kept) {
        std::vector<fs::path> retired;
        std::error_code ec;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
            if (!kept(it->path().filename().string())) {
                retired.push_back(it->path());
            }
        }
        if (ec) {
            throw_system("cannot list " + dir.string(), ec.value());
        }
        for (const auto &pin : retired) {
            if (!fs::remove(pin, ec) && ec) {
                throw_system("cannot remove the retired pin " + pin.string(), ec.value());
            }
            retired_pins_.push_back(pin.lexically_relative(pin_dir_).string());
        }
    };
    // A link pinned by an earlier build for a program this one does not
    // have keeps that program deciding, on maps nobody updates any more:
    // dropped now that every program of this build is attached.
    remove_unless(links_dir(pin_dir_), [&](const std::string &name) {
        return std::ranges::find(programs, name) != programs.end();
    });
    // And a map only such programs used is never freed while pinned.
    remove_unless(maps_dir(pin_dir_), [](const std::string &name) { return is_pinned_map(name); });
}

void Enforcer::record_build() {
    const std::uint64_t id = build_id();
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.build), &kZero, &id, BPF_ANY) != 0) {
        throw_system("cannot record the programs' build", errno);
    }
}

void Enforcer::open_loaded_maps() {
    maps_.clear();
    for (auto name : kPinnedMaps) {
        const bpf_map *map = bpf_object__find_map_by_name(skel_->obj, std::string(name).c_str());
        UniqueFd fd(map == nullptr ? -1 : ::fcntl(bpf_map__fd(map), F_DUPFD_CLOEXEC, 0));
        if (!fd.valid()) {
            throw_system("cannot open map " + std::string(name), errno);
        }
        maps_.emplace_back(std::string(name), std::move(fd));
    }
    generation_ = PolicyGeneration(map_fd(kGenerationMap));
    open_ring_buffer();
}

void Enforcer::open_pinned_maps() {
    maps_.clear();
    generation_ = PolicyGeneration();
    for (auto name : kPinnedMaps) {
        const fs::path pin = maps_dir(pin_dir_) / name;
        UniqueFd fd(bpf_obj_get(pin.c_str()));
        if (!fd.valid()) {
            if (name == kGenerationMap && errno == ENOENT) {
                continue; // attached programs that remember no levels
            }
            throw_system("cannot open pinned map " + pin.string(), errno);
        }
        if (name == kGenerationMap) {
            generation_ = PolicyGeneration(fd.get());
        }
        maps_.emplace_back(std::string(name), std::move(fd));
    }
    open_ring_buffer();
}

void Enforcer::open_ring_buffer() {
    sink_ = std::make_unique<EventSink>();
    ring_buffer *rb = ring_buffer__new(
        map_fd("events"),
        [](void *ctx, void *data, std::size_t size) -> int {
            auto *sink = static_cast<EventSink *>(ctx);
            const auto event = decode_event({static_cast<const std::byte *>(data), size});
            ++sink->taken;
            if (!event) {
                ++sink->malformed;
                return sink->taken >= sink->limit ? kStopConsuming : 0;
            }
            ++sink->delivered;
            if (sink->handler != nullptr && *sink->handler) {
                try {
                    (*sink->handler)(*event);
                } catch (...) {
                    // An exception must not cross libbpf's C frames; the
                    // handler owns its errors.
                }
            }
            // A negative return makes libbpf stop after this record.
            return sink->taken >= sink->limit ? kStopConsuming : 0;
        },
        sink_.get(), nullptr);
    if (rb == nullptr) {
        throw_system("cannot open the event ring buffer", errno);
    }
    ringbuf_.reset(rb);
}

int Enforcer::map_fd(std::string_view name) const {
    for (const auto &[n, fd] : maps_) {
        if (n == name) {
            return fd.get();
        }
    }
    throw Error(ErrorKind::System, "map " + std::string(name) + " is not open");
}

void Enforcer::configure(const Settings &settings) {
    lockc_settings s = compile(settings);
    if (s.host_netns_ino == 0) {
        // The caller's own: lockcd and the tools run in the host's network
        // namespace. (/proc/1/ns/net would need CAP_SYS_PTRACE, which lockcd
        // does not have.) Without it per-netns rules would be wrong: fail.
        struct stat st {};
        if (::stat("/proc/self/ns/net", &st) != 0) {
            throw_system("cannot read the host's network namespace", errno);
        }
        s.host_netns_ino = static_cast<std::uint32_t>(st.st_ino);
    }
    // From here on lockc_mmap_min_addr_set keeps the limit as the sysctl
    // changes; a change between this read and the write below would be
    // overwritten with the old value, so the limit is read again after.
    s.mmap_min_addr = mmap_min_addr();
    for (int attempt = 0; attempt < kRuleAttempts; ++attempt) {
        if (bpf_map_update_elem(map_fd("settings"), &kZero, &s, BPF_ANY) != 0) {
            throw_system("cannot write settings", errno);
        }
        const std::uint64_t now = mmap_min_addr();
        if (now == s.mmap_min_addr) {
            return;
        }
        s.mmap_min_addr = now;
    }
    throw Error(ErrorKind::System, "vm.mmap_min_addr kept changing while lockc wrote its settings");
}

lockc_settings Enforcer::settings() const {
    lockc_settings s{};
    if (bpf_map_lookup_elem(map_fd("settings"), &kZero, &s) != 0) {
        throw_system("cannot read settings", errno);
    }
    return s;
}

void Enforcer::apply_rules(const RuleSet &rules) {
    // What the kernel has registered: the drivers' majors, the misc
    // devices' minors.
    struct Registered {
        std::string devices = read_proc_devices();
        std::string misc = read_proc_misc();
        bool operator==(const Registered &) const = default;
    };
    const auto compile_with = [&rules](const Registered &r) {
        return compile(with_misc_minors(with_driver_majors(rules, r.devices), r.misc));
    };
    // Validated whole before anything changes.
    Registered seen;
    CompiledRules c = compile_with(seen);
    // The drivers' and misc devices' rules first: from here on the kernel
    // rules each major such a driver registers (lockc_chrdev_*) and each
    // minor such a device registers (lockc_misc_register).
    replace_contents(map_fd("driver_rules"), c.drivers, "driver", bytes_less<lockc_driver_key>);
    replace_contents(map_fd("misc_rules"), c.misc, "misc device", bytes_less<lockc_driver_key>);
    // While the path and filesystem rules change, file_open and
    // unix_stream_connect look everything up; they skip lookups again only
    // with the summary of the new ones.
    const auto write_summary = [this](const lockc_rule_summary &summary) {
        if (bpf_map_update_elem(map_fd("rule_summary"), &kZero, &summary, BPF_ANY) != 0) {
            throw_system("cannot write the summary of the rules", errno);
        }
    };
    write_summary(lockc_rule_summary{}); // not ready
    replace_contents(map_fd("path_rules"), c.paths, "path", bytes_less<lockc_path_key>);
    replace_contents(map_fd("fs_rules"), c.filesystems, "filesystem", std::less<>());
    write_summary(c.summary);
    // The majors drivers had before, the minors misc devices had. One
    // registered while dev_rules is replaced could have its entry deleted
    // as stale: if /proc/devices or /proc/misc changed meanwhile, replace
    // again with what they say now.
    for (int attempt = 0; attempt < kRuleAttempts; ++attempt) {
        replace_contents(map_fd("dev_rules"), c.devices, "device", bytes_less<lockc_dev_key>);
        Registered now;
        if (now == seen) {
            return;
        }
        seen = std::move(now);
        c = compile_with(seen);
    }
    throw Error(ErrorKind::System, "device drivers kept registering while the device rules were "
                                   "applied; apply them again");
}

void Enforcer::set_policy(std::uint64_t cgroup_id, Level level, Mode mode,
                          std::optional<Phase> phase, lockc_origin origin,
                          std::optional<std::uint32_t> tag) {
    check_level_mode(level, mode);
    if (cgroup_id == 0) {
        throw Error(ErrorKind::InvalidArgument, "cgroup id 0 is not a cgroup");
    }
    lockc_policy p{};
    const int fd = map_fd("policies");
    const bool exists = bpf_map_lookup_elem(fd, &cgroup_id, &p) == 0;
    if (!exists) {
        mark_entry_level(cgroup_id);
        p = {};
        p.phase = static_cast<std::uint8_t>(phase.value_or(Phase::Running));
    } else if (phase) {
        p.phase = static_cast<std::uint8_t>(*phase);
    }
    p.origin = static_cast<std::uint8_t>(origin);
    p.level = static_cast<std::uint8_t>(level);
    p.mode = static_cast<std::uint8_t>(mode);
    if (tag) {
        p.tag = *tag;
    }
    const PolicyGeneration::Write write(generation_);
    if (bpf_map_update_elem(fd, &cgroup_id, &p, BPF_ANY) != 0) {
        throw_system("cannot write the policy of cgroup " + std::to_string(cgroup_id), errno);
    }
}

const Enforcer::CgroupView &Enforcer::cgroup_view() {
    if (!cgroup_view_) {
        CgroupView view;
        view.mount = requested_cgroup_mount_.empty() ? cgroup2_mount() : requested_cgroup_mount_;
        view.is_root = is_hierarchy_root(view.mount);
        cgroup_view_ = std::move(view);
    }
    return *cgroup_view_;
}

void Enforcer::mark_entry_level(std::uint64_t cgroup_id) {
    // Outside the try: no cgroup v2 mount is an error to report.
    const auto &view = cgroup_view();
    std::optional<int> depth;
    try {
        if (const auto path = cgroup_path_of_id(view.mount, cgroup_id)) {
            depth = cgroup_depth(*path);
        }
    } catch (const Error &) {
        // Unknown (gone, or outside this mount): every level, as an entry
        // that is never looked up would be an escape.
    }
    flag_entry_levels(map_fd("entry_levels"), depth, view.is_root);
}

std::vector<int> Enforcer::entry_levels() const {
    std::vector<int> out;
    for (std::uint32_t level = 0; level < LOCKC_ENTRY_LEVELS; ++level) {
        std::uint32_t made = 0;
        if (bpf_map_lookup_elem(map_fd("entry_levels"), &level, &made) == 0 && made != 0) {
            out.push_back(static_cast<int>(level));
        }
    }
    return out;
}

void Enforcer::remove_policy(std::uint64_t cgroup_id) {
    const PolicyGeneration::Write write(generation_);
    if (bpf_map_delete_elem(map_fd("policies"), &cgroup_id) != 0) {
        if (errno == ENOENT) {
            throw Error(ErrorKind::NotFound,
                        "cgroup " + std::to_string(cgroup_id) + " has no policy entry");
        }
        throw_system("cannot remove the policy of cgroup " + std::to_string(cgroup_id), errno);
    }
}

std::optional<PolicyEntry> Enforcer::policy(std::uint64_t cgroup_id) const {
    lockc_policy p{};
    if (bpf_map_lookup_elem(map_fd("policies"), &cgroup_id, &p) != 0) {
        return std::nullopt;
    }
    return to_entry(p);
}

std::vector<std::pair<std::uint64_t, PolicyEntry>> Enforcer::policies() const {
    std::vector<std::pair<std::uint64_t, PolicyEntry>> out;
    for (const auto id : map_keys<std::uint64_t>(map_fd("policies"))) {
        if (auto e = policy(id)) {
            out.emplace_back(id, *e);
        }
    }
    return out;
}

void Enforcer::add_pending(std::string_view cgroup_name, Level level, Mode mode,
                           std::uint32_t tag) {
    check_level_mode(level, mode);
    const lockc_pending_key key = pending_key(cgroup_name);
    lockc_policy p{};
    p.tag = tag;
    p.level = static_cast<std::uint8_t>(level);
    p.mode = static_cast<std::uint8_t>(mode);
    p.phase = LOCKC_PHASE_SETUP;
    p.origin = LOCKC_ORIGIN_PENDING;
    if (bpf_map_update_elem(map_fd("pending"), &key, &p, BPF_ANY) != 0) {
        throw_system("cannot register pending cgroup " + std::string(cgroup_name), errno);
    }
}

void Enforcer::remove_pending(std::string_view cgroup_name) {
    const lockc_pending_key key = pending_key(cgroup_name);
    if (bpf_map_delete_elem(map_fd("pending"), &key) != 0) {
        if (errno == ENOENT) {
            throw Error(ErrorKind::NotFound, "no pending cgroup " + std::string(cgroup_name));
        }
        throw_system("cannot remove pending cgroup " + std::string(cgroup_name), errno);
    }
}

std::vector<std::string> Enforcer::pending_names() const {
    std::vector<std::string> out;
    for (const auto &key : map_keys<lockc_pending_key>(map_fd("pending"))) {
        out.emplace_back(key.name, strnlen(key.name, sizeof(key.name)));
    }
    return out;
}

Counters Enforcer::counters() const {
    const int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) {
        throw_system("cannot count CPUs", -ncpu);
    }
    std::vector<lockc_counters> per_cpu(static_cast<std::size_t>(ncpu));
    if (bpf_map_lookup_elem(map_fd("counters"), &kZero, per_cpu.data()) != 0) {
        throw_system("cannot read counters", errno);
    }
    Counters total;
    for (const auto &c : per_cpu) {
        for (std::size_t h = 0; h < LOCKC_HOOK_COUNT; ++h) {
            total.denied[h] += c.denied[h];
            total.audited[h] += c.audited[h];
        }
        total.ringbuf_drops += c.ringbuf_drops;
        total.classify_failures += c.classify_failures;
        total.driver_rule_failures += c.driver_rule_failures;
    }
    return total;
}

int Enforcer::event_fd() const {
    return ring_buffer__epoll_fd(ringbuf_.get());
}

std::optional<std::chrono::steady_clock::time_point> Enforcer::events_due() const {
    // Longer than the coalescing interval by far: the kernel holds an event
    // back only within that interval of a wakeup, and every wakeup leads to
    // a look that finds an event, so the reader still looks when it comes.
    constexpr auto kKeepLooking = std::chrono::seconds(1);
    constexpr auto kEvery = std::chrono::nanoseconds(LOCKC_EVENT_COALESCE_NS);
    if (more_waiting_) {
        return last_look_; // at once: a look stopped at its limit
    }
    if (last_event_ == std::chrono::steady_clock::time_point{} ||
        std::chrono::steady_clock::now() - last_event_ > kKeepLooking) {
        return std::nullopt;
    }
    return last_look_ + kEvery;
}

std::size_t Enforcer::consume_events(const std::function<void(const Event &)> &handler) {
    sink_->handler = &handler;
    sink_->delivered = 0;
    sink_->taken = 0;
    sink_->limit = kMaxEventsPerLook;
    const auto malformed_before = sink_->malformed;
    const int n = ring_buffer__consume(ringbuf_.get());
    sink_->handler = nullptr;
    more_waiting_ = n == kStopConsuming;
    if (n < 0 && !more_waiting_) {
        throw_system("cannot read events", -n);
    }
    last_look_ = std::chrono::steady_clock::now();
    if (sink_->delivered > 0 || sink_->malformed != malformed_before) {
        last_event_ = last_look_;
    }
    return sink_->delivered;
}

std::uint64_t Enforcer::malformed_events() const noexcept {
    return sink_ ? sink_->malformed : 0;
}

void Enforcer::uninstall() {
    ringbuf_.reset();
    maps_.clear();
    uninstall(pin_dir_);
    links_.clear(); // the last references: the programs detach
    skel_.reset();
}

void Enforcer::uninstall(const fs::path &pin_dir) {
    std::error_code ec;
    fs::remove_all(pin_dir, ec);
    if (ec) {
        throw Error(ErrorKind::System, "cannot remove " + pin_dir.string() + ": " + ec.message());
    }
}

} // namespace lockc
