// Registers containers lockcd finds itself, with the level their runtime's
// metadata asks for:
// - from the exec gate: `runc create` / `crun create` is held while the
//   bundle is read and the cgroup name the runtime is about to create is
//   registered, so the kernel's cgroup_mkdir program gives the container
//   its level before the runtime has made its cgroup;
// - from cgroups the kernel classified by name while lockcd was not
//   running (or the runtime was not gated), and from systemd's scope units
//   at start: registered late, with the level their metadata asks for.
// Containers whose cgroup is gone are forgotten.
#pragma once

#include "container_metadata.hpp"
#include "exec_gate.hpp"
#include "kubernetes_api.hpp"
#include "runtime_invocation.hpp"
#include "service.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace lockc {

// What a cgroup's name says about the container in it.
struct NamedContainer {
    std::string engine; // "docker", "podman", "kubernetes", "" if unknown
    std::string id;     // the runtime's container id ('*' of the pattern)
};
// The container a cgroup directory is named for, from its path (relative
// to the cgroup root, or a unit name): docker-<id>.scope, libpod-<id>.scope,
// cri-containerd-<id>.scope, crio-<id>.scope (the systemd driver), or
// docker/<id> and libpod_parent/libpod-<id> with a 64-hex id (the
// cgroupfs driver); nullopt for other names.
[[nodiscard]] std::optional<NamedContainer> container_of_cgroup_path(const std::string &path);

// lockcd's unit has a /tmp and /var/tmp of its own and no /home
// (PrivateTmp=, ProtectHome=): the host's files are read through PID 1's
// root (CAP_SYS_PTRACE), where bundles of plain runc may well be.
inline const std::filesystem::path kHostRoot = "/proc/1/root";

// A host path, as lockcd reads it (under kHostRoot).
[[nodiscard]] std::filesystem::path on_host(const std::filesystem::path &path);

// Where the bundle of a running container of that engine is, if anywhere
// (a host path: read it through on_host).
[[nodiscard]] std::optional<std::filesystem::path> find_bundle(const NamedContainer &container);

class ContainerDiscovery {
  public:
    explicit ContainerDiscovery(Service &service) : service_(service) {}

    // A runtime exec held by the gate: registers what `create`/`run` is
    // about to start, forgets what `delete` removes before it ever ran.
    // Answers the exec (allow) before returning. Never throws.
    void handle(GatedExec &exec);

    // Registers a running cgroup (relative to the cgroup2 root) nobody
    // registered, choosing its level from its metadata. Never throws.
    void adopt_running(const std::string &cgroup_path);

    // Adopts the containers of the cgroupfs driver that run already: the
    // directories under each top-level parent of the name patterns
    // (/docker/<id>). Containers that ran before lockc was loaded have no
    // kernel entry and no unit. Never throws.
    void adopt_cgroupfs_containers();

    // Adopts the kernel's pattern entries nobody owns and forgets the
    // containers that have ended. Never throws.
    void reconcile();

    [[nodiscard]] std::uint64_t registered() const noexcept { return registered_; }

  private:
    // Whether a runtime's metadata may choose levels: root's, unconfined.
    [[nodiscard]] bool trusted(pid_t tid) const;
    void prepare(const RuntimeInvocation &invocation, pid_t tid);
    [[nodiscard]] PolicyChoice policy_of(const BundleSpec &spec, const std::string &engine,
                                         const std::string &id);
    // The API server's namespace labels per [kubernetes] kubeconfig;
    // nullptr without one. Made anew when a reload changes the kubeconfig.
    [[nodiscard]] KubernetesNamespaceLabels *namespace_labels();

    Service &service_;
    std::uint64_t registered_ = 0;
    std::optional<KubernetesNamespaceLabels> namespace_labels_;
};

} // namespace lockc
