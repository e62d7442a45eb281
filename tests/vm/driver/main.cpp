// The in-guest test driver: runs as root in the test VM, where the kernel
// runs BPF LSM programs.
#include "vm_support.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <iostream>

int main(int argc, char **argv) {
    ::testing::InitGoogleTest(&argc, argv);
    if (GTEST_FLAG_GET(list_tests)) {
        return RUN_ALL_TESTS(); // listing needs no kernel support
    }
    if (::geteuid() != 0) {
        std::cerr << "lockc-vm-tests must run as root in the test VM\n";
        return 2;
    }
    try {
        // Start from nothing: a fresh load of the programs.
        lockc::Enforcer::uninstall(lockc::kDefaultPinDir);
        lockc::vmtest::reopen_enforcer();
    } catch (const std::exception &e) {
        std::cerr << "cannot load lockc: " << e.what() << "\n";
        return 2;
    }
    const int rc = RUN_ALL_TESTS();
    lockc::vmtest::close_enforcer();
    return rc;
}
