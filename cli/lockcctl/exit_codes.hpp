// lockcctl's exit codes and the one exception type that carries them.
// Scripts branch on the codes, so they are part of the interface
// (documented in --help and docs/lockcctl.md).
#pragma once

#include <stdexcept>
#include <string>

namespace lockc::cli {

enum class ExitCode : int {
    Success = 0,
    Failure = 1,
    Usage = 2,
    NotFound = 4,
    NotAuthorised = 5,
    Unreachable = 6,
    // lockcctl run: the command could not be started (as env(1) and
    // systemd-run); otherwise run exits with the command's own status.
    CommandNotExecutable = 126,
    CommandNotFound = 127,
};

// Every error lockcctl reports: the message is one line, "what happened;
// what to do", printed after "lockcctl: ".
class Failure : public std::runtime_error {
  public:
    Failure(ExitCode code, const std::string &message) : std::runtime_error(message), code_(code) {}
    [[nodiscard]] ExitCode code() const noexcept { return code_; }

  private:
    ExitCode code_;
};

// A mistake on the command line, found before anything was sent.
class UsageError : public Failure {
  public:
    explicit UsageError(const std::string &what)
        : Failure(ExitCode::Usage, what + "; see 'lockcctl --help'") {}
};

} // namespace lockc::cli
