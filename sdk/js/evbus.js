/*
 * evbus.js: a browser SDK for ngx_evbus, without dependencies.
 *
 *     import {init, track} from "./evbus.js";
 *     init({endpoint: "https://events.shop.example/v1/batch",
 *           writeKey: "wk_live_7f3a9c2e41d84b6f"});
 *     track("click", {element_id: "buy"});    // returns the event_id
 *
 * evbus.global.js is the same code for a <script> tag (window.evbus); it
 * is made from this file by `node sdk/js/build.mjs`: edit this one.
 *
 * Options of init() (a later call changes those it names): endpoint,
 * writeKey, batchSize (20 events), flushInterval (1000 ms), maxQueue (1000
 * events), maxBackoff (60000 ms), timeout (30000 ms a request), storageKey
 * ("evbus_queue"), onError(status, events).  track() may come before
 * init(); flush() sends what is queued now.
 *
 * Events get a UUIDv7 event_id and a timestamp here, wait in a queue and
 * are posted in batches (batchSize events, or flushInterval ms after the
 * first), one request at a time, with fetch(keepalive).  What is queued
 * when the page is hidden or left goes with navigator.sendBeacon().  Both
 * are simple CORS requests, text/plain with the write key and sent_at in
 * the query string: no preflight, the same URL for both, and a beacon
 * cannot set headers anyway (the location needs evbus_accept_text_plain).
 * sent_at is stamped at each send, retries included, so the module's
 * corrected_timestamp holds even for events sent late.
 *
 * Network errors, timeouts, 408, 429 and 5xx are retried with exponential
 * backoff (0.5 s, doubling up to maxBackoff) and jitter (a wait between
 * half of it and all of it); after a 429 or 503 never before its
 * Retry-After, and up to a second later (the endpoint must expose that
 * header, as the module does).  Other answers are final: 2xx, and 400,
 * 401, 413 and the like, which are never resent (onError(status, events)
 * is told).  While sends fail, offline, or when
 * the page goes away with events that no beacon took (during a backoff,
 * offline, or beyond the beacon quota), the queue is kept in localStorage
 * (at most maxQueue events, the oldest dropped first) and sent by the next
 * page of the origin that calls init(), or on the "online" event.
 *
 * A batch in flight when the page goes away is left to its keepalive
 * request.  Events are sent at least once: downstream deduplication by
 * event_id removes the rare copies (a lost answer, two tabs sharing the
 * stored queue).
 */

const defaults = {
    batchSize: 20,
    flushInterval: 1000,
    maxQueue: 1000,
    maxBackoff: 60000,
    timeout: 30000,
    storageKey: "evbus_queue"
};

let cfg, queue = [], busy, timer, until = 0, tries = 0, stored, hooked;


function init(options) {
    cfg = Object.assign({}, cfg || defaults, options);

    if (!hooked) {
        hooked = 1;
        addEventListener("pagehide", hide);
        document.addEventListener("visibilitychange", () =>
            document.visibilityState === "hidden" && hide());
        addEventListener("online", () => {
            until = 0;
            flush();
        });

        /* what an earlier page left, claimed at once so it is sent once */

        try {
            const old = JSON.parse(localStorage.getItem(cfg.storageKey));

            if (old && old.length) {
                localStorage.removeItem(cfg.storageKey);
                queue = old.concat(queue);
                bound();
            }

        } catch (e) {
            /* no storage (privacy modes, sandboxed frames): memory only */
        }
    }

    flush();
}


function track(type, props) {
    const e = Object.assign({
        event_type: type,
        event_id: uuid7(),
        timestamp: new Date().toISOString()
    }, props);

    e.event_type = type;
    queue.push(e);
    bound();

    if (cfg) {
        if (queue.length >= cfg.batchSize) {
            flush();

        } else if (!timer) {
            timer = setTimeout(flush, cfg.flushInterval);
        }
    }

    return e.event_id;
}


function flush() {
    clearTimeout(timer);
    timer = 0;

    if (!cfg || busy || !queue.length) {
        return;
    }

    const wait = until - Date.now();

    if (wait > 0) {
        timer = setTimeout(flush, wait);
        return;
    }

    /* offline: fetch would fail at once; "online" calls flush() */

    if (navigator.onLine === false) {
        save();
        return;
    }

    const batch = queue.splice(0, cfg.batchSize);
    const body = JSON.stringify(batch);

    busy = 1;

    /*
     * keepalive requests share a 64 KB quota: a bigger batch goes without;
     * credentials for the endpoint's cookies, as beacons send them; a
     * request that hangs must not stop the queue for good
     */

    fetch(url(), {
        method: "POST",
        body: body,
        credentials: "include",
        keepalive: new Blob([body]).size < 60000,
        signal: AbortSignal.timeout && AbortSignal.timeout(cfg.timeout)
    }).then(r => done(batch, r.status, r.headers.get("Retry-After")),
            () => done(batch, 0));
}


function done(batch, status, retryAfter) {
    const last = status > 199 && status < 500 && status !== 408
                 && status !== 429;
    let wait;

    busy = 0;

    if (last) {
        tries = 0;

        if (stored) {
            save();
        }

    } else {
        queue = batch.concat(queue);
        bound();

        wait = Math.min(cfg.maxBackoff, 500 * 2 ** tries++);
        wait = wait / 2 + Math.random() * wait / 2;

        if (retryAfter && (status === 429 || status === 503)) {
            retryAfter = isNaN(retryAfter)
                         ? Date.parse(retryAfter) - Date.now()
                         : retryAfter * 1000;

            if (retryAfter >= 0) {
                wait = retryAfter + Math.random() * Math.min(retryAfter, 1000);
            }
        }

        until = Date.now() + wait;
        save();
    }

    flush();

    if (last && status > 299 && cfg.onError) {
        cfg.onError(status, batch);
    }
}


/* the page is hidden, maybe for good: beacons for what is queued */

function hide() {
    let n;

    if (!cfg) {
        return;
    }

    clearTimeout(timer);
    timer = 0;

    while (queue.length && until <= Date.now() && navigator.onLine !== false) {
        n = Math.min(queue.length, cfg.batchSize);

        if (!navigator.sendBeacon(url(),
                                  JSON.stringify(queue.slice(0, n))))
        {
            break;
        }

        queue.splice(0, n);
    }

    save();

    /* the page may come back (bfcache, another tab): go on then */

    if (queue.length) {
        timer = setTimeout(flush, cfg.flushInterval);
    }
}


function save() {
    try {
        if (queue.length) {
            localStorage.setItem(cfg.storageKey, JSON.stringify(queue));
            stored = 1;

        } else if (stored) {
            localStorage.removeItem(cfg.storageKey);
            stored = 0;
        }

    } catch (e) {
        /* full or unavailable: the queue stays in memory */
    }
}


function bound() {
    const max = (cfg || defaults).maxQueue;

    if (queue.length > max) {
        queue.splice(0, queue.length - max);
    }
}


function url() {
    const u = cfg.endpoint;

    return u + (u.indexOf("?") < 0 ? "?" : "&")
           + (cfg.writeKey
              ? "writeKey=" + encodeURIComponent(cfg.writeKey) + "&" : "")
           + "sent_at=" + encodeURIComponent(new Date().toISOString());
}


/* RFC 9562 version 7: 48 bits of Unix milliseconds, then random bits */

function uuid7() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    let t = Date.now(), i = 6, s = "";

    while (i--) {
        b[i] = t % 256;
        t = Math.floor(t / 256);
    }

    b[6] = b[6] & 0x0f | 0x70;
    b[8] = b[8] & 0x3f | 0x80;

    for (i = 0; i < 16; i++) {
        s += (i === 4 || i === 6 || i === 8 || i === 10 ? "-" : "")
             + (b[i] | 256).toString(16).slice(1);
    }

    return s;
}


export {init, track, flush};
export default {init, track, flush};
