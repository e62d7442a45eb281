// /etc/lockc/lockc.toml: parse_config() returns a whole configuration or
// throws ConfigError (file:line:column), never anything else. A
// configuration it accepts must also compile into the kernel's rule
// tables, or a reload would fail later, where the file's location is no
// longer known; and parsing is deterministic.
#include "config.hpp"
#include "fuzz_support.hpp"
#include "policy.hpp"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    using lockc::fuzz::require;
    const auto text = lockc::fuzz::as_text(data, size);
    lockc::Config config;
    try {
        config = lockc::parse_config(text, "fuzz.toml");
    } catch (const lockc::ConfigError &e) {
        require(std::string(e.what()).starts_with("fuzz.toml"), "errors name the file");
        return 0;
    }
    require(lockc::parse_config(text, "fuzz.toml") == config, "parsing is deterministic");
    // Every driver loaded, as lockcd would find them in /proc/devices.
    constexpr const char *kProcDevices =
        "Character devices:\n248 bsg\n247 nvme\n246 nvme-generic\n249 watchdog\n";
    (void)lockc::compile(lockc::with_driver_majors(lockc::rules_of(config), kProcDevices));
    return 0;
}
