// A container's policy from its runtime's metadata: OCI annotations in the
// bundle's config.json, Docker labels, the Kubernetes namespace of CRI
// containers. Reads files only; never talks to a container engine, since
// it runs while the runtime waits for lockcd (exec_gate.hpp). The one
// network request, for a namespace's label, is the caller's
// (NamespaceLabelLookup).
#pragma once

#include "policy.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace lockc {

inline constexpr const char *kLevelKey = "org.lockc.level";
inline constexpr const char *kModeKey = "org.lockc.mode";

// A bundle's config.json that cannot be used. what() names the file.
struct MetadataError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct BundleSpec {
    std::map<std::string, std::string> annotations; // "annotations"
    std::string cgroups_path;                       // "linux"."cgroupsPath"
};

// Reads <bundle>/config.json (at most 8 MiB; any other JSON is ignored).
// Throws MetadataError if it is missing, too big or not an OCI spec.
[[nodiscard]] BundleSpec read_bundle(const std::filesystem::path &bundle);

// The name of the cgroup directory the runtime will create, as the
// kernel's cgroup_mkdir program sees it (the last path component), from
// the spec's cgroupsPath, the cgroup driver and the container id:
//   systemd driver, "slice:prefix:name"  -> "prefix-name.scope"
//                   (name ending in ".slice" -> name itself)
//   systemd driver, ""                   -> "runc-<id>.scope"
//   cgroupfs,       "/a/b/c"             -> "c"
//   cgroupfs,       ""                   -> "<id>"
// crun (is_crun(runtime)) differs with systemd: "" -> "crun-<id>.scope",
// and a name ending in ".slice" still gets "prefix-name.scope".
// nullopt when the path is malformed (a systemd path without exactly two
// ':' or with an empty name) or the name is not a cgroup directory name the
// D-Bus API accepts: empty, ".", "..", with '/' or a byte that is not
// printable ASCII, or longer than the kernel's pending-name limit
// (LOCKC_CGROUP_NAME_LEN - 1).
[[nodiscard]] std::optional<std::string> cgroup_name_of(const std::string &cgroups_path,
                                                        bool systemd_driver, const std::string &id,
                                                        std::string_view runtime = "runc");

// Docker's labels of a container: Config.Labels of
// <data_root>/containers/<id>/config.v2.json. Empty when the file does not
// exist; throws MetadataError when it exists but cannot be parsed.
[[nodiscard]] std::map<std::string, std::string>
read_docker_labels(const std::filesystem::path &data_root, const std::string &id);

// The bundle directory root's runc recorded for a container it runs: the
// "bundle=<dir>" label of config.labels in <state_root>/<id>/state.json
// (runc's own state; /run/runc for `runc` without --root). nullopt when
// there is no such file or label; throws MetadataError when the file
// exists but cannot be parsed.
[[nodiscard]] std::optional<std::filesystem::path>
read_runc_state_bundle(const std::filesystem::path &state_root, const std::string &id);

// Which engine made the container, from its annotations and bundle path:
// "kubernetes" (CRI annotations), "podman" (io.container.manager=libpod),
// "docker" (bundle under a containerd "moby" namespace), else the
// runtime's own name ("runc", "crun").
[[nodiscard]] std::string engine_of(const BundleSpec &spec, const std::filesystem::path &bundle,
                                    const std::string &runtime);

// The Kubernetes namespace of a CRI container:
// io.kubernetes.cri.sandbox-namespace (containerd) or
// io.kubernetes.pod.namespace (CRI-O); nullopt otherwise.
[[nodiscard]] std::optional<std::string>
kubernetes_namespace(const std::map<std::string, std::string> &annotations);

struct PolicyChoice {
    std::optional<Level> level; // nullopt: the default level
    std::optional<Mode> mode;   // nullopt: the default mode
    std::string source;         // for the log: "annotation org.lockc.level", ...
    // Non-empty: a value was ignored, and why. Holds the value as given
    // (cut to 64 bytes), not escaped: escape it for the log.
    std::string warning;
};

// The level a Kubernetes namespace's pod-security.kubernetes.io/enforce
// label gives, if any (kubernetes_api.hpp); it reports its own failures.
using NamespaceLabelLookup = std::function<std::optional<Level>(const std::string &ns)>;

// Chooses level and mode. Order: org.lockc.level / org.lockc.mode in the
// annotations, then in the labels (Docker); for Kubernetes containers the
// namespace table (namespace_levels), then the namespace's label
// (namespace_label, called only then and only if set), then nothing (the
// default). A value that is not a level or mode is ignored with a warning:
// the container then gets the default, which still confines it.
[[nodiscard]] PolicyChoice choose_policy(const std::map<std::string, std::string> &annotations,
                                         const std::map<std::string, std::string> &labels,
                                         const std::map<std::string, Level> &namespace_levels,
                                         const NamespaceLabelLookup &namespace_label = {});

} // namespace lockc
