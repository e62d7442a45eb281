// Unit tests of lockcctl's parts that need no bus. The commands themselves
// are tested end to end by test_lockcctl.py.
#include "exit_codes.hpp"
#include "json.hpp"
#include "monitor.hpp"
#include "options.hpp"
#include "output.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace lockc::cli {
namespace {

Invocation parse(const std::vector<std::string> &args) {
    return parse_command_line(args);
}

// Built from bytes: as string literals they would be what
// misc-misleading-bidirectional warns about.
const std::string kRightToLeftOverride = {'\xe2', '\x80', '\xae'};   // U+202E
const std::string kPopDirectionalIsolate = {'\xe2', '\x81', '\xa9'}; // U+2069

ExitCode usage_code(const std::vector<std::string> &args) {
    try {
        (void)parse(args);
    } catch (const Failure &f) {
        return f.code();
    }
    return ExitCode::Success;
}

TEST(JsonQuoted, EscapesWhatJsonRequires) {
    EXPECT_EQ(json_quoted("plain"), "\"plain\"");
    EXPECT_EQ(json_quoted("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
    EXPECT_EQ(json_quoted("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
    EXPECT_EQ(json_quoted(std::string("\x00\x01\x1b\x1f\x7f", 5)),
              "\"\\u0000\\u0001\\u001b\\u001f\\u007f\"");
}

TEST(JsonQuoted, EscapesWhatTerminalsActOn) {
    EXPECT_EQ(json_quoted("\xc2\x9b"
                          "2J"),
              "\"\\u009b2J\"");
    EXPECT_EQ(json_quoted(kRightToLeftOverride + "x" + kPopDirectionalIsolate),
              "\"\\u202ex\\u2069\"");
    EXPECT_EQ(json_quoted("\xe2\x80\xa8"), "\"\\u2028\"");
}

TEST(JsonQuoted, KeepsUtf8AndReplacesInvalidBytes) {
    EXPECT_EQ(json_quoted("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92"),
              "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92\"");
    EXPECT_EQ(json_quoted("a\xff"), "\"a\\ufffd\"");
    EXPECT_EQ(json_quoted("\xc3"), "\"\\ufffd\"");                       // truncated
    EXPECT_EQ(json_quoted("\xc0\xaf"), "\"\\ufffd\\ufffd\"");            // overlong '/'
    EXPECT_EQ(json_quoted("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\""); // a surrogate
}

TEST(JsonWriter, NestsWithCommas) {
    JsonWriter json;
    json.begin_object()
        .key("a")
        .unsigned_number(18446744073709551615ULL)
        .key("b")
        .strings({"x", "y"})
        .key("c")
        .begin_object()
        .end_object()
        .key("d")
        .signed_number(-1)
        .key("e")
        .boolean(false)
        .end_object();
    EXPECT_EQ(json.text(), R"({"a":18446744073709551615,"b":["x","y"],"c":{},"d":-1,"e":false})");
}

TEST(Sanitised, ReplacesControlCharactersOnly) {
    EXPECT_EQ(sanitised("plain /path-1_x"), "plain /path-1_x");
    EXPECT_EQ(sanitised("\x1b[31mred\x07"), "\\x1b[31mred\\x07");
    EXPECT_EQ(sanitised("a\nb\rc\td\x7f"), "a\\x0ab\\x0dc\\x09d\\x7f");
    EXPECT_EQ(sanitised("\xc2\x9b"
                        "2J"),
              "\\xc2\\x9b2J"); // C1 CSI
    EXPECT_EQ(sanitised(kRightToLeftOverride + "evil"), "\\xe2\\x80\\xaeevil");
    EXPECT_EQ(sanitised("caf\xc3\xa9"), "caf\xc3\xa9");
    EXPECT_EQ(sanitised("bad\xff"), "bad\\xff");
    EXPECT_EQ(shown(""), "-");
}

TEST(TableRender, AlignsAndHonoursNoLegend) {
    Table table({{"ID"}, {"STATE"}, {"N", true}});
    table.add_row({"long-name", "active", "5"});
    table.add_row({"x\x1b", "", "10"});
    const Terminal plain{};
    EXPECT_EQ(table.render(false, plain), "ID        STATE   N\n"
                                          "long-name active  5\n"
                                          "x\\x1b     -      10\n");
    EXPECT_EQ(table.render(true, plain), "long-name active  5\n"
                                         "x\\x1b     -      10\n");
    const Terminal colour{true, true};
    EXPECT_EQ(table.render(false, colour).substr(0, 4), "\x1b[1m");
}

TEST(DenialOutput, LineAndJson) {
    ::setenv("TZ", "UTC", 1);
    Denial d{"web", "baseline", "enforce", "sb_mount", "", 42, 7, "mo\nunt", 1, 1000123456};
    const Terminal plain{};
    EXPECT_EQ(denial_line(d, plain), "1970-01-01 00:16:40.123 web sb_mount enforce - pid 42 "
                                     "(mo\\x0aunt) uid 7");
    EXPECT_EQ(denial_line(d, Terminal{true, true}).substr(0, 5), "\x1b[31m");
    d.mode = "audit";
    EXPECT_EQ(denial_line(d, Terminal{true, true}).substr(0, 4), "1970");
    EXPECT_EQ(denial_json(d), R"({"container":"web","level":"baseline","mode":"audit",)"
                              R"("hook":"sb_mount","target":"","pid":42,"uid":7,)"
                              R"("comm":"mo\nunt","errno":1,"time_usec":1000123456})");
}

TEST(Options, GlobalOptionsAnywhere) {
    const auto a = parse({"--json", "-q", "set-level", "web", "restricted", "--no-ask-password"});
    EXPECT_EQ(a.command, Command::SetLevel);
    EXPECT_TRUE(a.global.json);
    EXPECT_TRUE(a.global.quiet);
    EXPECT_TRUE(a.global.no_ask_password);
    EXPECT_EQ(a.arguments, (std::vector<std::string>{"web", "restricted"}));
    EXPECT_EQ(parse({"ls", "--no-legend", "--no-pager"}).command, Command::List);
    EXPECT_EQ(parse({"status", "--help"}).command, Command::Help);
    EXPECT_EQ(parse({"--version"}).command, Command::Version);
}

TEST(Options, Register) {
    const auto r = parse({"register", "web", "--level=restricted", "--mode", "audit", "--pid",
                          "123", "--runtime", "docker"});
    EXPECT_EQ(r.command, Command::Register);
    EXPECT_EQ(r.level, "restricted");
    EXPECT_EQ(r.mode, "audit");
    EXPECT_EQ(r.runtime, "docker");
    ASSERT_TRUE(r.location.has_value());
    EXPECT_EQ(std::get<PidLocation>(*r.location).pid, 123U);
    const auto s = parse({"register", "--level", "baseline", "--scope", "d.scope", "--", "-x"});
    EXPECT_EQ(s.arguments, std::vector<std::string>{"-x"});
    EXPECT_EQ(std::get<ScopeLocation>(*s.location).name, "d.scope");
}

TEST(Options, Run) {
    const auto r =
        parse({"--no-ask-password", "run", "--level", "restricted", "--mode=audit", "--unit",
               "web-1.scope", "--description", "the web", "-q", "--", "sh", "-c", "exit 3"});
    EXPECT_EQ(r.command, Command::Run);
    EXPECT_TRUE(r.global.no_ask_password);
    EXPECT_TRUE(r.global.quiet);
    EXPECT_EQ(r.level, "restricted");
    EXPECT_EQ(r.mode, "audit");
    EXPECT_EQ(r.unit, "web-1.scope");
    EXPECT_EQ(r.description, "the web");
    EXPECT_TRUE(r.arguments.empty());
    EXPECT_EQ(r.command_line, (std::vector<std::string>{"sh", "-c", "exit 3"}));

    // Defaults: lockcd's mode, unit name and description.
    const auto d = parse({"run", "--level", "baseline", "--", "true"});
    EXPECT_FALSE(d.mode.has_value());
    EXPECT_EQ(d.unit, "");
    EXPECT_EQ(d.description, "");
    EXPECT_EQ(d.command_line, std::vector<std::string>{"true"});
}

TEST(Options, RunCommandLineIsTheCommands) {
    // From the first argument that is not an option on, nothing is
    // lockcctl's: options, "--", --help, and bytes that are not UTF-8 (they
    // go to exec, not to lockcd).
    const auto r = parse({"run", "--level", "baseline", "ls", "-l", "--help", "--level", "x", "--",
                          "--json", "caf\xff"});
    EXPECT_EQ(r.command, Command::Run);
    EXPECT_FALSE(r.global.json);
    EXPECT_EQ(r.level, "baseline");
    EXPECT_EQ(r.command_line, (std::vector<std::string>{"ls", "-l", "--help", "--level", "x", "--",
                                                        "--json", "caf\xff"}));
    // After "--", even a command that starts with '-'.
    EXPECT_EQ(parse({"run", "--level", "baseline", "--", "-x", "--", "y"}).command_line,
              (std::vector<std::string>{"-x", "--", "y"}));
    EXPECT_EQ(parse({"run", "--level", "baseline", "-", "a"}).command_line,
              (std::vector<std::string>{"-", "a"}));
    // Global options before run, and between run and CMD.
    const auto g = parse({"--json", "run", "--no-pager", "--level", "privileged", "env"});
    EXPECT_TRUE(g.global.json);
    EXPECT_TRUE(g.global.no_pager);
    EXPECT_EQ(g.command_line, std::vector<std::string>{"env"});
    EXPECT_EQ(parse({"run", "--level", "baseline", "--help"}).command, Command::Help);
    EXPECT_EQ(parse({"run", "--level", "baseline", "true", "--help"}).command, Command::Run);
    // Another command's arguments are not a command line.
    EXPECT_TRUE(parse({"monitor", "run", "x"}).command_line.empty());
}

TEST(Options, LevelsTakesNoArgumentsOrOptions) {
    const auto r = parse({"levels", "--json", "--no-legend"});
    EXPECT_EQ(r.command, Command::Levels);
    EXPECT_TRUE(r.global.json);
    EXPECT_TRUE(r.global.no_legend);
    EXPECT_TRUE(r.arguments.empty());
    EXPECT_EQ(usage_code({"levels", "baseline"}), ExitCode::Usage);
    EXPECT_EQ(usage_code({"levels", "--level", "baseline"}), ExitCode::Usage);
}

TEST(Options, RunUnitNames) {
    const auto unit = [](const std::string &name) {
        return parse({"run", "--level", "baseline", "--unit", name, "true"}).unit;
    };
    EXPECT_EQ(unit("a.scope"), "a.scope");
    EXPECT_EQ(unit("A-z_0:9.x.scope"), "A-z_0:9.x.scope");
    const std::string longest = std::string(121, 'x') + ".scope"; // 127 bytes
    EXPECT_EQ(unit(longest), longest);
    for (const auto &bad : std::vector<std::string>{
             "", ".scope", "a", "a.service", "a.scope.x", "a b.scope", "a/b.scope", "a@b.scope",
             "a\\x2d.scope", "caf\xc3\xa9.scope", "a\n.scope", "x" + longest}) {
        EXPECT_EQ(usage_code({"run", "--level", "baseline", "--unit", bad, "true"}),
                  ExitCode::Usage)
            << testing::PrintToString(bad);
    }
}

TEST(Options, UsageErrorsAreExit2) {
    for (const auto &args : std::vector<std::vector<std::string>>{
             {},
             {"nope"},
             {"list", "--nope"},
             {"show"},
             {"status", "x"},
             {"set-level", "w", "high"},
             {"set-mode", "w", "Enforce"},
             {"set-default"},
             {"register", "w", "--level", "baseline"},
             {"register", "w", "--scope", "s"},
             {"register", "w", "--level", "baseline", "--pid", "4294967296"},
             {"register", "w", "--level", "baseline", "--pid", "-1"},
             {"register", "w", "--level", "baseline", "--cgroup", "a", "--scope", "b"},
             {"show", "--level", "baseline", "w"},
             {"status", "--quiet=1"},
             {"show", "\xff"},
             {"register", "w", "--level", "baseline", "--scope", "x.scope", "--runtime", "\xff"},
             {"run"},
             {"run", "true"},
             {"run", "--", "true"},
             {"run", "--level", "baseline"},
             {"run", "--level", "baseline", "--"},
             {"run", "--level", "baseline", "--mode"},
             {"run", "--level", "strict", "true"},
             {"run", "--level", "baseline", "--mode", "loud", "true"},
             {"run", "--level", "baseline", "--scope", "x.scope", "true"},
             {"run", "--level", "baseline", "--unit", "x.scope", "--unit", "y.scope", "true"},
             {"run", "--level", "baseline", "--description", "\xff", "true"},
             {"run", "--level", "baseline", "--nope", "true"},
             {"run", "x", "--level", "baseline", "true"},
             {"show", "w", "--unit", "x.scope"},
             {"status", "--description", "x"},
         }) {
        EXPECT_EQ(usage_code(args), ExitCode::Usage) << testing::PrintToString(args);
    }
}

} // namespace
} // namespace lockc::cli
