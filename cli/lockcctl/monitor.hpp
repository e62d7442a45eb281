// lockcctl monitor: Denied signals as they come, until SIGINT or SIGTERM.
#pragma once

#include "client.hpp"
#include "exit_codes.hpp"
#include "options.hpp"
#include "output.hpp"

namespace lockc::cli {

// Subscribes, prints each denial of the wanted containers (all if none
// are named) as a line or a JSON object, and unsubscribes on SIGINT or
// SIGTERM (exit 0) or when stdout is closed. Throws Failure.
[[nodiscard]] ExitCode run_monitor(Client &client, const Invocation &invocation,
                                   const Terminal &terminal);

// One denial for people: "TIME CONTAINER HOOK MODE TARGET pid PID (COMM)
// uid UID", sanitised, red when enforced and colours are on.
[[nodiscard]] std::string denial_line(const Denial &denial, const Terminal &terminal);
// One denial as a JSON object (one line, no newline).
[[nodiscard]] std::string denial_json(const Denial &denial);

} // namespace lockc::cli
