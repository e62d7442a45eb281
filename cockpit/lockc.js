// The page's wiring: org.lockc.Manager through cockpit.dbus, rendered into
// index.html. Everything a container can influence (ids, paths, process
// names) reaches the page through textContent, never as markup.
import {
    DenialFeed, compareIds, denialFromArgs, enforcementSummary, explainError, formatTime,
    operationWords, resultText, totalDecisions,
} from "./model.js";

/* global cockpit */

const BUS_NAME = "org.lockc.Manager";
const MANAGER_PATH = "/org/lockc/Manager";
const MANAGER_IFACE = "org.lockc.Manager";
const CONTAINER_IFACE = "org.lockc.Container";
// Decisions has no change signal: the page reads it again this often, for
// at most this many containers each time (in turn), so that a host with a
// thousand containers does not cost lockcd a thousand calls per tick.
const DECISIONS_REFRESH_MS = 5000;
const DECISIONS_PER_REFRESH = 100;
// How long an error stays on screen.
const ALERT_MS = 15000;
const RECONNECT_MS = 3000;

function element(tag, options = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(options)) {
        if (key === "text") {
            node.textContent = value;
        } else if (key === "dataset") {
            Object.assign(node.dataset, value);
        } else {
            node.setAttribute(key, value);
        }
    }
    for (const child of children) {
        node.append(child);
    }
    return node;
}

function fillSelect(select, values, current) {
    if (select.dataset.values !== values.join(",")) {
        select.replaceChildren(...values.map(v => element("option", { value: v, text: v })));
        select.dataset.values = values.join(",");
    }
    // Not while the user's pick is on its way to lockcd.
    if (select.dataset.pending !== "1") {
        select.value = current;
    }
}

class LockcPage {
    constructor() {
        this.$ = id => document.getElementById(id);
        this.rows = new Map(); // object path -> { proxy, row, decisions }
        this.byId = new Map(); // container id -> the same entry
        this.refreshCursor = 0;
        this.feed = new DenialFeed();
        this.words = {};
        this.client = null;
        this.renderQueued = false;
        this.$("default-level").addEventListener("change", event =>
            this.change(event.target, "SetDefaultLevel", [event.target.value, {}],
                        "change the default level"));
        this.$("default-mode").addEventListener("change", event =>
            this.change(event.target, "SetDefaultMode", [event.target.value, {}],
                        "change the default mode"));
        setInterval(() => this.refreshDecisions(), DECISIONS_REFRESH_MS);
        this.watchSuperuser();
        this.connect();
    }

    // Administrative access decides which bridge (the user's or root's)
    // carries the calls: reconnect when it changes.
    watchSuperuser() {
        const internal = cockpit.dbus(null, { bus: "internal" });
        const superuser = internal.proxy("cockpit.Superuser", "/superuser");
        let last = null;
        superuser.wait().then(() => { last = superuser.Current; });
        superuser.addEventListener("changed", () => {
            if (last !== null && superuser.Current !== last) {
                this.connect();
            }
            last = superuser.Current;
        });
    }

    connect() {
        if (this.client) {
            this.client.close();
        }
        for (const { row } of this.rows.values()) {
            row.remove();
        }
        this.rows.clear();
        this.byId.clear();
        this.renderContainers();
        const client = cockpit.dbus(BUS_NAME, { bus: "system", superuser: "try" });
        this.client = client;
        client.addEventListener("close", (_event, options) => {
            if (this.client !== client) {
                return;
            }
            this.showServiceProblem(explainError(options, "talk to lockcd"));
            setTimeout(() => { if (this.client === client) this.connect(); }, RECONNECT_MS);
        });
        // lockcd restarted: its subscriptions ended with its old connection.
        let lastOwner = null;
        client.addEventListener("owner", (_event, owner) => {
            if (owner) {
                this.showServiceProblem("");
                if (lastOwner !== null && owner !== lastOwner) {
                    this.subscribe(client);
                }
                lastOwner = owner;
            } else {
                this.showServiceProblem(explainError(
                    { name: "org.freedesktop.DBus.Error.NameHasNoOwner" }, ""));
            }
        });

        this.manager = client.proxy(MANAGER_IFACE, MANAGER_PATH);
        this.manager.addEventListener("changed", () => this.renderManager());
        this.manager.wait()
                .then(() => this.renderManager())
                .catch(error => this.showServiceProblem(explainError(error, "reach lockcd")));

        const containers = client.proxies(CONTAINER_IFACE, MANAGER_PATH);
        containers.addEventListener("added", (_event, proxy) => this.upsert(proxy));
        containers.addEventListener("changed", (_event, proxy) => this.upsert(proxy));
        containers.addEventListener("removed", (_event, proxy) => this.remove(proxy));
        containers.wait().then(() => {
            for (const proxy of Object.values(containers)) {
                if (proxy && proxy.iface === CONTAINER_IFACE && proxy.valid) {
                    this.upsert(proxy);
                }
            }
        });

        client.call(MANAGER_PATH, MANAGER_IFACE, "DescribeLevels", [])
                .then(([levels]) => { this.words = operationWords(levels); })
                .catch(() => {}); // words are a nicety; the hook name stays
        // "coalesced": a container repeating one denial costs the bus (and
        // this page) one entry per 100 ms, with its count, not a signal each.
        client.subscribe({ path: MANAGER_PATH, interface: MANAGER_IFACE, member: "DeniedCoalesced" },
                         (_path, _iface, _signal, [entries]) => entries.forEach(e => this.denied(e)));
        this.subscribe(client);
    }

    // Denial signals go to subscribers only (they name host paths), and
    // polkit decides who may subscribe.
    subscribe(client) {
        const status = this.$("feed-status");
        client.call(MANAGER_PATH, MANAGER_IFACE, "SubscribeDenials",
                    [{ coalesced: { t: "b", v: true } }])
                .then(() => {
                    status.textContent = "Live: denials appear here as the kernel makes them.";
                    status.dataset.state = "live";
                })
                .catch(error => {
                    status.textContent = error && error.name === "org.freedesktop.DBus.Error.AccessDenied"
                        ? "You are not allowed to see denials: they name files and processes of " +
                          "the host. Turn on administrative access, or ask an administrator to add " +
                          "your account to the group lockc."
                        : explainError(error, "subscribe to denials");
                    status.dataset.state = "refused";
                });
    }

    showServiceProblem(text) {
        this.$("service-problem").hidden = !text;
        this.$("service-problem-text").textContent = text;
    }

    alert(text) {
        const close = element("button", { class: "pf-c-button pf-m-plain", type: "button",
                                          "aria-label": "Close" }, ["×"]);
        const item = element("li", { class: "pf-c-alert-group__item" }, [
            element("div", { class: "pf-c-alert pf-m-danger", role: "alert" }, [
                element("p", { class: "pf-c-alert__title", text }),
                element("div", { class: "pf-c-alert__action" }, [close]),
            ]),
        ]);
        close.addEventListener("click", () => item.remove());
        this.$("alerts").append(item);
        setTimeout(() => item.remove(), ALERT_MS);
    }

    // A select's change, sent to lockcd; on failure the select shows the
    // value lockcd still has and the user reads why.
    change(select, method, args, doing, restore = () => {}) {
        select.dataset.pending = "1";
        select.disabled = true;
        this.client.call(MANAGER_PATH, MANAGER_IFACE, method, args)
                .catch(error => {
                    restore();
                    this.alert(explainError(error, doing));
                })
                .finally(() => {
                    select.dataset.pending = "0";
                    select.disabled = false;
                    this.renderManager();
                });
    }

    renderManager() {
        const m = this.manager;
        if (!m || !m.valid) {
            return;
        }
        const summary = enforcementSummary(m.Enforcing, m.EnforcementProblem);
        const label = this.$("enforcing");
        label.className = `pf-c-label pf-m-${summary.tone}`;
        label.dataset.enforcing = m.Enforcing ? "yes" : "no";
        label.firstElementChild.textContent = summary.label;
        this.$("problem-group").hidden = !summary.problem;
        this.$("enforcement-problem").textContent = summary.problem;
        this.$("kernel-lsms").textContent = (m.KernelLsms || []).join(", ");
        this.$("version").textContent = m.Version || "";
        fillSelect(this.$("default-level"), m.Levels || [], m.DefaultLevel);
        fillSelect(this.$("default-mode"), m.Modes || [], m.DefaultMode);
        for (const entry of this.rows.values()) {
            this.renderRow(entry);
        }
    }

    upsert(proxy) {
        let entry = this.rows.get(proxy.path);
        if (!entry) {
            entry = { proxy, decisions: 0, row: this.newRow(proxy) };
            this.rows.set(proxy.path, entry);
            this.byId.set(proxy.Id, entry);
            this.readDecisions(entry);
        }
        entry.proxy = proxy;
        this.renderRow(entry);
        this.renderContainers();
    }

    remove(proxy) {
        const entry = this.rows.get(proxy.path);
        if (entry) {
            entry.row.remove();
            this.rows.delete(proxy.path);
            this.byId.delete(entry.proxy.Id);
            this.renderContainers();
        }
    }

    newRow(proxy) {
        const level = element("select", { class: "pf-c-form-control", "aria-label": "Level",
                                          dataset: { field: "level" } });
        const mode = element("select", { class: "pf-c-form-control", "aria-label": "Mode",
                                         dataset: { field: "mode" } });
        const cell = (label, child, extra = {}) =>
            element("td", { role: "gridcell", "data-label": label, ...extra }, [child]);
        const row = element("tr", { role: "row", dataset: { container: proxy.Id } }, [
            cell("Container", element("span", { class: "lockc-id", text: proxy.Id })),
            cell("Runtime", element("span", { dataset: { field: "runtime" } })),
            cell("Level", level),
            cell("Mode", mode),
            cell("State", element("span", { dataset: { field: "state" } })),
            cell("Denials", element("span", { dataset: { field: "denials" } }),
                 { class: "lockc-number" }),
        ]);
        level.addEventListener("change", () => {
            const entry = this.rows.get(proxy.path);
            this.change(level, "SetLevel", [entry.proxy.Id, level.value, {}],
                        `change the level of ${entry.proxy.Id}`,
                        () => { level.value = entry.proxy.Level; });
        });
        mode.addEventListener("change", () => {
            const entry = this.rows.get(proxy.path);
            this.change(mode, "SetMode", [entry.proxy.Id, mode.value, {}],
                        `change the mode of ${entry.proxy.Id}`,
                        () => { mode.value = entry.proxy.Mode; });
        });
        return row;
    }

    renderRow(entry) {
        const { proxy, row } = entry;
        const field = name => row.querySelector(`[data-field="${name}"]`);
        const levels = (this.manager && this.manager.Levels) || [proxy.Level];
        const modes = (this.manager && this.manager.Modes) || [proxy.Mode];
        fillSelect(field("level"), levels, proxy.Level);
        fillSelect(field("mode"), modes, proxy.Mode);
        field("runtime").textContent = proxy.Runtime || "—";
        field("state").textContent = proxy.State;
        field("denials").textContent = String(entry.decisions);
        row.dataset.level = proxy.Level;
        row.dataset.mode = proxy.Mode;
    }

    renderContainers() {
        const body = this.$("container-rows");
        const sorted = [...this.rows.values()].sort((a, b) => compareIds(a.proxy.Id, b.proxy.Id));
        const order = sorted.map(e => e.row);
        if (order.some((row, i) => body.children[i] !== row) || body.children.length !== order.length) {
            body.replaceChildren(...order);
        }
        this.$("container-count").textContent = String(order.length);
        this.$("no-containers").hidden = order.length > 0;
    }

    readDecisions(entry) {
        this.client.call(entry.proxy.path, "org.freedesktop.DBus.Properties", "Get",
                         [CONTAINER_IFACE, "Decisions"])
                .then(([variant]) => {
                    entry.decisions = totalDecisions(variant.v);
                    this.renderRow(entry);
                })
                .catch(() => {}); // gone meanwhile: "removed" follows
    }

    refreshDecisions() {
        if (document.hidden || !this.client) {
            return;
        }
        const entries = [...this.rows.values()];
        const count = Math.min(entries.length, DECISIONS_PER_REFRESH);
        for (let i = 0; i < count; i += 1) {
            this.readDecisions(entries[(this.refreshCursor + i) % entries.length]);
        }
        this.refreshCursor = entries.length ? (this.refreshCursor + count) % entries.length : 0;
    }

    denied(args) {
        const denial = denialFromArgs(args);
        this.feed.add(denial);
        const entry = this.byId.get(denial.container);
        if (entry) {
            entry.decisions += denial.count;
            this.renderRow(entry);
        }
        // Many denials at once: draw the feed once per frame.
        if (!this.renderQueued) {
            this.renderQueued = true;
            requestAnimationFrame(() => {
                this.renderQueued = false;
                this.renderFeed();
            });
        }
    }

    renderFeed() {
        const rows = this.feed.entries.map(d => {
            const cell = (label, text, extra = {}) =>
                element("td", { role: "gridcell", "data-label": label, text, ...extra });
            return element("tr", { role: "row", dataset: { container: d.container, hook: d.hook } }, [
                cell("Time", formatTime(d.time)),
                cell("Container", d.container),
                cell("Operation", d.hook, this.words[d.hook] ? { title: this.words[d.hook] } : {}),
                cell("Target", d.target || "—", { class: "lockc-target" }),
                cell("Process", `${d.comm} (pid ${d.pid}, uid ${d.uid})`),
                cell("Result", resultText(d)),
            ]);
        });
        this.$("denial-rows").replaceChildren(...rows);
    }
}

cockpit.transport.wait(() => {
    // eslint-disable-next-line no-new
    new LockcPage();
});
