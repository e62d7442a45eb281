// lockcctl: the command line of lockc, over lockcd's public D-Bus API.
#include "commands.hpp"
#include "exit_codes.hpp"
#include "options.hpp"
#include "output.hpp"

#include <exception>
#include <iostream>
#include <span>
#include <string>
#include <vector>

namespace {

using lockc::cli::ExitCode;

int code(ExitCode exit_code) {
    return static_cast<int>(exit_code);
}

int run(const std::vector<std::string> &args) {
    using namespace lockc::cli;
    const auto invocation = parse_command_line(args);
    if (invocation.command == Command::Help) {
        std::cout << usage_text();
        return code(ExitCode::Success);
    }
    if (invocation.command == Command::Version) {
        std::cout << "lockcctl " << PROJECT_VERSION << '\n';
        return code(ExitCode::Success);
    }
    const auto result = run_command(invocation);
    if (!std::cout.flush()) {
        throw Failure(ExitCode::Failure, "cannot write to standard output");
    }
    return code(result);
}

} // namespace

int main(int argc, char **argv) {
    const std::span<char *> raw(argv, static_cast<std::size_t>(argc));
    try {
        const std::vector<std::string> args(raw.begin() + 1, raw.end());
        return run(args);
    } catch (const lockc::cli::Failure &failure) {
        std::cerr << "lockcctl: " << lockc::cli::sanitised(failure.what()) << '\n';
        return code(failure.code());
    } catch (const std::exception &e) {
        std::cerr << "lockcctl: " << lockc::cli::sanitised(e.what()) << '\n';
        return code(ExitCode::Failure);
    }
}
