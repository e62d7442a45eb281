// An OCI bundle's config.json is written by whoever starts the container,
// possibly a user of a rootless engine or a tenant of a cluster: lockcd
// reads it while the runtime waits (exec_gate.hpp). read_bundle() returns
// the annotations and cgroupsPath or throws MetadataError; what lockcd
// derives from them never throws, and a cgroup name derived from the spec
// is one the D-Bus API would accept too (container_metadata.hpp promises
// it; the kernel's pending map relies on it).
#include "api_error.hpp"
#include "container_metadata.hpp"
#include "fuzz_support.hpp"
#include "temp_dir.hpp"
#include "validation.hpp"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    using lockc::fuzz::require;
    static const auto scratch = lockc::test::TempDir::in_memory("lockc-fuzz-bundle");
    const auto &bundle = scratch.path();
    lockc::fuzz::write_file(bundle / "config.json", lockc::fuzz::as_text(data, size));
    lockc::BundleSpec spec;
    try {
        spec = lockc::read_bundle(bundle);
    } catch (const lockc::MetadataError &) {
        return 0;
    }
    for (const char *runtime : {"runc", "crun"}) {
        (void)lockc::engine_of(spec, bundle, runtime);
        for (const bool systemd : {true, false}) {
            const auto name = lockc::cgroup_name_of(spec.cgroups_path, systemd, "fuzz", runtime);
            if (!name) {
                continue;
            }
            try {
                lockc::check_cgroup_name(*name);
            } catch (const lockc::api::ApiError &) {
                require(false, "a cgroup name from a bundle is one the D-Bus API accepts");
            }
        }
    }
    (void)lockc::kubernetes_namespace(spec.annotations);
    (void)lockc::choose_policy(spec.annotations, {}, {{"kube-system", lockc::Level::Privileged}});
    return 0;
}
