// lockcd's configuration, /etc/lockc/lockc.toml (docs/configuration.md is
// the full reference; etc/lockc.toml is the shipped file, every key at its
// default):
//
//   [defaults]
//   level = "baseline"   # privileged | baseline | restricted
//   mode = "enforce"     # enforce | audit
//
//   [containers]
//   # cgroup directory names that are containers: "prefix*suffix", or
//   # "parent/prefix*suffix" for a directory under a parent of that name
//   patterns = ["docker-*.scope", "libpod-*.scope", "cri-containerd-*.scope", "crio-*.scope",
//               "docker/*", "libpod_parent/libpod-*"]
//
//   [logging]
//   denials_burst = 10              # 1..1000 journal messages per container ...
//   denials_interval_seconds = 10   # ... per 1..3600 seconds
//
//   [kubernetes]
//   # kubeconfig = "/etc/lockc/kubeconfig"  # unset: no API server lookups
//
//   [kubernetes.namespaces]         # namespace name = level
//   kube-system = "privileged"
//
// Parsing is strict: an unknown table or key, a value of the wrong type or
// out of range, a bad level, mode, pattern or namespace name rejects the
// whole file with the location of the offending key or value. A missing key
// takes its default; `patterns` and `[kubernetes.namespaces]`, when present,
// replace their defaults entirely (nothing is merged in unseen).
#pragma once

#include "policy.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lockc {

// Limits of [logging]: a burst of 0 would hide every denial, a huge one
// would let one container flood the journal.
inline constexpr std::uint32_t kMaxDenialLogBurst = 1000;
inline constexpr std::size_t kMaxRuntimeBinaries = 32;
inline constexpr std::chrono::seconds kMaxDenialLogInterval{3600};

// Where Debian, upstream tarballs and /usr/local installs put runc and crun.
[[nodiscard]] std::vector<std::filesystem::path> default_runtime_binaries();

struct Config {
    Level default_level = Level::Baseline;
    Mode default_mode = Mode::Enforce;
    // Cgroup directory names that are containers (classified at mkdir).
    std::vector<NamePattern> container_patterns = default_settings().container_patterns;
    // Journal rate limit for denial messages, per container: at most
    // `denial_log_burst` messages per `denial_log_interval`.
    std::uint32_t denial_log_burst = 10;
    std::chrono::seconds denial_log_interval{10};
    // Kubernetes namespace -> level, for the CRI integration.
    std::map<std::string, Level> namespace_levels{{"kube-system", Level::Privileged}};
    // A kubeconfig (absolute path) for reading the pod-security.kubernetes.io/enforce
    // label of namespaces not in the table (kubernetes_api.hpp); unset: no lookups.
    std::optional<std::filesystem::path> kubeconfig;
    // [[rules]]: path rules added to the built-in ones (default_rules()).
    std::vector<PathRule> extra_rules;
    // [runtimes]: OCI runtime binaries whose execs lockcd holds until it has
    // read the container's bundle (exec_gate.hpp); missing ones are skipped.
    std::vector<std::filesystem::path> runtime_binaries = default_runtime_binaries();
    // Docker's data-root, where its containers' labels are.
    std::filesystem::path docker_data_root = "/var/lib/docker";

    // Not defaulted: PathRule (policy.hpp) has no operator==.
    friend bool operator==(const Config &a, const Config &b);
};

// A rejected configuration. what() is "file:line:column: message", or
// "file: message" when there is no location (line 0: the file is unreadable).
struct ConfigError : std::runtime_error {
    ConfigError(std::string file, std::uint32_t line, std::uint32_t column,
                const std::string &message);

    std::string file;
    std::uint32_t line = 0;   // 1-based; 0: no location
    std::uint32_t column = 0; // 1-based; 0: no location
};

// Whether a name is one Kubernetes accepts for a namespace: an RFC 1123
// label (1 to 63 lower-case letters, digits or '-', alphanumeric at both
// ends).
[[nodiscard]] bool valid_namespace_name(std::string_view name);

// The rules lockc enforces with this configuration: the built-in ones plus
// [[rules]].
[[nodiscard]] RuleSet rules_of(const Config &config);

// Parses the text of a configuration file; source_name names it in errors.
// Returns a complete Config or throws ConfigError, never a partial one.
[[nodiscard]] Config parse_config(std::string_view text, const std::string &source_name);

// Reads and parses a file. A missing file means all defaults; a file that
// cannot be read throws ConfigError ("file: cannot read: reason").
[[nodiscard]] Config load_config(const std::filesystem::path &file);

} // namespace lockc
