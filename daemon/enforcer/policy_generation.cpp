#include "policy_generation.hpp"

#include "error.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace lockc {

PolicyGeneration::PolicyGeneration(int map_fd) {
    const auto size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    void *mapped = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
    if (mapped == MAP_FAILED) {
        throw_system("cannot map the policy_generation map", errno);
    }
    value_ = std::unique_ptr<std::uint64_t, PolicyGenerationUnmap>(
        static_cast<std::uint64_t *>(mapped), PolicyGenerationUnmap{size});
}

void PolicyGenerationUnmap::operator()(std::uint64_t *value) const noexcept {
    ::munmap(value, size);
}

void PolicyGeneration::advance() const noexcept {
    // Without a mapping (an Enforcer moved from, or attached programs of
    // an earlier build, which remember no levels) there is nothing to tell.
    if (value_) {
        // The programs advance it with atomic adds too: a plain increment
        // could lose theirs, or take the generation back to one a stale
        // memo was made under.
        std::atomic_ref<std::uint64_t>(*value_).fetch_add(1, std::memory_order_seq_cst);
    }
}

PolicyGeneration::Write::Write(const PolicyGeneration &generation) noexcept
    : generation_(generation) {
    generation_.advance();
}

PolicyGeneration::Write::~Write() {
    generation_.advance();
}

} // namespace lockc
