// js/paging.mjs - the kitchen screen's rush layout, as arithmetic (pure: no
// DOM; the page measures and passes heights in px). Tickets are laid out in
// `columns` columns of a fixed `height`, top to bottom then left to right, in
// their order; a ticket taller than what is left of a column continues at
// the top of the next column (as a continuation fragment with a small
// header) instead of pushing everything down. What does not fit goes to the
// next page: nothing on a kitchen screen ever scrolls.
//
//   const pages = layoutPages(tickets, { columns: 4, height: 900, gap: 12, contHead: 30, chrome: 6 });
//   pages[p].columns[c] = [{ ticket, from, to, cont, more, top, height }]   fragments, top to bottom
//   pages[p].tickets    = ticket indices with a fragment on page p, in order
//
// A ticket is { units: [h0, h1, ...] }: the heights of the pieces it may be
// broken between (the page makes its header and first item one piece, and
// its last item and footer another). A fragment adds `chrome` (its borders)
// and, when it does not start the ticket, `contHead`; fragments in a column
// are `gap` apart. A ticket no taller than `splitMin` is never broken: it
// moves to the next column instead (only tall tickets continue).
//
// Rules: a ticket that does not fit in what is left of a page moves whole to
// the next page, unless it starts the page: then it continues on the next
// page (only a ticket taller than a whole page does that). A piece taller
// than a whole column is placed alone at the top of one and clipped.

/** Fragments for the units of one ticket from `u`, starting at column
 *  `col`, height `y` used. Stops at the page's last column. `whole`: a short
 *  ticket, moved to the next column rather than broken. */
function fit(units, u, col, y, o, whole) {
    const frags = [];
    const total = o.chrome + units.reduce((a, h) => a + h, 0);
    while (u < units.length) {
        if (col >= o.columns) return { frags, col, y, u, done: false };
        const top = y > 0 ? y + o.gap : 0;
        if (whole && u === 0 && top > 0 && top + total > o.height) { col++; y = 0; continue; }
        const head = o.chrome + (u > 0 ? o.contHead : 0);
        let k = u;
        let h = top + head;
        while (k < units.length && h + units[k] <= o.height) { h += units[k]; k++; }
        if (k === u) {
            if (top > 0) { col++; y = 0; continue; }       // try the top of the next column
            k = u + 1;                                     // taller than a column: alone, clipped
            h = Math.min(o.height, head + units[u]);
        }
        frags.push({ col, from: u, to: k, top, height: h - top });
        u = k;
        if (u < units.length) { col++; y = 0; } else y = h;
    }
    return { frags, col, y, u, done: true };
}

/** Lays `tickets` out in pages (see the top of this file). Always at least one page. */
export function layoutPages(tickets, { columns = 1, height, gap = 0, contHead = 0, chrome = 0, splitMin = 0 } = {}) {
    const o = { columns: Math.max(1, Math.floor(columns) || 1), height: Math.max(1, height || 1), gap, contHead, chrome };
    const pages = [];
    let page = newPage(o.columns);
    let col = 0;
    let y = 0;
    const add = (i, frags, last) => {
        frags.forEach((f, k) => {
            page.columns[f.col].push({ ticket: i, from: f.from, to: f.to, cont: f.from > 0, more: k < frags.length - 1 || !last,
                top: f.top, height: f.height });
        });
        if (frags.length && page.tickets[page.tickets.length - 1] !== i) page.tickets.push(i);
    };
    tickets.forEach((t, i) => {
        const units = t.units.length ? t.units : [0];
        const whole = o.chrome + units.reduce((a, h) => a + h, 0) <= splitMin;
        let u = 0;
        for (;;) {
            const r = fit(units, u, col, y, o, whole);
            if (r.done) { add(i, r.frags, true); col = r.col; y = r.y; return; }
            const atStart = page.tickets.length === 0;
            if (atStart || u > 0) add(i, r.frags, false);  // only a page-tall ticket is split across pages
            pages.push(page);
            page = newPage(o.columns);
            col = 0;
            y = 0;
            if (atStart || u > 0) u = r.u;
        }
    });
    if (page.tickets.length || !pages.length) pages.push(page);
    return pages;
}

function newPage(columns) {
    return { columns: Array.from({ length: columns }, () => []), tickets: [] };
}

/** A page number kept within 0..count-1. */
export function clampPage(p, count) {
    return Math.min(Math.max(0, Math.floor(p) || 0), Math.max(0, count - 1));
}

/** The page `delta` pages on from `p`, wrapping round (a bump bar with one
 *  "next" key reaches every page). */
export function flipPage(p, delta, count) {
    if (count <= 1) return 0;
    return (((clampPage(p, count) + delta) % count) + count) % count;
}

/** The first page that shows ticket `i` (-1 if none does). */
export function pageOfTicket(pages, i) {
    return pages.findIndex((pg) => pg.tickets.includes(i));
}

/** How many of `total` tickets are not on page `p`: the "+N more". */
export function hiddenCount(pages, p, total) {
    const pg = pages[clampPage(p, pages.length)];
    return Math.max(0, total - (pg ? pg.tickets.length : 0));
}

/** The selection key ('1'..'9', '0' for the 10th) of the k-th ticket of a page, or ''. */
export function slotKey(k) {
    return k >= 0 && k < 10 ? String((k + 1) % 10) : '';
}

/** The ticket index a selection key picks on page `p`, or -1 (keys apply to the visible page). */
export function slotTicket(pages, p, key) {
    if (!/^[0-9]$/.test(key)) return -1;
    const pg = pages[clampPage(p, pages.length)];
    const k = key === '0' ? 9 : Number(key) - 1;
    return pg && k < pg.tickets.length ? pg.tickets[k] : -1;
}

/** How many columns of at least `minWidth` px fit in `width` px with `gap` between them. */
export function columnCount(width, minWidth, gap = 0) {
    if (!(width > 0) || !(minWidth > 0)) return 1;
    return Math.max(1, Math.floor((width + gap) / (minWidth + gap)));
}
