// The in-guest driver of lockcd's tests: runs after the enforcement driver,
// in the same boot, with real systemd, the real system bus and polkit.
// It installs lockc with `cmake --install` first, as a user would.
#include "bus_support.hpp"
#include "vm_support.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
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
    lockc::Enforcer::uninstall(lockc::kDefaultPinDir);
    // The kernel releases links, and with them the programs, after the
    // last reference goes, asynchronously; the first test checks that no
    // program is loaded before lockcd starts.
    if (!lockc::vmtest::wait_until([] { return lockc::vmtest::loaded_lockc_programs().empty(); },
                                   std::chrono::seconds(120))) {
        std::cerr << "lockc's programs were still loaded 120 s after the uninstall\n";
        return 2;
    }
    // The bus gives an activated service 25 s to take its name; lockcd
    // loading its programs under TCG on a busy host can take longer
    // (kStartTimeout in bus_support.hpp). Test machines only.
    const std::string start_timeout =
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\" "
        "\"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">"
        "<busconfig><limit name=\"service_start_timeout\">" +
        std::to_string(std::chrono::milliseconds(lockc::vmtest::kStartTimeout).count()) +
        "</limit></busconfig>";
    const std::vector<std::string> steps = {
        "printf '%s\\n' '" + start_timeout + "' > /etc/dbus-1/system.d/zz-lockc-vm-test.conf",
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
