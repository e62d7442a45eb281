// A polkit authentication agent on the terminal, for changes that polkit
// may allow after a password (auth_admin_keep): lockcctl starts pkttyagent
// for its own process, as systemctl does, and ends it after the call.
#pragma once

#include "client.hpp"
#include "options.hpp"

#include <sys/types.h>

#include <optional>

namespace lockc::cli {

class PolkitAgent {
  public:
    // Starts `program` (pkttyagent) and waits until it has registered with
    // polkit. If it cannot be started, nothing runs and the change is
    // refused by polkit later, with the usual message.
    explicit PolkitAgent(const char *program);
    PolkitAgent(const PolkitAgent &) = delete;
    PolkitAgent &operator=(const PolkitAgent &) = delete;
    PolkitAgent(PolkitAgent &&) = delete;
    PolkitAgent &operator=(PolkitAgent &&) = delete;
    // Ends the agent (SIGTERM) and waits for it.
    ~PolkitAgent();

  private:
    pid_t pid_ = -1;
};

// How lockcctl is authorised for one change, with the agent that may ask
// for a password while it lives: an agent only when stdin is a terminal,
// --no-ask-password is not given, and the caller is not root (lockcd lets
// root do everything without asking).
class AuthorizationScope {
  public:
    explicit AuthorizationScope(const GlobalOptions &options);
    [[nodiscard]] const Authorization &authorization() const { return authorization_; }

  private:
    Authorization authorization_;
    std::optional<PolkitAgent> agent_;
};

} // namespace lockc::cli
