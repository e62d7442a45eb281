// Errors of the enforcer layer: exceptions with a kind a caller can map to
// its own error names (D-Bus errors, exit codes).
#pragma once

#include <stdexcept>
#include <string>

namespace lockc {

enum class ErrorKind {
    KernelUnsupported, // no BPF LSM, no BTF, too old
    InvalidArgument,   // bad level, path, rule, name
    NotFound,          // no such entry
    System,            // a syscall or libbpf call failed
};

class Error : public std::runtime_error {
  public:
    Error(ErrorKind kind, const std::string &message) : std::runtime_error(message), kind_(kind) {}
    [[nodiscard]] ErrorKind kind() const noexcept { return kind_; }

  private:
    ErrorKind kind_;
};

// Throws ErrorKind::System with "what: strerror(err)".
[[noreturn]] void throw_system(const std::string &what, int err);

} // namespace lockc
