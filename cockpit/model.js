// What the page shows, as plain functions of what org.lockc.Manager
// says: no DOM and no Cockpit here, so `node --test` checks them
// (tests/cockpit/model.test.mjs).

// D-Bus errors as a person should read them: what happened and what to do.
const ERROR_WORDS = {
    "org.freedesktop.DBus.Error.AccessDenied":
        "You are not allowed to change lockc's policy. Turn on administrative access " +
        "(the \"Limited access\" button at the top of the page), or ask an administrator " +
        "to add your account to the group lockc.",
    "org.freedesktop.DBus.Error.ServiceUnknown":
        "lockcd, the lockc service, is not running and could not be started. " +
        "See \"journalctl -u lockcd\" on this machine.",
    "org.freedesktop.DBus.Error.NameHasNoOwner":
        "lockcd, the lockc service, is not running. See \"journalctl -u lockcd\" on this machine.",
    "org.freedesktop.DBus.Error.NoReply":
        "lockcd did not answer in time. It may be very busy; try again.",
    "org.lockc.Error.NotFound": "That container is no longer registered with lockc.",
    "org.lockc.Error.InvalidLevel": "lockc does not know that level.",
    "org.lockc.Error.InvalidMode": "lockc does not know that mode.",
    "org.lockc.Error.KernelUnsupported":
        "This kernel cannot enforce lockc's policy, so nothing was changed.",
};

// A failed call as one sentence or two. `error` is what cockpit.dbus
// rejects with: {name, message} for D-Bus errors, {problem, message} when
// the bridge itself failed.
export function explainError(error, doing) {
    const prefix = doing ? `Could not ${doing}: ` : "";
    if (!error) {
        return `${prefix}unknown error.`;
    }
    const words = ERROR_WORDS[error.name];
    if (words) {
        return prefix + words;
    }
    if (error.problem === "not-found") {
        return prefix + ERROR_WORDS["org.freedesktop.DBus.Error.ServiceUnknown"];
    }
    if (error.problem === "access-denied") {
        return prefix + ERROR_WORDS["org.freedesktop.DBus.Error.AccessDenied"];
    }
    // lockcd's own messages already say what to do (the API promises it).
    const message = String(error.message || error.problem || error);
    return prefix + (/[.!?]$/.test(message) ? message : message + ".");
}

// The sum of a Decisions map (hook -> count). Counts are uint64 on the bus;
// cockpit.dbus gives them as numbers, exact below 2^53.
export function totalDecisions(decisions) {
    let total = 0;
    for (const count of Object.values(decisions || {})) {
        total += Number(count) || 0;
    }
    return total;
}

// A kernel timestamp (CLOCK_REALTIME microseconds) as local wall time.
export function formatTime(microseconds, locale) {
    const date = new Date(Number(microseconds) / 1000);
    if (Number.isNaN(date.getTime())) {
        return "";
    }
    return date.toLocaleTimeString(locale, { hour12: false }) +
        "." + String(date.getMilliseconds()).padStart(3, "0");
}

// The arguments of a Denied signal, or one element of DeniedBatch or
// DeniedCoalesced, as a record; the order is the API's
// (dbus/org.lockc.Manager.xml). DeniedCoalesced adds the last time and how
// many times the same denial was made (time is then the first).
export function denialFromArgs(args) {
    const [container, level, mode, hook, target, pid, uid, comm, errnum, time, last, count] = args;
    return {
        container, level, mode, hook, target, pid, uid, comm,
        errnum: Number(errnum),
        time: Number(time),
        last: Number(last ?? time),
        count: Math.max(Number(count ?? 1), 1),
        // errnum 0: audit mode, the operation was allowed and reported.
        result: Number(errnum) > 0 ? "denied" : "audited",
    };
}

// What the feed's Result column says: "denied", or "denied 37×" for a
// denial made 37 times in a row.
export function resultText(denial) {
    return denial.count > 1 ? `${denial.result} ${denial.count}×` : denial.result;
}

// The operations DescribeLevels puts into words, as hook -> words, from
// its (level, [(kind, target, what)]) list.
export function operationWords(levels) {
    const words = {};
    for (const [, rules] of levels || []) {
        for (const [kind, target, what] of rules) {
            if (kind === "operation" && !(target in words)) {
                words[target] = what;
            }
        }
    }
    return words;
}

// The newest denials first, at most `limit`: a busy container must not
// make the page grow without bound.
export class DenialFeed {
    constructor(limit = 200) {
        this.limit = limit;
        this.entries = [];
        this.total = 0;
    }

    add(denial) {
        this.entries.unshift(denial);
        if (this.entries.length > this.limit) {
            this.entries.length = this.limit;
        }
        this.total += denial.count ?? 1;
    }
}

// What the Enforcement card says.
export function enforcementSummary(enforcing, problem) {
    if (enforcing) {
        return { label: "Enforcing", tone: "green", problem: "" };
    }
    return {
        label: "Not enforcing",
        tone: "red",
        problem: problem ||
            "The kernel does not run lockc's BPF programs. Add bpf to the lsm= boot " +
            "parameter (for example lsm=lockdown,capability,landlock,yama,apparmor,bpf) and reboot.",
    };
}

// Container ids sorted the way people read them: "web-2" before "web-10".
export function compareIds(a, b) {
    return a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" });
}
