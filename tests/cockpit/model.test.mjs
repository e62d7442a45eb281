// The Cockpit page's pure parts (cockpit/model.js), with Node's own test
// runner: node --test tests/cockpit/model.test.mjs
import { strict as assert } from "node:assert";
import { test } from "node:test";

import {
    DenialFeed, compareIds, denialFromArgs, enforcementSummary, explainError, formatTime,
    operationWords, resultText, totalDecisions,
} from "../../cockpit/model.js";

test("polkit's refusal is explained with what to do", () => {
    const text = explainError({ name: "org.freedesktop.DBus.Error.AccessDenied", message: "x" },
                              "change the level of web");
    assert.match(text, /^Could not change the level of web: You are not allowed/);
    assert.match(text, /administrative access/);
    assert.match(text, /group lockc/);
});

test("a missing lockcd is named, by D-Bus error or by the bridge's problem", () => {
    assert.match(explainError({ name: "org.freedesktop.DBus.Error.ServiceUnknown" }), /lockcd/);
    assert.match(explainError({ problem: "not-found" }), /not running/);
    assert.match(explainError({ problem: "access-denied" }), /not allowed/);
});

test("lockcd's own messages pass through, ending as a sentence", () => {
    assert.equal(explainError({ name: "org.lockc.Error.Failed", message: "cgroup is gone" }, "x"),
                 "Could not x: cgroup is gone.");
    assert.equal(explainError({ name: "org.lockc.Error.Failed", message: "Done!" }), "Done!");
    assert.equal(explainError(undefined, "x"), "Could not x: unknown error.");
});

test("decisions add up over hooks, and nothing counts as zero", () => {
    assert.equal(totalDecisions({ file_open: 3, sb_mount: 4 }), 7);
    assert.equal(totalDecisions({}), 0);
    assert.equal(totalDecisions(undefined), 0);
    assert.equal(totalDecisions({ file_open: "junk" }), 0);
});

test("a Denied signal's arguments become a record, audit when errnum is 0", () => {
    const args = ["web", "baseline", "enforce", "file_open", "/sys/kernel/x", 42, 0, "cat", 1,
        1700000000123456];
    const d = denialFromArgs(args);
    assert.equal(d.container, "web");
    assert.equal(d.hook, "file_open");
    assert.equal(d.target, "/sys/kernel/x");
    assert.equal(d.comm, "cat");
    assert.equal(d.result, "denied");
    assert.equal(denialFromArgs([...args.slice(0, 8), 0, 1]).result, "audited");
});

test("a DeniedCoalesced entry keeps its count and last time; a Denied one counts once", () => {
    const args = ["web", "baseline", "enforce", "file_open", "/sys/kernel/x", 7, 0, "cat", 1, 1000];
    const once = denialFromArgs(args);
    assert.equal(once.count, 1);
    assert.equal(once.last, 1000);
    assert.equal(resultText(once), "denied");
    const repeated = denialFromArgs([...args, 5000, 37]);
    assert.equal(repeated.time, 1000);
    assert.equal(repeated.last, 5000);
    assert.equal(repeated.count, 37);
    assert.equal(resultText(repeated), "denied 37×");
    const feed = new DenialFeed(10);
    feed.add(once);
    feed.add(repeated);
    assert.equal(feed.entries.length, 2);
    assert.equal(feed.total, 38);
});

test("times are local wall time with milliseconds", () => {
    const micros = Date.UTC(2026, 0, 2, 3, 4, 5, 678) * 1000;
    assert.match(formatTime(micros, "en-GB"), /^\d\d:04:05\.678$/);
    assert.equal(formatTime("nonsense"), "");
});

test("operation words come from DescribeLevels' operation entries, first level first", () => {
    const levels = [
        ["privileged", []],
        ["baseline", [["operation", "sb_mount", "mounting filesystems"], ["open", "/x", "read"]]],
        ["restricted", [["operation", "sb_mount", "other words"], ["operation", "bpf", "bpf()"]]],
    ];
    assert.deepEqual(operationWords(levels), { sb_mount: "mounting filesystems", bpf: "bpf()" });
    assert.deepEqual(operationWords(undefined), {});
});

test("the feed keeps the newest denials, at most its limit, and counts all", () => {
    const feed = new DenialFeed(3);
    for (let i = 0; i < 5; i += 1) {
        feed.add({ n: i });
    }
    assert.deepEqual(feed.entries.map(e => e.n), [4, 3, 2]);
    assert.equal(feed.total, 5);
});

test("enforcement: the kernel's reason is shown, or the lsm= fix", () => {
    assert.deepEqual(enforcementSummary(true, ""), { label: "Enforcing", tone: "green", problem: "" });
    assert.equal(enforcementSummary(false, "no bpf in lsm=").problem, "no bpf in lsm=");
    assert.match(enforcementSummary(false, "").problem, /lsm=/);
});

test("ids sort as people count", () => {
    assert.deepEqual(["web-10", "web-2", "db"].sort(compareIds), ["db", "web-2", "web-10"]);
});
