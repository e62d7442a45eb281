// /var/lib/lockc: the snapshot and the journal as load() finds them after a
// crash, a full disk or tampering. The input is the snapshot, then after
// the first NUL byte (if any) the journal. load() returns a state or
// throws RegistryCorrupt naming the file; a state it returns must survive
// save() and load() unchanged, so that the next start of lockcd sees what
// this one restored.
#include "fuzz_support.hpp"
#include "temp_dir.hpp"
#include "registry.hpp"

#include <filesystem>
#include <string>

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    using lockc::fuzz::require;
    static const auto loaded = lockc::test::TempDir::in_memory("lockc-fuzz-registry-loaded");
    static const auto saved = lockc::test::TempDir::in_memory("lockc-fuzz-registry-saved");
    const fs::path &loaded_dir = loaded.path();
    const fs::path &saved_dir = saved.path();
    const auto input = lockc::fuzz::as_text(data, size);
    const auto split = input.find('\0');
    lockc::RegistryState state;
    {
        lockc::RegistryStore store(loaded_dir);
        lockc::fuzz::write_file(store.file(), input.substr(0, split));
        if (split == std::string_view::npos) {
            fs::remove(store.journal_file());
        } else {
            lockc::fuzz::write_file(store.journal_file(), input.substr(split + 1));
        }
        try {
            state = store.load();
        } catch (const lockc::RegistryCorrupt &e) {
            require(std::string(e.what()).starts_with(loaded_dir.string()),
                    "a corrupt registry is reported with its file");
            return 0;
        }
    }
    lockc::RegistryStore store(saved_dir);
    store.save(state); // throws (a finding) for a state load() should not return
    require(lockc::RegistryStore(saved_dir).load() == state, "load(save(state)) == state");
    return 0;
}
