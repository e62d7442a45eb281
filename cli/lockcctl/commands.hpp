// The commands: each reads from or changes lockcd through Client and
// prints the result for people or, with --json, for programs.
#pragma once

#include "exit_codes.hpp"
#include "options.hpp"

namespace lockc::cli {

// Runs the invocation's command (not help or version). Throws Failure.
[[nodiscard]] ExitCode run_command(const Invocation &invocation);

} // namespace lockc::cli
