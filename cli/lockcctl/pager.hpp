// Output through a pager, as systemctl does: $SYSTEMD_PAGER, else $PAGER,
// else less (LESS=FRSXMK unless set: quit if one screen, raw colours, no
// init, quit on Ctrl+C); an empty value or "cat" means no pager.
#pragma once

#include "unique_fd.hpp"

#include <sys/types.h>

#include <csignal>

namespace lockc::cli {

// While alive, stdout goes into the pager; destroying it closes the pipe
// and waits for the pager to exit (the person may still be reading).
class Pager {
  public:
    // Starts the pager if `wanted` (stdout is a terminal, no --no-pager)
    // and there is one to start.
    explicit Pager(bool wanted);
    Pager(const Pager &) = delete;
    Pager &operator=(const Pager &) = delete;
    Pager(Pager &&) = delete;
    Pager &operator=(Pager &&) = delete;
    ~Pager();

  private:
    pid_t pid_ = -1;
    UniqueFd saved_stdout_;
    struct sigaction saved_sigpipe_ {};
};

} // namespace lockc::cli
