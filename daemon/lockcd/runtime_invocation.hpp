// What an OCI runtime (runc, crun) was asked to do, read from its command
// line: the subcommand, the container id and the bundle.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lockc {

struct RuntimeInvocation {
    std::string runtime;      // basename of argv[0]: "runc", "crun"
    std::string command;      // "create", "run", "delete", "init", ...
    std::string container_id; // positional id; "" for commands without one
    // --bundle/-b, made absolute against the caller's working directory;
    // the working directory itself when not given (runc's rule). Empty for
    // commands that take no bundle.
    std::filesystem::path bundle;
    bool systemd_cgroup = false; // global --systemd-cgroup
};

// Parses argv of runc or crun (argv[0] included). Global options before the
// subcommand are skipped with their values ("--root X", "--root=X", "--log
// X", ...); boolean globals take no value. cwd resolves a relative bundle.
// nullopt when argv is not a runtime invocation lockc understands (no
// subcommand, unknown option that would make the rest ambiguous, an id
// that is not printable ASCII).
[[nodiscard]] std::optional<RuntimeInvocation>
parse_runtime_invocation(const std::vector<std::string> &argv, const std::filesystem::path &cwd);

// Whether the command starts a new container (create, run), so its bundle
// must be read before answering.
[[nodiscard]] bool creates_container(const RuntimeInvocation &invocation);
// Whether the command removes the container (delete).
[[nodiscard]] bool deletes_container(const RuntimeInvocation &invocation);

// Whether a runtime name (RuntimeInvocation::runtime) is crun ("crun",
// "crun-<handler>", "krun"): it reads options and names systemd scopes
// unlike runc; every other name is taken to behave like runc.
[[nodiscard]] bool is_crun(std::string_view runtime);

} // namespace lockc
