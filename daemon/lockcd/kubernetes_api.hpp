// The pod-security.kubernetes.io/enforce label of Kubernetes namespaces,
// read from the API server that a kubeconfig names ([kubernetes] kubeconfig
// in lockc.toml). The one request is GET /api/v1/namespaces/<name>, made
// while a container runtime waits for lockcd (exec_gate.hpp) in lockcd's
// single event loop: hence short timeouts and a cache that remembers
// failures too.
#pragma once

#include "policy.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace lockc {

inline constexpr const char *kPodSecurityEnforceLabel = "pod-security.kubernetes.io/enforce";

// A runtime waits for the answer: one unreachable API server must not hold
// it for long.
inline constexpr std::chrono::milliseconds kKubernetesConnectTimeout{1000};
inline constexpr std::chrono::milliseconds kKubernetesRequestTimeout{2000};
// Larger than any Namespace object; beyond it the transfer is aborted.
inline constexpr std::size_t kMaxKubernetesResponseBytes = std::size_t{1} << 20U;
// How long an answer (a level, no label, no such namespace) is believed.
inline constexpr std::chrono::seconds kNamespaceLabelTtl{30};
// After a failure nothing is asked for this long: a down API server costs
// one timeout per period, not one per container.
inline constexpr std::chrono::seconds kKubernetesFailureTtl{5};

// An unusable kubeconfig or a failed request; what() says which and why.
struct KubernetesError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// PEM text given in the kubeconfig (a *-data key, decoded) or a file.
struct PemSource {
    std::string data;
    std::filesystem::path file;

    [[nodiscard]] bool empty() const noexcept { return data.empty() && file.empty(); }
    friend bool operator==(const PemSource &, const PemSource &) = default;
};

// How to reach the API server: the cluster and user of a kubeconfig's
// current context.
struct KubeAccess {
    std::string server;              // "https://host[:port][/prefix]", no trailing '/'
    PemSource certificate_authority; // empty: the system's CAs
    bool insecure_skip_tls_verify = false;
    PemSource client_certificate; // set together with client_key, or neither
    PemSource client_key;
    std::string token;
    std::filesystem::path token_file; // read at each request: tokens rotate

    friend bool operator==(const KubeAccess &, const KubeAccess &) = default;
};

// Parses a kubeconfig (YAML). Relative file names in it are relative to
// `directory`, the kubeconfig's own (kubectl's rule); `source_name` names it
// in errors. Credentials other than client certificates and tokens (exec,
// auth-provider, username/password, impersonation) are errors: requests
// without them would fail in ways harder to understand.
[[nodiscard]] KubeAccess parse_kubeconfig(std::string_view text,
                                          const std::filesystem::path &directory,
                                          const std::string &source_name);

// Reads (at most 1 MiB) and parses a kubeconfig file.
[[nodiscard]] KubeAccess load_kubeconfig(const std::filesystem::path &file);

struct NamespaceLabel {
    std::optional<Level> level; // nullopt: no label, not a level, no such namespace
    // Non-empty: the label is not a level (its value cut to 64 bytes, not
    // escaped), or the API server does not know the namespace.
    std::string warning;
};

// GET {server}/api/v1/namespaces/{name}: the namespace's
// pod-security.kubernetes.io/enforce label as a level. Never follows
// redirects, never uses a proxy. Throws KubernetesError when there is no
// answer (a bad name, timeout, TLS, HTTP 401/403/5xx, malformed JSON);
// messages may quote the server: escape them for the log.
[[nodiscard]] NamespaceLabel fetch_namespace_label(const KubeAccess &access,
                                                   const std::string &name);

struct NamespaceLookup {
    std::optional<Level> level; // nullopt: the caller's fallback (the default level)
    std::string warning;        // as NamespaceLabel::warning
    std::string error;          // non-empty: the API server was not (or could not be) asked
};

// The labels of namespaces from one kubeconfig, cached. The kubeconfig is
// read at the first request and again whenever the file changes; answers
// are kept for kNamespaceLabelTtl, and after a failure no request is made
// for kKubernetesFailureTtl. Not thread-safe: lockcd has one thread.
class KubernetesNamespaceLabels {
  public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    explicit KubernetesNamespaceLabels(std::filesystem::path kubeconfig,
                                       Clock clock = &std::chrono::steady_clock::now);

    // Never throws KubernetesError: failures are in the result's `error`.
    [[nodiscard]] NamespaceLookup lookup(const std::string &name);

    [[nodiscard]] const std::filesystem::path &kubeconfig() const noexcept { return kubeconfig_; }

  private:
    struct FileIdentity {
        unsigned long device = 0;
        unsigned long inode = 0;
        long long size = 0;
        long long mtime_ns = 0;
        friend bool operator==(const FileIdentity &, const FileIdentity &) = default;
    };
    struct Cached {
        NamespaceLookup result;
        std::chrono::steady_clock::time_point expires;
    };

    const KubeAccess &access();
    void remember(const std::string &name, const NamespaceLookup &result,
                  std::chrono::steady_clock::time_point now);

    std::filesystem::path kubeconfig_;
    Clock clock_;
    std::optional<KubeAccess> access_;
    std::optional<FileIdentity> read_as_;
    std::map<std::string, Cached, std::less<>> cache_;
    std::string failure_; // the last failure, while no request is made
    std::chrono::steady_clock::time_point retry_after_{};
};

} // namespace lockc
