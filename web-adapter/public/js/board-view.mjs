// The pickup board's rendering logic, pure (no DOM, no clock, no I/O), so that
// tests/unit-js/board_view.test.mjs runs it in plain Node. js/board.mjs feeds it
// the bridge's board documents (outlet/board/<tenant>, see bridge/src/core/board.h):
//
//   {"tenant", "tenant_name", "preparing": ["17", "18"],
//    "ready": [{"number": "16", "since": "<ISO>", "name": "Ana"}]}

/** A ready number counts as just called for this long (it pulses). */
export const FRESH_MS = 60 * 1000;
/** After this long a ready number is shown dimmed (it is probably collected). */
export const OLD_MS = 5 * 60 * 1000;
/** At most this many numbers are spoken at once (a reconnect after an outage). */
export const MAX_SPOKEN = 5;

const str = (v) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** A board document made safe to show: strings only, unknown fields dropped. */
export function cleanDoc(doc) {
    if (!doc || typeof doc !== 'object') return null;
    const preparing = (Array.isArray(doc.preparing) ? doc.preparing : []).map(str).filter(Boolean);
    const ready = (Array.isArray(doc.ready) ? doc.ready : [])
        .filter((r) => r && typeof r === 'object' && str(r.number))
        .map((r) => ({ number: str(r.number), since: str(r.since), name: str(r.name) }));
    return { tenant: str(doc.tenant), tenant_name: str(doc.tenant_name), preparing, ready };
}

/**
 * What the board shows: one group per tenant of the device's info (in its
 * order), with the tenant's name, its preparing numbers oldest first and its
 * ready numbers newest first (the one just called leads).
 *   tenants: [{id, name}] (the device info's "tenants")
 *   docs:    Map tenant id -> cleaned document (absent: not received yet)
 */
export function boardGroups(tenants, docs) {
    return (tenants || []).filter((t) => t && t.id).map((t) => {
        const d = docs.get(t.id);
        const ready = d ? d.ready.map((r, i) => ({ ...r, i })) : [];
        ready.sort((a, b) => (Date.parse(b.since) || 0) - (Date.parse(a.since) || 0) || b.i - a.i);
        return {
            id: t.id,
            name: d?.tenant_name || t.name || t.id,
            known: Boolean(d),
            preparing: d ? [...d.preparing] : [],
            ready: ready.map(({ i, ...r }) => r),
        };
    });
}

/** The ready entries of `doc` that were not ready in `prev` (the previous
 *  document of the same tenant). None for the first document a page sees:
 *  those numbers were called before the screen was switched on. */
export function newlyReady(prev, doc) {
    if (!prev || !doc) return [];
    const before = new Set(prev.ready.map((r) => r.number));
    return doc.ready.filter((r) => !before.has(r.number));
}

/** What the board says aloud when a number is ready. */
export function announcement(entry, tenantName) {
    const who = entry.name ? ` for ${entry.name}` : '';
    return `Order ${entry.number}${who}${tenantName ? `, ${tenantName}` : ''}`;
}

/** 'fresh' (just called), 'old' (long ready) or '' by the bridge's clock `now`. */
export function readyStage(since, now) {
    const t = Date.parse(since);
    if (!Number.isFinite(t)) return '';
    const age = now - t;
    if (age < FRESH_MS) return 'fresh';
    if (age >= OLD_MS) return 'old';
    return '';
}

/** How much of the screen's height each tenant's row gets, as CSS grid
 *  track sizes: about the square root of what it shows, ready numbers
 *  counting more (they are drawn bigger), so a busy tenant grows without
 *  squeezing a quiet one to nothing; a tenant with nothing to show takes only
 *  its name's line ('auto'). */
export function rowWeights(groups) {
    return groups.map((g) => {
        const need = Math.max(g.preparing.length, g.ready.length * 2);
        return need ? `minmax(0, ${Math.round(Math.max(1.5, Math.sqrt(need)) * 100) / 100}fr)` : 'auto';
    });
}

/**
 * The largest integer in [lo, hi] for which `fits` is true, assuming fits is
 * true below some point and false above it; lo if none fits. Used for the
 * numbers' size and for how many numbers fit beside a "+N more" tile.
 */
export function largestFitting(lo, hi, fits) {
    lo = Math.ceil(lo);
    hi = Math.floor(hi);
    if (hi < lo) return lo;
    if (fits(hi)) return hi;
    let good = lo;
    let bad = hi;
    if (!fits(lo)) return lo;
    while (bad - good > 1) {
        const mid = Math.floor((good + bad) / 2);
        if (fits(mid)) good = mid; else bad = mid;
    }
    return good;
}

/** The "+N more" text. */
export const moreLabel = (n) => `+${n} more`;
