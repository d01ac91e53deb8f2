'use strict';

// Segment's own Node.js library, pointed at nginx (t/71-segment-node.t):
//   node segment-client.js HOST PATH WRITE_KEY RUN
// sends a track, identify, page, group and alias call, flushes, and prints
// one JSON line: the messageId of each call, every error the library
// reported, and the status of every HTTP response it saw (with the
// X-Retry-Count of the request).

const { Analytics } = require('@segment/analytics-node');

const [host, path, writeKey, run] = process.argv.slice(2);

const analytics = new Analytics({
    writeKey,
    host,
    path,
    flushAt: 10,
    flushInterval: 500,
    maxRetries: 5,
    httpRequestTimeout: 5000,
});

const ids = {};
const errors = [];
const responses = [];

analytics.on('error', (e) => {
    errors.push('error event: ' + String((e && (e.reason || e.code)) || e));
});

analytics.on('http_response', (r) => {
    responses.push(r.status);
});

function done(kind) {
    return (err, ctx) => {
        if (err) {
            errors.push(kind + ': ' + String(err.reason || err));
            return;
        }

        if (ctx.failedDelivery()) {
            errors.push(kind + ': ' + String(ctx.failedDelivery().reason));
            return;
        }

        ids[kind] = ctx.event.messageId;
    };
}

const user = 'user-' + run;
const anon = 'anon-' + run;

analytics.track({
    userId: user,
    event: 'Order Completed',
    properties: { total: 12.5, sku: 'A-1', run },
}, done('track'));

analytics.identify({
    userId: user,
    traits: { plan: 'pro', run },
}, done('identify'));

analytics.page({
    anonymousId: anon,
    name: 'Home',
    properties: { path: '/', run },
}, done('page'));

analytics.group({
    userId: user,
    groupId: 'group-' + run,
    traits: { name: 'ACME', run },
}, done('group'));

analytics.alias({
    userId: user,
    previousId: anon,
}, done('alias'));

analytics.closeAndFlush({ timeout: 30000 }).then(() => {
    process.stdout.write(JSON.stringify({ ids, errors, responses }) + '\n');
}, (e) => {
    errors.push('closeAndFlush: ' + String(e));
    process.stdout.write(JSON.stringify({ ids, errors, responses }) + '\n');
});
