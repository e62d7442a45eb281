#include "service.hpp"

#include "api_error.hpp"
#include "cgroup.hpp"
#include "error.hpp"
#include "log.hpp"
#include "text.hpp"
#include "validation.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <set>
#include <system_error>

namespace lockc {

using api::ApiError;

namespace {

// Pins of an earlier build that this one has no program or map for.
void log_retired_pins(const Enforcer &enforcer) {
    std::string names;
    for (const auto &pin : enforcer.retired_pins()) {
        names += (names.empty() ? "" : ", ") + pin;
    }
    if (!names.empty()) {
        log::notice("removed the pins of programs and maps that this lockc no longer has: " +
                    names);
    }
}

// The policy map's size: one entry per registered container, plus the
// kernel's own pattern entries; registrations stop well before it is full.
constexpr std::size_t kMaxContainers = LOCKC_MAX_POLICIES / 2;

// The id of the cgroup directory at a root-relative path, if there is one.
std::optional<std::uint64_t> existing_cgroup_id(const std::filesystem::path &mount,
                                                const std::string &relative) {
    const auto full = mount / std::filesystem::path(relative).relative_path();
    std::error_code ec;
    if (!std::filesystem::is_directory(full, ec)) {
        return std::nullopt;
    }
    try {
        return cgroup_id(full);
    } catch (const Error &) {
        return std::nullopt;
    }
}

} // namespace

std::string_view to_string(ContainerState state) {
    switch (state) {
    case ContainerState::Active:
        return "active";
    case ContainerState::Pending:
        return "pending";
    case ContainerState::Gone:
        return "gone";
    }
    return "unknown";
}

Service::Service(ServiceOptions options)
    : options_(std::move(options)), store_(options_.state_dir),
      rate_limit_(config_.denial_log_burst, config_.denial_log_interval) {
    try {
        config_ = load_config(options_.config_file);
    } catch (const ConfigError &e) {
        // Not starting would leave new containers unregistered; the built-in
        // defaults are the safe choice until the file is fixed and reloaded.
        log::error(std::string(e.what()) + "; using the built-in defaults until it is fixed");
        config_ = Config{};
    }
    rate_limit_.set_limits(config_.denial_log_burst, config_.denial_log_interval);

    cgroup_mount_ = options_.cgroup_mount.empty() ? cgroup2_mount() : options_.cgroup_mount;
    own_cgroup_ = cgroup_of_pid(static_cast<int>(::getpid())).string();
    try {
        init_cgroup_ = cgroup_of_pid(1).string();
    } catch (const Error &) {
        // Another pid namespace without a visible PID 1: nothing to protect.
    }

    kernel_ = check_kernel_support(options_.enforcer.lsm_file, options_.enforcer.btf_file);
    try {
        if (!kernel_.supported()) {
            throw Error(ErrorKind::KernelUnsupported, kernel_.problem);
        }
        // New maps are filled (rules, settings, the registry) before any
        // program of this load decides: see attach_enforcer().
        EnforcerOptions enforcer_options = options_.enforcer;
        enforcer_options.defer_attach = true;
        enforcer_options.cgroup_mount = cgroup_mount_;
        enforcer_.emplace(Enforcer::open(enforcer_options));
        if (enforcer_->replaced_build()) {
            log::notice("replaced the BPF programs of another lockc build with this one's, "
                        "without a gap; every container's entry was kept");
        }
        log_retired_pins(*enforcer_);
        enforcer_->apply_rules(rules_of(config_));
    } catch (const Error &e) {
        without_enforcer(e);
    }
    restore();
    attach_enforcer();
}

void Service::without_enforcer(const Error &e) {
    enforcer_.reset();
    if (!options_.allow_unenforced) {
        throw ApiError(e.kind() == ErrorKind::KernelUnsupported ? api::kKernelUnsupported
                                                                : api::kFailed,
                       e.what());
    }
    problem_ = e.what();
    log::warning("not enforcing (started with --allow-unenforced): " + problem_);
}

void Service::attach_enforcer() {
    if (!enforcer_ || enforcer_->attached()) {
        return;
    }
    // The maps are new (first load, or another ABI's state that cannot be
    // reused) and restore() has filled them. Programs of another ABI still
    // decide until these are attached, so there is no moment without
    // enforcement; only what neither the registry nor the container
    // patterns know is lost (docs/architecture.md).
    try {
        enforcer_->attach();
    } catch (const Error &e) {
        without_enforcer(e);
        return;
    }
    log_retired_pins(*enforcer_);
    // Registrations by name whose cgroups existed got their entries now.
    refresh_pending();
    const auto found = std::to_string(enforcer_->classified_existing());
    if (const auto abi = enforcer_->replaced_abi()) {
        log::notice("replaced the BPF programs of a lockc with another map layout (ABI " +
                    std::to_string(*abi) + ", now " + std::to_string(LOCKC_ABI_VERSION) +
                    ") without a gap: the new maps were filled from the registry, and " + found +
                    " existing cgroups were given entries by their names, before the new "
                    "programs were attached");
    } else if (enforcer_->classified_existing() > 0) {
        log::notice("gave " + found +
                    " cgroups that existed before lockc was loaded the entries their names "
                    "call for (a registration by name, or a container pattern)");
    }
}

Service::~Service() {
    sync_registry();
}

Level Service::default_level() const noexcept {
    return default_level_override_.value_or(config_.default_level);
}

Mode Service::default_mode() const noexcept {
    return default_mode_override_.value_or(config_.default_mode);
}

void Service::apply_settings() {
    if (!enforcer_) {
        return;
    }
    Settings settings = default_settings();
    settings.default_level = default_level();
    settings.default_mode = default_mode();
    settings.container_patterns = config_.container_patterns;
    enforcer_->configure(settings);
}

bool Service::looks_like_container(const std::string &cgroup_path) const {
    const auto tail = path_tail(cgroup_path);
    return std::ranges::any_of(config_.container_patterns, [&](const NamePattern &p) {
        return p.matches(tail.name, tail.parent);
    });
}

void Service::fall_back(std::uint64_t cgroup_id, const std::string &cgroup_path) {
    if (!enforcer_) {
        return;
    }
    if (looks_like_container(cgroup_path)) {
        // Tag 0: no registration stands behind it any more.
        enforcer_->set_policy(cgroup_id, default_level(), default_mode(), std::nullopt,
                              LOCKC_ORIGIN_PATTERN, 0);
        return;
    }
    try {
        enforcer_->remove_policy(cgroup_id);
    } catch (const Error &e) {
        if (e.kind() != ErrorKind::NotFound) {
            throw;
        }
    }
}

RegistryState Service::registry_state(const std::vector<ContainerRecord> &records) const {
    RegistryState state;
    state.default_level = default_level_override_;
    state.default_mode = default_mode_override_;
    state.containers = records;
    return state;
}

void Service::save_registry(const std::vector<ContainerRecord> &records) {
    try {
        store_.save(registry_state(records));
    } catch (const std::exception &e) {
        throw ApiError(api::kFailed, std::string("cannot save the registry: ") + e.what() +
                                         "; nothing was changed");
    }
}

void Service::persist(const RegistryChange &change) {
    try {
        if (store_.journal_usable()) {
            store_.append(change);
            return;
        }
        // The journal broke earlier: a whole new snapshot instead.
        auto state = registry_state(records());
        apply_change(state, change);
        store_.save(state);
    } catch (const std::exception &e) {
        throw ApiError(api::kFailed, std::string("cannot save the registry: ") + e.what() +
                                         "; nothing was changed");
    }
}

void Service::compact_registry() {
    if (!store_.compaction_due()) {
        return;
    }
    try {
        store_.save(registry_state(records()));
    } catch (const std::exception &e) {
        // The change is in the journal; the next change tries again.
        log::warning(std::string("cannot rewrite the registry: ") + e.what());
    }
}

void Service::sync_registry() noexcept {
    try {
        store_.sync();
    } catch (const std::exception &e) {
        // The next change writes a new snapshot (compaction is due now).
        log::error(std::string("the registry may not be on disk: ") + e.what());
    }
}

std::optional<std::chrono::steady_clock::time_point> Service::registry_sync_due() const {
    const auto since = store_.unsynced_since();
    if (!since) {
        return std::nullopt;
    }
    return *since + kRegistrySyncDelay;
}

std::vector<ContainerRecord> Service::records() const {
    std::vector<ContainerRecord> out;
    out.reserve(containers_.size());
    for (const auto &[id, record] : containers_) {
        out.push_back(record);
    }
    return out;
}

void Service::restore() {
    RegistryState state;
    bool corrupt = false;
    try {
        state = store_.load();
    } catch (const RegistryCorrupt &e) {
        const auto moved = store_.quarantine();
        log::error(std::string(e.what()) + "; moved it to " + moved.string() +
                   " and rebuilt the registry from the kernel's entries");
        corrupt = true;
    }
    default_level_override_ = state.default_level;
    default_mode_override_ = state.default_mode;
    apply_settings();

    for (auto &record : state.containers) {
        if (containers_.contains(record.id)) {
            continue; // the store rejects duplicates; be safe anyway
        }
        if (record.cgroup_id != 0) {
            const auto id = existing_cgroup_id(cgroup_mount_, record.cgroup_path);
            if (id != record.cgroup_id) {
                log::notice("container " + record.id + ": its cgroup " + record.cgroup_path +
                            " is gone; dropped from the registry");
                continue;
            }
            if (enforcer_) {
                enforcer_->set_policy(record.cgroup_id, record.level, record.mode, std::nullopt,
                                      LOCKC_ORIGIN_REGISTERED, tag_for(record.id));
            }
            by_cgroup_[record.cgroup_id] = record.id;
        }
        containers_.emplace(record.id, std::move(record));
    }
    drop_consumed_pending();

    if (enforcer_) {
        for (auto &[id, record] : containers_) {
            if (record.cgroup_id == 0) {
                enforcer_->add_pending(record.pending_name, record.level, record.mode, tag_for(id));
            }
        }
        // Entries nobody registered. With a registry, they were left by a
        // lockcd killed between writing the kernel and the registry: the
        // kernel gets what it would have given such a cgroup. Without one
        // (it was corrupt), they are all lockc knows: they are kept as they
        // are and registered under their cgroup's name, so that a broken
        // file never weakens a container.
        for (const auto &[cgroup, entry] : enforcer_->policies()) {
            if (by_cgroup_.contains(cgroup) || entry.origin == LOCKC_ORIGIN_PATTERN) {
                continue;
            }
            const auto path = path_of_cgroup(cgroup);
            if (corrupt && path) {
                adopt(cgroup, path->string(), entry);
                continue;
            }
            log::notice("cgroup " + (path ? path->string() : std::to_string(cgroup)) +
                        " had a policy entry no registered container owns; reset");
            fall_back(cgroup, path ? path->string() : std::string());
        }
        for (const auto &name : enforcer_->pending_names()) {
            const bool owned =
                std::any_of(containers_.begin(), containers_.end(), [&](const auto &c) {
                    return c.second.cgroup_id == 0 && c.second.pending_name == name;
                });
            if (!owned) {
                enforcer_->remove_pending(name);
            }
        }
    }
    try {
        save_registry(records());
    } catch (const ApiError &e) {
        // Enforcement and queries need no disk: run on with what was read,
        // and let every change fail (saying why) until the directory is
        // writable again. Exiting would only make systemd restart us in a
        // loop, with nobody answering.
        log::error("cannot save the registry in " + options_.state_dir.string() + " at start (" +
                   e.what() +
                   "); running on with the state read, every change will fail until "
                   "it can be saved");
    }
    log::info("restored " + std::to_string(containers_.size()) + " registered containers");
}

void Service::drop_consumed_pending() {
    if (!enforcer_ || !enforcer_->reattached()) {
        // Fresh programs (after a reboot) have an empty name table: every
        // registration by name still waits, and gets its name back below.
        refresh_pending();
        return;
    }
    // The pinned table outlived lockcd. A name it no longer holds was
    // taken by a cgroup; if refresh_pending() finds no such cgroup, the
    // container came and went while lockcd was away (or before it looked).
    // Giving its name back would keep a dead container registered, waiting
    // for a cgroup that its runtime will never create again.
    const auto names = enforcer_->pending_names();
    const std::set<std::string> waiting(names.begin(), names.end());
    refresh_pending();
    for (auto it = containers_.begin(); it != containers_.end();) {
        const auto &record = it->second;
        if (record.cgroup_id == 0 && !waiting.contains(record.pending_name)) {
            log::notice("container " + record.id + ": its cgroup " + record.pending_name +
                        " came and went while lockcd was away; dropped from the registry");
            it = containers_.erase(it);
        } else {
            ++it;
        }
    }
}

std::optional<std::filesystem::path> Service::path_of_cgroup(std::uint64_t cgroup) const {
    try {
        return cgroup_path_of_id(cgroup_mount_, cgroup);
    } catch (const Error &e) {
        log::warning(e.what());
        return std::nullopt;
    }
}

void Service::adopt(std::uint64_t cgroup, const std::string &path, const PolicyEntry &entry) {
    ContainerRecord record;
    record.id = path_tail(path).name;
    try {
        check_container_id(record.id);
    } catch (const ApiError &) {
        record.id.clear();
    }
    if (record.id.empty() || containers_.contains(record.id)) {
        record.id = "cgroup-" + std::to_string(cgroup);
    }
    record.level = entry.level;
    record.mode = entry.mode;
    record.cgroup_path = path;
    record.cgroup_id = cgroup;
    record.registered_usec = clock_usec(CLOCK_REALTIME);
    log::notice("kept the kernel's entry of " + path + " as container " + record.id + " (" +
                std::string(to_string(record.level)) + ")");
    by_cgroup_[cgroup] = record.id;
    containers_.emplace(record.id, std::move(record));
}

void Service::check_cgroup_allowed(const std::string &path) const {
    if (path == "/") {
        throw ApiError(api::kInvalidArgument,
                       "the root cgroup holds the whole host; register a container's own cgroup");
    }
    const auto holds = [&](const std::string &cgroup) {
        return !cgroup.empty() && (cgroup == path || cgroup.starts_with(path + "/"));
    };
    if (holds(own_cgroup_)) {
        throw ApiError(api::kInvalidArgument, "cgroup " + path +
                                                  " holds lockcd itself; confining it could stop "
                                                  "lockc from working");
    }
    if (holds(init_cgroup_)) {
        throw ApiError(api::kInvalidArgument,
                       "cgroup " + path +
                           " holds the init process (PID 1); confining it would "
                           "stop the host from mounting and starting services");
    }
}

std::uint32_t Service::tag_for(const std::string &id) {
    if (const auto it = tag_of_.find(id); it != tag_of_.end()) {
        return it->second;
    }
    do {
        ++last_tag_; // wraps after 2^32 registrations; 0 and tags in use are skipped
    } while (last_tag_ == 0 || tagged_.contains(last_tag_));
    tag_of_.emplace(id, last_tag_);
    tagged_.emplace(last_tag_, id);
    return last_tag_;
}

void Service::forget_tag(const std::string &id) {
    if (const auto it = tag_of_.find(id); it != tag_of_.end()) {
        tagged_.erase(it->second);
        tag_of_.erase(it);
    }
}

void Service::retire_tag(const std::string &id) {
    const auto it = tag_of_.find(id);
    if (it == tag_of_.end()) {
        return;
    }
    // Still named for a while: its last denials may be read after this.
    retired_tags_.push_back(it->second);
    tag_of_.erase(it);
    if (retired_tags_.size() > kRetiredTags) {
        tagged_.erase(retired_tags_.front());
        retired_tags_.pop_front();
    }
}

std::optional<std::string> Service::container_above(const std::string &relative) const {
    // Up the path, by cgroup id as the kernel matches (a few lookups, not
    // a pass over every container: registrations stay cheap with many).
    const auto parent = [](const std::string &path) {
        const auto slash = path.rfind('/');
        return slash == 0 || slash == std::string::npos ? std::string("/") : path.substr(0, slash);
    };
    for (auto prefix = parent(relative); prefix != "/"; prefix = parent(prefix)) {
        if (const auto cg = existing_cgroup_id(cgroup_mount_, prefix)) {
            if (const auto it = by_cgroup_.find(*cg); it != by_cgroup_.end()) {
                return it->second;
            }
        }
    }
    return std::nullopt;
}

ContainerRecord Service::register_container(const RegisterRequest &request) {
    check_container_id(request.id);
    if (containers_.contains(request.id)) {
        throw ApiError(api::kAlreadyRegistered, "container " + request.id +
                                                    " is already registered; unregister it first "
                                                    "or use SetLevel");
    }
    if (containers_.size() >= kMaxContainers) {
        throw ApiError(api::kLimitsExceeded, "lockc holds " + std::to_string(containers_.size()) +
                                                 " containers, its limit");
    }
    ContainerRecord record;
    record.id = request.id;
    record.level = request.level.value_or(default_level());
    record.mode = request.mode.value_or(default_mode());
    record.runtime = request.runtime;
    record.registered_usec = clock_usec(CLOCK_REALTIME);

    std::string relative;
    if (const auto *path = std::get_if<CgroupPathLocation>(&request.location)) {
        relative = normalize_cgroup_path(path->path, cgroup_mount_);
    } else if (const auto *pid = std::get_if<PidLocation>(&request.location)) {
        if (pid->pid == 0 || pid->pid > static_cast<std::uint32_t>(INT32_MAX)) {
            throw ApiError(api::kInvalidArgument,
                           "pid " + std::to_string(pid->pid) + " is not a process id");
        }
        try {
            relative = cgroup_of_pid(static_cast<int>(pid->pid)).string();
            relative = normalize_relative_cgroup_path(relative);
        } catch (const Error &e) {
            throw ApiError(api::kNotFound, e.what());
        }
    } else {
        const auto &scope = std::get<ScopeNameLocation>(request.location);
        check_cgroup_name(scope.name);
        for (const auto &[id, other] : containers_) {
            if (other.pending_name == scope.name) {
                throw ApiError(api::kAlreadyRegistered,
                               "scope name " + scope.name + " is already registered as " + id);
            }
        }
        record.pending_name = scope.name;
    }
    if (!relative.empty()) {
        check_cgroup_allowed(relative);
        if (const auto outer = container_above(relative)) {
            // Its own entry would win over the container's: a way to
            // weaken part of a container. Change the container instead.
            std::string message = "cgroup " + relative;
            message += " is inside container " + *outer;
            message += " and shares its level; change the level of " + *outer;
            throw ApiError(api::kAlreadyRegistered, message);
        }
        const auto id = existing_cgroup_id(cgroup_mount_, relative);
        if (!id) {
            throw ApiError(api::kNotFound,
                           "no cgroup " + relative + " under " + cgroup_mount_.string());
        }
        if (const auto it = by_cgroup_.find(*id); it != by_cgroup_.end()) {
            throw ApiError(api::kAlreadyRegistered,
                           "cgroup " + relative + " is already registered as " + it->second);
        }
        record.cgroup_path = relative;
        record.cgroup_id = *id;
    }

    // Kernel first: a crash before the registry is written leaves an entry
    // that restore() resets; a failed write below is undone here.
    std::optional<PolicyEntry> previous;
    const auto tag = tag_for(record.id);
    try {
        if (enforcer_) {
            if (record.cgroup_id != 0) {
                previous = enforcer_->policy(record.cgroup_id);
                enforcer_->set_policy(record.cgroup_id, record.level, record.mode, std::nullopt,
                                      LOCKC_ORIGIN_REGISTERED, tag);
            } else {
                enforcer_->add_pending(record.pending_name, record.level, record.mode, tag);
            }
        }
    } catch (...) {
        forget_tag(record.id);
        throw;
    }
    try {
        persist(PutContainer{record});
    } catch (...) {
        forget_tag(record.id);
        if (enforcer_) {
            if (record.cgroup_id == 0) {
                enforcer_->remove_pending(record.pending_name);
            } else if (previous) {
                enforcer_->set_policy(record.cgroup_id, previous->level, previous->mode,
                                      std::nullopt, previous->origin, previous->tag);
            } else {
                enforcer_->remove_policy(record.cgroup_id);
            }
        }
        throw;
    }
    if (record.cgroup_id != 0) {
        by_cgroup_[record.cgroup_id] = record.id;
    }
    const auto &stored = containers_.emplace(record.id, record).first->second;
    log::info("registered container " + record.id + " at level " +
              std::string(to_string(record.level)) + " (" + std::string(to_string(record.mode)) +
              ")");
    if (listener_.container_added) {
        listener_.container_added(stored);
    }
    compact_registry();
    return record;
}

ContainerRecord &Service::find(const std::string &id) {
    const auto it = containers_.find(id);
    if (it == containers_.end()) {
        throw ApiError(api::kNotFound, "no container " + id + " is registered");
    }
    return it->second;
}

void Service::unregister_container(const std::string &id) {
    const ContainerRecord record = find(id);
    // Registry first: a crash before the kernel is updated leaves an entry
    // nobody owns, which restore() resets.
    persist(RemoveContainer{id});
    try {
        if (enforcer_) {
            if (record.cgroup_id != 0) {
                if (enforcer_->policy(record.cgroup_id)) {
                    fall_back(record.cgroup_id, record.cgroup_path);
                }
            } else {
                try {
                    enforcer_->remove_pending(record.pending_name);
                } catch (const Error &e) {
                    if (e.kind() != ErrorKind::NotFound) {
                        throw;
                    }
                }
            }
        }
    } catch (...) {
        try {
            persist(PutContainer{record});
        } catch (const std::exception &e) {
            log::error("container " + id +
                       " stays registered but is missing from the registry: " + e.what());
        }
        throw;
    }
    by_cgroup_.erase(record.cgroup_id);
    containers_.erase(id);
    retire_tag(id);
    log::info("unregistered container " + id);
    if (listener_.container_removed) {
        listener_.container_removed(id);
    }
    compact_registry();
}

void Service::set_level(const std::string &id, Level level) {
    auto &record = find(id);
    if (record.level == level) {
        return;
    }
    update_policy(record, level, record.mode);
    if (listener_.container_changed) {
        listener_.container_changed(record, {"Level"});
    }
}

void Service::set_mode(const std::string &id, Mode mode) {
    auto &record = find(id);
    if (record.mode == mode) {
        return;
    }
    update_policy(record, record.level, mode);
    if (listener_.container_changed) {
        listener_.container_changed(record, {"Mode"});
    }
}

void Service::update_policy(ContainerRecord &record, Level level, Mode mode) {
    const auto write_kernel = [&](Level l, Mode m) {
        if (!enforcer_) {
            return;
        }
        if (record.cgroup_id != 0) {
            if (enforcer_->policy(record.cgroup_id)) {
                enforcer_->set_policy(record.cgroup_id, l, m);
            }
        } else {
            enforcer_->add_pending(record.pending_name, l, m, tag_for(record.id));
        }
    };
    write_kernel(level, mode);
    try {
        auto changed = record;
        changed.level = level;
        changed.mode = mode;
        persist(PutContainer{changed});
    } catch (...) {
        write_kernel(record.level, record.mode);
        throw;
    }
    log::info("container " + record.id + " is now at level " + std::string(to_string(level)) +
              " (" + std::string(to_string(mode)) + ")");
    record.level = level;
    record.mode = mode;
    compact_registry();
}

void Service::change_defaults(std::optional<Level> level, std::optional<Mode> mode) {
    const auto old_level = default_level_override_;
    const auto old_mode = default_mode_override_;
    default_level_override_ = level;
    default_mode_override_ = mode;
    try {
        apply_settings();
        persist(SetDefaults{level, mode});
    } catch (...) {
        default_level_override_ = old_level;
        default_mode_override_ = old_mode;
        apply_settings();
        throw;
    }
    compact_registry();
    log::info("default level " + std::string(to_string(default_level())) + ", mode " +
              std::string(to_string(default_mode())));
    if (listener_.defaults_changed) {
        listener_.defaults_changed();
    }
}

void Service::set_default_level(Level level) {
    change_defaults(level, default_mode_override_);
}

void Service::set_default_mode(Mode mode) {
    change_defaults(default_level_override_, mode);
}

void Service::reload() {
    Config fresh;
    try {
        fresh = load_config(options_.config_file);
    } catch (const ConfigError &e) {
        log::error(std::string(e.what()) + "; configuration not reloaded, the running one stays");
        throw ApiError(api::kInvalidConfig,
                       std::string(e.what()) + "; the running configuration is unchanged");
    }
    // Rules first: apply_rules validates the whole set before it changes
    // anything, so a failure here leaves everything as it was.
    if (enforcer_) {
        enforcer_->apply_rules(rules_of(fresh));
    }
    const Config old = config_;
    config_ = fresh;
    try {
        // The file's defaults replace values set over D-Bus.
        change_defaults(std::nullopt, std::nullopt);
    } catch (...) {
        config_ = old;
        apply_settings();
        if (enforcer_) {
            enforcer_->apply_rules(rules_of(old));
        }
        throw;
    }
    rate_limit_.set_limits(config_.denial_log_burst, config_.denial_log_interval);
    log::info("configuration reloaded from " + options_.config_file.string());
}

const ContainerRecord &Service::container(const std::string &id) {
    return find(id);
}

const ContainerRecord *Service::find_container(const std::string &id) const noexcept {
    const auto it = containers_.find(id);
    return it == containers_.end() ? nullptr : &it->second;
}

std::vector<const ContainerRecord *> Service::containers() {
    std::vector<const ContainerRecord *> out;
    out.reserve(containers_.size());
    for (const auto &[id, record] : containers_) {
        out.push_back(&record);
    }
    return out;
}

ContainerState Service::state_of(const ContainerRecord &record) const {
    if (record.cgroup_id == 0) {
        return ContainerState::Pending;
    }
    if (enforcer_) {
        return enforcer_->policy(record.cgroup_id) ? ContainerState::Active : ContainerState::Gone;
    }
    return existing_cgroup_id(cgroup_mount_, record.cgroup_path) == record.cgroup_id
               ? ContainerState::Active
               : ContainerState::Gone;
}

std::map<std::string, std::uint64_t> Service::decisions_of(const ContainerRecord &record) const {
    std::map<std::string, std::uint64_t> out;
    std::optional<PolicyEntry> entry;
    if (enforcer_ && record.cgroup_id != 0) {
        entry = enforcer_->policy(record.cgroup_id);
    }
    for (unsigned hook = 0; hook < LOCKC_HOOK_COUNT; ++hook) {
        out[std::string(hook_name(hook))] = entry ? entry->decisions.at(hook) : 0;
    }
    return out;
}

Counters Service::counters() const {
    return enforcer_ ? enforcer_->counters() : Counters{};
}

std::uint64_t Service::malformed_events() const {
    return enforcer_ ? enforcer_->malformed_events() : 0;
}

std::optional<std::string> Service::confinement_of(std::optional<pid_t> pid) const {
    if (!pid || *pid <= 0) {
        return "its process id is unknown";
    }
    std::string path;
    try {
        path = normalize_relative_cgroup_path(cgroup_of_pid(*pid).string());
    } catch (const std::exception &) {
        return "its cgroup cannot be read";
    }
    // From the caller's own cgroup up to the root, as the kernel searches,
    // by cgroup id as the kernel does (a cgroup made again at a registered
    // path is not the container).
    for (std::string prefix = path; !prefix.empty();) {
        const auto cg = prefix == "/" ? std::nullopt : existing_cgroup_id(cgroup_mount_, prefix);
        if (cg) {
            if (const auto it = by_cgroup_.find(*cg); it != by_cgroup_.end()) {
                if (const auto c = containers_.find(it->second);
                    c != containers_.end() && c->second.level != Level::Privileged) {
                    return "container " + it->second;
                }
            }
            if (enforcer_) {
                if (const auto entry = enforcer_->policy(*cg);
                    entry && entry->level != Level::Privileged) {
                    return "cgroup " + prefix;
                }
            }
        }
        const auto slash = prefix.rfind('/');
        prefix = prefix == "/" ? "" : (slash == 0 ? "/" : prefix.substr(0, slash));
    }
    return std::nullopt;
}

int Service::event_fd() const {
    return enforcer_ ? enforcer_->event_fd() : -1;
}

std::optional<std::chrono::steady_clock::time_point> Service::events_due() const {
    return enforcer_ ? enforcer_->events_due() : std::nullopt;
}

void Service::refresh_pending() {
    if (!enforcer_ || std::none_of(containers_.begin(), containers_.end(),
                                   [](const auto &c) { return c.second.cgroup_id == 0; })) {
        return;
    }
    std::vector<const ContainerRecord *> bound;
    for (const auto &[cgroup, entry] : enforcer_->policies()) {
        if (entry.origin != LOCKC_ORIGIN_PENDING || by_cgroup_.contains(cgroup)) {
            continue;
        }
        const auto path = path_of_cgroup(cgroup);
        if (!path) {
            continue;
        }
        const std::string name(path_tail(path->string()).name);
        for (auto &[id, record] : containers_) {
            if (record.cgroup_id == 0 && record.pending_name == name) {
                record.cgroup_id = cgroup;
                record.cgroup_path = path->string();
                by_cgroup_[cgroup] = id;
                bound.push_back(&record);
                log::info("container " + id + " now runs in " + record.cgroup_path);
                if (listener_.container_changed) {
                    listener_.container_changed(record, {"CgroupPath", "CgroupId", "State"});
                }
                break;
            }
        }
    }
    for (const auto *record : bound) {
        try {
            persist(PutContainer{*record});
        } catch (const std::exception &e) {
            // The binding is found again from the kernel's entry after a restart.
            log::warning(e.what());
        }
    }
    if (!bound.empty()) {
        compact_registry();
    }
}

bool Service::knows(const std::string &id, const std::string &cgroup_name) const {
    return containers_.contains(id) || names_cgroup(cgroup_name);
}

bool Service::names_cgroup(const std::string &cgroup_name) const {
    return std::any_of(containers_.begin(), containers_.end(), [&](const auto &c) {
        return (!c.second.pending_name.empty() && c.second.pending_name == cgroup_name) ||
               (!c.second.cgroup_path.empty() &&
                path_tail(c.second.cgroup_path).name == cgroup_name);
    });
}

std::optional<ContainerState> Service::stale_state(const std::string &id) const {
    const auto it = containers_.find(id);
    if (it == containers_.end()) {
        return std::nullopt;
    }
    const auto state = state_of(it->second);
    return state == ContainerState::Active ? std::nullopt : std::optional(state);
}

std::size_t Service::drop_gone() {
    if (!enforcer_) {
        return 0; // without the kernel's entries nothing tells what is gone
    }
    // Read before binding: a name the kernel no longer holds was consumed
    // by a cgroup; if refresh_pending() then finds no such cgroup, it was
    // removed again before lockcd saw it (a short `runc run`).
    const auto names = enforcer_->pending_names();
    const std::set<std::string> waiting(names.begin(), names.end());
    refresh_pending();
    std::vector<std::string> gone;
    for (const auto &[id, record] : containers_) {
        const bool ended = record.cgroup_id != 0 ? !enforcer_->policy(record.cgroup_id)
                                                 : !waiting.contains(record.pending_name);
        if (ended) {
            gone.push_back(id);
        }
    }
    for (const auto &id : gone) {
        try {
            log::info("container " + id + " has ended (its cgroup is gone)");
            unregister_container(id);
        } catch (const std::exception &e) {
            log::warning("cannot forget container " + id + ": " + e.what());
        }
    }
    return gone.size();
}

std::vector<std::pair<std::uint64_t, std::string>> Service::unowned_pattern_entries() const {
    std::vector<std::pair<std::uint64_t, std::string>> out;
    if (!enforcer_) {
        return out;
    }
    for (const auto &[cgroup, entry] : enforcer_->policies()) {
        if (entry.origin != LOCKC_ORIGIN_PATTERN || by_cgroup_.contains(cgroup)) {
            continue;
        }
        if (const auto path = path_of_cgroup(cgroup)) {
            out.emplace_back(cgroup, path->string());
        }
    }
    return out;
}

std::string Service::describe_cgroup(std::uint64_t cgroup_id) {
    if (const auto it = cgroup_names_.find(cgroup_id); it != cgroup_names_.end()) {
        return it->second;
    }
    std::string name = "cgroup-" + std::to_string(cgroup_id);
    try {
        if (const auto path = cgroup_path_of_id(cgroup_mount_, cgroup_id)) {
            name = escape_untrusted(path_tail(path->string()).name);
        }
    } catch (const Error &) {
        // keep the numeric name
    }
    constexpr std::size_t kMaxNames = 4096;
    if (cgroup_names_.size() >= kMaxNames) {
        cgroup_names_.clear();
    }
    cgroup_names_.emplace(cgroup_id, name);
    return name;
}

Denial Service::to_denial(const Event &event, const BootToWallClock &clock) {
    Denial d;
    auto it = by_cgroup_.find(event.policy_cgroup_id);
    if (it == by_cgroup_.end()) {
        refresh_pending();
        it = by_cgroup_.find(event.policy_cgroup_id);
    }
    if (it != by_cgroup_.end()) {
        d.container = it->second;
    } else if (const auto t = tagged_.find(event.tag); event.tag != 0 && t != tagged_.end()) {
        // The cgroup is gone (or was never seen): the entry's tag still
        // says whose registration decided.
        d.container = t->second;
    } else {
        d.container = describe_cgroup(event.policy_cgroup_id);
    }
    d.level = event.level;
    d.mode = event.mode;
    d.hook = std::string(hook_name(event.hook));
    d.target = escape_untrusted(event.target);
    d.pid = event.pid;
    d.uid = event.uid;
    d.comm = escape_untrusted(event.comm);
    d.error = event.error;
    d.time_usec = clock.wall_usec(event.boot_time);
    return d;
}

std::size_t Service::process_events() {
    if (!enforcer_) {
        return 0;
    }
    try {
        // One offset for the whole pass: events keep their order in time.
        const auto clock = BootToWallClock::sample();
        return enforcer_->consume_events([this, &clock](const Event &event) {
            ++events_received_;
            try {
                const Denial d = to_denial(event, clock);
                const auto verdict = rate_limit_.admit(d.container, DenialRateLimit::Clock::now());
                if (verdict.log) {
                    journal_denial(d, verdict.suppressed_before);
                }
                if (listener_.denial) {
                    listener_.denial(d);
                }
            } catch (const std::exception &e) {
                log::error(std::string("cannot report a decision: ") + e.what());
            }
        });
    } catch (const std::exception &e) {
        log::error(std::string("cannot read decision events: ") + e.what());
    }
    return 0;
}

} // namespace lockc
