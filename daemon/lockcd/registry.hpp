// The registry of containers lockcd confines, kept in /var/lib/lockc so that
// registrations and D-Bus overrides survive restarts of the daemon.
//
// Two files: a snapshot, registry.toml, and a journal of the changes since,
// registry.journal. A change appends one line to the journal; the snapshot is
// rewritten (compacting the journal) at start and when the journal has grown
// as large as it. Rewriting the whole file and syncing it on every change
// cost milliseconds per registration and grew with the number of containers
// (docs/lockcd.md, "The registry on disk").
//
// Snapshot, <directory>/registry.toml (TOML, written by toml++'s formatter):
//
//   # lockcd container registry: rewritten by lockcd from time to time;
//   # the changes since are in registry.journal.
//   generation = 7                  # the journal that continues it
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
//
// Journal, <directory>/registry.journal: one TOML document per line.
//
//   # lockcd registry journal: changes since registry.toml
//   generation = 7
//   put = { id = "web-1", level = "baseline", mode = "enforce", ... }
//   remove = { id = "web-1" }
//   defaults = { level = "restricted" }
//
// A journal whose generation is older than the snapshot's was already folded
// into it (lockcd stopped between writing the two) and is ignored. An
// incomplete last line (no newline: the machine stopped during a write) is
// ignored too; any other bad line makes the registry corrupt.
#pragma once

#include "policy.hpp"
#include "unique_fd.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
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

// One change, as the journal records it.
struct PutContainer { // adds the container, or replaces the one of that id
    ContainerRecord record;
};
struct RemoveContainer {
    std::string id;
};
struct SetDefaults { // the overrides after the change (nullopt: not set)
    std::optional<Level> level;
    std::optional<Mode> mode;
};
using RegistryChange = std::variant<PutContainer, RemoveContainer, SetDefaults>;

// Applies `change` to `state` as load() replays it. Returns false, changing
// nothing, for the removal of an id that is not there.
bool apply_change(RegistryState &state, const RegistryChange &change);

// The registry file exists but cannot be trusted. The message is
// "<file>[:line:column]: <problem>".
class RegistryCorrupt : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// One writer at a time (lockcd): save() uses fixed temporary names, and the
// store keeps the journal open for appending.
class RegistryStore {
  public:
    explicit RegistryStore(std::filesystem::path directory);

    [[nodiscard]] const std::filesystem::path &file() const noexcept { return file_; }
    [[nodiscard]] const std::filesystem::path &journal_file() const noexcept { return journal_; }

    // The snapshot with the journal replayed. A missing snapshot (or
    // directory) is an empty state; a stale temporary is ignored; an
    // incomplete last journal line is ignored and described in *warning.
    // Throws RegistryCorrupt when the files are not a complete registry of a
    // known version ("<file>[:line:column]: <problem>"), Error(System) when
    // they cannot be read.
    [[nodiscard]] RegistryState load(std::string *warning = nullptr);

    // Replaces the snapshot atomically and starts an empty journal after it:
    // each is written to a temporary (mode 0600), fsynced, renamed into place
    // and the directory fsynced. Throws Error(InvalidArgument) before
    // touching anything for a state that load() could not return unchanged
    // (empty or duplicate id, invalid UTF-8, registered_usec above
    // INT64_MAX, unknown level or mode), and Error(System) when a syscall
    // fails: until the snapshot's rename the previous files are untouched
    // and the temporary removed; after it, the old journal is ignored (its
    // generation is older) and append() refuses until a save succeeds.
    void save(const RegistryState &state);

    // Appends one change to the journal with a single write(): once it
    // returns, a restarted lockcd sees the change even if this one is
    // killed; it reaches the disk at the next sync(). Throws like save()
    // (InvalidArgument for a record save() would refuse, System when the
    // write fails, after cutting the journal back to what it was; also
    // without a journal to append to: no save() yet, or a failed write
    // could not be undone).
    void append(const RegistryChange &change);

    // fdatasync()s the journal when appends are not yet on disk.
    void sync();
    // When the oldest change not yet on disk was appended.
    [[nodiscard]] std::optional<std::chrono::steady_clock::time_point> unsynced_since() const {
        return unsynced_since_;
    }
    // Whether a save() would be cheaper from now on than more appends: the
    // journal is as large as the snapshot (and at least 64 KiB), or broken.
    [[nodiscard]] bool compaction_due() const noexcept;
    [[nodiscard]] bool journal_usable() const noexcept { return journal_fd_.valid(); }

    // Moves the files aside to registry.toml.corrupt-<unix seconds> and
    // registry.journal.corrupt-<unix seconds> (".N" added if that exists) and
    // returns the first new path, for a log line. Throws Error(System) when
    // neither file exists.
    [[nodiscard]] std::filesystem::path quarantine();

  private:
    std::filesystem::path directory_;
    std::filesystem::path file_;
    std::filesystem::path journal_;
    std::int64_t generation_ = 0; // of the snapshot last loaded or saved
    UniqueFd journal_fd_;         // open for appending after a save()
    std::uint64_t journal_bytes_ = 0;
    std::uint64_t snapshot_bytes_ = 0;
    std::optional<std::chrono::steady_clock::time_point> unsynced_since_;
};

} // namespace lockc
