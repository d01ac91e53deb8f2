// The browser SDK in Debian's Chromium, driven by playwright-core (from
// .cache/npm, t/browser/install.sh).  Run by t/51-browser-sdk.t, which
// starts nginx (the endpoint on one port, the pages on another: another
// origin) and then checks Kafka.  Input: the JSON in EVBUS_SDK_TEST
//
//     {"page": "http://127.0.0.1:P2", "endpoint": ".../v1/batch",
//      "small": ".../v1/small" (evbus_max_events 2), "writeKey": "...",
//      "down": "file whose existence makes the endpoint answer 503"}
//
// Output: one JSON line, {"checks": [[ok, name, diag], ...], "events":
// {event_id: {"case", "type", "retried"}}, "absent": [event_id, ...],
// "beacon": [event_id, ...]}: "events" must each be in Kafka exactly once,
// "absent" never, and "beacon" came in one request, a beacon.

import {createRequire} from "node:module";
import {unlinkSync, writeFileSync} from "node:fs";

const arg = JSON.parse(process.env.EVBUS_SDK_TEST);
const npm = process.env.EVBUS_NPM_DIR
            || new URL("../../.cache/npm/", import.meta.url).pathname;
const {chromium} = createRequire(npm + "/")("playwright-core");

const checks = [];
const events = {};
const absent = [];
const beacon = [];
const uuid7 =
    /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const key = arg.writeKey;

function check(ok, name, diag) {
    checks.push([!!ok, name, ok ? null : JSON.stringify(diag ?? null)]);
    return ok;
}

function same(got, want, name) {
    return check(JSON.stringify(got) === JSON.stringify(want), name,
                 {got, want});
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

async function until(what, ms) {
    const end = Date.now() + ms;

    while (Date.now() < end) {
        if (what()) {
            return true;
        }
        await sleep(50);
    }

    return what();
}

// every request to the endpoint host, with its answer
function recorder(context) {
    const log = [];
    const host = new URL(arg.endpoint).host;

    context.on("request", r => {
        if (new URL(r.url()).host !== host) {
            return;
        }

        let ids = null;

        try {
            ids = JSON.parse(r.postData()).map(e => e.event_id);
        } catch (e) {
            // no body (a preflight)
        }

        const u = new URL(r.url());
        log.push({r, at: Date.now(), method: r.method(), type: r.resourceType(),
                  path: u.pathname, writeKey: u.searchParams.get("writeKey"),
                  sentAt: u.searchParams.get("sent_at"),
                  contentType: r.headers()["content-type"], ids});
    });

    context.on("response", r => {
        const e = log.find(x => x.r === r.request());
        if (e) {
            e.status = r.status();
            e.headers = r.headers();
            e.done = Date.now();
        }
    });

    context.on("requestfailed", r => {
        const e = log.find(x => x.r === r.request());
        if (e) {
            e.failed = r.failure()?.errorText || "failed";
            e.done = Date.now();
        }
    });

    return log;
}

function show(log) {
    return log.map(e => ({method: e.method, type: e.type, path: e.path,
                          status: e.status, failed: e.failed,
                          ids: e.ids && e.ids.length, at: e.at}));
}

// ids that a 2xx answer took, each as often as it was taken
function accepted(log) {
    return log.filter(e => e.status >= 200 && e.status < 300)
              .flatMap(e => e.ids || []);
}

async function stored(page) {
    return page.evaluate(() => JSON.parse(localStorage.getItem("evbus_queue"))
                                ?.map(e => e.event_id) ?? null);
}

function page(path, options) {
    const q = new URLSearchParams(Object.assign({endpoint: arg.endpoint,
                                                 writeKey: key}, options));
    return arg.page + path + "?" + q;
}

const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    // playwright adds a new empty --user-data-dir of its own
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"]
});

const pageErrors = [];

async function open(context, url) {
    const p = await context.newPage();
    p.on("pageerror", e => pageErrors.push(String(e)));
    await p.goto(url);
    return p;
}

try {

/*
 * 1. Clicks on a page of another origin (the <script> build): batches by
 * count and by time with fetch, the rest by a beacon when the page is
 * left.
 */

{
    const t0 = Date.now();
    const ctx = await browser.newContext();
    const log = recorder(ctx);
    const p = await open(ctx, page("/sdk/js/example.html",
                                   {batchSize: 5, flushInterval: 3000}));

    for (let i = 0; i < 10; i++) {
        await p.click(["#buy", "#save"][i % 2]);
    }

    await until(() => log.filter(e => e.done).length >= 2, 10000);

    let clicked = await p.$$eval("#log li", li => li.map(x => x.textContent));
    same(log.map(e => e.ids), [clicked.slice(0, 5), clicked.slice(5, 10)],
         "click: 10 clicks, batchSize 5: two requests of five, in order");
    same(log.map(e => e.status), [202, 202], "click: both 202");

    const one = Date.now();
    await p.click("#share");
    await until(() => log.length >= 3 && log[2].done, 8000);
    clicked = await p.$$eval("#log li", li => li.map(x => x.textContent));
    same(log[2]?.ids, [clicked[10]], "click: one click sent alone");
    check(log[2] && log[2].at - one >= 2900,
          "click: ... after flushInterval (3000 ms)",
          log[2] && log[2].at - one);

    // no timer may send these before the page is left: init() again
    await p.evaluate(() => evbus.init({flushInterval: 600000}));

    for (const b of ["#buy", "#save", "#share"]) {
        await p.click(b);
    }
    clicked = await p.$$eval("#log li", li => li.map(x => x.textContent));
    check(log.length === 3, "click: three more clicks wait in the queue",
          show(log));

    // the beacon is not among the page's requests: t/51 finds it in
    // nginx's log and Kafka ("beacon")
    await p.goto(arg.page + "/away");
    await sleep(1000);

    check(log.length === 3, "click: leaving the page: no fetch",
          show(log));
    same(await stored(p), null, "click: nothing left in localStorage");

    for (const e of log) {
        const sent = Date.parse(e.sentAt);

        if (!(e.method === "POST" && e.writeKey === key
              && /^text\/plain/.test(e.contentType)
              && sent >= t0 - 1000 && sent <= e.at + 1000))
        {
            check(0, "click: every request a POST of text/plain with"
                  + " writeKey and sent_at in the URL", e);
        }
    }

    same(log.filter(e => e.method !== "POST").length, 0,
         "click: no preflight");
    same(log[0]?.headers?.["access-control-expose-headers"], "Retry-After",
         "click: Retry-After exposed to the page");

    const now = Date.now();
    same(clicked.length, 14, "click: 14 clicks");
    same(new Set(clicked).size, 14, "click: 14 distinct ids");

    for (const id of clicked) {
        const ms = parseInt(id.replace(/-/g, "").slice(0, 12), 16);

        check(uuid7.test(id) && ms >= t0 && ms <= now,
              "click: " + id + " is a UUIDv7 of the test's time", {t0, now});
        events[id] = {case: "click", type: "click"};
    }

    beacon.push(...clicked.slice(11));

    await ctx.close();
}

/*
 * 2. The ES module build; the endpoint answers 503 with Retry-After: 1
 * for a while, then recovers.
 */

{
    const ctx = await browser.newContext();
    const log = recorder(ctx);
    const p = await open(ctx, page("/t/browser/module.html",
                                   {batchSize: 5, flushInterval: 200}));

    same(await p.evaluate(() => window.sdk.same), true,
         "retry: the module's default export and named exports agree");

    writeFileSync(arg.down, "");

    const ids = [];
    for (let n = 0; n < 7; n++) {
        ids.push(await p.evaluate(n => window.sdk.track("retry", {n}), n));
    }

    await until(() => log.filter(e => e.status === 503).length >= 3, 15000);

    const kept = await stored(p);
    same(kept && [...kept].sort(), [...ids].sort(),
         "retry: while refused, all 7 events are in localStorage");

    unlinkSync(arg.down);

    await until(() => new Set(accepted(log)).size >= 7, 15000);
    await sleep(500);

    const got = accepted(log);
    same([...got].sort(), [...ids].sort(),
         "retry: after recovery every event accepted exactly once");

    const refused = log.filter(e => e.status === 503);
    check(refused.length >= 3, "retry: at least three 503 answers",
          show(log));

    for (const e of refused) {
        const next = log[log.indexOf(e) + 1];

        if (e.headers["retry-after"] !== "1"
            || e.headers["access-control-allow-origin"] !== arg.page
            || (next && next.at - e.done < 950))
        {
            check(0, "retry: each 503 has Retry-After: 1 and CORS headers,"
                  + " and the SDK waits a second at least", show(log));
            break;
        }
    }

    check(log.every(e => !e.failed), "retry: no request failed",
          show(log));
    same(new Set(log.map(e => e.sentAt)).size, log.length,
         "retry: sent_at stamped anew for each send");
    same(await stored(p), null, "retry: localStorage empty once sent");

    for (const id of ids) {
        events[id] = {case: "retry", type: "retry", retried: 1};
    }

    /*
     * 3. Final answers are never retried: 413 (evbus_max_events 2), 400
     * (no valid event); onError hears of them.
     */

    const before = log.length;

    await p.evaluate(small => window.sdk.init({endpoint: small}), arg.small);
    const big = [];
    for (let n = 0; n < 3; n++) {
        big.push(await p.evaluate(n => window.sdk.track("final", {n}), n));
    }
    await until(() => log.length > before && log[log.length - 1].done, 5000);

    await p.evaluate(e => window.sdk.init({endpoint: e}), arg.endpoint);
    const bad = await p.evaluate(() => window.sdk.track("bad type!", {}));
    await until(() => log.length > before + 1 && log[log.length - 1].done,
                5000);

    // the module sends no Basic challenge to a page: no password prompt
    await p.evaluate(() => window.sdk.init({writeKey: "wk_live_unknown"}));
    const nokey = await p.evaluate(() => window.sdk.track("final", {}));

    await sleep(4000);

    const last = log.slice(before);
    same(last.map(e => [e.path, e.status, e.ids]),
         [["/v1/small", 413, big], ["/v1/batch", 400, [bad]],
          ["/v1/batch", 401, [nokey]]],
         "final: a 413, a 400 and a 401, each sent once, never again");
    same(await p.evaluate(() => window.errors),
         [{status: 413, ids: big}, {status: 400, ids: [bad]},
          {status: 401, ids: [nokey]}],
         "final: onError(413), onError(400), onError(401)");
    same(await stored(p), null, "final: nothing kept");

    absent.push(...big, bad, nokey);
    await ctx.close();
}

/*
 * 4. Offline: a bounded queue in localStorage, sent by the next page of the
 * origin, and on the "online" event.
 */

{
    const ctx = await browser.newContext();
    const log = recorder(ctx);
    const url = page("/sdk/js/example.html",
                     {batchSize: 5, flushInterval: 300, maxQueue: 4});
    let p = await open(ctx, url);

    await ctx.setOffline(true);

    for (let i = 0; i < 6; i++) {
        await p.click("#buy");
    }

    const six = await p.$$eval("#log li", li => li.map(x => x.textContent));
    await sleep(1000);

    same(log.length, 0, "offline: nothing sent");
    same(await stored(p), six.slice(2),
         "offline: the newest 4 (maxQueue) in localStorage");

    await p.goto("about:blank");
    await sleep(300);
    same(log.length, 0, "offline: no beacon when leaving the page");

    await ctx.setOffline(false);
    p = await open(ctx, url);

    await until(() => accepted(log).length >= 4, 10000);
    same(accepted(log), six.slice(2),
         "offline: the next page sends the stored events");
    same(await stored(p), null, "offline: ... and empties localStorage");

    await ctx.setOffline(true);
    await p.click("#save");
    await p.click("#share");
    const two = (await p.$$eval("#log li", li => li.map(x => x.textContent)));
    await sleep(800);
    same(log.length, 1, "offline again: nothing sent");

    await ctx.setOffline(false);
    await until(() => accepted(log).length >= 6, 5000);
    same(accepted(log).slice(4), two, "online event: the queue is sent");

    for (const id of six.slice(2).concat(two)) {
        events[id] = {case: "offline", type: "click"};
    }
    absent.push(...six.slice(0, 2));

    await ctx.close();
}

} catch (e) {
    check(0, "the browser test ran to its end", String(e.stack || e));

} finally {
    await browser.close();
}

same(pageErrors, [], "no errors in the pages");

console.log(JSON.stringify({checks, events, absent, beacon}));
