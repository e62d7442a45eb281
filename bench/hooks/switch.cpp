// lockc-bench-switch: takes lockc's LSM programs off their hooks and puts
// them back, in well under a second, so that the hook benchmark can compare
// "lockc not running" with "lockc running" every few seconds instead of
// once per load (a load verifies every program: half a minute under
// software emulation, too slow to interleave).
//
//   lockc-bench-switch off PIN_DIR STASH_DIR
//   lockc-bench-switch on  PIN_DIR STASH_DIR
//   lockc-bench-switch load OBJECT STASH_DIR
//
// off: each LSM program's link pin (PIN_DIR/links/NAME) is replaced by a
// pin of the program itself (STASH_DIR/NAME); with the link's last
// reference gone the kernel detaches it, and the hook runs none of lockc's
// code. on: each stashed program gets a new link, pinned where the old one
// was. Maps are untouched, so entries and counters survive. The cgroup
// tracepoints stay attached: no benchmark loop creates cgroups.
// load: loads the BPF object OBJECT (the benchmark's floor, floor.bpf.o)
// and pins each of its programs in STASH_DIR, unattached, for "on" with
// another PIN_DIR (whose links/ it fills).
// Benchmarks only: while off, nothing is enforced.
#include "optional_programs.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

namespace fs = std::filesystem;

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    Fd(Fd &&) = delete;
    Fd &operator=(Fd &&) = delete;
    ~Fd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    [[nodiscard]] int get() const { return fd_; }

  private:
    int fd_;
};

[[noreturn]] void fail(const std::string &what, int err) {
    throw std::runtime_error(what + ": " + std::strerror(err));
}

// A pinned object's new file descriptor, for an Fd to own.
int open_pin(const fs::path &pin) {
    const int fd = bpf_obj_get(pin.c_str());
    if (fd < 0) {
        fail("cannot open " + pin.string(), errno);
    }
    return fd;
}

int off(const fs::path &links, const fs::path &stash) {
    fs::create_directories(stash);
    int n = 0;
    for (const auto &entry : fs::directory_iterator(links)) {
        bpf_link_info link{};
        __u32 len = sizeof(link);
        const Fd link_fd(open_pin(entry.path()));
        if (bpf_obj_get_info_by_fd(link_fd.get(), &link, &len) != 0) {
            fail("cannot read link " + entry.path().string(), errno);
        }
        const Fd prog(bpf_prog_get_fd_by_id(link.prog_id));
        if (prog.get() < 0) {
            fail("cannot open the program of " + entry.path().string(), errno);
        }
        bpf_prog_info info{};
        len = sizeof(info);
        if (bpf_obj_get_info_by_fd(prog.get(), &info, &len) != 0) {
            fail("cannot read the program of " + entry.path().string(), errno);
        }
        if (info.type != BPF_PROG_TYPE_LSM) {
            continue; // the cgroup tracepoints stay
        }
        const fs::path keep = stash / entry.path().filename();
        if (bpf_obj_pin(prog.get(), keep.c_str()) != 0) {
            fail("cannot pin " + keep.string(), errno);
        }
        fs::remove(entry.path());
        ++n;
    }
    std::cout << n << " programs off their hooks\n";
    return 0;
}

int on(const fs::path &links, const fs::path &stash) {
    int n = 0;
    for (const auto &entry : fs::directory_iterator(stash)) {
        const Fd prog(open_pin(entry.path()));
        // With no name, BPF_RAW_TRACEPOINT_OPEN attaches an LSM program to
        // the hook it was verified for and returns the link.
        const Fd link(bpf_raw_tracepoint_open(nullptr, prog.get()));
        if (link.get() < 0) {
            fail("cannot attach " + entry.path().string(), errno);
        }
        const fs::path pin = links / entry.path().filename();
        if (bpf_obj_pin(link.get(), pin.c_str()) != 0) {
            fail("cannot pin " + pin.string(), errno);
        }
        fs::remove(entry.path());
        ++n;
    }
    std::cout << n << " programs on their hooks\n";
    return 0;
}

struct ObjectCloser {
    void operator()(bpf_object *object) const noexcept { bpf_object__close(object); }
};

int load(const fs::path &object_file, const fs::path &stash) {
    const std::unique_ptr<bpf_object, ObjectCloser> object(
        bpf_object__open_file(object_file.c_str(), nullptr));
    if (!object) {
        fail("cannot open " + object_file.string(), errno);
    }
    // Optional hooks as lockc has them: only where the kernel does.
    (void)lockc::enable_optional_lsm_programs(object.get());
    if (const int err = bpf_object__load(object.get()); err != 0) {
        fail("cannot load " + object_file.string(), -err);
    }
    fs::create_directories(stash);
    int n = 0;
    bpf_program *prog = nullptr;
    bpf_object__for_each_program(prog, object.get()) {
        if (!bpf_program__autoload(prog)) {
            continue; // not loaded on this kernel
        }
        const fs::path pin = stash / bpf_program__name(prog);
        if (bpf_obj_pin(bpf_program__fd(prog), pin.c_str()) != 0) {
            fail("cannot pin " + pin.string(), errno);
        }
        ++n;
    }
    std::cout << n << " programs loaded\n";
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    const std::string_view command = argc == 4 ? argv[1] : "";
    if (command != "on" && command != "off" && command != "load") {
        std::cerr << "usage: lockc-bench-switch on|off PIN_DIR STASH_DIR\n"
                     "       lockc-bench-switch load OBJECT STASH_DIR\n";
        return 2;
    }
    const fs::path links = fs::path(argv[2]) / "links";
    const fs::path stash = argv[3];
    try {
        if (command == "load") {
            return load(argv[2], stash);
        }
        if (command == "on") {
            fs::create_directories(links);
        }
        return command == "off" ? off(links, stash) : on(links, stash);
    } catch (const std::exception &e) {
        std::cerr << "lockc-bench-switch: " << e.what() << "\n";
        return 1;
    }
}
