#include "child_process.hpp"

#include <csignal>

namespace lockc::cli {

void reset_signals_for_exec() noexcept {
    sigset_t none;
    sigemptyset(&none);
    (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction by_default {};
    by_default.sa_handler = SIG_DFL;
    (void)::sigaction(SIGPIPE, &by_default, nullptr);
}

} // namespace lockc::cli
