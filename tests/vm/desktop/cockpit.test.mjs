// The Cockpit page in a real browser: Debian's Chromium, driven by
// Playwright, against cockpit-ws in the test VM (real login through PAM,
// real lockcd under systemd, real polkit, a real Docker container denied
// by real BPF LSM programs). Run by tests/vm/desktop/run.sh, which boots
// the VM and passes:
//   LOCKC_COCKPIT_URL   http://127.0.0.1:<port> (QEMU forwards it to 9090)
//   LOCKC_CONTAINER     the id of the container the guest keeps denied
//   LOCKC_PASSWORD      the password of the guest's user lockc-admin
//   LOCKC_NODE_MODULES  where npm put playwright-core
//   LOCKC_SHOTS         where screenshots go: the VM's OUT directory, which
//                       the guest shares (requests to it go there too)
// Prints "ok - <check>" per check; the first failure ends the run.
import { strict as assert } from "node:assert";
import { readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const env = name => {
    const value = process.env[name];
    if (!value) {
        throw new Error(`${name} is not set (run tests/vm/desktop/run.sh)`);
    }
    return value;
};
const base = env("LOCKC_COCKPIT_URL");
// A kernel without bpf in lsm= (run.sh --unenforced): the page must say
// lockc is not enforcing, and how to fix that.
const unenforced = process.env.LOCKC_UNENFORCED === "1";
const container = unenforced ? "" : env("LOCKC_CONTAINER");
const password = env("LOCKC_PASSWORD");
const shots = env("LOCKC_SHOTS");
const { chromium } = createRequire(path.join(env("LOCKC_NODE_MODULES"), "x.js"))("playwright-core");

// The guest is emulated (TCG): Cockpit's first answers take many seconds.
const SLOW = 180_000;

// A file the guest writes (over the shared OUT directory), once it is there.
async function fileContents(file) {
    for (const deadline = Date.now() + SLOW; Date.now() < deadline;) {
        const text = await readFile(file, "utf8").catch(() => "");
        if (text.trim()) {
            return text.trim();
        }
        await new Promise(resolve => setTimeout(resolve, 1000));
    }
    throw new Error(`the guest wrote no ${file} within ${SLOW / 1000} s`);
}
let checks = 0;
const ok = what => { checks += 1; console.log(`ok - ${what}`); };

const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    // As on this machine's probe: no sandbox as root, no GPU, and no
    // background connections to the closed network.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

async function failWithShot(page, error) {
    await page.screenshot({ path: path.join(shots, "cockpit-failure.png"), fullPage: true })
            .catch(() => {});
    throw error;
}

// What the page says on a kernel without the BPF LSM, where lockcd runs
// with --allow-unenforced.
async function notEnforcingChecks(page, frame) {
    await frame.locator('#enforcing[data-enforcing="no"]').waitFor();
    assert.equal((await frame.locator("#enforcing").textContent()).trim(), "Not enforcing");
    const problem = frame.locator("#enforcement-problem");
    await problem.waitFor();
    assert.match(await problem.textContent(), /lsm=/);
    assert.doesNotMatch(await frame.locator("#kernel-lsms").textContent(), /\bbpf\b/);
    ok("the page says lockc is not enforcing, and why, naming the lsm= boot parameter");
    await frame.locator("#no-containers").waitFor();
    assert.equal(await frame.locator("#container-count").textContent(), "0");
    ok("with no containers the table says so");
    await page.screenshot({ path: path.join(shots, "cockpit-unenforced.png"), fullPage: true });
}

// Everything a user does on a host where lockc enforces.
async function enforcingChecks(page, frame) {
    await frame.locator('#enforcing[data-enforcing="yes"]').waitFor();
    assert.match(await frame.locator("#kernel-lsms").textContent(), /\bbpf\b/);
    ok("the page shows lockc enforcing, with bpf among the kernel's LSMs");

    const row = frame.locator(`#container-rows tr[data-container="${container}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute("data-level"), "baseline");
    assert.equal((await row.locator('[data-field="runtime"]').textContent()).trim(), "docker");
    assert.equal((await row.locator('[data-field="state"]').textContent()).trim(), "active");
    assert.equal(await frame.locator("#default-level").inputValue(), "baseline");
    assert.equal(await frame.locator("#default-mode").inputValue(), "enforce");
    ok("the container table lists the Docker container at baseline, and the defaults");

    // Rows come and go live (ObjectManager): the guest starts a second
    // container on request, then removes it (guest.sh).
    await writeFile(path.join(shots, "desktop-request-start"), "");
    const second = await fileContents(path.join(shots, "desktop-second"));
    const secondRow = frame.locator(`#container-rows tr[data-container="${second}"]`);
    await secondRow.waitFor();
    assert.equal(await frame.locator("#container-count").textContent(), "2");
    ok("a container started while the page is open appears in the table (InterfacesAdded)");
    await writeFile(path.join(shots, "desktop-request-stop"), "");
    await secondRow.waitFor({ state: "detached" });
    assert.equal(await frame.locator("#container-count").textContent(), "1");
    ok("it goes from the table once Docker has removed it (InterfacesRemoved)");

    // Without administrative access: reading works, changing does not,
    // and the user is told why in words.
    await frame.locator('#feed-status[data-state="refused"]').waitFor();
    assert.match(await frame.locator("#feed-status").textContent(), /not allowed to see denials/);
    ok("in limited access the denial feed says the user may not see denials");
    await row.locator('select[data-field="level"]').selectOption("restricted");
    const refused = frame.locator("#alerts .pf-c-alert__title").first();
    await refused.waitFor();
    assert.match(await refused.textContent(),
                 new RegExp(`^Could not change the level of ${container}: You are not allowed`));
    await frame.locator(`#container-rows tr[data-container="${container}"] select:not([disabled])`)
            .first().waitFor();
    assert.equal(await row.locator('select[data-field="level"]').inputValue(), "baseline");
    assert.equal(await row.getAttribute("data-level"), "baseline");
    ok("in limited access a level change is refused in plain words and nothing changes");

    // Administrative access, as a Cockpit user turns it on: sudo with
    // the login password. lockcd then sees root, whom polkit allows.
    await page.getByRole("button", { name: "Limited access" }).click();
    await page.locator("#switch-to-admin-access-password").fill(password);
    await page.getByRole("button", { name: "Authenticate" }).click();
    // The page reconnects as root: lockcd now lets it subscribe.
    await frame.locator('#feed-status[data-state="live"]').waitFor();
    await page.getByText("Administrative access", { exact: true }).first().waitFor();
    ok("administrative access is turned on (sudo), and the page reconnects with it");

    const denial = frame.locator(`#denial-rows tr[data-container="${container}"]`).first();
    await denial.waitFor();
    const denialText = await denial.textContent();
    assert.match(denialText, /uevent_seqnum/);
    assert.match(denialText, /denied/);
    ok("a denial of the container (its read of /sys/kernel/uevent_seqnum) appears in the feed");
    assert.ok(Number(await row.locator('[data-field="denials"]').textContent()) > 0);
    ok("the container's denial count is above zero");

    await row.locator('select[data-field="level"]').selectOption("restricted");
    await frame.locator(`#container-rows tr[data-container="${container}"][data-level="restricted"]`)
            .waitFor();
    ok("a level change to restricted is made and comes back from lockcd (PropertiesChanged)");

    await row.locator('select[data-field="mode"]').selectOption("audit");
    await frame.locator(`#container-rows tr[data-container="${container}"][data-mode="audit"]`)
            .waitFor();
    const audited = frame.locator(`#denial-rows tr[data-container="${container}"]`, {
        hasText: "audited",
    }).first();
    await audited.waitFor();
    assert.match(await audited.textContent(), /uevent_seqnum/);
    ok("in audit mode the container's reads are reported as audited, not denied");

    await frame.locator("#default-level").selectOption("restricted");
    await frame.locator("#default-level:not([disabled])").waitFor();
    assert.equal(await frame.locator("#default-level").inputValue(), "restricted");
    // (The alert of the refused change above may still be on screen.)
    assert.equal(await frame.locator("#alerts .pf-c-alert__title", { hasText: "default level" })
            .count(), 0);
    ok("the default level is changed to restricted without an error");
}

try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    context.setDefaultTimeout(SLOW);
    const page = await context.newPage();
    const consoleErrors = [];
    page.on("console", message => {
        if (message.type() === "error") {
            consoleErrors.push(message.text());
        }
    });

    try {
        // Log in as Cockpit's users do: PAM checks the password.
        await page.goto(`${base}/`, { timeout: SLOW });
        await page.fill("#login-user-input", "lockc-admin");
        await page.fill("#login-password-input", password);
        await page.click("#login-button");
        await page.getByRole("button", { name: "Limited access" }).waitFor();
        ok("logs in to Cockpit as lockc-admin, in limited access");

        await page.goto(`${base}/lockc`);
        const frame = page.frameLocator('iframe[name="cockpit1:localhost/lockc"]');
        if (unenforced) {
            await notEnforcingChecks(page, frame);
        } else {
            await enforcingChecks(page, frame);
            await page.screenshot({ path: path.join(shots, "cockpit-lockc.png"), fullPage: true });
        }
        // The page must not have thrown; Cockpit's own noise is not ours.
        const ours = consoleErrors.filter(text => /lockc|model\.js/.test(text));
        assert.deepEqual(ours, []);
        ok("no errors from the page's scripts in the browser console");
    } catch (error) {
        await failWithShot(page, error);
    }
} finally {
    await browser.close();
}
console.log(`${checks} checks passed`);
