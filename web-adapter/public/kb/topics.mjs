// kb/topics.mjs - the MQTT topic layout for the browser (pure, imports nothing).
// The bridge's copy is bridge/src/model/topics.c; tests/unit-js/c_tables.test.mjs
// checks that both build the same topics (docs/CONTRACT.md, the topic table):
//
//   outlet/tenant/<t>/pos/<d>/submit        POS -> bridge
//   outlet/tenant/<t>/pos/<d>/ack           bridge -> POS
//   outlet/tenant/<t>/kitchen/<d>/status    kitchen -> bridge
//   outlet/tenant/<t>/kitchen/<d>/ack       bridge -> kitchen
//   outlet/tenant/<t>/orders/<order>        retained order state
//   outlet/tenant/<t>/events                change events
//   outlet/device/<d>/info                  retained device identity
//   outlet/bridge/health                    retained bridge health

export const HEALTH_TOPIC = 'outlet/bridge/health';

const tenantRoot = (tenant) => `outlet/tenant/${tenant}`;

/** Where a POS device sends orders and commands. */
export const submitTopic = (tenant, device) => `${tenantRoot(tenant)}/pos/${device}/submit`;
/** Where a kitchen device sends status changes. */
export const statusTopic = (tenant, device) => `${tenantRoot(tenant)}/kitchen/${device}/status`;
/** Where the bridge answers a device (a kitchen's under kitchen/, anything else under pos/). */
export const ackTopic = (tenant, role, device) =>
    `${tenantRoot(tenant)}/${role === 'kitchen' ? 'kitchen' : 'pos'}/${device}/ack`;
/** The retained state topics of a tenant's orders all start with this. */
export const ordersPrefix = (tenant) => `${tenantRoot(tenant)}/orders/`;
export const orderTopic = (tenant, orderNumber) => `${ordersPrefix(tenant)}${orderNumber}`;
/** The subscription to every open order of a tenant. */
export const ordersFilter = (tenant) => `${ordersPrefix(tenant)}+`;
export const eventsTopic = (tenant) => `${tenantRoot(tenant)}/events`;
export const deviceInfoTopic = (device) => `outlet/device/${device}/info`;

/** Every topic a device uses, once its info ({tenant, role}) is known. */
export function deviceTopics(info, device) {
    const t = info.tenant;
    return {
        orders: ordersFilter(t), ordersPrefix: ordersPrefix(t), events: eventsTopic(t),
        ack: ackTopic(t, info.role, device),
        submit: submitTopic(t, device), status: statusTopic(t, device),
        info: deviceInfoTopic(device), health: HEALTH_TOPIC,
    };
}

/** What a message on one of the tenant topics is: {kind: 'order', orderNumber},
 *  {kind: 'events'}, {kind: 'ack'}, or null (not one of `topics`). */
export function classifyTenantTopic(topic, topics) {
    if (topic.startsWith(topics.ordersPrefix)) return { kind: 'order', orderNumber: topic.slice(topics.ordersPrefix.length) };
    if (topic === topics.events) return { kind: 'events' };
    if (topic === topics.ack) return { kind: 'ack' };
    return null;
}
