#include "kubernetes_api.hpp"

#include "config.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace lockc {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Larger than any kubeconfig or token file.
constexpr std::size_t kMaxKubeconfigBytes = std::size_t{1} << 20U;
constexpr std::size_t kMaxTokenBytes = std::size_t{64} << 10U;
// How much of a label value or server message a message repeats.
constexpr std::size_t kShownValue = 64;
constexpr std::size_t kShownMessage = 200;
// Bounds the cache; far more namespaces than a node ever runs pods of.
constexpr std::size_t kMaxCachedNamespaces = 4096;

std::string shown(std::string_view text, std::size_t max) {
    return text.size() <= max ? std::string(text) : std::string(text.substr(0, max)) + "...";
}

std::string read_file(const fs::path &path, std::size_t max_bytes, const std::string &what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw KubernetesError("cannot read " + what + " " + path.string() + ": " +
                              std::generic_category().message(errno));
    }
    std::string text;
    std::array<char, 16384> chunk{};
    while (in.read(chunk.data(), chunk.size()) || in.gcount() > 0) {
        text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
        if (text.size() > max_bytes) {
            throw KubernetesError(what + " " + path.string() + " is larger than " +
                                  std::to_string(max_bytes >> 10U) + " KiB");
        }
    }
    if (in.bad()) {
        throw KubernetesError("cannot read " + what + " " + path.string());
    }
    return text;
}

// Strict standard base64 (as Go's encoding/base64 that kubectl uses):
// padding required; whitespace, which YAML line folding may leave, ignored.
std::optional<std::string> decode_base64(std::string_view text) {
    std::string compact;
    std::ranges::copy_if(text, std::back_inserter(compact),
                         [](char c) { return c != ' ' && c != '\n' && c != '\r' && c != '\t'; });
    if (compact.size() % 4 != 0) {
        return std::nullopt;
    }
    const auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') {
            return c - 'A';
        }
        if (c >= 'a' && c <= 'z') {
            return c - 'a' + 26;
        }
        if (c >= '0' && c <= '9') {
            return c - '0' + 52;
        }
        if (c == '+') {
            return 62;
        }
        if (c == '/') {
            return 63;
        }
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < compact.size(); i += 4) {
        const bool last = i + 4 == compact.size();
        std::uint32_t bits = 0;
        int padding = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const char c = compact[i + j];
            if (c == '=' && last && j >= 2) {
                ++padding;
                bits <<= 6U;
                continue;
            }
            const int v = value(c);
            if (v < 0 || padding > 0) {
                return std::nullopt;
            }
            bits = (bits << 6U) | static_cast<std::uint32_t>(v);
        }
        out += static_cast<char>((bits >> 16U) & 0xffU);
        if (padding < 2) {
            out += static_cast<char>((bits >> 8U) & 0xffU);
        }
        if (padding < 1) {
            out += static_cast<char>(bits & 0xffU);
        }
    }
    return out;
}

// Reads a kubeconfig's YAML; errors carry "file:line:column" when the
// offending node has a place in the file.
class KubeconfigReader {
  public:
    KubeconfigReader(const fs::path &directory, const std::string &source)
        : directory_(directory), source_(source) {}

    [[nodiscard]] KubeAccess read(const YAML::Node &root) const {
        if (!root.IsMap()) {
            fail_file("not a kubeconfig (not a YAML mapping)");
        }
        const auto context_name = string_at(root, "current-context", "'current-context'");
        if (context_name.empty()) {
            fail_file("no current-context is set");
        }
        const auto context =
            named(root, "contexts", "context", context_name, root["current-context"]);
        const auto cluster_name = string_at(context, "cluster", "'cluster' of the context");
        if (cluster_name.empty()) {
            fail(context, "context '" + context_name + "' names no cluster");
        }
        KubeAccess access;
        read_cluster(named(root, "clusters", "cluster", cluster_name, context["cluster"]),
                     cluster_name, access);
        // No user: anonymous, as kubectl would do it.
        const auto user_name = string_at(context, "user", "'user' of the context");
        if (!user_name.empty()) {
            read_user(named(root, "users", "user", user_name, context["user"]), user_name, access);
        }
        return access;
    }

  private:
    [[noreturn]] void fail_file(const std::string &message) const {
        throw KubernetesError(source_ + ": " + message);
    }

    // At the offending node, which must exist.
    [[noreturn]] void fail(const YAML::Node &where, const std::string &message) const {
        const auto mark = where.Mark();
        if (mark.is_null()) {
            fail_file(message);
        }
        throw KubernetesError(source_ + ":" + std::to_string(mark.line + 1) + ":" +
                              std::to_string(mark.column + 1) + ": " + message);
    }

    // A string member of a mapping; "" when absent or null.
    std::string string_at(const YAML::Node &map, const char *key, const std::string &what) const {
        const auto node = map[key];
        if (!node || node.IsNull()) {
            return {};
        }
        if (!node.IsScalar()) {
            fail(node, what + " must be a string");
        }
        return node.Scalar();
    }

    // Fails at `key` of `map` if it is there: something lockcd does not do.
    void reject_key(const YAML::Node &map, const char *key, const std::string &message) const {
        for (const auto &entry : map) {
            if (entry.first.IsScalar() && entry.first.Scalar() == key) {
                fail(entry.first, message);
            }
        }
    }

    bool bool_at(const YAML::Node &map, const char *key, const std::string &what) const {
        const auto node = map[key];
        if (!node || node.IsNull()) {
            return false;
        }
        bool value = false;
        if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
            fail(node, what + " must be true or false");
        }
        return value;
    }

    // The body (`field`) of the entry of list `list` called `name`, which
    // `reference` names.
    YAML::Node named(const YAML::Node &root, const char *list, const char *field,
                     const std::string &name, const YAML::Node &reference) const {
        const std::string what = std::string(field) + " '" + name + "'";
        const auto entries = root[list];
        if (entries && !entries.IsNull() && !entries.IsSequence()) {
            fail(entries, std::string("'") + list + "' must be a list");
        }
        if (entries && entries.IsSequence()) {
            for (const auto &entry : entries) {
                if (!entry.IsMap() || string_at(entry, "name", "'name'") != name) {
                    continue;
                }
                const auto body = entry[field];
                if (!body || !body.IsMap()) {
                    fail(entry, what + " has no '" + field + "' mapping");
                }
                return body;
            }
        }
        fail(reference, what + " is not in '" + list + "'");
    }

    [[nodiscard]] fs::path file_at(const YAML::Node &map, const char *key,
                                   const std::string &what) const {
        const auto text = string_at(map, key, what);
        if (text.empty()) {
            return {};
        }
        if (text.find('\0') != std::string::npos) {
            fail(map[key], what + " is not a file name");
        }
        const fs::path path(text);
        return (path.is_absolute() ? path : directory_ / path).lexically_normal();
    }

    // A PEM from `key` (a file) or `key`-data (base64).
    [[nodiscard]] PemSource pem_at(const YAML::Node &map, const std::string &key,
                                   const std::string &owner, bool both_allowed) const {
        const std::string data_key = key + "-data";
        PemSource pem;
        pem.file = file_at(map, key.c_str(), "'" + key + "' of " + owner);
        const auto encoded = string_at(map, data_key.c_str(), "'" + data_key + "' of " + owner);
        if (!encoded.empty()) {
            const auto decoded = decode_base64(encoded);
            if (!decoded || decoded->empty()) {
                fail(map[data_key], "'" + data_key + "' of " + owner + " is not valid base64");
            }
            if (!pem.file.empty() && !both_allowed) {
                fail(map[data_key],
                     owner + " has both '" + key + "' and '" + data_key + "'; give only one");
            }
            // client-go's rule: the data wins over the file.
            pem.file.clear();
            pem.data = *decoded;
        }
        return pem;
    }

    void read_cluster(const YAML::Node &cluster, const std::string &name,
                      KubeAccess &access) const {
        const std::string owner = "cluster '" + name + "'";
        for (const char *unsupported : {"proxy-url", "tls-server-name"}) {
            reject_key(cluster, unsupported,
                       owner + " sets '" + unsupported + "', which lockcd does not support");
        }
        auto server = string_at(cluster, "server", "'server' of " + owner);
        if (server.empty()) {
            fail(cluster, owner + " has no 'server'");
        }
        const auto lower = [](std::string text) {
            std::ranges::transform(text, text.begin(), [](char c) {
                return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
            });
            return text;
        };
        if (!lower(server.substr(0, 8)).starts_with("https://") || server.size() == 8 ||
            std::ranges::any_of(server, [](char c) {
                const auto byte = static_cast<unsigned char>(c);
                return byte <= 0x20 || byte >= 0x7f || c == '?' || c == '#';
            })) {
            fail(cluster["server"], "'server' of " + owner + " must be an https:// URL without " +
                                        "query or fragment, not '" + shown(server, kShownValue) +
                                        "'");
        }
        while (server.ends_with('/')) {
            server.pop_back();
        }
        access.server = server;
        access.certificate_authority = pem_at(cluster, "certificate-authority", owner, true);
        access.insecure_skip_tls_verify =
            bool_at(cluster, "insecure-skip-tls-verify", "'insecure-skip-tls-verify' of " + owner);
        if (access.insecure_skip_tls_verify && !access.certificate_authority.empty()) {
            // kubectl's rule, too: one of them is a mistake.
            fail(cluster, owner + " sets both a certificate authority and "
                                  "'insecure-skip-tls-verify'");
        }
    }

    void read_user(const YAML::Node &user, const std::string &name, KubeAccess &access) const {
        const std::string owner = "user '" + name + "'";
        for (const char *unsupported : {"exec", "auth-provider", "username", "password", "as",
                                        "as-uid", "as-groups", "as-user-extra"}) {
            reject_key(user, unsupported,
                       owner + " uses '" + unsupported +
                           "', which lockcd does not support; give it a client certificate and "
                           "key, or a token");
        }
        access.client_certificate = pem_at(user, "client-certificate", owner, false);
        access.client_key = pem_at(user, "client-key", owner, false);
        if (access.client_certificate.empty() != access.client_key.empty()) {
            fail(user, owner + " needs both a client certificate and a client key");
        }
        access.token = string_at(user, "token", "'token' of " + owner);
        // client-go's rule: a token wins over a token file.
        if (access.token.empty()) {
            access.token_file = file_at(user, "tokenFile", "'tokenFile' of " + owner);
        }
    }

    const fs::path &directory_;
    const std::string &source_;
};

// --- HTTP -------------------------------------------------------------------

// libcurl is opened the first time the API is asked, not linked: with it
// come OpenSSL, GnuTLS, Kerberos and LDAP, which took 4 MiB of lockcd's
// resident memory on every host, most of which never ask Kubernetes
// (docs/benchmarks.md, "lockcd's memory").
struct Curl {
    decltype(&curl_global_init) global_init = nullptr;
    decltype(&curl_easy_strerror) strerror = nullptr;
    decltype(&curl_easy_init) easy_init = nullptr;
    decltype(&curl_easy_cleanup) easy_cleanup = nullptr;
    decltype(&curl_easy_setopt) easy_setopt = nullptr;
    decltype(&curl_easy_perform) easy_perform = nullptr;
    decltype(&curl_easy_getinfo) easy_getinfo = nullptr;
    decltype(&curl_slist_append) slist_append = nullptr;
    decltype(&curl_slist_free_all) slist_free_all = nullptr;
};

// The soname of Debian's libcurl4 (OpenSSL), whose headers lockcd is
// built with.
constexpr const char *kCurlLibrary = "libcurl.so.4";

Curl load_curl() {
    // Never closed: OpenSSL's exit handlers live in what it loads.
    void *library = ::dlopen(kCurlLibrary, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
        const char *why = ::dlerror();
        throw KubernetesError(std::string("cannot load ") + kCurlLibrary +
                              " (Debian: libcurl4): " + (why != nullptr ? why : "unknown error"));
    }
    Curl api;
    const auto bind = [library](auto &function, const char *name) {
        function =
            reinterpret_cast<std::remove_reference_t<decltype(function)>>(::dlsym(library, name));
        if (function == nullptr) {
            throw KubernetesError(std::string(kCurlLibrary) + " has no " + name);
        }
    };
    bind(api.global_init, "curl_global_init");
    bind(api.strerror, "curl_easy_strerror");
    bind(api.easy_init, "curl_easy_init");
    bind(api.easy_cleanup, "curl_easy_cleanup");
    bind(api.easy_setopt, "curl_easy_setopt");
    bind(api.easy_perform, "curl_easy_perform");
    bind(api.easy_getinfo, "curl_easy_getinfo");
    bind(api.slist_append, "curl_slist_append");
    bind(api.slist_free_all, "curl_slist_free_all");
    return api;
}

// libcurl must be loaded and initialised once, before any other call, and
// not concurrently with any: a function-local static does it the first time
// the API is asked (lockcd has one thread), and never for a lockcd without
// a kubeconfig. A failure is retried at the next request. Cleanup is left
// to process exit.
const Curl &curl() {
    static const Curl api = [] {
        Curl loaded = load_curl();
        if (const CURLcode rc = loaded.global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
            throw KubernetesError(std::string("cannot initialise libcurl: ") + loaded.strerror(rc));
        }
        return loaded;
    }();
    return api;
}

struct CurlEasyDeleter {
    void operator()(CURL *handle) const noexcept { curl().easy_cleanup(handle); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
    void operator()(curl_slist *list) const noexcept { curl().slist_free_all(list); }
};
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

template <typename Value> void set_option(CURL *handle, CURLoption option, Value value) {
    if (const CURLcode rc = curl().easy_setopt(handle, option, value); rc != CURLE_OK) {
        throw KubernetesError(std::string("cannot set up the request: ") + curl().strerror(rc));
    }
}

void set_blob(CURL *handle, CURLoption option, const std::string &data) {
    // CURL_BLOB_COPY: the handle keeps its own copy.
    curl_blob blob{const_cast<char *>(data.data()), data.size(), CURL_BLOB_COPY};
    set_option(handle, option, &blob);
}

struct Body {
    std::string text;
    bool too_big = false;
};

std::size_t write_body(char *data, std::size_t size, std::size_t count, void *user) {
    auto *body = static_cast<Body *>(user);
    const std::size_t bytes = size * count;
    if (body->text.size() + bytes > kMaxKubernetesResponseBytes) {
        body->too_big = true;
        return 0; // anything but `bytes` aborts the transfer
    }
    try {
        body->text.append(data, bytes);
    } catch (...) {
        return 0;
    }
    return bytes;
}

struct Response {
    long status = 0;
    std::string body;
};

std::string bearer_token(const KubeAccess &access) {
    std::string token = access.token;
    if (token.empty() && !access.token_file.empty()) {
        token = read_file(access.token_file, kMaxTokenBytes, "token file");
        while (!token.empty() && (token.back() == '\n' || token.back() == '\r' ||
                                  token.back() == ' ' || token.back() == '\t')) {
            token.pop_back();
        }
        if (token.empty()) {
            throw KubernetesError("token file " + access.token_file.string() + " is empty");
        }
    }
    // It goes into a header line.
    if (std::ranges::any_of(token, [](char c) {
            const auto byte = static_cast<unsigned char>(c);
            return byte <= 0x20 || byte >= 0x7f;
        })) {
        throw KubernetesError("the bearer token holds spaces or control characters");
    }
    return token;
}

void set_tls(CURL *handle, const KubeAccess &access) {
    set_option(handle, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    if (access.insecure_skip_tls_verify) {
        set_option(handle, CURLOPT_SSL_VERIFYPEER, 0L);
        set_option(handle, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        set_option(handle, CURLOPT_SSL_VERIFYPEER, 1L);
        set_option(handle, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    const auto &ca = access.certificate_authority;
    if (!ca.empty()) {
        // The cluster's CA only, as with kubectl: not the system's too.
        set_option(handle, CURLOPT_CAPATH, static_cast<const char *>(nullptr));
        if (!ca.data.empty()) {
            set_blob(handle, CURLOPT_CAINFO_BLOB, ca.data);
        } else {
            set_option(handle, CURLOPT_CAINFO, ca.file.c_str());
        }
    }
    if (!access.client_certificate.empty()) {
        set_option(handle, CURLOPT_SSLCERTTYPE, "PEM");
        if (!access.client_certificate.data.empty()) {
            set_blob(handle, CURLOPT_SSLCERT_BLOB, access.client_certificate.data);
        } else {
            set_option(handle, CURLOPT_SSLCERT, access.client_certificate.file.c_str());
        }
        set_option(handle, CURLOPT_SSLKEYTYPE, "PEM");
        if (!access.client_key.data.empty()) {
            set_blob(handle, CURLOPT_SSLKEY_BLOB, access.client_key.data);
        } else {
            set_option(handle, CURLOPT_SSLKEY, access.client_key.file.c_str());
        }
    }
}

Response get(const KubeAccess &access, const std::string &url) {
    const CurlEasy handle(curl().easy_init());
    if (!handle) {
        throw KubernetesError("cannot set up the request: curl_easy_init failed");
    }
    CURL *h = handle.get();
    std::array<char, CURL_ERROR_SIZE> error{};
    Body body;
    set_option(h, CURLOPT_ERRORBUFFER, error.data());
    set_option(h, CURLOPT_URL, url.c_str());
    set_option(h, CURLOPT_PROTOCOLS_STR, "https");
    set_option(h, CURLOPT_FOLLOWLOCATION, 0L);
    // The API server is reached directly: an https_proxy in lockcd's
    // environment is not part of the trusted configuration.
    set_option(h, CURLOPT_PROXY, "");
    set_option(h, CURLOPT_NOPROXY, "*");
    // No SIGALRM for timeouts: lockcd owns its signals.
    set_option(h, CURLOPT_NOSIGNAL, 1L);
    set_option(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(kKubernetesConnectTimeout.count()));
    set_option(h, CURLOPT_TIMEOUT_MS, static_cast<long>(kKubernetesRequestTimeout.count()));
    set_option(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kMaxKubernetesResponseBytes));
    set_option(h, CURLOPT_USERAGENT, "lockcd");
    set_option(h, CURLOPT_WRITEFUNCTION, &write_body);
    set_option(h, CURLOPT_WRITEDATA, &body);
    set_tls(h, access);

    CurlSlist headers(curl().slist_append(nullptr, "Accept: application/json"));
    if (!headers) {
        throw KubernetesError("cannot set up the request: out of memory");
    }
    if (const auto token = bearer_token(access); !token.empty()) {
        const std::string line = "Authorization: Bearer " + token;
        curl_slist *more = curl().slist_append(headers.get(), line.c_str());
        if (more == nullptr) {
            throw KubernetesError("cannot set up the request: out of memory");
        }
        (void)headers.release();
        headers.reset(more);
    }
    set_option(h, CURLOPT_HTTPHEADER, headers.get());

    if (const CURLcode rc = curl().easy_perform(h); rc != CURLE_OK) {
        std::string why = error[0] != '\0' ? error.data() : curl().strerror(rc);
        if (body.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
            why = "the answer is larger than " +
                  std::to_string(kMaxKubernetesResponseBytes >> 20U) + " MiB";
        } else if (rc == CURLE_OPERATION_TIMEDOUT) {
            why = "no answer within " + std::to_string(kKubernetesRequestTimeout.count()) +
                  " ms (" + why + ")";
        }
        throw KubernetesError("GET " + url + ": " + why);
    }
    Response response;
    if (curl().easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status) != CURLE_OK) {
        throw KubernetesError("GET " + url + ": no HTTP status");
    }
    response.body = std::move(body.text);
    return response;
}

// The message of a Kubernetes Status object, if the body is one.
std::string status_message(const std::string &body) {
    const auto doc = json::parse(body, nullptr, false);
    if (doc.is_object()) {
        if (const auto it = doc.find("message"); it != doc.end() && it->is_string()) {
            return ": " + shown(it->get<std::string>(), kShownMessage);
        }
    }
    return {};
}

NamespaceLabel label_of(const std::string &body, const std::string &name, const std::string &url) {
    const auto doc = json::parse(body, nullptr, false);
    if (!doc.is_object() || doc.value("kind", "") != "Namespace") {
        throw KubernetesError("GET " + url + ": the answer is not a Namespace object");
    }
    const auto metadata = doc.find("metadata");
    if (metadata == doc.end() || !metadata->is_object()) {
        return {};
    }
    const auto labels = metadata->find("labels");
    if (labels == metadata->end() || !labels->is_object()) {
        return {};
    }
    const auto label = labels->find(kPodSecurityEnforceLabel);
    if (label == labels->end()) {
        return {};
    }
    const std::string value = label->is_string() ? label->get<std::string>() : label->dump();
    if (const auto level = parse_level(value)) {
        return {*level, {}};
    }
    return {std::nullopt, "namespace " + name + " has " + kPodSecurityEnforceLabel + "=\"" +
                              shown(value, kShownValue) +
                              "\", not a level (privileged, baseline, restricted); ignored"};
}

} // namespace

KubeAccess parse_kubeconfig(std::string_view text, const fs::path &directory,
                            const std::string &source_name) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::Exception &e) {
        if (e.mark.is_null()) {
            throw KubernetesError(source_name + ": not valid YAML: " + e.msg);
        }
        throw KubernetesError(source_name + ":" + std::to_string(e.mark.line + 1) + ":" +
                              std::to_string(e.mark.column + 1) + ": not valid YAML: " + e.msg);
    }
    try {
        return KubeconfigReader(directory, source_name).read(root);
    } catch (const YAML::Exception &e) {
        // What the checks above did not foresee (yaml-cpp's own errors).
        throw KubernetesError(source_name + ": " + e.msg);
    }
}

KubeAccess load_kubeconfig(const fs::path &file) {
    return parse_kubeconfig(read_file(file, kMaxKubeconfigBytes, "kubeconfig"), file.parent_path(),
                            file.string());
}

NamespaceLabel fetch_namespace_label(const KubeAccess &access, const std::string &name) {
    // The name becomes part of the URL.
    if (!valid_namespace_name(name)) {
        throw KubernetesError("'" + shown(name, kShownValue) + "' is not a namespace name");
    }
    const std::string url = access.server + "/api/v1/namespaces/" + name;
    const auto response = get(access, url);
    switch (response.status) {
    case 200:
        return label_of(response.body, name, url);
    case 404:
        return {std::nullopt, "the API server knows no namespace " + name};
    case 401:
    case 403:
        throw KubernetesError("GET " + url + ": refused (HTTP " + std::to_string(response.status) +
                              ")" + status_message(response.body) +
                              "; check the kubeconfig's credentials and their RBAC permission "
                              "to get namespaces");
    default:
        break;
    }
    throw KubernetesError("GET " + url + ": HTTP " + std::to_string(response.status) +
                          status_message(response.body) +
                          (response.status / 100 == 3 ? " (redirects are not followed)" : ""));
}

KubernetesNamespaceLabels::KubernetesNamespaceLabels(fs::path kubeconfig, Clock clock)
    : kubeconfig_(std::move(kubeconfig)), clock_(std::move(clock)) {}

const KubeAccess &KubernetesNamespaceLabels::access() {
    struct stat st {};
    if (::stat(kubeconfig_.c_str(), &st) != 0) {
        throw KubernetesError("cannot read kubeconfig " + kubeconfig_.string() + ": " +
                              std::generic_category().message(errno));
    }
    const FileIdentity identity{
        static_cast<unsigned long>(st.st_dev), static_cast<unsigned long>(st.st_ino),
        static_cast<long long>(st.st_size),
        static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec};
    if (!access_ || read_as_ != identity) {
        // A changed kubeconfig may name another cluster: forget the old answers.
        access_.reset();
        cache_.clear();
        access_ = load_kubeconfig(kubeconfig_);
        read_as_ = identity;
    }
    return *access_;
}

void KubernetesNamespaceLabels::remember(const std::string &name, const NamespaceLookup &result,
                                         std::chrono::steady_clock::time_point now) {
    if (cache_.size() >= kMaxCachedNamespaces) {
        std::erase_if(cache_, [&](const auto &entry) { return entry.second.expires <= now; });
        if (cache_.size() >= kMaxCachedNamespaces) {
            cache_.clear();
        }
    }
    cache_.insert_or_assign(name, Cached{result, now + kNamespaceLabelTtl});
}

NamespaceLookup KubernetesNamespaceLabels::lookup(const std::string &name) {
    if (!valid_namespace_name(name)) {
        // Not the API server's failure: no pause for other namespaces.
        return {std::nullopt, {}, "'" + shown(name, kShownValue) + "' is not a namespace name"};
    }
    const auto now = clock_();
    if (const auto it = cache_.find(name); it != cache_.end() && now < it->second.expires) {
        return it->second.result;
    }
    if (now < retry_after_) {
        return {std::nullopt,
                {},
                failure_ + " (not asking again for " +
                    std::to_string(kKubernetesFailureTtl.count()) + " s after a failure)"};
    }
    try {
        const auto label = fetch_namespace_label(access(), name);
        NamespaceLookup result{label.level, label.warning, {}};
        remember(name, result, now);
        return result;
    } catch (const std::exception &e) {
        // std::bad_alloc and the like too: the caller's fallback confines.
        failure_ = e.what();
        retry_after_ = clock_() + kKubernetesFailureTtl;
        return {std::nullopt, {}, failure_};
    }
}

} // namespace lockc
