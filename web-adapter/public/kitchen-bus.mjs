// kitchen-bus.mjs - the browser side of the Kitchen Bus (see docs/CONTRACT.md).
//
// ES modules, no build step beyond vendoring MQTT.js (web-adapter/build.mjs):
//
//   import { connect } from '/kitchen-bus.mjs';
//   const bus = await connect({ url: 'ws://192.168.1.10:3001', username, password });
//   bus.onState(s => ...);                 // {state: 'live'|'degraded'|'offline', reason}
//   await bus.submitOrder({...});          // POS: resolves on accepted/duplicate ack
//   bus.onOrder(ev => ...);                // kitchen + POS: {type: 'new'|'update'|'closed', order, ...}
//   await bus.setStatus('A-1001', 'ready') // kitchen
//   bus.onPresence(({synced, docs}) =>     // which screens of the tenant are on
//       synced && presenceWarnings(docs, bus.info));   // e.g. [{key: 'kitchen', text: 'No kitchen screen is on for ...'}]
//
// In a page the bus announces the device's own presence (docs/CONTRACT.md,
// "Presence"): {"online": true} while connected, its MQTT will {"online":
// false} when it is gone, and {"online": false} on close() or pagehide.
//
// Every submit and status change goes through a durable outbox in IndexedDB and
// stays there until the bridge acks it, so a reload, a closed tab, a broker or
// bridge outage or dead Wi-Fi loses nothing; entries are re-sent on every
// reconnect (the bridge answers a re-sent message with `duplicate`).
//
// This file is the public entry point; the work is done in kb/ (docs/DESIGN.md,
// "Browser modules"): bus.mjs puts a device's connection together from
// link.mjs (connection, backoff, state), topics.mjs, snapshot.mjs,
// order-view.mjs (the duplicate filter), outbox.mjs (+ outbox-idb.mjs),
// status.mjs (the lifecycle), device.mjs and presence.mjs (presence topics and
// what they say); compat.mjs is the compatibility
// layer with the old local-sync client (broadcastOrderToKitchen,
// broadcastOrderUpdate, onNewOrder, acknowledgeOrder, localSyncStatus /
// kitchenSyncStatus / liveOrders stores).
export const VERSION = '1.0.0';
export { LIVE, DEGRADED, OFFLINE } from './kb/link.mjs';
export { nextStatus } from './kb/status.mjs';
export { writable } from './kb/store.mjs';
export { stableClientId, newOrderNumber } from './kb/device.mjs';
export { KitchenBus, connect, loadConfig } from './kb/bus.mjs';
export { presenceTopic, boardPresenceTopic, tenantPresenceFilter, presenceSummary, presenceWarnings } from './kb/presence.mjs';
export {
    localSyncStatus, kitchenSyncStatus, liveOrders,
    connectToLocalSync, connectKitchenToLocalSync, disconnectFromLocalSync,
    broadcastOrderToKitchen, broadcastOrderUpdate, onNewOrder, acknowledgeOrder, sharedBus,
} from './kb/compat.mjs';
