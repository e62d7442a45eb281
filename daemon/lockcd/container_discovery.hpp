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
// docker-<id>.scope, libpod-<id>.scope, cri-containerd-<id>.scope,
// crio-<id>.scope; nullopt for other names.
[[nodiscard]] std::optional<NamedContainer> container_of_cgroup_name(const std::string &name);

// Where the bundle of a running container of that engine is, if anywhere.
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

    // Adopts the kernel's pattern entries nobody owns and forgets the
    // containers that have ended. Never throws.
    void reconcile();

    [[nodiscard]] std::uint64_t registered() const noexcept { return registered_; }

  private:
    // Whether a runtime's metadata may choose levels: root's, unconfined.
    [[nodiscard]] bool trusted(pid_t tid) const;
    void prepare(const RuntimeInvocation &invocation, pid_t tid);
    [[nodiscard]] PolicyChoice policy_of(const BundleSpec &spec, const std::string &engine,
                                         const std::string &id) const;

    Service &service_;
    std::uint64_t registered_ = 0;
};

} // namespace lockc
