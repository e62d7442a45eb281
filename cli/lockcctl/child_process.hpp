// What a child process gets before exec: lockcctl may block SIGINT and
// SIGTERM (monitor reads them from a signalfd) and ignore SIGPIPE, and
// both are inherited across exec; a pager or polkit agent that inherited
// them could not be interrupted or ended.
#pragma once

namespace lockc::cli {

// In the child, between fork and exec: no signal blocked, SIGPIPE default.
void reset_signals_for_exec() noexcept;

} // namespace lockc::cli
