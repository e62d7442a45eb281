// lockcd's state and operations, independent of D-Bus: the configuration,
// the registry of containers, the kernel's maps (through the Enforcer) and
// decision events. Every operation validates first and changes nothing
// when it fails: kernel and registry are updated together or not at all.
// Errors are api::ApiError.
#pragma once

#include "boot_to_wall_clock.hpp"
#include "config.hpp"
#include "denial_journal.hpp"
#include "enforcer.hpp"
#include "error.hpp"
#include "kernel_support.hpp"
#include "registry.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

namespace lockc {

struct ServiceOptions {
    std::filesystem::path config_file = "/etc/lockc/lockc.toml";
    std::filesystem::path state_dir = "/var/lib/lockc";
    EnforcerOptions enforcer;
    // Start even when the kernel cannot enforce (Enforcing is then false):
    // for tests and for inspecting a registry on a machine without BPF LSM.
    bool allow_unenforced = false;
    // The cgroup v2 mount; empty: found from /proc/self/mounts.
    std::filesystem::path cgroup_mount;
};

enum class ContainerState { Active, Pending, Gone };
[[nodiscard]] std::string_view to_string(ContainerState state);

// Where a container lives, as the caller said.
struct CgroupPathLocation {
    std::string path; // as given; normalized by the service
};
struct ScopeNameLocation {
    std::string name;
};
struct PidLocation {
    std::uint32_t pid = 0;
};
using Location = std::variant<CgroupPathLocation, ScopeNameLocation, PidLocation>;

struct RegisterRequest {
    std::string id;
    std::optional<Level> level; // nullopt: the default
    std::optional<Mode> mode;
    Location location;
    std::string runtime;
};

// What the service tells its front end (the D-Bus objects) happened.
struct ServiceListener {
    std::function<void(const ContainerRecord &)> container_added;
    std::function<void(const std::string &id)> container_removed;
    // Names of org.lockc.Container properties that changed.
    std::function<void(const ContainerRecord &, const std::vector<std::string> &)>
        container_changed;
    std::function<void()> defaults_changed;
    std::function<void(const Denial &)> denial;
};

class Service {
  public:
    // Loads the configuration (a broken file: built-in defaults, logged),
    // opens the enforcer (throws api::ApiError(KernelUnsupported) unless
    // allow_unenforced), restores the registry and reconciles it with the
    // kernel's maps.
    explicit Service(ServiceOptions options);
    Service(const Service &) = delete;
    Service &operator=(const Service &) = delete;
    Service(Service &&) = delete;
    Service &operator=(Service &&) = delete;
    ~Service();

    void set_listener(ServiceListener listener) { listener_ = std::move(listener); }

    [[nodiscard]] bool enforcing() const noexcept { return enforcer_.has_value(); }
    [[nodiscard]] const KernelSupport &kernel() const noexcept { return kernel_; }
    // Why not enforcing; "" when enforcing.
    [[nodiscard]] const std::string &enforcement_problem() const noexcept { return problem_; }
    [[nodiscard]] Level default_level() const noexcept;
    [[nodiscard]] Mode default_mode() const noexcept;

    ContainerRecord register_container(const RegisterRequest &request);
    void unregister_container(const std::string &id);
    void set_level(const std::string &id, Level level);
    void set_mode(const std::string &id, Mode mode);
    void set_default_level(Level level);
    void set_default_mode(Mode mode);
    // Throws ApiError(InvalidConfig) naming file:line:column; keeps the
    // running configuration then.
    void reload();

    // Throws ApiError(NotFound).
    [[nodiscard]] const ContainerRecord &container(const std::string &id);
    // nullptr when `id` is not registered.
    [[nodiscard]] const ContainerRecord *find_container(const std::string &id) const noexcept;
    [[nodiscard]] std::vector<const ContainerRecord *> containers();
    [[nodiscard]] std::size_t container_count() const noexcept { return containers_.size(); }
    [[nodiscard]] ContainerState state_of(const ContainerRecord &record) const;
    // Per hook name: this container's denied or audited operations.
    [[nodiscard]] std::map<std::string, std::uint64_t>
    decisions_of(const ContainerRecord &record) const;

    [[nodiscard]] Counters counters() const;
    [[nodiscard]] std::uint64_t events_received() const noexcept { return events_received_; }
    [[nodiscard]] std::uint64_t malformed_events() const;
    [[nodiscard]] std::uint64_t journal_suppressed() const noexcept {
        return rate_limit_.suppressed_total();
    }

    // Whether the process runs confined: in (or below) a registered cgroup
    // that is not privileged, or one the kernel confines. Returns what
    // confines it, for a message; an unknown pid counts as confined (fail
    // closed).
    [[nodiscard]] std::optional<std::string> confinement_of(std::optional<pid_t> pid) const;

    // The ring buffer's fd (poll for POLLIN), -1 when not enforcing.
    [[nodiscard]] int event_fd() const;
    // When to call process_events() even without POLLIN: the kernel does
    // not wake the reader for every event (Enforcer::events_due()).
    [[nodiscard]] std::optional<std::chrono::steady_clock::time_point> events_due() const;
    // Reads waiting events: journal, listener.denial; returns how many.
    // Never throws.
    std::size_t process_events();
    // Binds containers registered by scope name to the cgroups created
    // for them since. Cheap when nothing is pending.
    void refresh_pending();

    // ---- the registry on disk ----
    // A change is written to the registry before its call returns (a
    // killed lockcd loses nothing) and synced to the disk within this
    // delay: fdatasync() per change would cost more than the rest of a
    // registration together. What a power cut can lose, the containers
    // lose too (docs/lockcd.md, "The registry on disk").
    static constexpr auto kRegistrySyncDelay = std::chrono::milliseconds(50);
    // When sync_registry() is due; nullopt when everything is on disk.
    [[nodiscard]] std::optional<std::chrono::steady_clock::time_point> registry_sync_due() const;
    // Syncs the registry's journal; a failure is logged. Never throws.
    void sync_registry() noexcept;

    // ---- containers lockcd finds itself (container_discovery.hpp) ----
    [[nodiscard]] const Config &config() const noexcept { return config_; }
    // Whether a container or a pending name is registered already: an
    // explicit registration wins over what runtime metadata says.
    [[nodiscard]] bool knows(const std::string &id, const std::string &cgroup_name) const;
    // Whether a registration waits for, or runs in, a cgroup of this name
    // (a unit's name: its scope ending is worth a reconciliation).
    [[nodiscard]] bool names_cgroup(const std::string &cgroup_name) const;
    // A record that can no longer confine anything (its cgroup is gone) or
    // still waits for its cgroup; nullopt for a live or unknown container.
    [[nodiscard]] std::optional<ContainerState> stale_state(const std::string &id) const;
    // Forgets containers whose cgroup is gone (cgroup ids are never
    // reused, so such a record can never match again), including those
    // registered by name whose cgroup came and went unseen. Returns how many.
    std::size_t drop_gone();
    // Kernel entries made by the name patterns that nobody registered:
    // cgroup id -> path (relative to the cgroup2 root).
    [[nodiscard]] std::vector<std::pair<std::uint64_t, std::string>>
    unowned_pattern_entries() const;
    [[nodiscard]] const std::filesystem::path &cgroup_mount() const noexcept {
        return cgroup_mount_;
    }

  private:
    void restore();
    // Attaches programs loaded on new maps, once restore() has filled them.
    void attach_enforcer();
    // No enforcer after `e`: throws, unless started with --allow-unenforced.
    void without_enforcer(const Error &e);
    // restore()'s step for registrations by name: binds those whose cgroup
    // exists, forgets those whose cgroup came and went meanwhile.
    void drop_consumed_pending();
    [[nodiscard]] std::vector<ContainerRecord> records() const;
    void update_policy(ContainerRecord &record, Level level, Mode mode);
    void change_defaults(std::optional<Level> level, std::optional<Mode> mode);
    void save_registry(const std::vector<ContainerRecord> &records);
    // Writes one change to the registry; throws ApiError(Failed).
    void persist(const RegistryChange &change);
    // Rewrites the snapshot when the journal has grown; a failure is logged.
    void compact_registry();
    [[nodiscard]] RegistryState registry_state(const std::vector<ContainerRecord> &records) const;
    void apply_settings();
    [[nodiscard]] ContainerRecord &find(const std::string &id);
    // Whether the kernel's name patterns take this cgroup for a container.
    [[nodiscard]] bool looks_like_container(const std::string &cgroup_path) const;
    // The kernel's treatment of a cgroup nobody registered.
    void fall_back(std::uint64_t cgroup_id, const std::string &cgroup_path);
    // The path of a cgroup id, nullopt if it is gone or cannot be read
    // (logged).
    [[nodiscard]] std::optional<std::filesystem::path> path_of_cgroup(std::uint64_t cgroup) const;
    // Registers a kernel entry found without a registry record.
    void adopt(std::uint64_t cgroup, const std::string &path, const PolicyEntry &entry);
    void check_cgroup_allowed(const std::string &path) const;
    // The registration number of a container (made on first use), written
    // into its kernel entries so that events name it even after its cgroup
    // is gone (lockc_policy.tag).
    [[nodiscard]] std::uint32_t tag_for(const std::string &id);
    // For a registration that did not happen.
    void forget_tag(const std::string &id);
    // For an unregistered container: its tag still names it for the last
    // kRetiredTags unregistrations.
    void retire_tag(const std::string &id);
    static constexpr std::size_t kRetiredTags = 1024;
    // The registered container whose cgroup holds this one (a proper
    // ancestor), if any.
    [[nodiscard]] std::optional<std::string> container_above(const std::string &relative) const;
    [[nodiscard]] std::string describe_cgroup(std::uint64_t cgroup_id);
    [[nodiscard]] Denial to_denial(const Event &event, const BootToWallClock &clock);

    ServiceOptions options_;
    KernelSupport kernel_;
    std::string problem_;
    std::filesystem::path cgroup_mount_;
    std::string own_cgroup_;  // lockcd's own cgroup: never confinable
    std::string init_cgroup_; // PID 1's: never confinable either
    Config config_;
    std::optional<Level> default_level_override_;
    std::optional<Mode> default_mode_override_;
    RegistryStore store_;
    std::optional<Enforcer> enforcer_;
    std::map<std::string, ContainerRecord> containers_;           // by id
    std::unordered_map<std::uint64_t, std::string> by_cgroup_;    // cgroup id -> id
    std::unordered_map<std::uint64_t, std::string> cgroup_names_; // unregistered ids seen
    std::unordered_map<std::string, std::uint32_t> tag_of_;       // id -> tag
    std::unordered_map<std::uint32_t, std::string> tagged_;       // tag -> id, also retired
    std::deque<std::uint32_t> retired_tags_;                      // oldest first
    // Starts at random: entries a previous lockcd tagged may outlive it,
    // and their tags must not name this lockcd's containers.
    std::uint32_t last_tag_ = std::random_device{}();
    DenialRateLimit rate_limit_;
    std::uint64_t events_received_ = 0;
    ServiceListener listener_;
};

} // namespace lockc
