// The fuzz targets without libFuzzer (any compiler): runs every file named
// on the command line, or found in a directory named there, through
// LLVMFuzzerTestOneInput once. ctest replays the committed corpus this way
// in the main build, so that a finding, once fixed and added to the
// corpus, stays fixed.
#include "fuzz_support.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

namespace {

int run_file(const std::filesystem::path &file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        std::cerr << "cannot read " << file << "\n";
        return 1;
    }
    const std::vector<char> bytes{std::istreambuf_iterator<char>(in),
                                  std::istreambuf_iterator<char>()};
    std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
    (void)LLVMFuzzerTestOneInput(data.data(), data.size());
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    int failures = 0;
    std::size_t inputs = 0;
    for (const char *arg : std::span(argv, static_cast<std::size_t>(argc)).subspan(1)) {
        const std::filesystem::path path(arg);
        if (std::filesystem::is_directory(path)) {
            for (const auto &entry : std::filesystem::directory_iterator(path)) {
                failures += run_file(entry.path());
                ++inputs;
            }
        } else {
            failures += run_file(path);
            ++inputs;
        }
    }
    std::cout << "replayed " << inputs << " inputs\n";
    return failures == 0 && inputs > 0 ? 0 : 1;
}
