// kb/topics.mjs - the MQTT topic layout for the browser (pure, imports nothing).
// The bridge's copy is bridge/src/model/topics.c; tests/unit-js/c_tables.test.mjs
// checks that both build the same topics (docs/CONTRACT.md, the topic table):
//
//   outlet/tenant/<t>/pos/<d>/submit        POS -> bridge
//   outlet/tenant/<t>/pos/<d>/ack           bridge -> POS
//   outlet/tenant/<t>/kitchen/<d>/status    kitchen -> bridge
//   outlet/tenant/<t>/kitchen/<d>/ack       bridge -> kitchen
//   outlet/tenant/<t>/expo/<d>/status       expo -> bridge
//   outlet/tenant/<t>/expo/<d>/ack          bridge -> expo
//   outlet/tenant/<t>/orders/<order>        retained order state
//   outlet/tenant/<t>/stations/<s>/orders/<order>  a station's retained view (its items only)
//   outlet/board/<t>                        retained pickup board (numbers only)
//   outlet/tenant/<t>/events                change events
//   outlet/device/<d>/info                  retained device identity
//   outlet/bridge/health                    retained bridge health
//
// The presence topics (outlet/tenant/<t>/<role>/<d>/presence, outlet/board/<d>/presence)
// are put together from these builders in presence.mjs: every export here is
// checked against topics.c by tests/unit-js/c_tables.test.mjs, the presence
// ones by tests/unit-js/presence.test.mjs.

export const HEALTH_TOPIC = 'outlet/bridge/health';

const tenantRoot = (tenant) => `outlet/tenant/${tenant}`;

/** Where a POS device sends orders and commands. */
export const submitTopic = (tenant, device) => `${tenantRoot(tenant)}/pos/${device}/submit`;
/** The role segment of a device's own topics: kitchen, expo, else pos. */
const roleSegment = (role) => (role === 'kitchen' || role === 'expo' ? role : 'pos');
/** Where a kitchen (or, with role 'expo', an expo) device sends status changes. */
export const statusTopic = (tenant, device, role = 'kitchen') =>
    `${tenantRoot(tenant)}/${role === 'expo' ? 'expo' : 'kitchen'}/${device}/status`;
/** Where the bridge answers a device (under its role: kitchen/, expo/, anything else pos/). */
export const ackTopic = (tenant, role, device) => `${tenantRoot(tenant)}/${roleSegment(role)}/${device}/ack`;
/** The retained state topics of a tenant's orders all start with this. */
export const ordersPrefix = (tenant) => `${tenantRoot(tenant)}/orders/`;
export const orderTopic = (tenant, orderNumber) => `${ordersPrefix(tenant)}${orderNumber}`;
/** The subscription to every open order of a tenant. */
export const ordersFilter = (tenant) => `${ordersPrefix(tenant)}+`;
export const eventsTopic = (tenant) => `${tenantRoot(tenant)}/events`;
export const deviceInfoTopic = (device) => `outlet/device/${device}/info`;
/** A station's retained views of its tenant's orders all start with this. */
export const stationOrdersPrefix = (tenant, station) => `${tenantRoot(tenant)}/stations/${station}/orders/`;
export const stationOrderTopic = (tenant, station, orderNumber) => `${stationOrdersPrefix(tenant, station)}${orderNumber}`;
/** A tenant's pickup board document (what a board device may read). */
export const boardTopic = (tenant) => `outlet/board/${tenant}`;

/** Every topic a device uses, once its info ({tenant, role, station}) is
 *  known. A station screen reads its station's views and no events (the
 *  broker lets it read nothing else): `events` is null for it. */
export function deviceTopics(info, device) {
    const t = info.tenant;
    const prefix = info.station ? stationOrdersPrefix(t, info.station) : ordersPrefix(t);
    return {
        orders: `${prefix}+`, ordersPrefix: prefix, events: info.station ? null : eventsTopic(t),
        ack: ackTopic(t, info.role, device),
        submit: submitTopic(t, device), status: statusTopic(t, device, info.role),
        info: deviceInfoTopic(device), health: HEALTH_TOPIC,
    };
}

/** What a message on one of the tenant topics is: {kind: 'order', orderNumber},
 *  {kind: 'events'}, {kind: 'ack'}, or null (not one of `topics`). */
export function classifyTenantTopic(topic, topics) {
    if (topic.startsWith(topics.ordersPrefix)) return { kind: 'order', orderNumber: topic.slice(topics.ordersPrefix.length) };
    if (topics.events && topic === topics.events) return { kind: 'events' };
    if (topic === topics.ack) return { kind: 'ack' };
    return null;
}
