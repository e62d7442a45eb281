#include "container_discovery.hpp"

#include "api_error.hpp"
#include "log.hpp"
#include "policy.hpp"
#include "text.hpp"
#include "validation.hpp"

#include <exception>
#include <fstream>
#include <sstream>
#include <system_error>

namespace lockc {

namespace {

// The effective uid of a task, nullopt when it cannot be read.
std::optional<unsigned long> effective_uid(pid_t tid) {
    std::ifstream status("/proc/" + std::to_string(tid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with("Uid:")) {
            std::istringstream fields(line.substr(4));
            unsigned long real = 0;
            unsigned long effective = 0;
            if (fields >> real >> effective) {
                return effective;
            }
        }
    }
    return std::nullopt;
}

bool valid_id(const std::string &id) {
    try {
        check_container_id(id);
        return true;
    } catch (const std::exception &) {
        return false;
    }
}

} // namespace

std::optional<NamedContainer> container_of_cgroup_path(const std::string &path) {
    // The built-in patterns, not the configured ones: only for these is the
    // engine known.
    const auto tail = path_tail(path);
    for (const auto &[pattern, engine] : default_patterns()) {
        const auto affixes = pattern.prefix.size() + pattern.suffix.size();
        if (!pattern.matches(tail.name, tail.parent) || tail.name.size() == affixes) {
            continue; // not this pattern's, or no id between its prefix and suffix
        }
        std::string id(tail.name.substr(pattern.prefix.size(), tail.name.size() - affixes));
        // The conmon monitors of podman and CRI-O run in scopes of their own
        // that are not containers. Under a cgroupfs parent only the runtime's
        // ids, not its other directories (Docker's /docker/buildkit).
        const bool hex_id =
            id.size() == 64 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
        if (id.starts_with("conmon-") || !valid_id(id) || (!pattern.parent.empty() && !hex_id)) {
            return std::nullopt;
        }
        return NamedContainer{std::string(engine), std::move(id)};
    }
    return std::nullopt;
}

std::filesystem::path on_host(const std::filesystem::path &path) {
    return kHostRoot / path.relative_path();
}

std::optional<std::filesystem::path> find_bundle(const NamedContainer &container) {
    // containerd keeps a task's bundle under its namespace ("moby" for
    // Docker, "k8s.io" for the CRI plugin); podman and CRI-O keep theirs in
    // containers/storage, in a directory named for the storage driver.
    std::vector<std::filesystem::path> candidates;
    const std::filesystem::path containerd = "/run/containerd/io.containerd.runtime.v2.task";
    const auto storage = [&](const char *root, const char *driver) {
        return std::filesystem::path(root) / "containers/storage" /
               (std::string(driver) + "-containers") / container.id / "userdata";
    };
    if (container.engine == "docker") {
        candidates.push_back(containerd / "moby" / container.id);
    } else if (container.engine == "kubernetes") {
        candidates.push_back(containerd / "k8s.io" / container.id);
        candidates.push_back(storage("/run", "overlay"));
    } else if (container.engine == "podman") {
        for (const char *driver : {"overlay", "vfs", "btrfs", "zfs"}) {
            candidates.push_back(storage("/var/lib", driver));
            candidates.push_back(storage("/run", driver));
        }
    }
    // Plain runc (the cgroupfs driver's /docker/<id> need not be Docker's)
    // records the bundle in its own state.
    try {
        if (const auto bundle = read_runc_state_bundle(on_host("/run/runc"), container.id)) {
            candidates.push_back(*bundle);
        }
    } catch (const MetadataError &e) {
        log::warning("container " + container.id + ": " + escape_untrusted(e.what()));
    }
    for (const auto &dir : candidates) {
        std::error_code ec;
        if (std::filesystem::is_regular_file(on_host(dir) / "config.json", ec)) {
            return dir;
        }
    }
    return std::nullopt;
}

KubernetesNamespaceLabels *ContainerDiscovery::namespace_labels() {
    const auto &kubeconfig = service_.config().kubeconfig;
    if (!kubeconfig) {
        namespace_labels_.reset();
        return nullptr;
    }
    if (!namespace_labels_ || namespace_labels_->kubeconfig() != *kubeconfig) {
        namespace_labels_.emplace(*kubeconfig);
    }
    return &*namespace_labels_;
}

PolicyChoice ContainerDiscovery::policy_of(const BundleSpec &spec, const std::string &engine,
                                           const std::string &id) {
    std::map<std::string, std::string> labels;
    if (engine == "docker") {
        try {
            labels = read_docker_labels(service_.config().docker_data_root, id);
        } catch (const std::exception &e) {
            log::warning("container " + id + ": " + e.what() + "; its labels are not used");
        }
    }
    // Namespaces mean something for Kubernetes' containers only.
    const std::map<std::string, Level> no_namespaces;
    NamespaceLabelLookup label_of;
    KubernetesNamespaceLabels *api = engine == "kubernetes" ? namespace_labels() : nullptr;
    if (api != nullptr) {
        // Called by choose_policy only for a namespace not in the table.
        label_of = [&](const std::string &ns) {
            const auto found = api->lookup(ns);
            if (!found.error.empty()) {
                log::warning("container " + id + ": cannot read the " + kPodSecurityEnforceLabel +
                             " label of namespace " + escape_untrusted(ns) + ": " +
                             escape_untrusted(found.error) + "; the default level applies");
            }
            if (!found.warning.empty()) {
                log::warning("container " + id + ": " + escape_untrusted(found.warning));
            }
            return found.level;
        };
    }
    auto choice = choose_policy(
        spec.annotations, labels,
        engine == "kubernetes" ? service_.config().namespace_levels : no_namespaces, label_of);
    if (!choice.warning.empty()) {
        log::warning("container " + id + ": " + escape_untrusted(choice.warning));
    }
    return choice;
}

bool ContainerDiscovery::trusted(pid_t tid) const {
    // Anyone may run runc, with any bundle. Only root's runtimes create the
    // system's containers: believing another user's annotations would let
    // them choose a level for a cgroup name root creates later. A runtime
    // inside a container (root there, too) must not choose levels for the
    // host's cgroup names either.
    return effective_uid(tid) == 0UL && !service_.confinement_of(tid);
}

void ContainerDiscovery::handle(GatedExec &exec) {
    try {
        if (!exec.error.empty()) {
            // The runtime runs anyway; its container gets what the kernel
            // gives a container-like cgroup (the default level).
            log::warning("cannot read the arguments of " + escape_untrusted(exec.binary) +
                         " (thread " + std::to_string(exec.tid) + "): " +
                         escape_untrusted(exec.error) + "; its container gets the default level");
        } else if (!trusted(exec.tid)) {
            // Believed only from root outside confinement (trusted()); the
            // container still gets the default level from its name.
        } else if (const auto invocation = parse_runtime_invocation(exec.argv, exec.cwd)) {
            if (creates_container(*invocation)) {
                prepare(*invocation, exec.tid);
            } else if (deletes_container(*invocation) &&
                       service_.stale_state(invocation->container_id) == ContainerState::Pending) {
                // Deleted before its cgroup was made: the pending name
                // would otherwise wait forever.
                service_.unregister_container(invocation->container_id);
            }
        }
    } catch (const std::exception &e) {
        log::error("runtime exec of thread " + std::to_string(exec.tid) + ": " +
                   escape_untrusted(e.what()));
    }
    if (!exec.allow()) {
        log::error("cannot answer the exec of thread " + std::to_string(exec.tid));
    }
}

void ContainerDiscovery::prepare(const RuntimeInvocation &invocation, pid_t tid) {
    const auto &id = invocation.container_id;
    BundleSpec spec;
    try {
        // Through the runtime's own root: the bundle as runc will read it,
        // whatever lockcd's mount namespace (PrivateTmp=) shows.
        spec = read_bundle(std::filesystem::path("/proc/" + std::to_string(tid) + "/root") /
                           invocation.bundle.relative_path());
    } catch (const MetadataError &e) {
        log::warning("container " + escape_untrusted(id) + ": " + escape_untrusted(e.what()) +
                     "; it gets the default level if its cgroup looks like a container's");
        return;
    }
    const auto name =
        cgroup_name_of(spec.cgroups_path, invocation.systemd_cgroup, id, invocation.runtime);
    if (!name) {
        log::warning("container " + escape_untrusted(id) + ": cannot tell its cgroup from " +
                     escape_untrusted(spec.cgroups_path) + "; not registered");
        return;
    }
    if (service_.stale_state(id) == ContainerState::Gone) {
        // Started again (docker start): the old record's cgroup is gone.
        service_.unregister_container(id);
    }
    if (service_.knows(id, *name)) {
        log::info("container " + id + " (cgroup " + *name +
                  ") is registered already; its registration stands");
        return;
    }
    const auto engine = engine_of(spec, invocation.bundle, invocation.runtime);
    const auto choice = policy_of(spec, engine, id);
    RegisterRequest request;
    request.id = id;
    request.level = choice.level;
    request.mode = choice.mode;
    request.location = ScopeNameLocation{*name};
    request.runtime = engine;
    const auto record = service_.register_container(request);
    ++registered_;
    log::info("container " + id + " of " + engine + " will run at level " +
              std::string(to_string(record.level)) + " (" + std::string(to_string(record.mode)) +
              ", from " + choice.source + ")");
}

void ContainerDiscovery::adopt_running(const std::string &cgroup_path) {
    try {
        const std::string name(path_tail(cgroup_path).name);
        const auto named = container_of_cgroup_path(cgroup_path);
        if (!named || service_.knows(named->id, name)) {
            return;
        }
        BundleSpec spec;
        // The bundle knows better than the cgroup's name: a plain runc
        // container may run in /docker/<id> too.
        std::string engine = named->engine;
        if (const auto bundle = find_bundle(*named)) {
            try {
                spec = read_bundle(on_host(*bundle));
                engine = engine_of(spec, *bundle, "runc");
            } catch (const MetadataError &e) {
                log::warning("container " + named->id + ": " + escape_untrusted(e.what()));
            }
        }
        const auto choice = policy_of(spec, engine, named->id);
        RegisterRequest request;
        request.id = named->id;
        request.level = choice.level;
        request.mode = choice.mode;
        request.location = CgroupPathLocation{cgroup_path};
        request.runtime = engine;
        const auto record = service_.register_container(request);
        ++registered_;
        log::notice("found running container " + named->id + " of " + engine + " in " +
                    escape_untrusted(cgroup_path) + "; level " +
                    std::string(to_string(record.level)) + " (from " + choice.source + ")");
    } catch (const std::exception &e) {
        log::warning("cannot register the container in " + escape_untrusted(cgroup_path) + ": " +
                     escape_untrusted(e.what()));
    }
}

void ContainerDiscovery::adopt_cgroupfs_containers() {
    for (const auto &pattern : service_.config().container_patterns) {
        if (pattern.parent.empty()) {
            continue;
        }
        std::error_code ec;
        for (const auto &entry :
             std::filesystem::directory_iterator(service_.cgroup_mount() / pattern.parent, ec)) {
            const auto name = entry.path().filename().string();
            if (entry.is_directory(ec) && pattern.matches(name, pattern.parent)) {
                adopt_running("/" + pattern.parent + "/" + name);
            }
        }
    }
}

void ContainerDiscovery::reconcile() {
    try {
        for (const auto &entry : service_.unowned_pattern_entries()) {
            adopt_running(entry.second);
        }
        (void)service_.drop_gone();
    } catch (const std::exception &e) {
        log::warning(std::string("cannot reconcile containers: ") + e.what());
    }
}

} // namespace lockc
