// kb/stats.mjs - raw message counts for support and tests, before the
// duplicate filter: messages by kind and `created` events by order number
// (tests/web/outage.test.mjs reads bus.stats.created). Pure, imports nothing.
const MAX_CREATED = 5000;

export function newStats() {
    return { orders: 0, cleared: 0, events: 0, acks: 0, created: new Map() };
}

/** Counts one message on a tenant topic: kind 'order' | 'events' | 'ack'. */
export function countMessage(stats, kind, doc) {
    if (kind === 'order') doc === undefined ? stats.cleared++ : stats.orders++;
    else if (kind === 'events') {
        stats.events++;
        if (doc?.event === 'created' && stats.created.size < MAX_CREATED) {
            stats.created.set(doc.order_number, (stats.created.get(doc.order_number) || 0) + 1);
        }
    } else if (kind === 'ack') stats.acks++;
}
