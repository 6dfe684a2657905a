// kb/status.mjs - the order lifecycle for the browser (pure, imports nothing).
// The bridge's copy is bridge/src/model/order_status.c; tests/unit-js/c_tables.test.mjs
// checks that the two allow exactly the same moves (docs/CONTRACT.md,
// "Status changes"):
//
//   new -> accepted -> preparing -> ready -> served
//   ready -> preparing                      (recall)
//   any open status -> cancelled
//
// served and cancelled close an order; nothing leaves them.

/** The way forward, one step at a time. */
export const LIFECYCLE = Object.freeze(['new', 'accepted', 'preparing', 'ready', 'served']);
export const CANCELLED = 'cancelled';
/** Every status an order can have, in the bridge's order. */
export const STATUSES = Object.freeze([...LIFECYCLE, CANCELLED]);
/** The one move back: a recalled order. */
const RECALL = Object.freeze({ ready: 'preparing' });

export const OPEN_STATUSES = Object.freeze(LIFECYCLE.slice(0, -1));
export const CLOSED_STATUSES = Object.freeze([LIFECYCLE[LIFECYCLE.length - 1], CANCELLED]);
const OPEN = new Set(OPEN_STATUSES);
const CLOSED = new Set(CLOSED_STATUSES);

/** True for new, accepted, preparing and ready. */
export function isOpen(status) { return OPEN.has(status); }
/** True for served and cancelled. */
export function isClosed(status) { return CLOSED.has(status); }

/** The status a kitchen moves an order on to, or null at the end. */
export function nextStatus(status) {
    const i = LIFECYCLE.indexOf(status);
    return i >= 0 && i < LIFECYCLE.length - 1 ? LIFECYCLE[i + 1] : null;
}

/** The status a recall sends an order back to, or null (only a ready order goes back). */
export function recallStatus(status) {
    return Object.prototype.hasOwnProperty.call(RECALL, status) ? RECALL[status] : null;
}

/** True if an order may move from `from` to `to` (the bridge answers anything
 *  else with illegal_transition; asking for the current status is a duplicate). */
export function canMove(from, to) {
    if (!isOpen(from) || to === from) return false;
    if (to === CANCELLED) return true;
    const back = recallStatus(from);
    return to === nextStatus(from) || (back !== null && to === back);
}
