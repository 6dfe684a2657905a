// kb/presence.mjs - which screens are on (docs/CONTRACT.md, "Presence"). Pure:
// no MQTT, no I/O. Every device a page connects keeps one retained document
// on its own presence topic: {"online": true, ...} while it is connected, and
// {"online": false} (its MQTT last will, or said on purpose before a clean
// close) when it is not:
//
//   outlet/tenant/<t>/<role>/<d>/presence   a tenant's device (pos, kitchen, expo)
//   outlet/board/<d>/presence               a pickup board
//
// The topics are put together from kb/topics.mjs's layout (a device's presence
// sits beside its ack topic; a board's under the board root), so the layout is
// still written once; tests/unit-js/presence.test.mjs checks them against the
// bridge's topic_presence() and topic_tenant_presence() in topics.c.
//
//   presenceWarnings(docs, info)   the retained documents of a tenant (topic ->
//                                  doc) -> the warnings a device's page shows
import { ackTopic, boardTopic, eventsTopic } from './topics.mjs';

/** outlet/tenant/<t>/ : where a tenant's topics start. */
const tenantPrefix = (tenant) => eventsTopic(tenant).slice(0, -'events'.length);

/** The presence topic of a tenant's device (role pos, kitchen or expo). */
export const presenceTopic = (tenant, role, device) => `${ackTopic(tenant, role, device).slice(0, -'ack'.length)}presence`;
/** The presence topic of a pickup board (an outlet-level device). */
export const boardPresenceTopic = (device) => `${boardTopic(device)}/presence`;
/** The subscription to every presence of a tenant (what its devices may read). */
export const tenantPresenceFilter = (tenant) => `${tenantPrefix(tenant)}+/+/presence`;

const TENANT_ROLES = ['pos', 'kitchen', 'expo'];
/** The roles whose screen shows a tenant's orders to its cooks. */
const KITCHEN_ROLES = ['kitchen', 'expo'];

/** A device's own presence topic from its info ({role, tenant}); null while
 *  it cannot be known (no info, or a tenant device without a tenant). */
export function devicePresenceTopic(info, device) {
    if (!info || !device) return null;
    if (info.role === 'board') return boardPresenceTopic(device);
    if (!TENANT_ROLES.includes(info.role) || !info.tenant) return null;
    return presenceTopic(info.tenant, info.role, device);
}

/** {role, device} of a presence topic of `tenant`, or null for any other topic. */
export function parsePresenceTopic(topic, tenant) {
    const prefix = tenantPrefix(tenant);
    if (typeof topic !== 'string' || !topic.startsWith(prefix)) return null;
    const [role, device, last, ...more] = topic.slice(prefix.length).split('/');
    if (last !== 'presence' || more.length || !device || !TENANT_ROLES.includes(role)) return null;
    return { role, device };
}

/** The document of a connected device. `since`: when it connected (ISO 8601,
 *  the bridge's clock where the page has it); the rest is for support, and
 *  omitted when unknown. */
export function onlineDoc({ since, page, version, userAgent, station } = {}) {
    const doc = { online: true, since };
    if (page) doc.page = page;
    if (version) doc.version = version;
    if (userAgent) doc.user_agent = userAgent;
    if (station) doc.station = station;
    return doc;
}

/** The document of a device that is gone: its will, and what it says itself
 *  before a clean close. A station screen's says its station too, so a page
 *  that starts later still knows that station has a screen (which is off). */
export function offlineDoc(info) {
    return info?.station ? { online: false, station: String(info.station) } : { online: false };
}

export const isOnline = (doc) => Boolean(doc && typeof doc === 'object' && doc.online === true);

/**
 * What a tenant's presence documents say. `docs`: Map (or object) topic ->
 * doc of `outlet/tenant/<tenant>/+/+/presence` (a cleared one: absent or
 * undefined). `stations`: the tenant's stations (info.stations); when given,
 * only those are reported, in that order (a station no longer listed is not
 * the kitchen's problem).
 *   {kitchens: {screens, online}, stations: [{station, screens, online}]}
 * `kitchens` counts the kitchen (station screens included) and expo devices;
 * `stations` the stations that have (had) a screen: a kitchen whose document,
 * online or not, names that station.
 */
export function presenceSummary(docs, tenant, stations = []) {
    const entries = docs instanceof Map ? [...docs] : Object.entries(docs || {});
    const kitchens = { screens: 0, online: 0 };
    const byStation = new Map();
    for (const [topic, doc] of entries) {
        const who = parsePresenceTopic(topic, tenant);
        if (!who || !doc || typeof doc !== 'object') continue;
        const on = isOnline(doc);
        if (KITCHEN_ROLES.includes(who.role)) { kitchens.screens++; if (on) kitchens.online++; }
        if (who.role === 'kitchen' && typeof doc.station === 'string' && doc.station) {
            const s = byStation.get(doc.station) || { station: doc.station, screens: 0, online: 0 };
            s.screens++;
            if (on) s.online++;
            byStation.set(doc.station, s);
        }
    }
    const listed = Array.isArray(stations) ? stations.map(String) : [];
    const order = listed.length ? listed.filter((s) => byStation.has(s)) : [...byStation.keys()].sort();
    return { kitchens, stations: order.map((s) => byStation.get(s)) };
}

/**
 * The warnings the page of a device shows, from its tenant's presence
 * documents and its own info ({tenant, tenant_name, role, station, stations}):
 *   - a POS: "No kitchen screen is on for <tenant name>" while no kitchen or
 *     expo device of its tenant is online;
 *   - a whole-order kitchen or the expo: "No screen is on for station <s>"
 *     for each of the tenant's stations that has station screens, none of
 *     them online;
 *   - a station screen: none (and never about its own station).
 * [{key, text, station?}], key 'kitchen' or 'station:<s>'.
 */
export function presenceWarnings(docs, info) {
    if (!info || !info.tenant) return [];
    const sum = presenceSummary(docs, info.tenant, info.stations);
    if (info.role === 'pos') {
        if (sum.kitchens.online > 0) return [];
        return [{ key: 'kitchen', text: `No kitchen screen is on for ${info.tenant_name || info.tenant}` }];
    }
    const stationScreen = info.role === 'kitchen' && info.station;
    if (!KITCHEN_ROLES.includes(info.role) || stationScreen) return [];
    return sum.stations.filter((s) => s.online === 0 && s.station !== info.station)
        .map((s) => ({ key: `station:${s.station}`, station: s.station, text: `No screen is on for station ${s.station}` }));
}
