#include "config.hpp"

#include "policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace lockc {
namespace {

// what() of the error parse_config throws: file, line, column and message.
std::string rejection(std::string_view text) {
    try {
        (void)parse_config(text, "lockc.toml");
    } catch (const ConfigError &e) {
        return e.what();
    }
    return "accepted";
}

// A one-element patterns array; the element is always at 2:13.
std::string pattern_rejection(std::string_view pattern) {
    return rejection("[containers]\npatterns = [\"" + std::string(pattern) + "\"]\n");
}

const std::string kNamespaceRule = "a namespace name is 1 to 63 lowercase letters, digits or '-', "
                                   "starting and ending with a letter or digit";

TEST(Config, EmptyFileIsAllDefaults) {
    const Config c = parse_config("", "lockc.toml");
    EXPECT_EQ(c, Config{});
    EXPECT_EQ(c.default_level, Level::Baseline);
    EXPECT_EQ(c.default_mode, Mode::Enforce);
    EXPECT_EQ(c.container_patterns, default_settings().container_patterns);
    EXPECT_EQ(c.denial_log_burst, 10u);
    EXPECT_EQ(c.denial_log_interval, std::chrono::seconds(10));
    EXPECT_EQ(c.namespace_levels,
              (std::map<std::string, Level>{{"kube-system", Level::Privileged}}));
    EXPECT_FALSE(c.kubeconfig);
    EXPECT_EQ(parse_config("# nothing\n\n  # at all\n", "lockc.toml"), Config{});
}

TEST(Config, ReadsEveryKey) {
    const Config c = parse_config(R"([defaults]
level = "restricted"
mode = "audit"

[containers]
patterns = ["machine-*.scope", "lxc.payload.*", "docker/*", "kubepods/crio-*.scope"]

[logging]
denials_burst = 1000
denials_interval_seconds = 3600

[kubernetes.namespaces]
monitoring = "baseline"
ci = "restricted"
)",
                                  "lockc.toml");
    EXPECT_EQ(c.default_level, Level::Restricted);
    EXPECT_EQ(c.default_mode, Mode::Audit);
    EXPECT_EQ(c.container_patterns, (std::vector<NamePattern>{{"machine-", ".scope", ""},
                                                              {"lxc.payload.", "", ""},
                                                              {"", "", "docker"},
                                                              {"crio-", ".scope", "kubepods"}}));
    EXPECT_EQ(c.denial_log_burst, 1000u);
    EXPECT_EQ(c.denial_log_interval, std::chrono::seconds(3600));
    EXPECT_EQ(c.namespace_levels, (std::map<std::string, Level>{{"monitoring", Level::Baseline},
                                                                {"ci", Level::Restricted}}));
}

TEST(Config, MissingKeysKeepTheirDefaults) {
    Config expected;
    expected.denial_log_burst = 3;
    EXPECT_EQ(parse_config("[logging]\ndenials_burst = 3\n", "lockc.toml"), expected);
    EXPECT_EQ(parse_config("[defaults]\n[containers]\n[logging]\n[kubernetes]\n", "lockc.toml"),
              Config{});
}

TEST(Config, DottedKeysAndInlineTablesAreTheSameTables) {
    Config expected;
    expected.default_level = Level::Privileged;
    expected.denial_log_interval = std::chrono::seconds(60);
    EXPECT_EQ(parse_config("defaults.level = \"privileged\"\n"
                           "logging = { denials_interval_seconds = 60 }\n",
                           "lockc.toml"),
              expected);
}

TEST(Config, PatternsAndNamespacesReplaceTheirDefaults) {
    EXPECT_TRUE(
        parse_config("[containers]\npatterns = []\n", "lockc.toml").container_patterns.empty());
    EXPECT_TRUE(parse_config("[kubernetes.namespaces]\n", "lockc.toml").namespace_levels.empty());
    // Adding a namespace does not keep kube-system privileged behind the user's back.
    EXPECT_EQ(parse_config("[kubernetes.namespaces]\nci = \"privileged\"\n", "lockc.toml")
                  .namespace_levels,
              (std::map<std::string, Level>{{"ci", Level::Privileged}}));
}

TEST(Config, ErrorCarriesFileLineAndColumn) {
    try {
        (void)parse_config("\n[defaults]\n  levle = \"baseline\"\n", "/etc/lockc/lockc.toml");
        FAIL() << "accepted";
    } catch (const ConfigError &e) {
        EXPECT_EQ(e.file, "/etc/lockc/lockc.toml");
        EXPECT_EQ(e.line, 3u);
        EXPECT_EQ(e.column, 3u);
        EXPECT_EQ(std::string(e.what()), "/etc/lockc/lockc.toml:3:3: unknown key 'levle' in "
                                         "[defaults]; known keys: level, mode");
    }
}

TEST(Config, UnknownKeyIsRejectedWithLocation) {
    EXPECT_EQ(rejection("[defaults]\nlevle = \"baseline\"\n"),
              "lockc.toml:2:1: unknown key 'levle' in [defaults]; known keys: level, mode");
    EXPECT_EQ(rejection("[defaults.extra]\n"),
              "lockc.toml:1:11: unknown key 'extra' in [defaults]; known keys: level, mode");
    EXPECT_EQ(rejection("[containers]\npattern = []\n"),
              "lockc.toml:2:1: unknown key 'pattern' in [containers]; known keys: patterns");
    EXPECT_EQ(rejection("[logging]\nburst = 5\n"),
              "lockc.toml:2:1: unknown key 'burst' in [logging]; known keys: denials_burst, "
              "denials_interval_seconds");
    EXPECT_EQ(rejection("[kubernetes]\nnamespace = {}\n"),
              "lockc.toml:2:1: unknown key 'namespace' in [kubernetes]; known keys: namespaces, "
              "kubeconfig");
    // Quoted keys may hold control characters; messages show them escaped.
    EXPECT_EQ(rejection("[defaults]\n\"a\\tb\" = 1\n"),
              "lockc.toml:2:1: unknown key 'a\\x09b' in [defaults]; known keys: level, mode");
}

TEST(Config, UnknownTableIsRejectedWithLocation) {
    const std::string known =
        "; known tables: defaults, containers, logging, kubernetes, rules, runtimes";
    EXPECT_EQ(rejection("[default]\nlevel = \"baseline\"\n"),
              "lockc.toml:1:2: unknown table 'default'" + known);
    EXPECT_EQ(rejection("\nlevel = \"baseline\"\n"), "lockc.toml:2:1: unknown key 'level'" + known);
}

TEST(Config, WrongTypesAreRejectedAtTheValue) {
    EXPECT_EQ(rejection("[defaults]\nlevel = 1\n"),
              "lockc.toml:2:9: 'level' in [defaults] must be a string, not an integer");
    EXPECT_EQ(rejection("[defaults]\nmode = true\n"),
              "lockc.toml:2:8: 'mode' in [defaults] must be a string, not a boolean");
    EXPECT_EQ(rejection("defaults = 1\n"),
              "lockc.toml:1:12: [defaults] must be a table, not an integer");
    EXPECT_EQ(rejection("[[logging]]\n"),
              "lockc.toml:1:1: [logging] must be a table, not an array");
    EXPECT_EQ(rejection("[containers]\npatterns = \"docker-*.scope\"\n"),
              "lockc.toml:2:12: 'patterns' in [containers] must be an array of strings, not a "
              "string");
    EXPECT_EQ(rejection("[containers]\npatterns = [\"a-*\", 1]\n"),
              "lockc.toml:2:20: a pattern in [containers] must be a string, not an integer");
    EXPECT_EQ(rejection("[logging]\ndenials_burst = \"10\"\n"),
              "lockc.toml:2:17: 'denials_burst' in [logging] must be an integer, not a string");
    EXPECT_EQ(rejection("[logging]\ndenials_interval_seconds = 1.5\n"),
              "lockc.toml:2:28: 'denials_interval_seconds' in [logging] must be an integer, not "
              "a float");
    EXPECT_EQ(rejection("[kubernetes]\nnamespaces = [\"kube-system\"]\n"),
              "lockc.toml:2:14: [kubernetes.namespaces] must be a table, not an array");
    EXPECT_EQ(rejection("[kubernetes.namespaces]\nkube-system = 1\n"),
              "lockc.toml:2:15: namespace 'kube-system' in [kubernetes.namespaces] must be a "
              "string, not an integer");
}

TEST(Config, BadLevelAndModeNamesAreRejected) {
    const std::string levels = "; expected privileged, baseline or restricted";
    EXPECT_EQ(rejection("[defaults]\nlevel = \"Baseline\"\n"),
              "lockc.toml:2:9: unknown level 'Baseline' for 'level' in [defaults]" + levels);
    EXPECT_EQ(rejection("[defaults]\nlevel = \"\"\n"),
              "lockc.toml:2:9: unknown level '' for 'level' in [defaults]" + levels);
    EXPECT_EQ(rejection("[defaults]\nmode = \"permissive\"\n"),
              "lockc.toml:2:8: unknown mode 'permissive' for 'mode' in [defaults]; expected "
              "enforce or audit");
    EXPECT_EQ(rejection("[kubernetes.namespaces]\nmonitoring = \"admin\"\n"),
              "lockc.toml:2:14: unknown level 'admin' for namespace 'monitoring' in "
              "[kubernetes.namespaces]" +
                  levels);
}

TEST(Config, BadPatternsAreRejected) {
    const std::string at = "lockc.toml:2:13: ";
    EXPECT_EQ(pattern_rejection(""), at + "empty pattern in [containers]; a pattern is "
                                          "prefix*suffix or parent/prefix*suffix");
    EXPECT_EQ(pattern_rejection("docker"),
              at + "pattern 'docker' in [containers] must contain exactly one '*' (prefix*suffix)");
    EXPECT_EQ(pattern_rejection("a*b*c"),
              at + "pattern 'a*b*c' in [containers] must contain exactly one '*' (prefix*suffix)");
    const std::string one_parent = " in [containers] names a parent directory: it must be "
                                   "parent/prefix*suffix with one plain parent name (no '*', one "
                                   "'/')";
    EXPECT_EQ(pattern_rejection("user.slice/system.slice/docker-*.scope"),
              at + "pattern 'user.slice/system.slice/docker-*.scope'" + one_parent);
    EXPECT_EQ(pattern_rejection("/docker-*.scope"), at + "pattern '/docker-*.scope'" + one_parent);
    EXPECT_EQ(pattern_rejection("pod*/*"), at + "pattern 'pod*/*'" + one_parent);
    EXPECT_EQ(pattern_rejection("docker/"),
              at +
                  "pattern 'docker/' in [containers] must contain exactly one '*' (prefix*suffix)");
    EXPECT_EQ(pattern_rejection("docker-*\\u0000"),
              at + "pattern 'docker-*\\x00' in [containers] may not contain NUL");
    EXPECT_EQ(pattern_rejection("*.scope"),
              at + "pattern '*.scope' in [containers] needs a non-empty prefix before '*' or a "
                   "parent directory (parent/*): it would match every cgroup");
    const std::string parent16(LOCKC_PATTERN_PARENT_LEN, 'd');
    EXPECT_EQ(pattern_rejection(parent16 + "/*"),
              at + "pattern '" + parent16 +
                  "/*' in [containers] has a parent name longer than 15 bytes");
    const std::string prefix32(LOCKC_PATTERN_PREFIX_LEN, 'p');
    EXPECT_EQ(pattern_rejection(prefix32 + "*"),
              at + "pattern '" + prefix32 + "*' in [containers] has a prefix longer than 31 bytes");
    const std::string suffix16(LOCKC_PATTERN_SUFFIX_LEN, 's');
    EXPECT_EQ(pattern_rejection("p*" + suffix16),
              at + "pattern 'p*" + suffix16 +
                  "' in [containers] has a suffix longer than 15 bytes");
}

TEST(Config, LongestPatternsFitTheKernelStruct) {
    // 16 patterns of the longest accepted prefix and suffix; compile() is
    // what the enforcer will do with them.
    std::string text = "[containers]\npatterns = [\n";
    for (int i = 0; i < LOCKC_MAX_PATTERNS; ++i) {
        const std::string tag = std::to_string(i + 10);
        text += "\"" + tag + std::string(LOCKC_PATTERN_PREFIX_LEN - 3, 'p') + "*" +
                std::string(LOCKC_PATTERN_SUFFIX_LEN - 1, 's') + "\",\n";
    }
    text += "]\n";
    const Config c = parse_config(text, "lockc.toml");
    ASSERT_EQ(c.container_patterns.size(), std::size_t{LOCKC_MAX_PATTERNS});
    Settings settings = default_settings();
    settings.container_patterns = c.container_patterns;
    EXPECT_NO_THROW((void)compile(settings));
}

TEST(Config, MoreThanSixteenPatternsAreRejected) {
    std::string text = "[containers]\npatterns = [\n";
    for (int i = 0; i <= LOCKC_MAX_PATTERNS; ++i) {
        text += "\"p" + std::to_string(i) + "-*\",\n";
    }
    text += "]\n";
    // Pattern 17 is on line 3 + 16.
    EXPECT_EQ(rejection(text),
              "lockc.toml:19:1: too many patterns in [containers]; at most 16 are allowed");
}

TEST(Config, DuplicatePatternsAreRejected) {
    EXPECT_EQ(rejection("[containers]\npatterns = [\"a-*\", \"a-*\"]\n"),
              "lockc.toml:2:20: duplicate pattern 'a-*' in [containers]");
}

TEST(Config, LoggingLimitsAreChecked) {
    const auto burst = [](const std::string &v) {
        return rejection("[logging]\ndenials_burst = " + v + "\n");
    };
    const auto interval = [](const std::string &v) {
        return rejection("[logging]\ndenials_interval_seconds = " + v + "\n");
    };
    EXPECT_EQ(burst("0"),
              "lockc.toml:2:17: 'denials_burst' in [logging] must be between 1 and 1000, not 0");
    EXPECT_EQ(burst("1001"),
              "lockc.toml:2:17: 'denials_burst' in [logging] must be between 1 and 1000, not 1001");
    EXPECT_EQ(burst("-1"),
              "lockc.toml:2:17: 'denials_burst' in [logging] must be between 1 and 1000, not -1");
    EXPECT_EQ(burst("4294967297"), "lockc.toml:2:17: 'denials_burst' in [logging] must be between "
                                   "1 and 1000, not 4294967297");
    EXPECT_EQ(interval("0"), "lockc.toml:2:28: 'denials_interval_seconds' in [logging] must be "
                             "between 1 and 3600, not 0");
    EXPECT_EQ(interval("3601"), "lockc.toml:2:28: 'denials_interval_seconds' in [logging] must be "
                                "between 1 and 3600, not 3601");
    EXPECT_EQ(burst("1"), "accepted");
    EXPECT_EQ(interval("1"), "accepted");
}

TEST(Config, NamespaceNamesAreChecked) {
    const auto ns = [](const std::string &key) {
        return rejection("[kubernetes.namespaces]\n" + key + " = \"privileged\"\n");
    };
    EXPECT_EQ(ns("\"\""), "lockc.toml:2:1: empty namespace name in [kubernetes.namespaces]");
    for (const std::string &name :
         std::vector<std::string>{"Kube-System", "-ci", "ci-", "ci_cd", std::string(64, 'a')}) {
        std::string expected = "lockc.toml:2:1: invalid namespace name '";
        expected += name;
        expected += "' in [kubernetes.namespaces]: ";
        expected += kNamespaceRule;
        EXPECT_EQ(ns(name), expected);
    }
    EXPECT_EQ(ns("\"a.b\""), "lockc.toml:2:1: invalid namespace name 'a.b' in "
                             "[kubernetes.namespaces]: " +
                                 kNamespaceRule);
    EXPECT_EQ(ns(std::string(63, 'a')), "accepted");
    EXPECT_EQ(ns("0-a"), "accepted");
}

TEST(Config, RuntimesListTheGatedBinariesAndDockersDataRoot) {
    EXPECT_EQ(Config{}.runtime_binaries, default_runtime_binaries());
    const auto config =
        parse_config("[runtimes]\nbinaries = [\"/opt/bin/runc\", \"/usr//bin/./crun\"]\n"
                     "docker_data_root = \"/srv/docker\"\n",
                     "lockc.toml");
    EXPECT_EQ(config.runtime_binaries,
              (std::vector<std::filesystem::path>{"/opt/bin/runc", "/usr/bin/crun"}));
    EXPECT_EQ(config.docker_data_root, "/srv/docker");
    EXPECT_TRUE(parse_config("[runtimes]\nbinaries = []\n", "x").runtime_binaries.empty());
}

TEST(Config, RuntimePathsMustBeAbsolute) {
    EXPECT_EQ(rejection("[runtimes]\nbinaries = [\"/usr/bin/runc\", \"runc\"]\n"),
              "lockc.toml:2:30: 'binaries' in [runtimes] must be an absolute path, not 'runc'");
    EXPECT_EQ(rejection("[runtimes]\ndocker_data_root = \"\"\n"),
              "lockc.toml:2:20: 'docker_data_root' in [runtimes] must be an absolute path, not ''");
    EXPECT_EQ(rejection("[runtimes]\nbinary = []\n"),
              "lockc.toml:2:1: unknown key 'binary' in [runtimes]; known keys: binaries, "
              "docker_data_root");
    std::string many = "[runtimes]\nbinaries = [";
    for (int i = 0; i <= 32; ++i) {
        many += "\"/b" + std::to_string(i) + "\",";
    }
    EXPECT_NE(rejection(many + "]\n").find("lists more than 32 files"), std::string::npos);
}

TEST(Config, KubeconfigIsAnAbsolutePath) {
    auto config = parse_config("[kubernetes]\nkubeconfig = \"/etc/lockc//./kubeconfig\"\n"
                               "[kubernetes.namespaces]\nweb = \"restricted\"\n",
                               "lockc.toml");
    EXPECT_EQ(config.kubeconfig, std::filesystem::path("/etc/lockc/kubeconfig"));
    EXPECT_EQ(config.namespace_levels, (std::map<std::string, Level>{{"web", Level::Restricted}}));
    EXPECT_NE(config, Config{});
    config.kubeconfig.reset();
    config.namespace_levels = Config{}.namespace_levels;
    EXPECT_EQ(config, Config{});
    EXPECT_EQ(parse_config("kubernetes.kubeconfig = \"/k\"\n", "x").kubeconfig,
              std::filesystem::path("/k"));

    EXPECT_EQ(rejection("[kubernetes]\nkubeconfig = \"kubeconfig\"\n"),
              "lockc.toml:2:14: 'kubeconfig' in [kubernetes] must be an absolute path, not "
              "'kubeconfig'");
    EXPECT_EQ(rejection("[kubernetes]\nkubeconfig = \"\"\n"),
              "lockc.toml:2:14: 'kubeconfig' in [kubernetes] must be an absolute path, not ''");
    EXPECT_EQ(rejection("[kubernetes]\nkubeconfig = [\"/k\"]\n"),
              "lockc.toml:2:14: 'kubeconfig' in [kubernetes] must be a string, not an array");
    EXPECT_EQ(rejection("[kubernetes]\nkube_config = \"/k\"\n"),
              "lockc.toml:2:1: unknown key 'kube_config' in [kubernetes]; known keys: "
              "namespaces, kubeconfig");
}

TEST(Config, SyntaxErrorsBecomeConfigErrorsWithLocation) {
    // The location is ours to promise; the wording is toml++'s.
    const auto syntax_error_at = [](std::string_view text, const std::string &location) {
        const std::string what = rejection(text);
        return what.starts_with(location + "Error while parsing") ? location : what;
    };
    EXPECT_EQ(syntax_error_at("[defaults\n", "lockc.toml:1:10: "), "lockc.toml:1:10: ");
    EXPECT_EQ(syntax_error_at("[defaults]\nlevel = \"baseline\n", "lockc.toml:2:18: "),
              "lockc.toml:2:18: ");
    EXPECT_EQ(syntax_error_at("[defaults]\nlevel = \"baseline\"\nlevel = \"restricted\"\n",
                              "lockc.toml:3:9: "),
              "lockc.toml:3:9: ");
    EXPECT_EQ(syntax_error_at("[logging]\ndenials_burst = 10 10\n", "lockc.toml:2:20: "),
              "lockc.toml:2:20: ");
}

TEST(Config, ReportsTheFirstErrorInTheFile) {
    // Tables and keys are checked in file order, not in the parser's
    // (alphabetical) order; valid keys before the error do not matter.
    EXPECT_EQ(rejection("[logging]\ndenials_burst = 0\n[defaults]\nlevel = \"x\"\n"),
              "lockc.toml:2:17: 'denials_burst' in [logging] must be between 1 and 1000, not 0");
    EXPECT_EQ(rejection("[defaults]\nlevel = \"audit\"\nmode = \"baseline\"\n"),
              "lockc.toml:2:9: unknown level 'audit' for 'level' in [defaults]; expected "
              "privileged, baseline or restricted");
    EXPECT_EQ(rejection("[defaults]\nmode = \"audit\"\nlevl = \"baseline\"\n"),
              "lockc.toml:3:1: unknown key 'levl' in [defaults]; known keys: level, mode");
}

TEST(Config, ShippedExampleParsesToTheDefaults) {
    ASSERT_TRUE(std::filesystem::is_regular_file(LOCKC_EXAMPLE_CONFIG));
    EXPECT_EQ(load_config(LOCKC_EXAMPLE_CONFIG), Config{});
}

class ConfigFile : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/lockc-config-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::filesystem::path write(const std::string &content) {
        std::ofstream(dir_ / "lockc.toml") << content;
        return dir_ / "lockc.toml";
    }
    std::filesystem::path dir_;
};

TEST_F(ConfigFile, MissingFileMeansDefaults) {
    EXPECT_EQ(load_config(dir_ / "lockc.toml"), Config{});
}

TEST_F(ConfigFile, LoadsAFile) {
    Config expected;
    expected.default_mode = Mode::Audit;
    EXPECT_EQ(load_config(write("[defaults]\nmode = \"audit\"\n")), expected);
}

TEST_F(ConfigFile, ErrorsNameTheFile) {
    const auto file = write("[defaults]\nmode = \"audti\"\n");
    try {
        (void)load_config(file);
        FAIL() << "accepted";
    } catch (const ConfigError &e) {
        EXPECT_EQ(e.file, file.string());
        EXPECT_EQ(std::string(e.what()), file.string() +
                                             ":2:8: unknown mode 'audti' for 'mode' in [defaults]; "
                                             "expected enforce or audit");
    }
}

TEST_F(ConfigFile, UnreadablePathIsAnErrorWithoutLocation) {
    try {
        (void)load_config(dir_);
        FAIL() << "a directory was read";
    } catch (const ConfigError &e) {
        EXPECT_EQ(e.line, 0u);
        EXPECT_EQ(e.column, 0u);
        EXPECT_EQ(std::string(e.what()), dir_.string() + ": cannot read: Is a directory");
    }
    // Only a missing file means defaults, not a path through a file.
    const auto file = write("");
    EXPECT_THROW((void)load_config(file / "lockc.toml"), ConfigError);
}

} // namespace
} // namespace lockc

namespace lockc {
namespace {

TEST(ConfigRules, ExtraRulesAreAddedToTheBuiltInOnes) {
    const auto config = parse_config(R"([[rules]]
kind = "open"
path = "/srv/secrets"
deny = ["baseline"]
access = ["write"]

[[rules]]
kind = "mount-source"
path = "/srv"
deny = ["restricted"]

[[rules]]
kind = "unix-socket"
path = "@lockc-test"
deny = ["baseline", "restricted"]
)",
                                     "lockc.toml");
    ASSERT_EQ(config.extra_rules.size(), 3U);
    EXPECT_EQ(config.extra_rules[0].space, RuleSpace::OpenPath);
    EXPECT_EQ(config.extra_rules[0].path, "/srv/secrets");
    EXPECT_EQ(config.extra_rules[0].deny, (LevelDeny{LOCKC_ACCESS_WRITE, LOCKC_ACCESS_WRITE}));
    EXPECT_EQ(config.extra_rules[1].space, RuleSpace::MountSource);
    EXPECT_EQ(config.extra_rules[1].deny, (LevelDeny{0, LOCKC_ACCESS_ALL}));
    EXPECT_EQ(config.extra_rules[2].space, RuleSpace::UnixSocket);
    EXPECT_EQ(config.extra_rules[2].deny, (LevelDeny{LOCKC_ACCESS_ALL, LOCKC_ACCESS_ALL}));
    const auto rules = rules_of(config);
    EXPECT_EQ(rules.paths.size(), default_rules().paths.size() + 3);
    EXPECT_NO_THROW((void)compile(with_driver_majors(rules, "")));
    EXPECT_TRUE(parse_config("", "lockc.toml").extra_rules.empty());
}

TEST(ConfigRules, BadRulesAreRejectedWithTheirLocation) {
    const auto rejected = [](const std::string &text) {
        try {
            (void)parse_config(text, "lockc.toml");
        } catch (const ConfigError &e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    EXPECT_EQ(rejected("rules = 1\n"),
              "lockc.toml:1:9: 'rules' must be an array of tables ([[rules]]), not an integer");
    EXPECT_EQ(rejected("[[rules]]\nkind = \"exec\"\npath = \"/x\"\ndeny = [\"baseline\"]\n"),
              "lockc.toml:2:8: unknown kind 'exec' in [[rules]]; expected open, mount-source or "
              "unix-socket");
    EXPECT_EQ(rejected("[[rules]]\nkind = \"open\"\ndeny = [\"baseline\"]\n"),
              "lockc.toml:1:1: a [[rules]] entry needs 'path'");
    EXPECT_EQ(rejected("[[rules]]\nkind = \"open\"\npath = \"/x\"\ndeny = [\"privileged\"]\n"),
              "lockc.toml:4:9: 'deny' in [[rules]] cannot name privileged: that level is never "
              "denied anything");
    EXPECT_EQ(rejected("[[rules]]\nkind = \"open\"\npath = \"/x\"\ndeny = []\n"),
              "lockc.toml:1:1: 'deny' in [[rules]] names no level; the rule would do nothing");
    EXPECT_EQ(rejected("[[rules]]\nkind = \"open\"\npath = \"/x\"\ndeny = [\"baseline\"]\n"
                       "access = [\"exec\"]\n"),
              "lockc.toml:5:11: unknown access 'exec' in [[rules]]; expected read or write");
    EXPECT_EQ(rejected("[[rules]]\nkind = \"mount-source\"\npath = \"/x\"\n"
                       "deny = [\"baseline\"]\naccess = [\"read\"]\n"),
              "lockc.toml:1:1: 'access' in [[rules]] applies to kind open only");
    EXPECT_EQ(
        rejected("[[rules]]\nkind = \"open\"\npath = \"/x\"\ndeny = [\"baseline\"]\ncolour = 1\n"),
        "lockc.toml:5:1: unknown key 'colour' in [[rules]]; known keys: kind, path, deny, "
        "access");
    const auto relative =
        rejected("[[rules]]\nkind = \"open\"\npath = \"srv\"\ndeny = [\"baseline\"]\n");
    EXPECT_EQ(relative.rfind("lockc.toml:1:1: invalid rule: ", 0), 0U) << relative;
    // One bad rule rejects the whole file, good rules and defaults included.
    EXPECT_EQ(rejected("[defaults]\nlevel = \"restricted\"\n[[rules]]\nkind = \"open\"\n"
                       "path = \"/ok\"\ndeny = [\"baseline\"]\n[[rules]]\nkind = \"open\"\n"
                       "path = \"\"\ndeny = [\"baseline\"]\n")
                  .rfind("lockc.toml:7:1: invalid rule: ", 0),
              0U);
    // Two rules for one prefix ("/srv/" is "/srv"): which would hold?
    EXPECT_EQ(rejected("[[rules]]\nkind = \"open\"\npath = \"/srv\"\ndeny = [\"baseline\"]\n\n"
                       "[[rules]]\nkind = \"mount-source\"\npath = \"/srv\"\n"
                       "deny = [\"baseline\"]\n\n"
                       "[[rules]]\nkind = \"open\"\npath = \"/srv/\"\ndeny = [\"restricted\"]\n"),
              "lockc.toml:11:1: a second [[rules]] entry of this kind for '/srv/'; the first is "
              "at line 1. Give each path one rule");
}

// Found by fuzz_config: the parser took two rules for one prefix that
// compile() then refused, so lockcd failed to start without a location.
TEST(ConfigRules, EveryAcceptedFileCompilesWithTheBuiltInRules) {
    const auto config = parse_config(R"([[rules]]
kind = "mount-source"
path = "/home"
deny = ["baseline"]

[[rules]]
kind = "unix-socket"
path = "/run/docker.sock/"
deny = ["restricted"]

[[rules]]
kind = "open"
path = "/run/secrets/kubernetes.io"
deny = ["baseline"]
access = ["write"]
)",
                                     "lockc.toml");
    const auto rules = rules_of(config);
    // Each repeats a built-in prefix and is merged into it.
    EXPECT_EQ(rules.paths.size(), default_rules().paths.size());
    EXPECT_NO_THROW((void)compile(with_driver_majors(rules, "")));
    const auto rule_for = [&rules](RuleSpace space, const std::string &path) {
        const auto it = std::ranges::find_if(
            rules.paths, [&](const PathRule &r) { return r.space == space && r.path == path; });
        return it == rules.paths.end() ? LevelDeny{0xff, 0xff} : it->deny;
    };
    // Stricter than built in: binds of /home are now denied at baseline.
    EXPECT_EQ(rule_for(RuleSpace::MountSource, "/home"),
              (LevelDeny{LOCKC_ACCESS_ALL, LOCKC_ACCESS_ALL}));
    // Looser than built in: the file cannot let baseline reach Docker.
    const auto docker = rule_for(RuleSpace::UnixSocket, "/run/docker.sock");
    EXPECT_NE(docker.baseline, 0);
    EXPECT_NE(docker.restricted, 0);
    // Built in: restricted may not read tokens; the file adds writes at
    // baseline.
    EXPECT_EQ(rule_for(RuleSpace::OpenPath, "/run/secrets/kubernetes.io"),
              (LevelDeny{LOCKC_ACCESS_WRITE, LOCKC_ACCESS_ALL}));
}

} // namespace
} // namespace lockc
