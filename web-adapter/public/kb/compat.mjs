// kb/compat.mjs - the old local-sync client's API over the bus. An existing POS
// or kitchen screen migrates by changing its import to /kitchen-bus.mjs and
// calling connectToLocalSync({username, password}) (or connectKitchenToLocalSync):
// broadcastOrderToKitchen, broadcastOrderUpdate, onNewOrder, acknowledgeOrder
// and the stores localSyncStatus / kitchenSyncStatus / liveOrders keep their
// names and shapes.
import { connect, loadConfig } from './bus.mjs';
import { LIVE, OFFLINE } from './link.mjs';
import { writable } from './store.mjs';
import { storage } from './device.mjs';
import { safeJson } from './util.mjs';

let shared = null;
let sharedStarting = null;
const newOrderCallbacks = new Set();

export const localSyncStatus = writable({ connected: false, error: null, lastConnected: null, clientId: null, state: OFFLINE, outbox: 0 });
export const kitchenSyncStatus = writable({ connected: false, error: null, lastOrder: null, state: OFFLINE, outbox: 0 });
export const liveOrders = writable([]);

/** Start (or return) the shared connection. Options as connect(); url defaults
 *  to /config.json's, credentials to the ones remembered on this device. */
export async function connectToLocalSync(opts = {}) {
    if (shared) return shared;
    if (sharedStarting) return sharedStarting;
    sharedStarting = (async () => {
        const remembered = safeJson(storage()?.getItem('kb:login') || '') || {};
        const o = { ...remembered, ...opts };
        if (!o.url) o.url = (await loadConfig(o.base || '')).url;
        const bus = await connect(o);
        bus.onState((s) => {
            const connected = s.state !== OFFLINE;
            localSyncStatus.update((v) => ({
                ...v, connected, state: s.state, outbox: s.outbox,
                error: s.state === LIVE ? null : s.reason,
                lastConnected: connected ? (v.lastConnected || new Date().toISOString()) : v.lastConnected,
                clientId: bus.clientId,
            }));
            kitchenSyncStatus.update((v) => ({ ...v, connected, state: s.state, outbox: s.outbox, error: s.state === LIVE ? null : s.reason }));
        });
        bus.onOrder((ev) => {
            liveOrders.set(bus.openOrders().slice().reverse());       // newest first, like the old store
            if (ev.type === 'new') {
                kitchenSyncStatus.update((v) => ({ ...v, lastOrder: new Date().toISOString() }));
                for (const cb of newOrderCallbacks) {
                    try { cb(ev.order); } catch (err) { console.error('onNewOrder callback failed', err); }
                }
            }
        });
        shared = bus;
        return bus;
    })();
    try { return await sharedStarting; } finally { sharedStarting = null; }
}
export const connectKitchenToLocalSync = connectToLocalSync;

export async function disconnectFromLocalSync() {
    const bus = shared;
    shared = null;
    if (bus) await bus.close();
}

function requireShared(what) {
    if (!shared) {
        console.warn(`${what}: call connectToLocalSync() first`);
        return null;
    }
    return shared;
}

/** Old API: returns true when the order is in the durable outbox (it will reach
 *  the kitchen once the bridge acks it). The ack promise is on `.lastAck`. */
export function broadcastOrderToKitchen(order) {
    const bus = requireShared('broadcastOrderToKitchen');
    if (!bus || !order) return false;
    broadcastOrderToKitchen.lastAck = bus.submitOrder(order);
    broadcastOrderToKitchen.lastAck.catch((err) => console.warn('order rejected:', order.order_number, err.message));
    return true;
}

/** Old API: status change by order number ('cancelled' cancels). Returns true when queued. */
export function broadcastOrderUpdate(orderNumber, status) {
    const bus = requireShared('broadcastOrderUpdate');
    if (!bus || !orderNumber || !status) return false;
    broadcastOrderUpdate.lastAck = bus.setStatus(orderNumber, status);
    broadcastOrderUpdate.lastAck.catch((err) => console.warn('update rejected:', orderNumber, status, err.message));
    return true;
}

/** Old API: cb(order) once per new order (tenant filtering is done by the broker). */
export function onNewOrder(cb) {
    newOrderCallbacks.add(cb);
    if (shared) for (const o of shared.openOrders()) cb(o);
    return () => newOrderCallbacks.delete(cb);
}

/** Old API: the kitchen confirms receipt: new -> accepted. */
export function acknowledgeOrder(orderNumber) {
    const bus = requireShared('acknowledgeOrder');
    if (!bus) return false;
    const rec = bus.orders.get(orderNumber);
    if (rec && rec.status !== 'new') return true;             // already acknowledged
    bus.setStatus(orderNumber, 'accepted').catch((err) => console.warn('acknowledge rejected:', orderNumber, err.message));
    return true;
}

/** The shared connection, for code that wants the full API. */
export function sharedBus() { return shared; }
