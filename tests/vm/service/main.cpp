// The in-guest driver of lockcd's tests: runs after the enforcement driver,
// in the same boot, with real systemd, the real system bus and polkit.
// It installs lockc with `cmake --install` first, as a user would.
#include "vm_support.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char **argv) {
    ::testing::InitGoogleTest(&argc, argv);
    if (GTEST_FLAG_GET(list_tests)) {
        return RUN_ALL_TESTS();
    }
    if (::geteuid() != 0) {
        std::cerr << "lockc-vm-service-tests must run as root in the test VM\n";
        return 2;
    }
    using lockc::vmtest::sh;
    // Start from nothing: no pins, so lockcd loads the programs itself.
    lockc::Enforcer::uninstall("/sys/fs/bpf/lockc");
    const std::vector<std::string> steps = {
        std::string("cmake --install ") + LOCKC_BINARY_DIR,
        "systemd-sysusers",
        "systemd-tmpfiles --create /usr/lib/tmpfiles.d/lockc.conf",
        "systemctl daemon-reload",
        // dbus-daemon reads new policy and activation files on ReloadConfig.
        "busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig",
    };
    for (const auto &step : steps) {
        const auto r = sh(step);
        std::cout << "$ " << step << "\n" << r.output;
        if (r.status != 0) {
            std::cerr << "installing lockc failed at: " << step << "\n";
            return 2;
        }
    }
    return RUN_ALL_TESTS();
}
