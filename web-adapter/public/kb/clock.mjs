// kb/clock.mjs - the bridge's clock for the pages' timers (card ages, the
// board's "ready since"). Cheap tablets at an outlet with no internet often
// have the wrong time; every age is measured against the bridge's clock, so
// a tablet 10 minutes fast does not turn every card red.
//
// The offset comes from the bridge's /health (same origin as the page): its
// `timestamp` is taken as the bridge's time at the middle of the request.
// Measured a few times, the sample with the shortest round trip wins, and it
// is measured again now and then (tablets' clocks drift and get corrected).

/** Milliseconds to add to Date.now() to get the bridge's time (0 until measured). */
let offsetMs = 0;
let bestRtt = Infinity;
let measured = false;

/** The bridge's time now, in ms since 1970. */
export const bridgeNow = () => Date.now() + offsetMs;
/** The current offset (bridge minus this device), in ms. */
export const clockOffset = () => offsetMs;
/** True once one sample has been taken. */
export const clockMeasured = () => measured;

/** Takes one sample: resolves to {offset, rtt}, or null if /health did not answer. */
export async function sampleClock(fetchFn = globalThis.fetch, url = '/health') {
    const t0 = Date.now();
    let doc;
    try {
        const res = await fetchFn(url, { cache: 'no-store' });
        doc = await res.json();
    } catch {
        return null;
    }
    const t1 = Date.now();
    const bridge = Date.parse(doc?.timestamp);
    if (!Number.isFinite(bridge)) return null;
    return { offset: bridge - (t0 + t1) / 2, rtt: t1 - t0 };
}

/** Measures `n` samples and keeps the best (also against earlier ones, while
 *  they are recent: `fresh` resets the best round trip). */
export async function syncClock({ n = 3, fetchFn, url, fresh = false } = {}) {
    if (fresh) bestRtt = Infinity;
    for (let i = 0; i < n; i++) {
        const s = await sampleClock(fetchFn, url);
        if (s && s.rtt <= bestRtt) {
            bestRtt = s.rtt;
            offsetMs = s.offset;
            measured = true;
        }
    }
    return offsetMs;
}

/** Keeps the offset current: now, then every `everyMs` (a fresh best each time). */
export function keepClock({ everyMs = 5 * 60 * 1000, fetchFn, url } = {}) {
    syncClock({ fetchFn, url, fresh: true });
    return setInterval(() => syncClock({ fetchFn, url, fresh: true }), everyMs);
}
