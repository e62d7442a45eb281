// The policy_generation map, mapped into lockcd: advanced before and after
// every write to the policies map, so that the levels the programs remember
// per CPU (current_level() in lockc.bpf.c) are not used past the write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace lockc {

// Unmaps the mapping of a PolicyGeneration (outside it: a nested class with
// a default member initializer is not default-constructible in its
// enclosing class, which std::unique_ptr needs).
struct PolicyGenerationUnmap {
    std::size_t size = 0;
    void operator()(std::uint64_t *value) const noexcept;
};

class PolicyGeneration {
  public:
    PolicyGeneration() = default;
    // Maps the map of `map_fd` (BPF_F_MMAPABLE, one __u64); throws Error.
    explicit PolicyGeneration(int map_fd);

    // Advances the generation now and again when it goes out of scope:
    // hold one across each write to the policies map.
    class Write {
      public:
        explicit Write(const PolicyGeneration &generation) noexcept;
        Write(const Write &) = delete;
        Write &operator=(const Write &) = delete;
        Write(Write &&) = delete;
        Write &operator=(Write &&) = delete;
        ~Write();

      private:
        const PolicyGeneration &generation_;
    };

    void advance() const noexcept;

  private:
    std::unique_ptr<std::uint64_t, PolicyGenerationUnmap> value_;
};

} // namespace lockc
