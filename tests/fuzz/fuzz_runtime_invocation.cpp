// The argv of an exec of runc or crun, as the exec gate reads it from
// /proc: any process may exec runc with any arguments. The input is argv,
// NUL-separated. parse_runtime_invocation() never throws; what it returns
// has a printable container id and an absolute bundle.
#include "fuzz_support.hpp"
#include "runtime_invocation.hpp"

#include <algorithm>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    using lockc::fuzz::require;
    auto rest = lockc::fuzz::as_text(data, size);
    std::vector<std::string> argv;
    while (!rest.empty()) {
        const auto nul = rest.find('\0');
        argv.emplace_back(rest.substr(0, nul));
        rest = nul == std::string_view::npos ? "" : rest.substr(nul + 1);
    }
    const auto invocation = lockc::parse_runtime_invocation(argv, "/run/fuzz");
    if (!invocation) {
        return 0;
    }
    require(std::all_of(invocation->container_id.begin(), invocation->container_id.end(),
                        [](char c) { return c > ' ' && c < 0x7f; }),
            "container ids are printable ASCII");
    require(invocation->bundle.empty() || invocation->bundle.is_absolute(), "bundles are absolute");
    (void)lockc::creates_container(*invocation);
    (void)lockc::deletes_container(*invocation);
    return 0;
}
