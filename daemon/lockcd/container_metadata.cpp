#include "container_metadata.hpp"

#include "kubernetes_api.hpp"
#include "runtime_invocation.hpp"
#include "unique_fd.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <initializer_list>
#include <system_error>
#include <vector>

namespace lockc {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::size_t kMaxJsonBytes = std::size_t{8} << 20U;
// OCI specs and Docker configs nest about six levels. Without a cap, 8 MiB
// of "[[[[" would make the parser build four million nested values.
constexpr int kMaxJsonDepth = 64;
// How much of a rejected value a warning repeats.
constexpr std::size_t kShownValue = 64;

[[noreturn]] void fail(const fs::path &path, const std::string &why) {
    throw MetadataError(path.string() + ": " + why);
}

// The text of a regular file of at most kMaxJsonBytes; nullopt when it does
// not exist and missing_ok. O_NONBLOCK: a FIFO in the file's place must not
// hold lockcd, and with it the runtime waiting for lockcd's answer.
std::optional<std::string> read_capped(const fs::path &path, bool missing_ok) {
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid()) {
        const int err = errno;
        if (missing_ok && (err == ENOENT || err == ENOTDIR)) {
            return std::nullopt;
        }
        fail(path, "cannot open: " + std::system_category().message(err));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        fail(path, "cannot stat: " + std::system_category().message(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        fail(path, "not a regular file");
    }
    const auto too_big = [&] {
        fail(path, "larger than " + std::to_string(kMaxJsonBytes >> 20U) + " MiB");
    };
    if (st.st_size < 0 || static_cast<std::uintmax_t>(st.st_size) > kMaxJsonBytes) {
        too_big();
    }
    // Read to EOF rather than trusting st_size: the file may grow.
    std::string text;
    text.reserve(static_cast<std::size_t>(st.st_size));
    std::array<char, 65536> chunk{};
    for (;;) {
        const auto n = ::read(fd.get(), chunk.data(), chunk.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail(path, "cannot read: " + std::system_category().message(errno));
        }
        if (n == 0) {
            break;
        }
        text.append(chunk.data(), static_cast<std::size_t>(n));
        if (text.size() > kMaxJsonBytes) {
            too_big();
        }
    }
    return text;
}

// Whether arrays and objects nest at most max_depth deep (brackets inside
// strings do not count). Malformed text is left to the parser.
bool nesting_within(std::string_view text, int max_depth) {
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) {
                return false;
            }
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return true;
}

json parse_json(const std::string &text, const fs::path &path) {
    if (!nesting_within(text, kMaxJsonDepth)) {
        fail(path, "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    // No exceptions: malformed input is expected, not exceptional.
    auto doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) {
        fail(path, "not valid JSON");
    }
    return doc;
}

// The string members of a JSON object; members of other types are ignored.
std::map<std::string, std::string> string_members(const json &object) {
    std::map<std::string, std::string> out;
    for (const auto &[key, value] : object.items()) {
        if (value.is_string()) {
            out.emplace(key, value.get<std::string>());
        }
    }
    return out;
}

// The member `key` of an object if it is an object; nullptr when it is
// absent or null (Go reads null as empty); a MetadataError otherwise.
const json *object_member(const json &object, const char *key, const fs::path &path) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
        return nullptr;
    }
    if (!it->is_object()) {
        fail(path, std::string("\"") + key + "\" is not an object");
    }
    return &*it;
}

// What the D-Bus API accepts as a cgroup name (validation.cpp) and the
// kernel's pending map can hold.
bool valid_cgroup_name(std::string_view name) {
    return !name.empty() && name.size() < LOCKC_CGROUP_NAME_LEN && name != "." && name != ".." &&
           std::all_of(name.begin(), name.end(), [](char ch) {
               const auto c = static_cast<unsigned char>(ch);
               return c >= 0x20 && c < 0x7f && c != '/';
           });
}

// The last component of a cgroupfs path after Go's filepath.Clean("/" +
// path), as runc resolves it; "" for the root.
std::string last_clean_component(std::string_view path) {
    std::vector<std::string_view> parts;
    std::size_t pos = 0;
    while (pos <= path.size()) {
        const auto next = std::min(path.find('/', pos), path.size());
        const auto part = path.substr(pos, next - pos);
        pos = next + 1;
        if (part.empty() || part == ".") {
            continue;
        }
        if (part == "..") {
            if (!parts.empty()) {
                parts.pop_back();
            }
            continue;
        }
        parts.push_back(part);
    }
    return parts.empty() ? std::string() : std::string(parts.back());
}

std::optional<std::string> systemd_scope(const std::string &cgroups_path, const std::string &id,
                                         std::string_view runtime) {
    const bool crun = is_crun(runtime);
    if (cgroups_path.empty()) {
        return std::string(crun ? "crun-" : "runc-") + id + ".scope";
    }
    // "slice:prefix:name", as runc's systemd driver requires.
    const auto first = cgroups_path.find(':');
    const auto second =
        first == std::string::npos ? std::string::npos : cgroups_path.find(':', first + 1);
    if (second == std::string::npos || cgroups_path.find(':', second + 1) != std::string::npos) {
        return std::nullopt;
    }
    const auto prefix = cgroups_path.substr(first + 1, second - first - 1);
    const auto name = cgroups_path.substr(second + 1);
    if (name.empty()) {
        return std::nullopt;
    }
    // runc makes a slice when asked for one; crun always makes a scope.
    if (!crun && name.ends_with(".slice")) {
        return name;
    }
    return prefix + "-" + name + ".scope";
}

bool starts_with_any(std::string_view text, std::initializer_list<std::string_view> prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&](std::string_view p) { return text.starts_with(p); });
}

// A value for a warning: cut, since annotations can be megabytes.
std::string shown(const std::string &value) {
    if (value.size() <= kShownValue) {
        return value;
    }
    return value.substr(0, kShownValue) + "...";
}

struct Setting {
    std::string value;
    std::string where; // "annotation" or "label"
};

std::optional<Setting> find_setting(const char *key,
                                    const std::map<std::string, std::string> &annotations,
                                    const std::map<std::string, std::string> &labels) {
    if (const auto it = annotations.find(key); it != annotations.end()) {
        return Setting{it->second, "annotation"};
    }
    if (const auto it = labels.find(key); it != labels.end()) {
        return Setting{it->second, "label"};
    }
    return std::nullopt;
}

void append(std::string &list, const std::string &item, const char *separator) {
    if (!list.empty()) {
        list += separator;
    }
    list += item;
}

} // namespace

BundleSpec read_bundle(const fs::path &bundle) {
    const auto path = bundle / "config.json";
    const auto doc = parse_json(*read_capped(path, false), path);
    if (!doc.is_object()) {
        fail(path, "not an OCI runtime spec (not a JSON object)");
    }
    BundleSpec spec;
    if (const auto *annotations = object_member(doc, "annotations", path)) {
        spec.annotations = string_members(*annotations);
    }
    if (const auto *linux_section = object_member(doc, "linux", path)) {
        const auto it = linux_section->find("cgroupsPath");
        if (it != linux_section->end() && !it->is_null()) {
            if (!it->is_string()) {
                fail(path, R"("linux"."cgroupsPath" is not a string)");
            }
            spec.cgroups_path = it->get<std::string>();
        }
    }
    return spec;
}

std::optional<std::string> cgroup_name_of(const std::string &cgroups_path, bool systemd_driver,
                                          const std::string &id, std::string_view runtime) {
    std::optional<std::string> name;
    if (systemd_driver) {
        name = systemd_scope(cgroups_path, id, runtime);
    } else if (cgroups_path.empty()) {
        name = id;
    } else {
        name = last_clean_component(cgroups_path);
    }
    if (!name || !valid_cgroup_name(*name)) {
        return std::nullopt;
    }
    return name;
}

namespace {

// An id that becomes a path component.
bool usable_as_file_name(const std::string &id) {
    return !id.empty() && id != "." && id != ".." && id.find('/') == std::string::npos &&
           id.find('\0') == std::string::npos;
}

} // namespace

std::map<std::string, std::string> read_docker_labels(const fs::path &data_root,
                                                      const std::string &id) {
    if (!usable_as_file_name(id)) {
        throw MetadataError("not a Docker container id: cannot read its labels");
    }
    const auto path = data_root / "containers" / id / "config.v2.json";
    const auto text = read_capped(path, true);
    if (!text) {
        return {};
    }
    const auto doc = parse_json(*text, path);
    if (!doc.is_object()) {
        fail(path, "not a Docker container config (not a JSON object)");
    }
    const auto *config = object_member(doc, "Config", path);
    if (config == nullptr) {
        return {};
    }
    const auto *labels = object_member(*config, "Labels", path);
    return labels == nullptr ? std::map<std::string, std::string>{} : string_members(*labels);
}

std::optional<fs::path> read_runc_state_bundle(const fs::path &state_root, const std::string &id) {
    if (!usable_as_file_name(id)) {
        throw MetadataError("not a runc container id: cannot read its state");
    }
    const auto path = state_root / id / "state.json";
    const auto text = read_capped(path, true);
    if (!text) {
        return std::nullopt;
    }
    const auto doc = parse_json(*text, path);
    if (!doc.is_object()) {
        fail(path, "not a runc state (not a JSON object)");
    }
    const auto *config = object_member(doc, "config", path);
    if (config == nullptr) {
        return std::nullopt;
    }
    const auto labels = config->find("labels");
    if (labels == config->end() || !labels->is_array()) {
        return std::nullopt;
    }
    for (const auto &label : *labels) {
        if (!label.is_string()) {
            continue;
        }
        const auto &text_label = label.get_ref<const std::string &>();
        if (text_label.starts_with("bundle=") && text_label.size() > 7 && text_label[7] == '/') {
            return fs::path(text_label.substr(7));
        }
    }
    return std::nullopt;
}

std::string engine_of(const BundleSpec &spec, const fs::path &bundle, const std::string &runtime) {
    // First: podman writes CRI-O's annotations too (io.kubernetes.cri-o.*)
    // on containers that no Kubernetes ever saw.
    if (const auto it = spec.annotations.find("io.container.manager");
        it != spec.annotations.end() && it->second == "libpod") {
        return "podman";
    }
    const bool cri =
        std::any_of(spec.annotations.begin(), spec.annotations.end(), [](const auto &annotation) {
            const auto &key = annotation.first;
            return starts_with_any(key, {"io.kubernetes.cri.", "io.kubernetes.cri-o."}) ||
                   key == "io.kubernetes.pod.namespace";
        });
    if (cri) {
        return "kubernetes";
    }
    // containerd's bundles are <state>/io.containerd.runtime.v2.task/<namespace>/<id>;
    // Docker's namespace is "moby".
    std::vector<std::string> parts;
    for (const auto &part : bundle) {
        if (!part.empty() && part != "." && part != "/") {
            parts.push_back(part.string());
        }
    }
    for (std::size_t i = 0; i + 2 < parts.size(); ++i) {
        if (parts[i] == "io.containerd.runtime.v2.task" && parts[i + 1] == "moby") {
            return "docker";
        }
    }
    return runtime;
}

std::optional<std::string>
kubernetes_namespace(const std::map<std::string, std::string> &annotations) {
    for (const char *key : {"io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"}) {
        if (const auto it = annotations.find(key); it != annotations.end() && !it->second.empty()) {
            return it->second;
        }
    }
    return std::nullopt;
}

PolicyChoice choose_policy(const std::map<std::string, std::string> &annotations,
                           const std::map<std::string, std::string> &labels,
                           const std::map<std::string, Level> &namespace_levels,
                           const NamespaceLabelLookup &namespace_label) {
    PolicyChoice choice;
    std::string source;
    // A value present but invalid is not skipped for the next source: it
    // was meant to decide, and the default is the documented fallback.
    if (const auto level = find_setting(kLevelKey, annotations, labels)) {
        if (const auto parsed = parse_level(level->value)) {
            choice.level = parsed;
            append(source, level->where + " " + kLevelKey, ", ");
        } else {
            append(choice.warning,
                   std::string(kLevelKey) + "=\"" + shown(level->value) +
                       "\" is not a level (privileged, baseline, restricted); using the default",
                   "; ");
        }
    } else if (const auto ns = kubernetes_namespace(annotations)) {
        if (const auto it = namespace_levels.find(*ns); it != namespace_levels.end()) {
            choice.level = it->second;
            append(source, "kubernetes namespace " + *ns, ", ");
        } else if (namespace_label) {
            if (const auto labelled = namespace_label(*ns)) {
                choice.level = labelled;
                append(source,
                       "namespace label " + std::string(kPodSecurityEnforceLabel) + " of " + *ns,
                       ", ");
            }
        }
    }
    if (const auto mode = find_setting(kModeKey, annotations, labels)) {
        if (const auto parsed = parse_mode(mode->value)) {
            choice.mode = parsed;
            append(source, mode->where + " " + kModeKey, ", ");
        } else {
            append(choice.warning,
                   std::string(kModeKey) + "=\"" + shown(mode->value) +
                       "\" is not a mode (enforce, audit); using the default",
                   "; ");
        }
    }
    choice.source = source.empty() ? "default" : source;
    return choice;
}

} // namespace lockc
