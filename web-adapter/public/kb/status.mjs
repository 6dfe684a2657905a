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

// ---- a station's part of an order -------------------------------------------
// For a tenant with stations the order carries "stations": {"oven": "new",
// "bar": "preparing"}; each part goes new -> preparing -> ready, and back
// ready -> preparing (recall). The bridge's copy is
// bridge/src/model/order_stations.c: the last part ready makes the order
// ready; a part started or recalled makes an open order preparing.

/** The way forward for a part. */
export const PART_LIFECYCLE = Object.freeze(['new', 'preparing', 'ready']);

/** The status a station bumps its part on to, or null when it is done. */
export function nextPartStatus(part) {
    const i = PART_LIFECYCLE.indexOf(part);
    return i >= 0 && i < PART_LIFECYCLE.length - 1 ? PART_LIFECYCLE[i + 1] : null;
}

/** The status a recall sends a part back to, or null (only a ready part goes back). */
export function recallPartStatus(part) { return recallStatus(part); }

/** True for a finished part. */
export function isPartDone(part) { return part === PART_LIFECYCLE[PART_LIFECYCLE.length - 1]; }

/** The order statuses the bridge's ack may carry once a part was moved to
 *  `part` (the ack names the whole order's status): a part ready leaves the
 *  order preparing, or ready when it was the last; a part started or
 *  recalled leaves it preparing. */
export function orderStatusesAfterPart(part) {
    if (isPartDone(part)) return [LIFECYCLE[2], LIFECYCLE[3]];
    if (part === PART_LIFECYCLE[1]) return [LIFECYCLE[2]];
    return [];
}

/** True for the statuses a station reports for its part (preparing, ready). */
export function isPartStatus(s) { return PART_LIFECYCLE.indexOf(s) > 0; }

/** True for an order that is ready (waiting to be served). */
export function isReady(status) { return status === LIFECYCLE[3]; }

/** The parts after a whole-order move from `from` to `to` (the bridge's
 *  order_stations_follow): a move to ready marks every part ready, a recall
 *  (ready -> preparing) every part preparing; null when the parts stay. */
export function partsFollow(stations, from, to) {
    if (!stations || typeof stations !== 'object') return null;
    let part = null;
    if (isReady(to) && from !== to) part = to;
    else if (isReady(from) && recallStatus(from) === to) part = to;
    if (!part) return null;
    return Object.fromEntries(Object.keys(stations).map((s) => [s, part]));
}
