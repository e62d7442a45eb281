// lockcd's pieces that need no bus, tested as a hostile D-Bus caller or a
// hostile container would exercise them: input checks (validation.hpp), text
// escaping and cgroup paths taken apart (text.hpp), the journal rate limit
// (denial_journal.hpp) and the mapping of exceptions to D-Bus errors
// (api_error.hpp).
#include "api_error.hpp"
#include "denial_journal.hpp"
#include "config.hpp"
#include "error.hpp"
#include "level_description.hpp"
#include "policy.hpp"
#include "text.hpp"
#include "validation.hpp"

#include <gtest/gtest.h>

#include <malloc.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <algorithm>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <map>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace lockc {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;

constexpr std::size_t kMiB = std::size_t{1024} * 1024;
// What an error message may grow to whatever the caller sent: the input is
// cut to 64 bytes, so a printable one stays well under 300 bytes; escaping
// can make each of those 64 bytes four characters.
constexpr std::size_t kMaxMessagePrintable = 300;
constexpr std::size_t kMaxMessageEscaped = 400;

// What a call threw as an ApiError (anything else escapes the helper and
// fails the test).
struct Thrown {
    bool thrown = false;
    std::string name;
    std::string message;
};

template <typename F> Thrown thrown_by(F &&f) {
    try {
        std::forward<F>(f)();
    } catch (const api::ApiError &e) {
        return {true, e.name(), e.what()};
    }
    return {};
}

// U+202E in UTF-8: makes a terminal show the rest of a line backwards.
const std::string kRightToLeftOverride = {'\xe2', '\x80', '\xae'};

bool printable_ascii(std::string_view text) {
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c > 0x7e) {
            return false;
        }
    }
    return true;
}

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

std::string hex_escape(unsigned char c) {
    static constexpr std::string_view kHex = "0123456789abcdef";
    std::string out = "\\x";
    out += kHex.at(c >> 4U);
    out += kHex.at(c & 0xfU);
    return out;
}

// Undoes escape_untrusted; fails the test on anything it cannot have made.
std::string unescape(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\') {
            out += text[i];
            continue;
        }
        EXPECT_LE(i + 4, text.size()) << "truncated escape in " << text;
        EXPECT_EQ(text.substr(i, 2), "\\x") << "backslash not followed by x in " << text;
        if (i + 4 > text.size()) {
            return out;
        }
        out += static_cast<char>(std::stoi(std::string(text.substr(i + 2, 2)), nullptr, 16));
        i += 3;
    }
    return out;
}

// ---------------------------------------------------------------------------
// check_container_id

TEST(Validation, ContainerIdAcceptsPrintableAscii) {
    EXPECT_NO_THROW(check_container_id("a"));
    EXPECT_NO_THROW(
        check_container_id("3f1e9a0c2b7d4e5f8a6b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f"));
    EXPECT_NO_THROW(check_container_id("k8s_POD_web-0_default_1234.5:x@y/z\\'\"`$(id)"));
    std::string every_printable;
    for (int c = 0x21; c <= 0x7e; ++c) {
        every_printable += static_cast<char>(c);
    }
    EXPECT_NO_THROW(check_container_id(every_printable));
}

TEST(Validation, ContainerIdLengthLimitIs255Bytes) {
    EXPECT_NO_THROW(check_container_id(std::string(kMaxContainerIdLength, 'a')));
    const auto too_long =
        thrown_by([] { check_container_id(std::string(kMaxContainerIdLength + 1, 'a')); });
    ASSERT_TRUE(too_long.thrown);
    EXPECT_EQ(too_long.name, api::kInvalidArgument);
    EXPECT_TRUE(contains(too_long.message, "256")) << too_long.message;
    EXPECT_TRUE(contains(too_long.message, "255")) << too_long.message;
}

TEST(Validation, ContainerIdRejectsEmpty) {
    const auto empty = thrown_by([] { check_container_id(""); });
    ASSERT_TRUE(empty.thrown);
    EXPECT_EQ(empty.name, api::kInvalidArgument);
    EXPECT_TRUE(printable_ascii(empty.message)) << empty.message;
}

TEST(Validation, ContainerIdRejectsSpaces) {
    for (const std::string_view id : {" ", " a", "a ", "a b", "a  b"}) {
        const auto t = thrown_by([&] { check_container_id(id); });
        ASSERT_TRUE(t.thrown) << "accepted '" << id << "'";
        EXPECT_EQ(t.name, api::kInvalidArgument);
        EXPECT_TRUE(printable_ascii(t.message)) << t.message;
    }
}

TEST(Validation, ContainerIdRejectsControlCharacters) {
    std::vector<unsigned char> controls;
    for (unsigned c = 0; c < 0x20; ++c) {
        controls.push_back(static_cast<unsigned char>(c));
    }
    controls.push_back(0x7f);
    for (const unsigned char c : controls) {
        const std::string ch(1, static_cast<char>(c));
        for (const std::string &id : {ch, ch + "abc", "abc" + ch, "ab" + ch + "cd"}) {
            const auto t = thrown_by([&] { check_container_id(id); });
            ASSERT_TRUE(t.thrown) << "accepted a container id with byte " << unsigned{c};
            EXPECT_EQ(t.name, api::kInvalidArgument);
            EXPECT_TRUE(printable_ascii(t.message)) << "raw byte in: " << hex_escape(c);
            EXPECT_TRUE(contains(t.message, hex_escape(c)))
                << "want " << hex_escape(c) << " in: " << t.message;
        }
    }
}

TEST(Validation, ContainerIdRejectsNonAscii) {
    for (unsigned c = 0x80; c <= 0xff; ++c) {
        const std::string id = "id" + std::string(1, static_cast<char>(c)) + "x";
        const auto t = thrown_by([&] { check_container_id(id); });
        ASSERT_TRUE(t.thrown) << "accepted a container id with byte " << c;
        EXPECT_EQ(t.name, api::kInvalidArgument);
        EXPECT_TRUE(printable_ascii(t.message)) << "raw byte in message for byte " << c;
        EXPECT_TRUE(contains(t.message, hex_escape(static_cast<unsigned char>(c)))) << t.message;
    }
    // What a D-Bus caller can really send: valid UTF-8, here "é", a
    // right-to-left override (U+202E) and a fullwidth 'a'.
    for (const std::string &id :
         {"caf\xc3\xa9"s, "evil" + kRightToLeftOverride + "gpj.exe", "\xef\xbd\x81\xef\xbd\x82"s}) {
        const auto t = thrown_by([&] { check_container_id(id); });
        ASSERT_TRUE(t.thrown) << "accepted a non-ASCII id";
        EXPECT_TRUE(printable_ascii(t.message)) << "raw bytes in the message";
    }
    const auto rlo = thrown_by([] { check_container_id("evil" + kRightToLeftOverride + "gpj"); });
    EXPECT_TRUE(contains(rlo.message, "evil\\xe2\\x80\\xaegpj")) << rlo.message;
}

TEST(Validation, ContainerIdRejectsEmbeddedNul) {
    const auto with_nul = "abc\0def"s;
    ASSERT_EQ(with_nul.size(), 7U);
    const auto t = thrown_by([&] { check_container_id(with_nul); });
    ASSERT_TRUE(t.thrown) << "an id with a NUL inside was accepted";
    EXPECT_TRUE(contains(t.message, "abc\\x00def")) << t.message;
    EXPECT_TRUE(printable_ascii(t.message));
}

TEST(Validation, ContainerIdErrorCannotBreakOutOfItsQuotes) {
    // The quote character itself is escaped, so the quoted input cannot end
    // early and pass off what follows as lockcd's own words.
    const auto t = thrown_by([] { check_container_id("x' is fine; also '\n"); });
    ASSERT_TRUE(t.thrown);
    EXPECT_TRUE(contains(t.message, "'x\\x27 is fine; also \\x27\\x0a'")) << t.message;
    EXPECT_TRUE(printable_ascii(t.message)) << t.message;
}

TEST(Validation, ContainerIdErrorOfHugeInputIsShort) {
    for (const char fill : {'a', '\n', '\xff'}) {
        const std::string huge(kMiB, fill);
        const auto t = thrown_by([&] { check_container_id(huge); });
        ASSERT_TRUE(t.thrown);
        EXPECT_LT(t.message.size(), kMaxMessagePrintable) << t.message;
        EXPECT_TRUE(printable_ascii(t.message));
    }
    // Short enough to be quoted but with a bad byte at the very end: the
    // message shows a cut-off prefix, still short.
    const std::string late_bad = std::string(kMaxContainerIdLength - 1, '\x01') + "\n";
    const auto t = thrown_by([&] { check_container_id(late_bad); });
    ASSERT_TRUE(t.thrown);
    EXPECT_LT(t.message.size(), kMaxMessageEscaped) << t.message;
    EXPECT_TRUE(printable_ascii(t.message));
}

// ---------------------------------------------------------------------------
// level_argument, mode_argument

TEST(Validation, LevelArgumentEmptyMeansTheFallback) {
    for (const Level fallback : {Level::Privileged, Level::Baseline, Level::Restricted}) {
        EXPECT_EQ(level_argument("", fallback), fallback);
    }
}

TEST(Validation, LevelArgumentAcceptsTheLevelNames) {
    for (const Level fallback : {Level::Privileged, Level::Baseline, Level::Restricted}) {
        EXPECT_EQ(level_argument("privileged", fallback), Level::Privileged);
        EXPECT_EQ(level_argument("baseline", fallback), Level::Baseline);
        EXPECT_EQ(level_argument("restricted", fallback), Level::Restricted);
    }
}

TEST(Validation, LevelArgumentRejectsOtherNamesAsInvalidLevel) {
    for (const std::string_view name :
         {"Baseline",  "BASELINE",   "Privileged", "RESTRICTED", " baseline",
          "baseline ", "baseline\n", "base",       "baselines",  "privileged,restricted",
          "enforce",   "audit",      "default",    "none",       "0",
          "1",         "2",          "-1",         "*",          " "}) {
        const auto t = thrown_by([&] { (void)level_argument(name, Level::Restricted); });
        ASSERT_TRUE(t.thrown) << "accepted level '" << name << "'";
        EXPECT_EQ(t.name, api::kInvalidLevel) << name;
        EXPECT_TRUE(printable_ascii(t.message)) << t.message;
        EXPECT_TRUE(contains(t.message, "privileged, baseline, restricted")) << t.message;
    }
    const auto with_nul = thrown_by([] { (void)level_argument("baseline\0"s, Level::Privileged); });
    ASSERT_TRUE(with_nul.thrown) << "'baseline' followed by a NUL was accepted";
    EXPECT_EQ(with_nul.name, api::kInvalidLevel);
    EXPECT_TRUE(contains(with_nul.message, "baseline\\x00")) << with_nul.message;
}

TEST(Validation, LevelArgumentErrorQuotesInputSafely) {
    const auto t = thrown_by([] { (void)level_argument("x\x1b[31mred\xc3\xa9", Level::Baseline); });
    ASSERT_TRUE(t.thrown);
    EXPECT_TRUE(contains(t.message, "x\\x1b[31mred\\xc3\\xa9")) << t.message;
    EXPECT_TRUE(printable_ascii(t.message)) << t.message;
    for (const char fill : {'a', '\x01', '\xff'}) {
        const std::string huge(kMiB, fill);
        const auto h = thrown_by([&] { (void)level_argument(huge, Level::Baseline); });
        ASSERT_TRUE(h.thrown);
        EXPECT_EQ(h.name, api::kInvalidLevel);
        EXPECT_LT(h.message.size(), fill == 'a' ? kMaxMessagePrintable : kMaxMessageEscaped)
            << h.message;
        EXPECT_TRUE(printable_ascii(h.message));
    }
}

TEST(Validation, ModeArgumentEmptyMeansTheFallback) {
    EXPECT_EQ(mode_argument("", Mode::Enforce), Mode::Enforce);
    EXPECT_EQ(mode_argument("", Mode::Audit), Mode::Audit);
}

TEST(Validation, ModeArgumentAcceptsTheModeNames) {
    for (const Mode fallback : {Mode::Enforce, Mode::Audit}) {
        EXPECT_EQ(mode_argument("enforce", fallback), Mode::Enforce);
        EXPECT_EQ(mode_argument("audit", fallback), Mode::Audit);
    }
}

TEST(Validation, ModeArgumentRejectsOtherNamesAsInvalidMode) {
    for (const std::string_view name :
         {"Enforce", "ENFORCE", "Audit", "AUDIT", " audit", "audit ", "audit\t", "enforcing",
          "permissive", "off", "disabled", "baseline", "privileged", "0", "1", " "}) {
        const auto t = thrown_by([&] { (void)mode_argument(name, Mode::Enforce); });
        ASSERT_TRUE(t.thrown) << "accepted mode '" << name << "'";
        EXPECT_EQ(t.name, api::kInvalidMode) << name;
        EXPECT_TRUE(printable_ascii(t.message)) << t.message;
        EXPECT_TRUE(contains(t.message, "enforce, audit")) << t.message;
    }
    const auto with_nul = thrown_by([] { (void)mode_argument("audit\0"s, Mode::Enforce); });
    ASSERT_TRUE(with_nul.thrown) << "'audit' followed by a NUL was accepted";
    EXPECT_EQ(with_nul.name, api::kInvalidMode);
}

TEST(Validation, ModeArgumentErrorQuotesInputSafely) {
    const auto t = thrown_by([] { (void)mode_argument("\r\naudit\x7f", Mode::Enforce); });
    ASSERT_TRUE(t.thrown);
    EXPECT_TRUE(contains(t.message, "\\x0d\\x0aaudit\\x7f")) << t.message;
    EXPECT_TRUE(printable_ascii(t.message)) << t.message;
    for (const char fill : {'a', '\x01', '\xff'}) {
        const std::string huge(kMiB, fill);
        const auto h = thrown_by([&] { (void)mode_argument(huge, Mode::Enforce); });
        ASSERT_TRUE(h.thrown);
        EXPECT_EQ(h.name, api::kInvalidMode);
        EXPECT_LT(h.message.size(), fill == 'a' ? kMaxMessagePrintable : kMaxMessageEscaped)
            << h.message;
        EXPECT_TRUE(printable_ascii(h.message));
    }
}

// ---------------------------------------------------------------------------
// normalize_cgroup_path

const std::filesystem::path kMount = "/sys/fs/cgroup";

TEST(Validation, CgroupPathRelativeToTheRootIsKept) {
    EXPECT_EQ(normalize_cgroup_path("/", kMount), "/");
    EXPECT_EQ(normalize_cgroup_path("/system.slice", kMount), "/system.slice");
    EXPECT_EQ(normalize_cgroup_path("/system.slice/docker-abc.scope", kMount),
              "/system.slice/docker-abc.scope");
    EXPECT_EQ(normalize_cgroup_path("/kubepods/burstable/pod1/x", kMount),
              "/kubepods/burstable/pod1/x");
}

TEST(Validation, CgroupPathAbsoluteUnderTheMountIsMadeRelative) {
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroup/system.slice/docker-abc.scope", kMount),
              "/system.slice/docker-abc.scope");
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroup/a", kMount), "/a");
    EXPECT_EQ(normalize_cgroup_path("/mnt/cg/a/b", "/mnt/cg"), "/a/b");
    // Under another mount, the same string is a path relative to the root.
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroup/a", "/mnt/cg"), "/sys/fs/cgroup/a");
    // With the cgroup2 mount at "/", every path is both.
    EXPECT_EQ(normalize_cgroup_path("/a/b", "/"), "/a/b");
    EXPECT_EQ(normalize_cgroup_path("/", "/"), "/");
}

// What the kernel gives (/proc/<pid>/cgroup) is relative to the root: a
// cgroup named like the mount keeps its name (found by fuzzing, where
// normalizing the result again stripped it).
TEST(Validation, CgroupPathFromTheKernelIsNeverReadAsUnderTheMount) {
    EXPECT_EQ(normalize_relative_cgroup_path("/sys/fs/cgroup/x"), "/sys/fs/cgroup/x");
    EXPECT_EQ(normalize_relative_cgroup_path("/system.slice//a.scope"), "/system.slice/a.scope");
    EXPECT_EQ(normalize_relative_cgroup_path("/"), "/");
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroup/sys/fs/cgroup/x", kMount), "/sys/fs/cgroup/x");
    EXPECT_THROW((void)normalize_relative_cgroup_path("/a/../b"), api::ApiError);
    EXPECT_THROW((void)normalize_relative_cgroup_path("a"), api::ApiError);
}

TEST(Validation, CgroupPathOfTheMountItselfIsTheRoot) {
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroup", kMount), "/");
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroup/", kMount), "/");
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroup//", kMount), "/");
    EXPECT_EQ(normalize_cgroup_path("/mnt/cg", "/mnt/cg"), "/");
}

TEST(Validation, CgroupPathMerelyStartingWithTheMountIsNotStripped) {
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroupX/a", kMount), "/sys/fs/cgroupX/a");
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroupX", kMount), "/sys/fs/cgroupX");
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroup.slice/a", kMount), "/sys/fs/cgroup.slice/a");
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroup-a", kMount), "/sys/fs/cgroup-a");
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroup\\/a", kMount), "/sys/fs/cgroup\\/a");
    // A prefix of the mount is not the mount either.
    EXPECT_EQ(normalize_cgroup_path("/sys/fs", kMount), "/sys/fs");
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgrou", kMount), "/sys/fs/cgrou");
}

TEST(Validation, CgroupPathDoubledAndTrailingSlashesAreCollapsed) {
    EXPECT_EQ(normalize_cgroup_path("//", kMount), "/");
    EXPECT_EQ(normalize_cgroup_path("////", kMount), "/");
    EXPECT_EQ(normalize_cgroup_path("/system.slice/", kMount), "/system.slice");
    EXPECT_EQ(normalize_cgroup_path("/system.slice//x.scope", kMount), "/system.slice/x.scope");
    EXPECT_EQ(normalize_cgroup_path("//system.slice///x.scope//", kMount), "/system.slice/x.scope");
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroup//system.slice//x.scope/", kMount),
              "/system.slice/x.scope");
}

// "/sys//fs/cgroup/x" names the same directory as "/sys/fs/cgroup/x", a
// path under the mount, so both must come out as "/x".
TEST(Validation, CgroupPathWithDoubledSlashesInsideTheMountPrefixIsUnderTheMount) {
    EXPECT_EQ(normalize_cgroup_path("//sys/fs/cgroup/x", kMount), "/x");
    EXPECT_EQ(normalize_cgroup_path("/sys//fs/cgroup/x", kMount), "/x");
    EXPECT_EQ(normalize_cgroup_path("/sys/fs//cgroup/x", kMount), "/x");
    EXPECT_EQ(normalize_cgroup_path("/sys/fs//cgroup", kMount), "/");
}

// Normalizing a normalized path must change nothing.
TEST(Validation, CgroupPathNormalizationIsIdempotent) {
    for (const std::string_view path :
         {"/", "//", "/a", "/a//b/", "/sys/fs/cgroup", "/sys/fs/cgroup/a", "/sys/fs/cgroupX/a",
          "//sys/fs/cgroup/a", "/sys//fs/cgroup/a", "/sys/fs//cgroup/a/", "/sys/fs//cgroup"}) {
        const auto once = normalize_cgroup_path(path, kMount);
        EXPECT_EQ(normalize_cgroup_path(once, kMount), once)
            << "'" << path << "' -> '" << once << "'";
    }
}

// The same directory given with a trailing slash on the mount.
TEST(Validation, CgroupPathUnderAMountGivenWithATrailingSlash) {
    const std::filesystem::path mount = "/sys/fs/cgroup/";
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroup/system.slice/x.scope", mount),
              "/system.slice/x.scope");
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroup", mount), "/");
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroup/", mount), "/");
    EXPECT_EQ(normalize_cgroup_path("/sys/fs/cgroupX/a", mount), "/sys/fs/cgroupX/a");
}

TEST(Validation, CgroupPathRejectsRelativePaths) {
    for (const std::string_view path : {"", "system.slice", "system.slice/x.scope", ".", "..",
                                        "./a", "../a", " /a", "\t/a", "sys/fs/cgroup/a", "~/a"}) {
        const auto t = thrown_by([&] { (void)normalize_cgroup_path(path, kMount); });
        ASSERT_TRUE(t.thrown) << "accepted '" << path << "'";
        EXPECT_EQ(t.name, api::kInvalidArgument);
        EXPECT_TRUE(printable_ascii(t.message)) << t.message;
    }
    const auto nul_first = thrown_by([] { (void)normalize_cgroup_path("\0/a"s, kMount); });
    ASSERT_TRUE(nul_first.thrown);
    EXPECT_TRUE(contains(nul_first.message, "\\x00/a")) << nul_first.message;
}

TEST(Validation, CgroupPathRejectsDotAndDotDotComponents) {
    for (const std::string_view path :
         {"/.", "/..", "/./a", "/a/.", "/a/..", "/a/../b", "/a/./b", "/../../etc", "/a/b/../../..",
          "/a//..//b", "/sys/fs/cgroup/..", "/sys/fs/cgroup/../..", "/sys/fs/cgroup/../../etc",
          "/sys/fs/cgroup/./a", "/sys/fs/cgroupX/../a", "/sys/fs/cgroup/a/..//../.."}) {
        const auto t = thrown_by([&] { (void)normalize_cgroup_path(path, kMount); });
        ASSERT_TRUE(t.thrown) << "accepted '" << path << "'";
        EXPECT_EQ(t.name, api::kInvalidArgument);
        EXPECT_TRUE(printable_ascii(t.message)) << t.message;
    }
}

TEST(Validation, CgroupPathAcceptsNamesThatOnlyLookLikeDots) {
    EXPECT_EQ(normalize_cgroup_path("/...", kMount), "/...");
    EXPECT_EQ(normalize_cgroup_path("/.a/..b/a..", kMount), "/.a/..b/a..");
    EXPECT_EQ(normalize_cgroup_path("/. /.. ", kMount), "/. /.. ");
}

TEST(Validation, CgroupPathRejectsNulInside) {
    for (const std::string &path :
         {"/a\0b"s, "/\0"s, "/a/\0"s, "/\0/a"s, "/sys/fs/cgroup\0/a"s, "/sys/fs/cgroup/\0"s}) {
        const auto t = thrown_by([&] { (void)normalize_cgroup_path(path, kMount); });
        ASSERT_TRUE(t.thrown) << "accepted a path with a NUL at " << path.find('\0');
        EXPECT_EQ(t.name, api::kInvalidArgument);
        EXPECT_TRUE(contains(t.message, "\\x00")) << t.message;
        EXPECT_TRUE(printable_ascii(t.message)) << t.message;
    }
}

TEST(Validation, CgroupPathLongerThan4096BytesIsRejected) {
    const std::string at_limit = "/" + std::string(4095, 'a');
    EXPECT_EQ(normalize_cgroup_path(at_limit, kMount), at_limit);
    // Slashes count: the limit is on what the caller sent.
    const std::string slashes = std::string(4096, '/');
    EXPECT_EQ(normalize_cgroup_path(slashes, kMount), "/");
    for (const std::string &path :
         {"/" + std::string(4096, 'a'), std::string(4097, '/'), "/" + std::string(kMiB, 'a'),
          "/" + std::string(kMiB, '\xff'), "/sys/fs/cgroup/" + std::string(kMiB, 'a')}) {
        const auto t = thrown_by([&] { (void)normalize_cgroup_path(path, kMount); });
        ASSERT_TRUE(t.thrown) << "accepted a path of " << path.size() << " bytes";
        EXPECT_EQ(t.name, api::kInvalidArgument);
        EXPECT_TRUE(printable_ascii(t.message));
        EXPECT_LT(t.message.size(), kMaxMessageEscaped) << t.message;
    }
    const auto huge =
        thrown_by([] { (void)normalize_cgroup_path("/" + std::string(kMiB, 'a'), kMount); });
    EXPECT_LT(huge.message.size(), kMaxMessagePrintable) << huge.message;
    const auto huge_relative =
        thrown_by([] { (void)normalize_cgroup_path(std::string(kMiB, 'a'), kMount); });
    ASSERT_TRUE(huge_relative.thrown);
    EXPECT_LT(huge_relative.message.size(), kMaxMessagePrintable) << huge_relative.message;
}

TEST(Validation, CgroupPathErrorQuotesInputSafely) {
    const auto t =
        thrown_by([] { (void)normalize_cgroup_path("/a/../\n\x1b[2J\xc3\xa9'", kMount); });
    ASSERT_TRUE(t.thrown);
    EXPECT_TRUE(contains(t.message, "/a/../\\x0a\\x1b[2J\\xc3\\xa9\\x27")) << t.message;
    EXPECT_TRUE(printable_ascii(t.message)) << t.message;
}

// Components are the kernel's business beyond '/', NUL, "." and "..": a
// cgroup may be named with any other byte, and the result keeps them.
TEST(Validation, CgroupPathKeepsPrintableBytesAndRejectsOthers) {
    // systemd escapes unit names to ASCII; other bytes could not be stored
    // in the registry or shown safely.
    EXPECT_EQ(normalize_cgroup_path("/a b/c~d", kMount), "/a b/c~d");
    EXPECT_THROW((void)normalize_cgroup_path("/a b/c\td", kMount), api::ApiError);
    EXPECT_THROW((void)normalize_cgroup_path("/caf\xc3\xa9//x", kMount), api::ApiError);
}

// ---------------------------------------------------------------------------
// check_cgroup_name

TEST(Validation, CgroupNameAcceptsDirectoryNames) {
    EXPECT_NO_THROW(check_cgroup_name("docker-abc.scope"));
    EXPECT_NO_THROW(check_cgroup_name("a"));
    EXPECT_NO_THROW(check_cgroup_name("..."));
    EXPECT_NO_THROW(check_cgroup_name(".hidden"));
    EXPECT_NO_THROW(check_cgroup_name("cri-containerd-0123456789abcdef.scope"));
    EXPECT_NO_THROW(check_cgroup_name(std::string(LOCKC_CGROUP_NAME_LEN - 1, 'n')));
}

TEST(Validation, CgroupNameRejectsWhatIsNotOneDirectoryName) {
    for (const std::string &name :
         {""s, "."s, ".."s, "/"s, "a/b"s, "/a"s, "a/"s, "../a"s, "a\0b"s, "\0"s, "a\0"s,
          std::string(LOCKC_CGROUP_NAME_LEN, 'n'), std::string(kMiB, 'n')}) {
        const auto t = thrown_by([&] { check_cgroup_name(name); });
        ASSERT_TRUE(t.thrown) << "accepted a name of " << name.size()
                              << " bytes: " << escape_untrusted(name.substr(0, 64));
        EXPECT_EQ(t.name, api::kInvalidArgument);
        EXPECT_TRUE(printable_ascii(t.message)) << t.message;
        EXPECT_LT(t.message.size(), kMaxMessagePrintable) << t.message;
    }
}

TEST(Validation, CgroupNameErrorQuotesInputSafely) {
    const auto t = thrown_by([] { check_cgroup_name("x/\n\xff'"); });
    ASSERT_TRUE(t.thrown);
    EXPECT_TRUE(contains(t.message, "x/\\x0a\\xff\\x27")) << t.message;
    EXPECT_TRUE(printable_ascii(t.message)) << t.message;
    const auto huge = thrown_by([] { check_cgroup_name(std::string(kMiB, '\x01')); });
    ASSERT_TRUE(huge.thrown);
    EXPECT_LT(huge.message.size(), kMaxMessageEscaped) << huge.message;
    EXPECT_TRUE(printable_ascii(huge.message));
}

// ---------------------------------------------------------------------------
// OptionReader

TEST(Validation, OptionsEmptyReadAsAbsent) {
    const Options none;
    OptionReader reader(none);
    EXPECT_EQ(reader.string("runtime"), std::nullopt);
    EXPECT_EQ(reader.uint32("timeout"), std::nullopt);
    EXPECT_EQ(reader.boolean("interactive"), std::nullopt);
    EXPECT_NO_THROW(reader.finish());
}

TEST(Validation, OptionsKnownKeysOfTheRightTypeAreRead) {
    const Options options = {
        {"runtime", sdbus::Variant(std::string("docker"))},
        {"timeout", sdbus::Variant(std::numeric_limits<std::uint32_t>::max())},
        {"interactive", sdbus::Variant(true)},
        {"quiet", sdbus::Variant(false)},
        {"zero", sdbus::Variant(std::uint32_t{0})},
        {"empty", sdbus::Variant(std::string())},
    };
    OptionReader reader(options);
    EXPECT_EQ(reader.string("runtime"), "docker");
    EXPECT_EQ(reader.uint32("timeout"), std::numeric_limits<std::uint32_t>::max());
    EXPECT_EQ(reader.boolean("interactive"), true);
    EXPECT_EQ(reader.boolean("quiet"), false);
    EXPECT_EQ(reader.uint32("zero"), 0U);
    EXPECT_EQ(reader.string("empty"), "");
    EXPECT_EQ(reader.string("absent"), std::nullopt);
    EXPECT_NO_THROW(reader.finish());
}

TEST(Validation, OptionsKeyReadTwiceGivesTheSameValue) {
    const Options options = {{"runtime", sdbus::Variant(std::string("podman"))}};
    OptionReader reader(options);
    EXPECT_EQ(reader.string("runtime"), "podman");
    EXPECT_EQ(reader.string("runtime"), "podman");
    EXPECT_NO_THROW(reader.finish());
}

struct WrongType {
    const char *signature;
    sdbus::Variant value;
};

std::vector<WrongType> every_type() {
    return {
        {"s", sdbus::Variant(std::string("1"))},
        {"o", sdbus::Variant(sdbus::ObjectPath("/org/lockc"))},
        {"g", sdbus::Variant(sdbus::Signature("s"))},
        {"b", sdbus::Variant(true)},
        {"y", sdbus::Variant(std::uint8_t{1})},
        {"n", sdbus::Variant(std::int16_t{1})},
        {"q", sdbus::Variant(std::uint16_t{1})},
        {"i", sdbus::Variant(std::int32_t{-1})},
        {"u", sdbus::Variant(std::uint32_t{1})},
        {"x", sdbus::Variant(std::int64_t{1})},
        {"t", sdbus::Variant(std::uint64_t{1} << 40U)},
        {"d", sdbus::Variant(1.0)},
        {"as", sdbus::Variant(std::vector<std::string>{"docker"})},
        {"au", sdbus::Variant(std::vector<std::uint32_t>{1})},
        {"(su)", sdbus::Variant(sdbus::Struct<std::string, std::uint32_t>("a", 1))},
        {"a{sv}", sdbus::Variant(std::map<std::string, sdbus::Variant>{
                      {"k", sdbus::Variant(std::string("v"))}})},
        {"av", sdbus::Variant(std::vector<sdbus::Variant>{sdbus::Variant(true)})},
    };
}

TEST(Validation, OptionsOfTheWrongTypeAreRejectedNamingBothSignatures) {
    for (const auto &[signature, value] : every_type()) {
        const Options options = {{"key", value}};
        ASSERT_EQ(value.peekValueType(), signature);
        const std::string theirs = std::string("'") + signature + "'";
        if (std::string_view(signature) != "s") {
            OptionReader reader(options);
            const auto t = thrown_by([&] { (void)reader.string("key"); });
            ASSERT_TRUE(t.thrown) << "a string option took " << signature;
            EXPECT_EQ(t.name, api::kInvalidArgument);
            EXPECT_TRUE(contains(t.message, "'key'")) << t.message;
            EXPECT_TRUE(contains(t.message, "'s'")) << t.message;
            EXPECT_TRUE(contains(t.message, theirs)) << t.message;
        }
        if (std::string_view(signature) != "u") {
            OptionReader reader(options);
            const auto t = thrown_by([&] { (void)reader.uint32("key"); });
            ASSERT_TRUE(t.thrown) << "a uint32 option took " << signature;
            EXPECT_EQ(t.name, api::kInvalidArgument);
            EXPECT_TRUE(contains(t.message, "'u'")) << t.message;
            EXPECT_TRUE(contains(t.message, theirs)) << t.message;
        }
        if (std::string_view(signature) != "b") {
            OptionReader reader(options);
            const auto t = thrown_by([&] { (void)reader.boolean("key"); });
            ASSERT_TRUE(t.thrown) << "a boolean option took " << signature;
            EXPECT_EQ(t.name, api::kInvalidArgument);
            EXPECT_TRUE(contains(t.message, "'b'")) << t.message;
            EXPECT_TRUE(contains(t.message, theirs)) << t.message;
        }
    }
}

TEST(Validation, OptionsWrongTypeMessageIsExact) {
    const Options options = {{"interactive", sdbus::Variant(std::uint32_t{1})}};
    OptionReader reader(options);
    const auto t = thrown_by([&] { (void)reader.boolean("interactive"); });
    ASSERT_TRUE(t.thrown);
    EXPECT_EQ(t.message, "option 'interactive' must be a boolean ('b'), not 'u'");
}

TEST(Validation, OptionsUnknownKeysAreReportedByFinish) {
    const Options options = {
        {"runtime", sdbus::Variant(std::string("docker"))},
        {"privileged", sdbus::Variant(true)},
    };
    OptionReader reader(options);
    EXPECT_EQ(reader.string("runtime"), "docker");
    const auto t = thrown_by([&] { reader.finish(); });
    ASSERT_TRUE(t.thrown) << "an unknown option passed";
    EXPECT_EQ(t.name, api::kInvalidArgument);
    EXPECT_TRUE(contains(t.message, "'privileged'")) << t.message;
}

TEST(Validation, OptionsUnreadKnownKeysAreUnknownToo) {
    // Nobody asked for it in this call: finish() reports it even if another
    // method knows it.
    const Options options = {{"interactive", sdbus::Variant(true)}};
    const OptionReader reader(options);
    const auto t = thrown_by([&] { reader.finish(); });
    ASSERT_TRUE(t.thrown);
    EXPECT_TRUE(contains(t.message, "'interactive'")) << t.message;
}

TEST(Validation, OptionsKeysAreExactAndCaseSensitive) {
    for (const std::string &key : {"Interactive"s, "INTERACTIVE"s, "interactive "s, " interactive"s,
                                   "interactiv"s, "interactive\n"s, ""s}) {
        const Options options = {{key, sdbus::Variant(true)}};
        OptionReader reader(options);
        EXPECT_EQ(reader.boolean("interactive"), std::nullopt) << escape_untrusted(key);
        const auto t = thrown_by([&] { reader.finish(); });
        ASSERT_TRUE(t.thrown) << "'" << escape_untrusted(key) << "' passed as interactive";
        EXPECT_TRUE(printable_ascii(t.message)) << t.message;
    }
}

TEST(Validation, OptionsUnknownKeyIsQuotedSafely) {
    const Options odd = {{"a\nb\x1b\xc3\xa9'", sdbus::Variant(true)}};
    const OptionReader odd_reader(odd);
    const auto t = thrown_by([&] { odd_reader.finish(); });
    ASSERT_TRUE(t.thrown);
    EXPECT_TRUE(contains(t.message, "'a\\x0ab\\x1b\\xc3\\xa9\\x27'")) << t.message;
    EXPECT_TRUE(printable_ascii(t.message)) << t.message;

    for (const char fill : {'k', '\x01'}) {
        const Options huge = {{std::string(kMiB, fill), sdbus::Variant(true)}};
        const OptionReader huge_reader(huge);
        const auto h = thrown_by([&] { huge_reader.finish(); });
        ASSERT_TRUE(h.thrown);
        EXPECT_LT(h.message.size(), fill == 'k' ? kMaxMessagePrintable : kMaxMessageEscaped)
            << h.message;
        EXPECT_TRUE(printable_ascii(h.message));
    }
}

// ---------------------------------------------------------------------------
// escape_untrusted

TEST(Text, EscapeKeepsPrintableAsciiExceptBackslash) {
    for (unsigned c = 0x20; c < 0x7f; ++c) {
        const std::string in(1, static_cast<char>(c));
        if (c == '\\') {
            EXPECT_EQ(escape_untrusted(in), "\\x5c");
        } else {
            EXPECT_EQ(escape_untrusted(in), in) << "byte " << c;
        }
    }
}

TEST(Text, EscapeTurnsEveryOtherByteIntoHex) {
    for (unsigned c = 0; c <= 0xff; ++c) {
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            continue;
        }
        const auto byte = static_cast<unsigned char>(c);
        EXPECT_EQ(escape_untrusted(std::string(1, static_cast<char>(byte))), hex_escape(byte))
            << "byte " << c;
    }
    EXPECT_EQ(escape_untrusted("\n"), "\\x0a");
    EXPECT_EQ(escape_untrusted("\x7f"), "\\x7f");
    EXPECT_EQ(escape_untrusted("\xff"), "\\xff");
    EXPECT_EQ(escape_untrusted("a\0b"s), "a\\x00b");
}

TEST(Text, EscapeOutputIsAlwaysPrintableAscii) {
    std::string every_byte;
    for (unsigned c = 0; c <= 0xff; ++c) {
        every_byte += static_cast<char>(c);
    }
    const auto out = escape_untrusted(every_byte);
    EXPECT_TRUE(printable_ascii(out));
    // 95 printable characters stay one byte (less the backslash), 162 take four.
    EXPECT_EQ(out.size(), 94U + (256U - 94U) * 4U);
    // Invalid UTF-8 and overlong NULs, as a container might put in a path.
    for (const std::string &bad : {"\xc0\x80"s, "\xed\xa0\x80"s, "\xf8\x88\x80\x80\x80"s,
                                   kRightToLeftOverride, "\x1b]0;x\x07"s}) {
        EXPECT_TRUE(printable_ascii(escape_untrusted(bad)));
    }
    EXPECT_TRUE(printable_ascii(escape_untrusted(std::string(kMiB, '\x80'))));
}

TEST(Text, EscapeIsUnambiguous) {
    // A container cannot forge an escape: a literal "\x0a" and a newline
    // come out different, and the output always decodes back.
    EXPECT_NE(escape_untrusted("\\x0a"), escape_untrusted("\n"));
    EXPECT_EQ(escape_untrusted("\\x0a"), "\\x5cx0a");
    std::string every_byte;
    for (unsigned c = 0; c <= 0xff; ++c) {
        every_byte += static_cast<char>(c);
        every_byte += "\\x";
    }
    EXPECT_EQ(unescape(escape_untrusted(every_byte)), every_byte);
    EXPECT_EQ(escape_untrusted(""), "");
}

// ---------------------------------------------------------------------------
// path_tail

// {name, parent} of a path, as strings for the failure messages.
using Tail = std::pair<std::string, std::string>;

Tail tail_of(std::string_view path) {
    const auto tail = path_tail(path);
    return {std::string(tail.name), std::string(tail.parent)};
}

TEST(Text, PathTailIsTheNameAndItsParentsName) {
    EXPECT_EQ(tail_of("/a/b"), (Tail{"b", "a"}));
    EXPECT_EQ(tail_of("a/b"), (Tail{"b", "a"}));
    EXPECT_EQ(tail_of("/system.slice/docker-1.scope/init"), (Tail{"init", "docker-1.scope"}));
    EXPECT_EQ(tail_of("/docker/buildkit"), (Tail{"buildkit", "docker"}));
}

TEST(Text, PathTailOfANameAloneHasNoParent) {
    EXPECT_EQ(tail_of("a"), (Tail{"a", ""}));
    EXPECT_EQ(tail_of("/a"), (Tail{"a", ""}));
    EXPECT_EQ(tail_of("docker-1.scope"), (Tail{"docker-1.scope", ""}));
}

TEST(Text, PathTailOfNothingIsEmpty) {
    EXPECT_EQ(tail_of(""), (Tail{"", ""}));
    EXPECT_EQ(tail_of("/"), (Tail{"", ""}));
    EXPECT_EQ(tail_of("//"), (Tail{"", ""}));
}

TEST(Text, PathTailCollapsesNoSlashes) {
    // A trailing slash leaves an empty name under the last directory, and a
    // doubled one an empty parent: the path is taken as it is, not cleaned.
    EXPECT_EQ(tail_of("a/b/"), (Tail{"", "b"}));
    EXPECT_EQ(tail_of("/a/b/"), (Tail{"", "b"}));
    EXPECT_EQ(tail_of("a/b//"), (Tail{"", ""}));
    EXPECT_EQ(tail_of("a//b"), (Tail{"b", ""}));
    EXPECT_EQ(tail_of("/a/"), (Tail{"", "a"}));
}

TEST(Text, PathTailViewsIntoThePath) {
    const std::string path = "/x/parent/name";
    const auto tail = path_tail(path);
    EXPECT_EQ(tail.name.data(), path.data() + path.rfind('/') + 1);
    EXPECT_EQ(tail.parent.data(), path.data() + 3);
}

// ---------------------------------------------------------------------------
// DenialRateLimit

using Clock = DenialRateLimit::Clock;
const Clock::time_point kT0 = Clock::time_point{} + 1000h;

TEST(RateLimit, LogsUpToTheBurst) {
    DenialRateLimit limit(3, 10s);
    for (int i = 0; i < 3; ++i) {
        const auto v = limit.admit("c", kT0 + std::chrono::milliseconds(i));
        EXPECT_TRUE(v.log) << i;
        EXPECT_EQ(v.suppressed_before, 0U);
    }
    EXPECT_EQ(limit.suppressed_total(), 0U);
}

TEST(RateLimit, SuppressesAfterTheBurstAndReportsTheCount) {
    DenialRateLimit limit(3, 10s);
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(limit.admit("c", kT0 + 1s * i).log);
    }
    for (int i = 0; i < 5; ++i) {
        const auto v = limit.admit("c", kT0 + 3s + 1s * i);
        EXPECT_FALSE(v.log) << "denial " << 4 + i << " of the window was logged";
        EXPECT_EQ(v.suppressed_before, 0U);
        EXPECT_EQ(limit.suppressed_total(), std::uint64_t(i) + 1);
    }
    // Still inside the window (it started at kT0).
    EXPECT_FALSE(limit.admit("c", kT0 + 10s - 1ns).log);
    EXPECT_EQ(limit.suppressed_total(), 6U);
    // The interval is over: logged, and it says how many were dropped.
    const auto next = limit.admit("c", kT0 + 10s);
    EXPECT_TRUE(next.log);
    EXPECT_EQ(next.suppressed_before, 6U);
    // The count was reported once and starts again.
    const auto after = limit.admit("c", kT0 + 10s + 1ms);
    EXPECT_TRUE(after.log);
    EXPECT_EQ(after.suppressed_before, 0U);
    EXPECT_EQ(limit.suppressed_total(), 6U);
}

TEST(RateLimit, TheNextWindowHasAFullBurst) {
    DenialRateLimit limit(2, 10s);
    EXPECT_TRUE(limit.admit("c", kT0).log);
    EXPECT_TRUE(limit.admit("c", kT0 + 1s).log);
    EXPECT_FALSE(limit.admit("c", kT0 + 2s).log);
    // The new window starts at the first denial after the old one ended.
    const auto first = limit.admit("c", kT0 + 25s);
    EXPECT_TRUE(first.log);
    EXPECT_EQ(first.suppressed_before, 1U);
    EXPECT_TRUE(limit.admit("c", kT0 + 26s).log);
    EXPECT_FALSE(limit.admit("c", kT0 + 34s).log);
    EXPECT_FALSE(limit.admit("c", kT0 + 35s - 1ns).log);
    const auto third = limit.admit("c", kT0 + 35s);
    EXPECT_TRUE(third.log);
    EXPECT_EQ(third.suppressed_before, 2U);
    EXPECT_EQ(limit.suppressed_total(), 3U);
}

TEST(RateLimit, AHammeringContainerStaysLimited) {
    DenialRateLimit limit(5, 1s);
    std::uint64_t logged = 0;
    std::uint64_t reported = 0;
    // 100000 denials a second for 10 seconds.
    for (int i = 0; i < 1'000'000; ++i) {
        const auto v = limit.admit("hammer", kT0 + 10us * i);
        logged += v.log ? 1 : 0;
        reported += v.suppressed_before;
    }
    EXPECT_EQ(logged, 50U);
    EXPECT_EQ(logged + limit.suppressed_total(), 1'000'000U);
    // Everything suppressed before the last window was reported.
    EXPECT_EQ(reported, limit.suppressed_total() - (100'000U - 5U));
}

TEST(RateLimit, ContainersAreIndependent) {
    DenialRateLimit limit(2, 10s);
    EXPECT_TRUE(limit.admit("a", kT0).log);
    EXPECT_TRUE(limit.admit("a", kT0).log);
    EXPECT_FALSE(limit.admit("a", kT0).log);
    EXPECT_FALSE(limit.admit("a", kT0 + 1s).log);
    // b is not held back by a.
    const auto b = limit.admit("b", kT0 + 1s);
    EXPECT_TRUE(b.log);
    EXPECT_EQ(b.suppressed_before, 0U);
    EXPECT_TRUE(limit.admit("b", kT0 + 2s).log);
    EXPECT_FALSE(limit.admit("b", kT0 + 3s).log);
    EXPECT_EQ(limit.suppressed_total(), 3U);
    // Each is told its own count; b's window started later.
    const auto a_next = limit.admit("a", kT0 + 10s);
    EXPECT_TRUE(a_next.log);
    EXPECT_EQ(a_next.suppressed_before, 2U);
    EXPECT_FALSE(limit.admit("b", kT0 + 10s).log);
    const auto b_next = limit.admit("b", kT0 + 11s);
    EXPECT_TRUE(b_next.log);
    EXPECT_EQ(b_next.suppressed_before, 2U);
}

TEST(RateLimit, ContainerNamesAreComparedExactly) {
    DenialRateLimit limit(1, 10s);
    EXPECT_TRUE(limit.admit("web", kT0).log);
    EXPECT_FALSE(limit.admit("web", kT0).log);
    for (const std::string &other :
         {"Web"s, "web "s, "web\0"s, "we"s, "web\n"s, ""s, std::string(kMiB, 'w')}) {
        EXPECT_TRUE(limit.admit(other, kT0).log) << escape_untrusted(other.substr(0, 8));
    }
    EXPECT_EQ(limit.suppressed_total(), 1U);
}

TEST(RateLimit, SetLimitsTakesEffect) {
    DenialRateLimit limit(1, 10s);
    EXPECT_TRUE(limit.admit("c", kT0).log);
    EXPECT_FALSE(limit.admit("c", kT0 + 1s).log);
    // A larger burst applies to the current window.
    limit.set_limits(3, 10s);
    const auto more = limit.admit("c", kT0 + 2s);
    EXPECT_TRUE(more.log);
    EXPECT_EQ(more.suppressed_before, 1U);
    EXPECT_TRUE(limit.admit("c", kT0 + 3s).log);
    EXPECT_FALSE(limit.admit("c", kT0 + 4s).log);
    // A shorter interval ends the current window early.
    limit.set_limits(3, 2s);
    const auto v = limit.admit("c", kT0 + 5s);
    EXPECT_TRUE(v.log);
    EXPECT_EQ(v.suppressed_before, 1U);
    // A smaller burst applies at once.
    limit.set_limits(1, 2s);
    EXPECT_FALSE(limit.admit("c", kT0 + 6s).log);
    EXPECT_TRUE(limit.admit("fresh", kT0 + 6s).log);
    EXPECT_FALSE(limit.admit("fresh", kT0 + 6s).log);
    // A longer interval keeps the window open longer.
    limit.set_limits(1, 60s);
    EXPECT_FALSE(limit.admit("fresh", kT0 + 30s).log);
    EXPECT_TRUE(limit.admit("fresh", kT0 + 66s).log);
    EXPECT_EQ(limit.suppressed_total(), 5U);
}

TEST(RateLimit, TimeBeforeTheWindowStartDoesNotReopenIt) {
    DenialRateLimit limit(1, 10s);
    EXPECT_TRUE(limit.admit("c", kT0).log);
    EXPECT_FALSE(limit.admit("c", kT0 - 1h).log);
    EXPECT_FALSE(limit.admit("c", kT0 + 9s).log);
}

TEST(RateLimit, ManyContainersWithinOneIntervalAreEachLoggedOnce) {
    DenialRateLimit limit(1, 60s);
    constexpr int kContainers = 10'000;
    for (int i = 0; i < kContainers; ++i) {
        const auto v = limit.admit("container-" + std::to_string(i), kT0 + 1ms * i);
        ASSERT_TRUE(v.log) << i;
        EXPECT_EQ(v.suppressed_before, 0U);
    }
    // None of them was forgotten while the others came in: their windows
    // are still open, so a second denial of each is suppressed.
    for (int i = 0; i < kContainers; ++i) {
        ASSERT_FALSE(limit.admit("container-" + std::to_string(i), kT0 + 20s).log) << i;
    }
    EXPECT_EQ(limit.suppressed_total(), std::uint64_t{kContainers});
}

TEST(RateLimit, FloodingOtherContainersDoesNotResetALimitedOne) {
    DenialRateLimit limit(2, 10s);
    EXPECT_TRUE(limit.admit("target", kT0).log);
    EXPECT_TRUE(limit.admit("target", kT0).log);
    EXPECT_FALSE(limit.admit("target", kT0).log);
    // Long-gone windows of others (evictable) and fresh ones.
    for (int i = 0; i < 6000; ++i) {
        (void)limit.admit("old-" + std::to_string(i), kT0 - 1h);
    }
    for (int i = 0; i < 6000; ++i) {
        (void)limit.admit("new-" + std::to_string(i), kT0 + 1s);
    }
    EXPECT_FALSE(limit.admit("target", kT0 + 9s).log);
    const auto v = limit.admit("target", kT0 + 10s);
    EXPECT_TRUE(v.log);
    EXPECT_EQ(v.suppressed_before, 2U);
    EXPECT_EQ(limit.suppressed_total(), 2U);
}

// Bytes the process holds on the heap (glibc).
std::size_t heap_in_use() {
    const auto info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

std::string container_name(int i) {
    // Long like real ids, so that every window costs something.
    std::string name = std::to_string(i);
    return std::string(64 - name.size(), 'c') + name;
}

// Containers come and go, each denied a few times: their windows must not
// pile up. Returns how much the heap grew over the second half.
std::size_t heap_growth_over_churn(std::uint32_t denials_each) {
    DenialRateLimit limit(1, 1s);
    constexpr int kHalf = 8192;
    auto churn = [&](int from, int to) {
        for (int i = from; i < to; ++i) {
            const auto now = kT0 + 2s * i; // the previous window has ended
            for (std::uint32_t d = 0; d < denials_each; ++d) {
                (void)limit.admit(container_name(i), now);
            }
        }
    };
    churn(0, kHalf);
    const auto before = heap_in_use();
    churn(kHalf, 2 * kHalf);
    const auto after = heap_in_use();
    EXPECT_EQ(limit.suppressed_total(), std::uint64_t{2} * kHalf * (denials_each - 1));
    return after > before ? after - before : 0;
}

constexpr std::size_t kMaxChurnGrowth = std::size_t{256} * 1024;

TEST(RateLimit, ChurnOfContainersLoggedWithinTheBurstIsBounded) {
    const auto growth = heap_growth_over_churn(1);
    EXPECT_LT(growth, kMaxChurnGrowth) << "8192 more containers grew the heap by " << growth;
}

TEST(RateLimit, ChurnOfContainersThatHadDenialsSuppressedIsBounded) {
    const auto growth = heap_growth_over_churn(2);
    EXPECT_LT(growth, kMaxChurnGrowth) << "8192 more containers grew the heap by " << growth;
}

// ---------------------------------------------------------------------------
// to_error_reply

TEST(ApiError, KeepsTheNameAndMessageOfAnApiError) {
    for (const std::string_view name :
         {api::kNotFound, api::kAlreadyRegistered, api::kInvalidLevel, api::kInvalidMode,
          api::kInvalidArgument, api::kInvalidConfig, api::kKernelUnsupported, api::kLimitsExceeded,
          api::kFailed, api::kAccessDenied}) {
        const api::ApiError error(name, "what happened");
        const auto reply = api::to_error_reply(error);
        EXPECT_EQ(reply.name, name);
        EXPECT_EQ(reply.message, "what happened");
    }
}

TEST(ApiError, ApiErrorSeenAsStdExceptionKeepsItsName) {
    try {
        throw api::ApiError(api::kInvalidMode, "bad mode");
    } catch (const std::exception &e) {
        const auto reply = api::to_error_reply(e);
        EXPECT_EQ(reply.name, api::kInvalidMode);
        EXPECT_EQ(reply.message, "bad mode");
    }
}

TEST(ApiError, ErrorsFromValidationKeepTheirNames) {
    const Options options = {{"bogus", sdbus::Variant(true)}};
    const OptionReader reader(options);
    const std::vector<std::pair<std::function<void()>, std::string_view>> cases = {
        {[] { check_container_id(""); }, api::kInvalidArgument},
        {[] { (void)level_argument("Baseline", Level::Baseline); }, api::kInvalidLevel},
        {[] { (void)mode_argument("Audit", Mode::Audit); }, api::kInvalidMode},
        {[] { (void)normalize_cgroup_path("/..", kMount); }, api::kInvalidArgument},
        {[] { check_cgroup_name(".."); }, api::kInvalidArgument},
        {[&] { reader.finish(); }, api::kInvalidArgument},
    };
    for (const auto &[call, name] : cases) {
        try {
            call();
            ADD_FAILURE() << "no error for " << name;
        } catch (const std::exception &e) {
            EXPECT_EQ(api::to_error_reply(e).name, name);
        }
    }
}

TEST(ApiError, MapsLockcErrorKinds) {
    const std::array<std::pair<ErrorKind, std::string_view>, 4> kinds = {{
        {ErrorKind::KernelUnsupported, "org.lockc.Error.KernelUnsupported"},
        {ErrorKind::InvalidArgument, "org.lockc.Error.InvalidArgument"},
        {ErrorKind::NotFound, "org.lockc.Error.NotFound"},
        {ErrorKind::System, "org.lockc.Error.Failed"},
    }};
    for (const auto &[kind, name] : kinds) {
        const Error error(kind, "enforcer says no");
        const auto reply = api::to_error_reply(error);
        EXPECT_EQ(reply.name, name);
        EXPECT_EQ(reply.message, "enforcer says no");
    }
}

TEST(ApiError, UnknownLockcErrorKindIsFailed) {
    const Error error(static_cast<ErrorKind>(77), "from the future");
    const auto reply = api::to_error_reply(error);
    EXPECT_EQ(reply.name, api::kFailed);
    EXPECT_EQ(reply.message, "from the future");
}

TEST(ApiError, ThrowSystemIsFailed) {
    try {
        throw_system("open /sys/fs/bpf/lockc", 2);
    } catch (const std::exception &e) {
        const auto reply = api::to_error_reply(e);
        EXPECT_EQ(reply.name, api::kFailed);
        EXPECT_TRUE(contains(reply.message, "open /sys/fs/bpf/lockc")) << reply.message;
    }
}

TEST(ApiError, AnyOtherExceptionIsAnInternalFailure) {
    const std::runtime_error runtime("map_lookup went wrong");
    const std::logic_error logic("broken invariant");
    const std::out_of_range range("map::at");
    const std::bad_alloc alloc;
    const std::system_error system(std::make_error_code(std::errc::permission_denied), "bpf");
    const std::filesystem::filesystem_error fs_error(
        "cannot stat", "/sys/fs/cgroup/x",
        std::make_error_code(std::errc::no_such_file_or_directory));
    for (const std::exception *e : std::initializer_list<const std::exception *>{
             &runtime, &logic, &range, &alloc, &system, &fs_error}) {
        const auto reply = api::to_error_reply(*e);
        EXPECT_EQ(reply.name, "org.lockc.Error.Failed") << e->what();
        EXPECT_TRUE(contains(reply.message, "internal error")) << reply.message;
    }
    EXPECT_EQ(api::to_error_reply(runtime).message, "internal error: map_lookup went wrong");
}

TEST(ApiError, ToErrorReplyIsNoexcept) {
    static_assert(noexcept(api::to_error_reply(std::declval<const std::exception &>())));
    const api::ApiError empty("", "");
    const auto reply = api::to_error_reply(empty);
    EXPECT_EQ(reply.name, "");
    EXPECT_EQ(reply.message, "");
}

// ---- DescribeLevels (level_description.hpp) ----

bool has(const std::vector<LevelDenial> &denies, const LevelDenial &entry) {
    return std::find(denies.begin(), denies.end(), entry) != denies.end();
}

std::vector<LevelDenial> operations(const std::vector<LevelDenial> &denies) {
    std::vector<LevelDenial> out;
    std::copy_if(denies.begin(), denies.end(), std::back_inserter(out),
                 [](const LevelDenial &d) { return d.kind == "operation"; });
    return out;
}

TEST(LevelDescription, EveryLevelInOrderPrivilegedDeniesNothing) {
    const auto levels = describe_levels(Config{});
    ASSERT_EQ(levels.size(), 3U);
    EXPECT_EQ(levels[0].level, Level::Privileged);
    EXPECT_EQ(levels[1].level, Level::Baseline);
    EXPECT_EQ(levels[2].level, Level::Restricted);
    EXPECT_TRUE(levels[0].denies.empty());
    EXPECT_FALSE(levels[1].denies.empty());
    EXPECT_GT(levels[2].denies.size(), levels[1].denies.size());
}

TEST(LevelDescription, BuiltInRulesAndBehaviours) {
    const auto levels = describe_levels(Config{});
    const auto &baseline = levels[1].denies;
    const auto &restricted = levels[2].denies;
    for (const auto *denies : {&baseline, &restricted}) {
        EXPECT_TRUE(has(*denies, {"fs-open", "proc:/sysrq-trigger", "read,write"}));
        EXPECT_TRUE(has(*denies, {"fs-open", "proc:/sys", "write"}));
        EXPECT_TRUE(has(*denies, {"fs-open", "sysfs:/", "read,write"}));
        EXPECT_TRUE(has(*denies, {"fs-open", "sysfs:/devices/system/cpu", "write"}));
        EXPECT_TRUE(has(*denies, {"fs-open", "debugfs", "read,write"}));
        EXPECT_TRUE(has(*denies, {"fs-mount", "debugfs", "mount"}));
        EXPECT_FALSE(has(*denies, {"fs-mount", "tmpfs", "mount"}));
        EXPECT_TRUE(has(*denies, {"device", "c 1:1", "read,write"}));
        EXPECT_TRUE(has(*denies, {"device", "c 202:*", "read,write"}));
        EXPECT_TRUE(has(*denies, {"device", "b *:*", "read,write"}));
        EXPECT_TRUE(has(*denies, {"unix-socket", "/run/docker.sock", "connect"}));
        EXPECT_TRUE(has(*denies, {"unix-socket", "@/containerd-shim", "connect"}));
        EXPECT_TRUE(has(*denies, {"mount-source", "/", "bind during setup"}));
        EXPECT_TRUE(has(*denies, {"mount-source", "/var/lib/docker", "allowed"}));
        for (const char *hook :
             {"syslog", "kernel_module", "bpf", "perf_event_open", "ptrace", "task_kill",
              "sb_kern_mount", "move_mount", "capable", "cgroup_tree"}) {
            const auto ops = operations(*denies);
            EXPECT_TRUE(std::any_of(ops.begin(), ops.end(), [&](const LevelDenial &d) {
                return d.target == hook;
            })) << hook;
        }
        // Operations come first.
        EXPECT_EQ(denies->front().kind, "operation");
    }
    // /home: a bind source for baseline, not for restricted.
    EXPECT_TRUE(has(baseline, {"mount-source", "/home", "allowed"}));
    EXPECT_TRUE(has(restricted, {"mount-source", "/home", "bind during setup"}));
    // Character devices: restricted refuses all but Docker's defaults, each
    // listed as an exception; baseline has no such rule, so no exceptions.
    EXPECT_TRUE(has(restricted, {"device", "c *:*", "read,write"}));
    EXPECT_TRUE(has(restricted, {"device", "c 1:3", "allowed"}));
    EXPECT_TRUE(has(restricted, {"device", "c 136:*", "allowed"}));
    EXPECT_TRUE(has(restricted, {"device", "c 5:1", "read,write"}));
    EXPECT_FALSE(std::any_of(baseline.begin(), baseline.end(), [](const LevelDenial &d) {
        return d.kind == "device" && (d.target == "c *:*" || d.what == "allowed");
    }));
    // Service-account tokens: restricted only.
    EXPECT_FALSE(std::any_of(baseline.begin(), baseline.end(), [](const LevelDenial &d) {
        return d.target == "/run/secrets/kubernetes.io";
    }));
    EXPECT_TRUE(has(restricted, {"open", "/run/secrets/kubernetes.io", "read"}));
    // Restricted denies every operation baseline does, and more.
    const auto base_ops = operations(baseline);
    const auto restricted_ops = operations(restricted);
    for (const auto &op : base_ops) {
        EXPECT_TRUE(has(restricted_ops, op)) << op.target;
    }
    for (const char *hook :
         {"task_fix_setuid", "exec_setuid", "userns_create", "socket_create", "sb_pivotroot"}) {
        const auto named = [&](const LevelDenial &d) { return d.target == hook; };
        EXPECT_TRUE(std::any_of(restricted_ops.begin(), restricted_ops.end(), named)) << hook;
        EXPECT_FALSE(std::any_of(base_ops.begin(), base_ops.end(), named)) << hook;
    }
}

TEST(LevelDescription, RulesOfTheConfigurationAreListed) {
    const auto config = parse_config("[[rules]]\nkind = \"open\"\npath = \"/srv/secrets\"\n"
                                     "deny = [\"baseline\"]\naccess = [\"write\"]\n"
                                     "[[rules]]\nkind = \"unix-socket\"\npath = \"@agent\"\n"
                                     "deny = [\"restricted\"]\n",
                                     "test.toml");
    const auto levels = describe_levels(config);
    EXPECT_TRUE(levels[0].denies.empty());
    EXPECT_TRUE(has(levels[1].denies, {"open", "/srv/secrets", "write"}));
    EXPECT_TRUE(has(levels[2].denies, {"open", "/srv/secrets", "write"}));
    EXPECT_FALSE(has(levels[1].denies, {"unix-socket", "@agent", "connect"}));
    EXPECT_TRUE(has(levels[2].denies, {"unix-socket", "@agent", "connect"}));
    EXPECT_FALSE(has(describe_levels(Config{})[1].denies, {"open", "/srv/secrets", "write"}));
}

} // namespace
} // namespace lockc
