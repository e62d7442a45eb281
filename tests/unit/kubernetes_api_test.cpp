// lockcd's Kubernetes API client (kubernetes_api.hpp): kubeconfig parsing,
// and the HTTPS request for a namespace's pod-security.kubernetes.io/enforce
// label with its cache.
//
// The requests go to a real local TLS server with throw-away certificates
// (a CA, a server and a client certificate made by openssl in a temporary
// directory). A real kube-apiserver cannot run on these machines (it is not
// in Debian 12), so that server is fake-kube-apiserver.py: it speaks the
// same protocol for the one call lockcd makes (GET /api/v1/namespaces/<name>
// answered with a v1 Namespace or Status object, client certificate or
// bearer token required).
#include "kubernetes_api.hpp"

#include "policy.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace lockc {
namespace {

namespace fs = std::filesystem;
using std::chrono::steady_clock;
using test::TempDir;

// --- helpers ----------------------------------------------------------------

std::string read_text(const fs::path &path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path &path, const std::string &text) {
    std::ofstream(path, std::ios::binary) << text;
}

std::string base64(const std::string &data) {
    static constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < data.size(); i += 3) {
        std::uint32_t bits = static_cast<unsigned char>(data[i]) << 16U;
        if (i + 1 < data.size()) {
            bits |= static_cast<unsigned char>(data[i + 1]) << 8U;
        }
        if (i + 2 < data.size()) {
            bits |= static_cast<unsigned char>(data[i + 2]);
        }
        out += kAlphabet[(bits >> 18U) & 63U];
        out += kAlphabet[(bits >> 12U) & 63U];
        out += i + 1 < data.size() ? kAlphabet[(bits >> 6U) & 63U] : '=';
        out += i + 2 < data.size() ? kAlphabet[bits & 63U] : '=';
    }
    return out;
}

// A kubeconfig with one context; `cluster` and `user` are the bodies of the
// cluster and user entries, each line indented by six spaces.
std::string kubeconfig(const std::string &cluster, const std::string &user) {
    return "apiVersion: v1\n"
           "kind: Config\n"
           "current-context: test\n"
           "contexts:\n"
           "  - name: test\n"
           "    context:\n"
           "      cluster: c1\n"
           "      user: u1\n"
           "      namespace: default\n"
           "clusters:\n"
           "  - name: c1\n"
           "    cluster:\n" +
           cluster +
           "users:\n"
           "  - name: u1\n"
           "    user:\n" +
           user;
}

KubeAccess parse(const std::string &text, const fs::path &dir = "/etc/lockc") {
    return parse_kubeconfig(text, dir, "kubeconfig");
}

// what() of the error parse_kubeconfig throws.
std::string rejection(const std::string &text) {
    try {
        (void)parse(text);
    } catch (const KubernetesError &e) {
        return e.what();
    }
    return "accepted";
}

bool contains(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
}

// --- kubeconfig ---------------------------------------------------------------

const std::string kServer = "      server: https://10.0.0.1:6443\n";

TEST(Kubeconfig, DataVariantsAreDecoded) {
    const auto access =
        parse(kubeconfig(kServer + "      certificate-authority-data: " + base64("CA PEM") + "\n",
                         "      client-certificate-data: " + base64("CERT") +
                             "\n      client-key-data: " + base64("KEY!") + "\n"));
    EXPECT_EQ(access.server, "https://10.0.0.1:6443");
    EXPECT_EQ(access.certificate_authority, (PemSource{"CA PEM", {}}));
    EXPECT_EQ(access.client_certificate, (PemSource{"CERT", {}}));
    EXPECT_EQ(access.client_key, (PemSource{"KEY!", {}}));
    EXPECT_FALSE(access.insecure_skip_tls_verify);
    EXPECT_TRUE(access.token.empty());
    EXPECT_TRUE(access.token_file.empty());
}

TEST(Kubeconfig, RelativeFilesAreRelativeToTheKubeconfigsDirectory) {
    const auto access = parse(kubeconfig(kServer + "      certificate-authority: pki/ca.crt\n",
                                         "      client-certificate: /abs/client.crt\n"
                                         "      client-key: ../keys/./client.key\n"
                                         "      tokenFile: token\n"),
                              "/etc/kubernetes/lockc");
    EXPECT_EQ(access.certificate_authority.file, "/etc/kubernetes/lockc/pki/ca.crt");
    EXPECT_TRUE(access.certificate_authority.data.empty());
    EXPECT_EQ(access.client_certificate.file, "/abs/client.crt");
    EXPECT_EQ(access.client_key.file, "/etc/kubernetes/keys/client.key");
    EXPECT_EQ(access.token_file, "/etc/kubernetes/lockc/token");
}

TEST(Kubeconfig, LoadedFromAFileRelativeToItsDirectory) {
    const TempDir dir;
    write_text(dir.path() / "kubeconfig",
               kubeconfig(kServer + "      certificate-authority: ca.crt\n", "      token: abc\n"));
    const auto access = load_kubeconfig(dir.path() / "kubeconfig");
    EXPECT_EQ(access.certificate_authority.file, dir.path() / "ca.crt");
    EXPECT_EQ(access.token, "abc");
    EXPECT_THROW((void)load_kubeconfig(dir.path() / "missing"), KubernetesError);
}

TEST(Kubeconfig, TokenWinsOverTokenFileAndCaDataOverCaFile) {
    const auto access = parse(kubeconfig(kServer +
                                             "      certificate-authority: ca.crt\n"
                                             "      certificate-authority-data: " +
                                             base64("DATA") + "\n",
                                         "      token: abc\n      tokenFile: /run/token\n"));
    EXPECT_EQ(access.token, "abc");
    EXPECT_TRUE(access.token_file.empty());
    EXPECT_EQ(access.certificate_authority, (PemSource{"DATA", {}}));
}

TEST(Kubeconfig, ServerIsNormalisedAndMustBeHttps) {
    EXPECT_EQ(
        parse(kubeconfig("      server: https://k8s.example:443/prefix/\n", "      {}\n")).server,
        "https://k8s.example:443/prefix");
    EXPECT_EQ(rejection(kubeconfig("      server: http://10.0.0.1:8080\n", "      {}\n")),
              "kubeconfig:13:15: 'server' of cluster 'c1' must be an https:// URL without query "
              "or fragment, not 'http://10.0.0.1:8080'");
    EXPECT_TRUE(contains(rejection(kubeconfig("      server: https://a/?x=1\n", "      {}\n")),
                         "must be an https:// URL"));
    EXPECT_EQ(rejection(kubeconfig("      insecure-skip-tls-verify: true\n", "      {}\n")),
              "kubeconfig:13:7: cluster 'c1' has no 'server'");
}

TEST(Kubeconfig, AnonymousWithoutUser) {
    const auto access = parse("current-context: x\n"
                              "contexts: [{name: x, context: {cluster: c}}]\n"
                              "clusters: [{name: c, cluster: {server: 'https://h', "
                              "insecure-skip-tls-verify: true}}]\n");
    EXPECT_TRUE(access.insecure_skip_tls_verify);
    EXPECT_TRUE(access.client_certificate.empty());
    EXPECT_TRUE(access.token.empty());
}

TEST(Kubeconfig, MissingContextClusterOrUser) {
    EXPECT_EQ(rejection("apiVersion: v1\nkind: Config\n"), "kubeconfig: no current-context is set");
    EXPECT_EQ(rejection("current-context: prod\ncontexts: []\n"),
              "kubeconfig:1:18: context 'prod' is not in 'contexts'");
    EXPECT_EQ(rejection("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"),
              "kubeconfig:4:22: cluster 'c' is not in 'clusters'");
    EXPECT_EQ(rejection("current-context: x\ncontexts:\n- name: x\n  context: {user: u}\n"),
              "kubeconfig:4:12: context 'x' names no cluster");
    EXPECT_EQ(rejection("current-context: x\n"
                        "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                        "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                        "users: [{name: v, user: {}}]\n"),
              "kubeconfig:2:50: user 'u' is not in 'users'");
    EXPECT_EQ(rejection("current-context: x\ncontexts: [{name: x}]\n"),
              "kubeconfig:2:12: context 'x' has no 'context' mapping");
}

TEST(Kubeconfig, UnsupportedAuthIsAClearError) {
    const auto unsupported = [](const std::string &user) {
        return rejection(kubeconfig(kServer, user));
    };
    EXPECT_EQ(unsupported("      exec:\n        command: aws\n"),
              "kubeconfig:17:7: user 'u1' uses 'exec', which lockcd does not support; give it a "
              "client certificate and key, or a token");
    EXPECT_TRUE(contains(unsupported("      auth-provider:\n        name: oidc\n"),
                         "uses 'auth-provider', which lockcd does not support"));
    EXPECT_TRUE(contains(unsupported("      username: admin\n      password: secret\n"),
                         "uses 'username', which lockcd does not support"));
    EXPECT_TRUE(contains(unsupported("      token: t\n      as: system:admin\n"),
                         "uses 'as', which lockcd does not support"));
    EXPECT_TRUE(contains(
        rejection(kubeconfig(kServer + "      proxy-url: http://proxy:3128\n", "      {}\n")),
        "sets 'proxy-url', which lockcd does not support"));
}

TEST(Kubeconfig, CredentialMistakes) {
    EXPECT_EQ(rejection(kubeconfig(kServer, "      client-certificate: c.crt\n")),
              "kubeconfig:17:7: user 'u1' needs both a client certificate and a client key");
    EXPECT_EQ(rejection(kubeconfig(kServer, "      client-certificate: c.crt\n"
                                            "      client-certificate-data: " +
                                                base64("x") + "\n      client-key: k\n")),
              "kubeconfig:18:32: user 'u1' has both 'client-certificate' and "
              "'client-certificate-data'; give only one");
    EXPECT_EQ(rejection(kubeconfig(kServer, "      client-key-data: 'not base64!'\n"
                                            "      client-certificate: c\n")),
              "kubeconfig:17:24: 'client-key-data' of user 'u1' is not valid base64");
    // Unpadded base64 is not silently cut short.
    EXPECT_TRUE(contains(rejection(kubeconfig(kServer + "      certificate-authority-data: "
                                                        "aGVsbG8\n",
                                              "      {}\n")),
                         "is not valid base64"));
    EXPECT_EQ(rejection(kubeconfig(kServer + "      certificate-authority: ca.crt\n"
                                             "      insecure-skip-tls-verify: true\n",
                                   "      {}\n")),
              "kubeconfig:13:7: cluster 'c1' sets both a certificate authority and "
              "'insecure-skip-tls-verify'");
    EXPECT_TRUE(contains(
        rejection(kubeconfig(kServer + "      insecure-skip-tls-verify: maybe\n", "      {}\n")),
        "'insecure-skip-tls-verify' of cluster 'c1' must be true or false"));
    EXPECT_TRUE(contains(rejection(kubeconfig(kServer, "      token: [a, b]\n")),
                         "'token' of user 'u1' must be a string"));
}

TEST(Kubeconfig, MalformedYamlIsRejectedWithItsLocation) {
    EXPECT_EQ(rejection("current-context: x\ncontexts: [\n  {name: x\n"),
              "kubeconfig:4:1: not valid YAML: end of map flow not found");
    EXPECT_TRUE(contains(rejection("a: b: c\n"), "kubeconfig:1:5: not valid YAML: "));
    EXPECT_EQ(rejection(""), "kubeconfig: not a kubeconfig (not a YAML mapping)");
    EXPECT_EQ(rejection("- a\n- b\n"), "kubeconfig: not a kubeconfig (not a YAML mapping)");
    EXPECT_EQ(rejection("current-context: x\ncontexts: {x: y}\n"),
              "kubeconfig:2:11: 'contexts' must be a list");
}

// --- the API server -------------------------------------------------------------

std::string run(const std::string &command) {
    if (std::system(command.c_str()) != 0) { // NOLINT(cert-env33-c): test set-up
        return "failed: " + command;
    }
    return {};
}

// A throw-away CA with a server and a client certificate, and a second CA
// that signed neither.
struct Pki {
    explicit Pki(const fs::path &dir) : dir(dir) {
        const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        const std::string openssl = std::string(LOCKC_OPENSSL) + " ";
        const std::string cd = "cd '" + dir.string() + "' && ";
        write_text(dir / "server.ext",
                   "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
        write_text(dir / "client.ext", "extendedKeyUsage=clientAuth\n");
        const std::string sign = " -CA ca.crt -CAkey ca.key -CAcreateserial -days 2";
        error =
            run(cd + "{ " + openssl + "req -x509" + ec +
                " -keyout ca.key -out ca.crt -days 2 -subj /CN=lockc-test-ca && " + openssl +
                "req -x509" + ec +
                " -keyout other-ca.key -out other-ca.crt -days 2 -subj /CN=other-ca && " + openssl +
                "req" + ec + " -keyout server.key -out server.csr -subj /CN=kube-apiserver && " +
                openssl + "x509 -req -in server.csr -out server.crt -extfile server.ext" + sign +
                " && " + openssl + "req" + ec +
                " -keyout client.key -out client.csr -subj /O=system:masters/CN=lockcd && " +
                openssl + "x509 -req -in client.csr -out client.crt -extfile client.ext" + sign +
                "; } >/dev/null 2>&1");
    }
    [[nodiscard]] std::string pem(const std::string &name) const { return read_text(dir / name); }

    fs::path dir;
    std::string error;
};

// fake-kube-apiserver.py, stopped (SIGKILL) when destroyed.
class FakeApiServer {
  public:
    FakeApiServer(const Pki &pki, const std::vector<std::string> &options) {
        std::vector<std::string> args = {LOCKC_PYTHON3, LOCKC_FAKE_APISERVER,
                                         "--cert",      (pki.dir / "server.crt").string(),
                                         "--key",       (pki.dir / "server.key").string(),
                                         "--client-ca", (pki.dir / "ca.crt").string(),
                                         "--log",       (pki.dir / "requests.log").string()};
        args.insert(args.end(), options.begin(), options.end());
        std::array<int, 2> out{};
        if (::pipe2(out.data(), O_CLOEXEC) != 0) {
            throw std::runtime_error("pipe failed");
        }
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(out[1], STDOUT_FILENO);
            std::vector<char *> argv;
            argv.reserve(args.size() + 1);
            for (auto &arg : args) {
                argv.push_back(arg.data());
            }
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(out[1]);
        // "port N\n", or nothing when it fails to start.
        std::string line;
        pollfd fd{out[0], POLLIN, 0};
        char c = 0;
        while (line.find('\n') == std::string::npos && ::poll(&fd, 1, 10000) == 1 &&
               ::read(out[0], &c, 1) == 1) {
            line += c;
        }
        ::close(out[0]);
        std::istringstream(line.starts_with("port ") ? line.substr(5) : "0") >> port_;
    }
    FakeApiServer(const FakeApiServer &) = delete;
    FakeApiServer &operator=(const FakeApiServer &) = delete;
    ~FakeApiServer() { stop(); }

    void stop() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }
    [[nodiscard]] int port() const { return port_; }
    [[nodiscard]] std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }

  private:
    pid_t pid_ = -1;
    int port_ = 0;
};

class KubernetesApi : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_EQ(pki_.error, ""); }

    // Starts the server with these namespaces (NAME[=ENFORCE]) and options.
    void start(const std::vector<std::string> &options) {
        server_.emplace(pki_, options);
        ASSERT_NE(server_->port(), 0) << "fake-kube-apiserver.py did not start";
    }

    // Access by client certificate, all given inline (*-data).
    [[nodiscard]] KubeAccess cert_access() const {
        KubeAccess access;
        access.server = server_->url();
        access.certificate_authority.data = pki_.pem("ca.crt");
        access.client_certificate.data = pki_.pem("client.crt");
        access.client_key.data = pki_.pem("client.key");
        return access;
    }

    // The requests the server has seen, one line each.
    [[nodiscard]] std::vector<std::string> requests() const {
        std::vector<std::string> lines;
        std::istringstream in(read_text(dir_.path() / "requests.log"));
        for (std::string line; std::getline(in, line);) {
            lines.push_back(line);
        }
        return lines;
    }

    // Where write_kubeconfig writes.
    [[nodiscard]] fs::path kubeconfig_path() const { return dir_.path() / "kubeconfig"; }

    // A kubeconfig for the running server with this user body.
    [[nodiscard]] fs::path write_kubeconfig(const std::string &user) const {
        auto path = kubeconfig_path();
        write_text(path, kubeconfig("      server: " + server_->url() +
                                        "\n      certificate-authority: ca.crt\n",
                                    user));
        return path;
    }

    TempDir dir_;
    Pki pki_{dir_.path()};
    std::optional<FakeApiServer> server_;
};

const std::vector<std::string> kNamespaces = {"--namespace",    "web=restricted", "--namespace",
                                              "ops=privileged", "--namespace",    "plain",
                                              "--namespace",    "odd=Restricted"};

// The server's options for kNamespaces, asking for this bearer token.
std::vector<std::string> namespaces_with_token(const std::string &token) {
    auto options = kNamespaces;
    options.insert(options.end(), {"--token", token});
    return options;
}

TEST_F(KubernetesApi, LabelFoundIsTheLevel) {
    start(kNamespaces);
    auto label = fetch_namespace_label(cert_access(), "web");
    EXPECT_EQ(label.level, Level::Restricted);
    EXPECT_EQ(label.warning, "");
    label = fetch_namespace_label(cert_access(), "ops");
    EXPECT_EQ(label.level, Level::Privileged);
    EXPECT_EQ(requests(), (std::vector<std::string>{"GET /api/v1/namespaces/web cert",
                                                    "GET /api/v1/namespaces/ops cert"}));
}

TEST_F(KubernetesApi, CertificateFilesWork) {
    start(kNamespaces);
    const auto access =
        load_kubeconfig(write_kubeconfig("      client-certificate: client.crt\n"
                                         "      client-key: " +
                                         (dir_.path() / "client.key").string() + "\n"));
    EXPECT_EQ(fetch_namespace_label(access, "web").level, Level::Restricted);
}

TEST_F(KubernetesApi, LabelAbsentIsNoLevel) {
    start(kNamespaces);
    const auto label = fetch_namespace_label(cert_access(), "plain");
    EXPECT_FALSE(label.level);
    EXPECT_EQ(label.warning, "");
}

TEST_F(KubernetesApi, LabelNotALevelIsNoLevelWithAWarning) {
    start(kNamespaces);
    const auto label = fetch_namespace_label(cert_access(), "odd");
    EXPECT_FALSE(label.level);
    EXPECT_EQ(label.warning, "namespace odd has pod-security.kubernetes.io/enforce=\"Restricted\", "
                             "not a level (privileged, baseline, restricted); ignored");
}

TEST_F(KubernetesApi, UnknownNamespaceIsNoLevel) {
    start(kNamespaces);
    const auto label = fetch_namespace_label(cert_access(), "nowhere");
    EXPECT_FALSE(label.level);
    EXPECT_EQ(label.warning, "the API server knows no namespace nowhere");
}

TEST_F(KubernetesApi, NamesAreCheckedBeforeAnyRequest) {
    start(kNamespaces);
    for (const std::string &name :
         std::vector<std::string>{"../../api", "web?x=1", "", "Web", std::string(64, 'a')}) {
        EXPECT_THROW((void)fetch_namespace_label(cert_access(), name), KubernetesError) << name;
    }
    EXPECT_TRUE(requests().empty());
}

TEST_F(KubernetesApi, WrongCaIsAnError) {
    start(kNamespaces);
    auto access = cert_access();
    access.certificate_authority.data = pki_.pem("other-ca.crt");
    try {
        (void)fetch_namespace_label(access, "web");
        FAIL() << "a server of another CA was believed";
    } catch (const KubernetesError &e) {
        EXPECT_TRUE(contains(e.what(), "GET " + server_->url() + "/api/v1/namespaces/web: "))
            << e.what();
        EXPECT_TRUE(contains(e.what(), "certificate")) << e.what();
    }
    // The system's CAs do not know the test CA either.
    access.certificate_authority = {};
    EXPECT_THROW((void)fetch_namespace_label(access, "web"), KubernetesError);
    // Unless told not to check.
    access.insecure_skip_tls_verify = true;
    EXPECT_EQ(fetch_namespace_label(access, "web").level, Level::Restricted);
}

TEST_F(KubernetesApi, TokenAuth) {
    start(namespaces_with_token("s3cret.token"));
    auto access = load_kubeconfig(write_kubeconfig("      token: s3cret.token\n"));
    EXPECT_EQ(fetch_namespace_label(access, "web").level, Level::Restricted);

    write_text(dir_.path() / "token", "s3cret.token\n");
    access = load_kubeconfig(write_kubeconfig("      tokenFile: token\n"));
    EXPECT_EQ(fetch_namespace_label(access, "ops").level, Level::Privileged);
    EXPECT_EQ(requests(), (std::vector<std::string>{"GET /api/v1/namespaces/web token",
                                                    "GET /api/v1/namespaces/ops token"}));

    access.token_file.clear();
    access.token = "wrong";
    try {
        (void)fetch_namespace_label(access, "web");
        FAIL() << "a wrong token was accepted";
    } catch (const KubernetesError &e) {
        EXPECT_TRUE(contains(e.what(), "refused (HTTP 401): Unauthorized")) << e.what();
    }
    access.token = "bad\r\nX-Injected: 1";
    EXPECT_THROW((void)fetch_namespace_label(access, "web"), KubernetesError);
    EXPECT_EQ(requests().size(), 3U);
}

TEST_F(KubernetesApi, NoCredentialsIsAnError) {
    start(kNamespaces);
    auto access = cert_access();
    access.client_certificate = {};
    access.client_key = {};
    EXPECT_THROW((void)fetch_namespace_label(access, "web"), KubernetesError);
    EXPECT_EQ(requests(), (std::vector<std::string>{"GET /api/v1/namespaces/web none"}));
}

TEST_F(KubernetesApi, HangingServerIsAnErrorWithinTheTimeout) {
    start({"--hang"});
    std::string error = "a hanging server answered";
    const auto begin = steady_clock::now();
    try {
        (void)fetch_namespace_label(cert_access(), "web");
    } catch (const KubernetesError &e) {
        error = e.what();
    }
    const auto took = steady_clock::now() - begin;
    EXPECT_TRUE(contains(error, "no answer within 2000 ms")) << error;
    EXPECT_GE(took, std::chrono::milliseconds(1900));
    EXPECT_LT(took, std::chrono::milliseconds(3000));
}

TEST_F(KubernetesApi, NoServerIsAnError) {
    start(kNamespaces);
    const auto access = cert_access();
    server_->stop();
    EXPECT_THROW((void)fetch_namespace_label(access, "web"), KubernetesError);
}

// --- the cache ------------------------------------------------------------------

// A kubeconfig user with the client certificate and key in files.
const std::string kCertificateFiles = "      client-certificate: client.crt\n"
                                      "      client-key: client.key\n";

class NamespaceLabelCache : public KubernetesApi {
  protected:
    KubernetesNamespaceLabels labels(const fs::path &kubeconfig) {
        return KubernetesNamespaceLabels(kubeconfig, [this] { return now_; });
    }

    // The cache of a server started with these options, asked as this
    // kubeconfig user (written to kubeconfig_path()).
    KubernetesNamespaceLabels labels_of_server(const std::vector<std::string> &options,
                                               const std::string &user) {
        start(options);
        return labels(write_kubeconfig(user));
    }

    steady_clock::time_point now_ = steady_clock::time_point(std::chrono::hours(1));
};

TEST_F(NamespaceLabelCache, AnswersAreKeptForTheirTtl) {
    auto cache = labels_of_server(kNamespaces, kCertificateFiles);
    auto found = cache.lookup("web");
    EXPECT_EQ(found.level, Level::Restricted);
    EXPECT_EQ(found.error, "");
    EXPECT_FALSE(cache.lookup("plain").level);
    EXPECT_FALSE(cache.lookup("nowhere").level);
    EXPECT_EQ(requests().size(), 3U);

    // Answered from the cache while the server is gone: positive and
    // negative answers alike.
    server_->stop();
    now_ += kNamespaceLabelTtl - std::chrono::seconds(1);
    found = cache.lookup("web");
    EXPECT_EQ(found.level, Level::Restricted);
    EXPECT_EQ(found.error, "");
    EXPECT_FALSE(cache.lookup("plain").level);
    EXPECT_EQ(cache.lookup("plain").error, "");
    EXPECT_EQ(cache.lookup("nowhere").warning, "the API server knows no namespace nowhere");
    EXPECT_EQ(requests().size(), 3U);

    // Expired: asked again, and the server is gone.
    now_ += std::chrono::seconds(1);
    found = cache.lookup("web");
    EXPECT_FALSE(found.level);
    EXPECT_TRUE(contains(found.error, "GET " + server_->url() + "/api/v1/namespaces/web: "))
        << found.error;
}

TEST_F(NamespaceLabelCache, WarningsAreRepeatedFromTheCache) {
    auto cache = labels_of_server(kNamespaces, kCertificateFiles);
    EXPECT_TRUE(contains(cache.lookup("odd").warning, "not a level"));
    EXPECT_TRUE(contains(cache.lookup("odd").warning, "not a level"));
    EXPECT_EQ(requests().size(), 1U);
}

TEST_F(NamespaceLabelCache, FailuresPauseAllRequestsBriefly) {
    auto cache = labels_of_server(namespaces_with_token("s3cret"), "      token: wrong\n");
    auto found = cache.lookup("web");
    EXPECT_FALSE(found.level);
    EXPECT_TRUE(contains(found.error, "refused (HTTP 401)")) << found.error;
    EXPECT_EQ(requests().size(), 1U);

    // Not asked again, for this namespace or another, until the pause is over.
    now_ += kKubernetesFailureTtl - std::chrono::seconds(1);
    found = cache.lookup("ops");
    EXPECT_FALSE(found.level);
    EXPECT_TRUE(contains(found.error, "refused (HTTP 401)")) << found.error;
    EXPECT_TRUE(contains(found.error, "not asking again for 5 s")) << found.error;
    EXPECT_EQ(requests().size(), 1U);

    // A fixed kubeconfig is read again when it changes.
    const auto path = kubeconfig_path();
    write_text(path, read_text(path).replace(read_text(path).find("wrong"), 5, "s3cret"));
    now_ += std::chrono::seconds(1);
    found = cache.lookup("ops");
    EXPECT_EQ(found.level, Level::Privileged);
    EXPECT_EQ(found.error, "");
    EXPECT_EQ(requests().size(), 2U);
}

TEST_F(NamespaceLabelCache, AHangingServerCostsOneTimeoutPerPause) {
    auto cache = labels_of_server({"--hang"}, "      token: t\n");
    auto begin = steady_clock::now();
    EXPECT_TRUE(contains(cache.lookup("web").error, "no answer within"));
    EXPECT_GE(steady_clock::now() - begin, std::chrono::milliseconds(1900));

    begin = steady_clock::now();
    for (const char *ns : {"web", "ops", "plain"}) {
        EXPECT_TRUE(contains(cache.lookup(ns).error, "no answer within"));
    }
    EXPECT_LT(steady_clock::now() - begin, std::chrono::milliseconds(500));
    EXPECT_EQ(requests().size(), 1U);
}

TEST_F(NamespaceLabelCache, KubeconfigProblemsAreFailuresToo) {
    auto cache = labels(dir_.path() / "missing");
    auto found = cache.lookup("web");
    EXPECT_FALSE(found.level);
    EXPECT_TRUE(contains(found.error, "cannot read kubeconfig")) << found.error;

    write_text(dir_.path() / "missing", "users: [\n");
    now_ += kKubernetesFailureTtl;
    EXPECT_TRUE(contains(cache.lookup("web").error, "not valid YAML"));
    // A bad name is the caller's problem, not the server's: no pause, no request.
    EXPECT_TRUE(contains(cache.lookup("Bad_Name").error, "is not a namespace name"));
}

} // namespace
} // namespace lockc
