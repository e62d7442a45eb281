// The registry of containers lockcd confines, kept in /var/lib/lockc so that
// registrations and D-Bus overrides survive restarts of the daemon.
//
// File format, <directory>/registry.toml (TOML, written by toml++'s formatter):
//
//   # lockcd container registry: rewritten by lockcd on every change.
//   version = 1
//
//   [defaults]                      # only the overrides that are set
//   level = "restricted"
//   mode = "audit"
//
//   [[container]]                   # one table per container
//   cgroup_id = "18446744073709551615"
//   cgroup_path = "/system.slice/docker-ab.scope"
//   id = "web-1"
//   level = "baseline"
//   mode = "enforce"
//   pending_name = "docker-ab.scope"
//   registered_usec = 1700000000000000
//   runtime = "docker"
//
//   # end of lockc registry
//
// id, level and mode are required; the other container keys are written only
// when not empty/zero. cgroup_id is a string of decimal digits because TOML
// integers are signed 64-bit and cgroup ids are u64. The last line must be the
// end marker: a file cut short at a line boundary is still valid TOML, and
// without the marker it would load as a smaller registry instead of failing.
#pragma once

#include "policy.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace lockc {

struct ContainerRecord {
    std::string id; // what the user registered it as; not empty, valid UTF-8
    Level level = Level::Baseline;
    Mode mode = Mode::Enforce;
    std::string runtime;     // "docker", "podman", "cri-containerd", "manual", ...; may be empty
    std::string cgroup_path; // relative to the cgroup2 root; empty while pending
    std::uint64_t cgroup_id = 0;       // 0 while pending
    std::string pending_name;          // cgroup directory name awaited; empty otherwise
    std::uint64_t registered_usec = 0; // CLOCK_REALTIME microseconds, at most INT64_MAX
    friend bool operator==(const ContainerRecord &, const ContainerRecord &) = default;
};

struct RegistryState {
    // Overrides of the configured defaults, set over D-Bus.
    std::optional<Level> default_level;
    std::optional<Mode> default_mode;
    std::vector<ContainerRecord> containers; // ids unique
    friend bool operator==(const RegistryState &, const RegistryState &) = default;
};

// The registry file exists but cannot be trusted. The message is
// "<file>[:line:column]: <problem>".
class RegistryCorrupt : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// One writer at a time (lockcd): save() uses a fixed temporary name.
class RegistryStore {
  public:
    explicit RegistryStore(std::filesystem::path directory);

    [[nodiscard]] const std::filesystem::path &file() const noexcept { return file_; }

    // A missing file (or directory) is an empty state; a stale
    // registry.toml.tmp is ignored. Throws RegistryCorrupt when the file is
    // not a complete registry of a known version, Error(System) when it
    // cannot be read.
    [[nodiscard]] RegistryState load() const;

    // Replaces the file atomically: writes registry.toml.tmp (mode 0600),
    // fsyncs it, renames it over registry.toml and fsyncs the directory.
    // Throws Error(InvalidArgument) before touching anything for a state that
    // load() could not return unchanged (empty or duplicate id, invalid
    // UTF-8, registered_usec above INT64_MAX, unknown level or mode), and
    // Error(System) when a syscall fails; the previous file is then untouched
    // and the temporary removed. Only a failing fsync of the directory, after
    // the rename, throws with the new contents in place (but maybe not durable).
    void save(const RegistryState &state) const;

    // Moves the file aside to registry.toml.corrupt-<unix seconds> (".N" added
    // if that exists) and returns the new path, for a log line.
    [[nodiscard]] std::filesystem::path quarantine() const;

  private:
    std::filesystem::path directory_;
    std::filesystem::path file_;
};

} // namespace lockc
