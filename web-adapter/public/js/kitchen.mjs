// The kitchen display (/kitchen). One page, three screens, by the device that
// logs in (its retained info):
//   - a whole-order kitchen (role kitchen, no station): every order, moved
//     on Accept -> Start -> Ready -> Served, with a station filter;
//   - a station screen (role kitchen, "station": "oven"): only the orders
//     with items for that station, and only those items (the broker gives it
//     nothing else); a bump moves the station's part (Start -> Ready), and a
//     part that is ready leaves the screen until it is recalled. It gets no
//     events: the closing view the bridge sends once (kb/order-view.mjs) says
//     served (the card leaves) or cancelled (struck through and announced
//     until dismissed, as on the whole-order kitchen);
//   - the expo screen (role expo): every open order with a chip per station
//     (not started / in progress / done); a bump moves the whole order on.
// A rush fits the screen: tickets are laid out in columns and pages
// (js/paging.mjs), a tall ticket continuing in the next column; bump-bar keys
// flip the pages and the "+N more" says what is off the page. Every age and
// the clock run on the bridge's clock (kb/clock.mjs). The whole-order and expo
// screens say which stations have screens but none on (presence, kb/presence.mjs).
// Every open card has a small Reprint button (the bridge prints the ticket again
// on the printers that print it, a station screen's on its station's; it says
// when none does): the card says Printing…, then Sent to printer or why not.
import { nextStatus, recallStatus, nextPartStatus, recallPartStatus, isPartDone, isReady } from '../kb/status.mjs';
import { bridgeNow, clockMeasured, clockOffset, keepClock } from '../kb/clock.mjs';
import { presenceWarnings } from '../kb/presence.mjs';
import { $, el, formatAge, login, logout, showConnection, STATUS_LABEL, toast } from './common.mjs';
import { createAlerts } from './alerts.mjs';
import { layoutPages, clampPage, flipPage, pageOfTicket, hiddenCount, slotKey, slotTicket, columnCount } from './paging.mjs';

const NEXT_LABEL = { new: 'Accept', accepted: 'Start', preparing: 'Ready', ready: 'Served' };
const PART_NEXT_LABEL = { new: 'Start', preparing: 'Ready' };
const PART_LABEL = { new: 'Not started', preparing: 'In progress', ready: 'Done' };
/** Columns are at least this many rem wide. */
const MIN_COLUMN_REM = 11;
/** Tickets up to this share of a column's height move to the next column
 *  whole; taller ones continue there. */
const SPLIT_MIN = 1 / 3;
/** Ages wait this long for the bridge's clock before they fall back to this device's. */
const CLOCK_WAIT_MS = 5000;
/** How long a card shows how its reprint went. */
const REPRINT_NOTE_MS = { done: 4000, failed: 8000 };

// Test and support hooks: everything here counts real calls, nothing is simulated.
// The alert counters (alertsPlayed, cancelAlertsPlayed, alertsMissed, spoken,
// notified, soundArmed) are kept by alerts.mjs.
const kb = window.__kb = {
    state: 'offline', reason: 'starting', stateLog: [], bus: null, renders: 0,
    cards: () => [...cards.values()].map((c) => ({
        order_number: c.order.order_number, status: c.order.status, closed: c.closed?.status || null,
        part: mode === 'station' ? partOf(c) : null, stations: c.order.stations || null,
    })),
    mode: () => mode,
    paging: () => ({ page, pages: layout.pages.length, shown: shownOnPage(), hidden: layout.hidden, total: layout.list.length,
        settled: settled() }),
    clock: () => ({ measured: clockMeasured(), offset: clockOffset(), now: bridgeNow() }),
    /** The presence warnings shown now (texts). */
    warnings: () => [...document.querySelectorAll('#presence-warning [data-warning]')].map((n) => n.textContent),
    /** The reprint notes shown now: order_number -> {state: 'sending'|'done'|'failed', text}. */
    reprints: () => Object.fromEntries([...reprints].map(([n, r]) => [n, { state: r.state, text: r.text }])),
};
const alerts = createAlerts(kb, { toast });

const cards = new Map();            // order_number -> {order, seenAt, closed, pending, fresh}
let selected = null;                // order_number
const bumped = [];                  // [{order_number, from, to}] most recent last
const reprints = new Map();         // order_number -> {state: 'sending'|'done'|'failed', text, timer}
let bus = null;
let filter = localStorage.getItem('kb:kitchen:station') || '';
let mode = 'kitchen';               // 'kitchen' | 'station' | 'expo'
let myStation = '';                 // a station screen's station
let tenantStations = [];            // the tenant's stations, in the registry's order
let page = 0;
let layout = { pages: [], list: [], hidden: 0, size: { w: 0, h: 0 } };
const startedAt = Date.now();
const thresholds = loadThresholds();

// ---- settings ---------------------------------------------------------------
function loadThresholds() {
    const p = new URLSearchParams(location.search);
    let t = { warn: 300, late: 600 };
    try { t = { ...t, ...JSON.parse(localStorage.getItem('kb:kitchen:thresholds') || '{}') }; } catch { /* defaults */ }
    if (p.get('warn')) t.warn = Number(p.get('warn')) * 60;
    if (p.get('late')) t.late = Number(p.get('late')) * 60;
    if (p.get('warn_s')) t.warn = Number(p.get('warn_s'));
    if (p.get('late_s')) t.late = Number(p.get('late_s'));
    if (!(t.warn > 0)) t.warn = 300;
    if (!(t.late > t.warn)) t.late = t.warn * 2;
    localStorage.setItem('kb:kitchen:thresholds', JSON.stringify(t));
    return t;
}

function editThresholds() {
    const w = prompt('Card turns AMBER after how many minutes?', String(thresholds.warn / 60));
    if (w === null) return;
    const l = prompt('Card turns RED after how many minutes?', String(thresholds.late / 60));
    if (l === null) return;
    if (Number(w) > 0 && Number(l) > Number(w)) {
        thresholds.warn = Number(w) * 60;
        thresholds.late = Number(l) * 60;
        localStorage.setItem('kb:kitchen:thresholds', JSON.stringify(thresholds));
        tick();
    } else toast('Red must come after amber', true);
}

// ---- helpers ------------------------------------------------------------------

const itemName = (it) => it.name ?? it.product_name ?? '?';
const itemQty = (it) => Number(it.qty ?? it.quantity ?? 1);
const mods = (it) => (Array.isArray(it.modifiers) ? it.modifiers : it.modifiers ? [it.modifiers] : [])
    .map((m) => (typeof m === 'string' ? m : m?.name ?? JSON.stringify(m)));
/** An item's station: its own, or the tenant's first (as the bridge routes it). */
const itemStation = (it) => it.station || tenantStations[0] || '';

/** A station screen's part of an order (the view's "stations" map names it). */
function partOf(c) { return c.order.stations?.[myStation] ?? c.order.status; }
/** The status a card shows and bumps: the part's on a station screen, else the order's. */
function statusOf(c) { return mode === 'station' ? partOf(c) : c.order.status; }
function nextOf(s) { return mode === 'station' ? nextPartStatus(s) : nextStatus(s); }
function recallOf(s) { return mode === 'station' ? recallPartStatus(s) : recallStatus(s); }
/** A station screen's finished part: off the screen until recalled. */
function isDone(c) { return mode === 'station' && !c.closed && isPartDone(partOf(c)); }

function ageBase(c, now) {
    const t = Date.parse(c.order.received_at || c.order.created_at || '');
    // The bridge stamps received_at on its own clock; a value from the future or
    // from long ago (a POS clock) falls back to when this screen first saw it.
    if (!Number.isFinite(t) || t > now + 5000 || now - t > 12 * 3600 * 1000) return c.seenAt;
    return t;
}

function visibleCards() {
    return [...cards.values()]
        .filter((c) => !isDone(c))
        .filter((c) => mode === 'station' || !filter || (c.order.items || []).some((it) => itemStation(it) === filter))
        .sort((a, b) => (b.order.priority === 'rush') - (a.order.priority === 'rush')
            || (a.order.created_seq ?? a.order.seq ?? 0) - (b.order.created_seq ?? b.order.seq ?? 0)
            || a.seenAt - b.seenAt);
}

/** The order numbers on the visible page, in order. */
function shownOnPage() {
    const pg = layout.pages[page];
    return pg ? pg.tickets.map((i) => layout.list[i].order.order_number) : [];
}

// ---- rendering ------------------------------------------------------------------
let renderQueued = false;
/** True when no render is due and the layout is for the cards' current size. */
function settled() {
    const root = $('#cards');
    return !renderQueued && (!layout.list.length || (root.clientWidth === layout.size.w && root.clientHeight === layout.size.h));
}
/** Renders once for a burst of bus messages (a snapshot of 40 orders is one layout). */
function renderSoon() {
    if (renderQueued) return;
    renderQueued = true;
    const run = () => { if (renderQueued) render(); };
    requestAnimationFrame(run);
    setTimeout(run, 100);                 // a hidden tab gets no animation frames
}

function render() {
    renderQueued = false;
    kb.renders++;
    const list = visibleCards();
    const root = $('#cards');
    if (!list.length) {
        layout = { pages: [], list, hidden: 0, size: { w: 0, h: 0 } };
        page = 0;
        const why = mode === 'station' ? `No open orders for the ${myStation} station`
            : cards.size ? 'No open orders for this station' : 'No open orders';
        root.replaceChildren(el('div', { class: 'empty', text: why }));
    } else {
        layOut(root, list);
    }
    renderPager();
    renderAllDay();
    renderStations();
    // The pager row or the bar may have changed height with what they show
    // now: lay out again for the size the cards really have.
    if (list.length && (root.clientWidth !== layout.size.w || root.clientHeight !== layout.size.h)) {
        layOut(root, list);
        renderPager();
    }
    tick();
}

/** Measures every ticket at the column width, pages them (js/paging.mjs), and
 *  puts the visible page's fragments in its columns. */
function layOut(root, list, shrink = 0) {
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    const gap = 0.6 * rem;
    const width = root.clientWidth;
    const height = root.clientHeight - shrink;
    const columns = columnCount(width, MIN_COLUMN_REM * rem, gap);
    const colWidth = (width - (columns - 1) * gap) / columns;
    const measure = $('#measure');
    measure.style.width = `${colWidth}px`;
    const built = list.map((c) => renderCard(c));
    const sample = contHeader('0', 'new');
    measure.replaceChildren(...built.map((b) => b.card), el('article', { class: 'ticket cont' }, sample));
    const contHead = Math.ceil(sample.getBoundingClientRect().height);
    const tickets = built.map((b) => measureTicket(b));
    measure.replaceChildren();
    const pages = layoutPages(tickets, { columns, height, gap, contHead, chrome: tickets[0]?.chrome ?? 0, splitMin: height * SPLIT_MIN });
    // The selected card's page is the one to show (arrows move across pages).
    const sel = selected ? list.findIndex((c) => c.order.order_number === selected) : -1;
    if (sel >= 0 && !pages[clampPage(page, pages.length)].tickets.includes(sel)) page = pageOfTicket(pages, sel);
    page = clampPage(page, pages.length);
    layout = { pages, list, hidden: hiddenCount(pages, page, list.length), size: { w: width, h: height + shrink } };
    const pg = pages[page];
    if (selected && !pg.tickets.some((i) => list[i].order.order_number === selected)) selected = null;
    root.style.setProperty('--columns', String(columns));
    root.style.setProperty('--gap', `${gap}px`);
    root.replaceChildren(...pg.columns.map((col) => el('div', { class: 'col' },
        col.map((f) => fragment(built[f.ticket], tickets[f.ticket], f, height)))));
    pg.tickets.forEach((i, k) => {
        const slot = built[i].card.querySelector('.slot');
        if (slot) slot.textContent = slotKey(k);
    });
    layout.size = { w: width, h: root.clientHeight };
    // A safety net: should a ticket come out taller than it measured, lay out
    // again in a shorter column rather than cut it off.
    const over = Math.max(0, ...[...root.children].map((col) => col.scrollHeight - root.clientHeight));
    if (over > 0 && !shrink) layOut(root, list, Math.ceil(over) + 1);
}

/** The pieces a ticket may break between: its header and first item are one,
 *  its last item and what follows another, every item between them one each.
 *  The items' list (ul.items) is cut between fragments: each gets its own. */
function measureTicket(b) {
    const blocks = [];
    for (const k of b.card.children) {
        if (k.matches('ul.items')) {
            const lis = [...k.children];
            const cs = getComputedStyle(k);
            const [padTop, padBottom] = [parseFloat(cs.paddingTop) || 0, parseFloat(cs.paddingBottom) || 0];
            lis.forEach((li, i) => blocks.push({ node: li, item: true,
                h: li.getBoundingClientRect().height + (i === 0 ? padTop : 0) + (i === lis.length - 1 ? padBottom : 0) }));
            if (!lis.length) blocks.push({ node: k, h: k.getBoundingClientRect().height });
        } else {
            blocks.push({ node: k, h: k.getBoundingClientRect().height });
        }
    }
    const chrome = Math.max(0, b.card.getBoundingClientRect().height - blocks.reduce((a, x) => a + x.h, 0));
    const items = blocks.map((x, i) => (x.item ? i : -1)).filter((i) => i >= 0);
    const groups = [];
    if (items.length < 2) groups.push([0, blocks.length]);
    else {
        groups.push([0, items[0] + 1]);
        for (const i of items.slice(1, -1)) groups.push([i, i + 1]);
        groups.push([items[items.length - 1], blocks.length]);
    }
    b.blocks = blocks;
    b.groups = groups;
    // Rounded up: a column never gets a pixel more than it holds.
    const sum = (a, z) => blocks.slice(a, z).reduce((s, x) => s + x.h, 0);
    return { units: groups.map(([a, z]) => Math.ceil(sum(a, z))), chrome: Math.ceil(chrome) };
}

/** One fragment of a ticket: the ticket itself (its first piece), or a
 *  continuation with a small header. */
function fragment(b, t, f, height) {
    const blocks = b.groups.slice(f.from, f.to).flatMap(([a, z]) => b.blocks.slice(a, z));
    const nodes = [];
    const firstItem = b.blocks.findIndex((x) => x.item);
    const lastItem = b.blocks.length - 1 - [...b.blocks].reverse().findIndex((x) => x.item);
    for (const x of blocks) {
        if (!x.item) { nodes.push(x.node); continue; }
        let ul = nodes[nodes.length - 1];
        if (!ul || ul.tagName !== 'UL') {
            const at = b.blocks.indexOf(x);
            ul = el('ul', { class: `items${at !== firstItem ? ' cut-top' : ''}` });
            nodes.push(ul);
        }
        ul.append(x.node);
    }
    for (const ul of nodes) {
        if (ul.tagName === 'UL' && b.blocks.indexOf(b.blocks.find((x) => x.node === ul.lastChild)) !== lastItem) ul.classList.add('cut-bottom');
    }
    let node;
    if (!f.cont) {
        node = b.card;
        node.replaceChildren(...nodes);
    } else {
        const n = b.c.order.order_number;
        node = el('article', { class: `${b.card.className.replace(/\bcard\b/, '')} ticket cont`, 'data-cont': n, onclick: () => select(n) },
            contHeader(n, statusOf(b.c), b.c), ...nodes);
    }
    node.classList.toggle('more', f.more);
    if (f.height >= height) node.style.maxHeight = `${height}px`;
    return node;
}

function contHeader(n, status, c = null) {
    return el('header', { class: 'conthead' }, el('span', { class: 'num', text: n }), el('span', { class: 'contlabel', text: 'cont.' }),
        el('span', { class: 'status-dot', title: STATUS_LABEL[status] || status }), el('span', { class: 'age', text: c ? ageText(c) : '0:00' }));
}

function renderCard(c) {
    const o = c.order;
    const n = o.order_number;
    const closed = c.closed;
    const st = statusOf(c);
    const status = closed ? closed.status : st;
    const meta = [
        o.table != null && o.table !== '' ? el('span', {}, 'Table ', el('b', { text: String(o.table) })) : null,
        o.customer_name ? el('b', { text: o.customer_name }) : null,
        o.order_type ? el('span', { text: String(o.order_type).replace(/_/g, ' ') }) : null,
    ].filter(Boolean);
    const parts = o.stations && typeof o.stations === 'object' ? o.stations : null;
    const items = el('ul', { class: 'items' }, (o.items || []).map((it) => {
        const where = itemStation(it);
        const dim = (mode === 'kitchen' && filter && where !== filter)
            || (mode === 'expo' && parts && isPartDone(parts[where]));
        return el('li', { class: `item${dim ? ' other-station' : ''}`, 'data-station': where || null },
            mode !== 'station' && where && (it.station || tenantStations.length) ? el('span', { class: 'station', text: where }) : null,
            el('span', { class: 'qty', text: `${itemQty(it)}×` }), el('span', { class: 'name', text: itemName(it) }),
            mods(it).length ? el('div', { class: 'mods', text: mods(it).join(', ') }) : null,
            it.notes ? el('div', { class: 'inote', text: it.notes }) : null);
    }));

    let actions;
    if (closed) {
        actions = [el('span', { class: 'status', text: STATUS_LABEL[status] || status }),
            el('button', { class: 'bump', 'data-testid': 'dismiss', onclick: (e) => { e.stopPropagation(); dismiss(n); } }, 'Dismiss')];
    } else {
        const next = nextOf(st);
        const back = recallOf(st);
        const label = mode === 'station' ? PART_NEXT_LABEL[st] : NEXT_LABEL[st];
        const shown = mode === 'station' ? PART_LABEL[st] || st : STATUS_LABEL[st] || st;
        // The status with a small Reprint under it, at the other end from the bump
        // button (beside it the tall bump button leaves room: no taller card).
        actions = [el('div', { class: 'lead' }, el('span', { class: 'status', 'data-testid': 'status', text: shown }), reprintButton(n)),
            c.pending ? el('span', { class: 'pending', text: `→ ${STATUS_LABEL[c.pending]}…` }) : null,
            back ? el('button', { class: 'recall', title: `Back to ${back}`, onclick: (e) => { e.stopPropagation(); move(n, back); } }, 'Recall') : null,
            next ? el('button', { class: 'bump', 'data-testid': 'bump', onclick: (e) => { e.stopPropagation(); bump(n); } }, label) : null];
    }
    const chips = mode === 'expo' && parts ? el('div', { class: 'chips', 'data-testid': 'chips' },
        stationOrder(Object.keys(parts)).map((s) => el('span', {
            class: `chip part-${parts[s]}`, 'data-testid': 'chip', 'data-station': s, 'data-part': parts[s],
            title: `${s}: ${PART_LABEL[parts[s]] || parts[s]}`,
        }, el('span', { class: 'mark' }), s))) : null;
    const card = el('article', {
        class: ['ticket', 'card', `status-${st}`, closed ? 'closed' : '', n === selected ? 'selected' : '', c.fresh ? 'fresh' : ''].join(' '),
        'data-order': n, 'data-status': status, 'data-testid': 'order-card', 'data-part': mode === 'station' ? st : null,
        onclick: () => select(n),
    },
    el('header', {}, el('span', { class: 'slot' }), el('span', { class: n.length > 10 ? 'num long' : 'num', text: n }),
        el('span', { class: 'age', 'data-testid': 'age', text: ageText(c) })),
    closed ? el('div', { class: 'stamp', 'data-testid': 'stamp', text: status === 'cancelled' ? 'CANCELLED' : 'CLOSED' }) : null,
    o.priority === 'rush' ? el('div', { class: 'rush', text: 'RUSH' }) : null,
    meta.length ? el('div', { class: 'meta' }, ...meta.flatMap((m, k) => (k ? [' · ', m] : [m]))) : null,
    chips,
    items,
    o.notes ? el('p', { class: 'notes', text: o.notes }) : null,
    closed ? null : reprintNote(n),
    el('footer', {}, ...actions));
    c.fresh = false;
    return { c, card };
}

/** A reprint can be asked for now: the page is live (connected, bridge up). */
const canReprint = () => kb.state === 'live';
const REPRINT_OFFLINE = 'Offline: a reprint cannot be sent now';

function reprintButton(n) {
    const sending = reprints.get(n)?.state === 'sending';
    return el('button', {
        class: 'reprint', type: 'button', 'data-testid': 'reprint', disabled: sending || !canReprint(),
        title: canReprint() ? 'Print this ticket again' : REPRINT_OFFLINE,
        onclick: (e) => { e.stopPropagation(); e.currentTarget.blur(); reprintOrder(n); },
    }, 'Reprint');
}

/** A line above the card's footer saying how its last reprint went (for a few seconds), or nothing. */
function reprintNote(n) {
    const r = reprints.get(n);
    return r ? el('div', { class: `reprint-note ${r.state}`, 'data-testid': 'reprint-note', 'data-state': r.state, role: 'status', text: r.text }) : null;
}

/** The connection changed: the Reprint buttons shown say whether they can send. */
function syncReprintButtons() {
    for (const b of document.querySelectorAll('#cards button.reprint')) {
        const n = b.closest('[data-order]')?.dataset.order;
        b.disabled = reprints.get(n)?.state === 'sending' || !canReprint();
        b.title = canReprint() ? 'Print this ticket again' : REPRINT_OFFLINE;
    }
}

/** Station names in the tenant's order (unknown ones last, by name). */
function stationOrder(names) {
    const rank = (s) => { const i = tenantStations.indexOf(s); return i < 0 ? 1e6 : i; };
    return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function renderPager() {
    const more = $('#more');
    const n = layout.pages.length;
    more.hidden = layout.hidden === 0;
    more.textContent = `+${layout.hidden} more`;
    more.dataset.hidden = String(layout.hidden);
    const info = $('#pageinfo');
    info.hidden = n <= 1;
    info.textContent = `Page ${page + 1}/${n}`;
}

function renderAllDay() {
    const counts = new Map();
    let open = 0;
    for (const c of cards.values()) {
        if (c.closed || isDone(c)) continue;
        open++;
        for (const it of c.order.items || []) {
            if (mode === 'kitchen' && filter && itemStation(it) !== filter) continue;
            if (mode === 'expo' && isPartDone(c.order.stations?.[itemStation(it)])) continue;
            const k = itemName(it);
            counts.set(k, (counts.get(k) || 0) + itemQty(it));
        }
    }
    const rows = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    $('#allday').replaceChildren(...rows.map(([k, v]) => el('li', { 'data-item': k }, el('span', { text: k }), el('b', { text: String(v) }))));
    $('#allday-total').textContent = `${open} open order${open === 1 ? '' : 's'}`;
}

function renderStations() {
    const pick = $('#station-pick');
    pick.hidden = mode === 'station';
    if (mode === 'station') return;
    const seen = new Set(tenantStations);
    for (const c of cards.values()) for (const it of c.order.items || []) if (it.station) seen.add(it.station);
    if (filter) seen.add(filter);
    const sel = $('#station');
    const want = ['', ...stationOrder(seen)];
    const have = [...sel.options].map((o) => o.value);
    if (want.join('\n') !== have.join('\n')) {
        sel.replaceChildren(...want.map((s) => el('option', { value: s, text: s || 'All' })));
    }
    sel.value = filter;
}

/** Until the bridge's clock is measured (a fraction of a second) an age could
 *  be this device's wrong clock: show none rather than a wrong red. */
function clockTrusted() { return clockMeasured() || Date.now() - startedAt > CLOCK_WAIT_MS; }

/** A card's age now, as shown ('' while the clock is not trusted yet). */
function ageText(c, now = bridgeNow()) {
    return clockTrusted() ? formatAge(now - ageBase(c, now)) : '';
}

function tick() {
    const now = bridgeNow();
    const trusted = clockTrusted();
    $('#clock').textContent = trusted ? new Date(now).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';
    for (const node of document.querySelectorAll('#cards .ticket')) {
        const c = cards.get(node.dataset.order ?? node.dataset.cont);
        if (!c) continue;
        const age = (now - ageBase(c, now)) / 1000;
        const ageNode = node.querySelector('.age');
        if (ageNode) ageNode.textContent = ageText(c, now);
        node.classList.toggle('age-warn', trusted && !c.closed && age >= thresholds.warn && age < thresholds.late);
        node.classList.toggle('age-late', trusted && !c.closed && age >= thresholds.late);
    }
    // Orders closed elsewhere whose reason we never learnt fade out after a minute.
    for (const [n, c] of cards) if (c.closed && c.closed.status === 'closed' && now - c.closed.at > 60000) { cards.delete(n); render(); return; }
}

// ---- actions ----------------------------------------------------------------
function select(n) {
    selected = selected === n ? null : n;
    for (const node of document.querySelectorAll('#cards .ticket')) {
        node.classList.toggle('selected', selected !== null && (node.dataset.order ?? node.dataset.cont) === selected);
    }
}

function dismiss(n) {
    cards.delete(n);
    if (selected === n) selected = null;
    render();
}

async function move(n, to, { record = false } = {}) {
    const c = cards.get(n);
    if (!c || c.closed) return;
    const from = statusOf(c);
    c.pending = to;
    if (record) { bumped.push({ order_number: n, from, to }); if (bumped.length > 20) bumped.shift(); }
    render();
    try {
        await bus.setStatus(n, to);
    } catch (err) {
        toast(`${n}: ${err.code === 'illegal_transition' ? `cannot go ${from} → ${to}` : err.message}`, true);
    } finally {
        const cur = cards.get(n);
        if (cur && cur.pending === to) { cur.pending = null; render(); }
    }
}

/** Shows how order n's reprint goes; a finished one goes after a few seconds. */
function noteReprint(n, state, text) {
    const was = reprints.get(n);
    if (was) clearTimeout(was.timer);
    const r = { state, text, timer: null };
    if (state !== 'sending') {
        r.timer = setTimeout(() => { if (reprints.get(n) === r) { reprints.delete(n); renderSoon(); } }, REPRINT_NOTE_MS[state]);
    }
    reprints.set(n, r);
    render();               // now: the tap shows Printing… (and the button off) before any answer
}

/** Asks the bridge to print order n again (not an order change: no outbox, no
 *  pending status; kb/bus.mjs reprint()). One at a time per card. */
async function reprintOrder(n) {
    if (!bus || reprints.get(n)?.state === 'sending') return;
    if (!canReprint()) return noteReprint(n, 'failed', REPRINT_OFFLINE);
    noteReprint(n, 'sending', 'Printing…');
    try {
        await bus.reprint(n);
        noteReprint(n, 'done', 'Sent to printer');
    } catch (err) {
        const why = err.code === 'timeout' ? 'No answer from the bridge: it may still print'
            : `Not printed: ${err.detail || err.message}`;
        noteReprint(n, 'failed', why);
    }
}

function bump(n) {
    const c = cards.get(n);
    if (!c) return;
    if (c.closed) return dismiss(n);
    const next = nextOf(c.pending || statusOf(c));
    if (!next) return;
    move(n, next, { record: true });
}

/** A station screen's most recently finished part (to recall after a reload). */
function lastDone() {
    let best = null;
    for (const c of cards.values()) {
        if (isDone(c) && (!best || String(c.order.updated_at || '') > String(best.order.updated_at || ''))) best = c;
    }
    return best ? { order_number: best.order.order_number, from: null, to: partOf(best) } : null;
}

function recall() {
    const last = bumped.pop() || (mode === 'station' ? lastDone() : null);
    if (!last) return toast('Nothing to recall');
    const c = cards.get(last.order_number);
    if (!c || c.closed) return toast(`${last.order_number} is closed (${c?.closed?.status || last.to}); it cannot be recalled`, true);
    const back = recallOf(statusOf(c)) || recallOf(c.pending);
    selected = last.order_number;
    if (back) {
        toast(`Recalled ${last.order_number} to ${back}`);
        return move(last.order_number, back);
    }
    render();
    toast(`${last.order_number} selected (only a ready ${mode === 'station' ? 'part' : 'order'} can go back to preparing)`);
}

/** What Enter bumps when nothing is selected: the first ticket of the visible
 *  page (on the expo screen, its first ready order if it has one). */
function defaultTarget() {
    const shown = shownOnPage().map((n) => cards.get(n)).filter(Boolean);
    const pick = (mode === 'expo' && shown.find((c) => !c.closed && isReady(c.order.status))) || shown[0];
    return pick?.order.order_number;
}

function flip(delta) {
    const n = layout.pages.length;
    if (n <= 1) return;
    page = flipPage(page, delta, n);
    selected = null;
    render();
}

function onKey(e) {
    if (!$('#login').hidden) return;
    const tag = e.target?.tagName;
    if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA') return;
    if (e.ctrlKey || e.altKey || e.metaKey) return;
    if (!alerts.soundOn()) alerts.arm();      // a key press is a user gesture too
    const list = layout.list;
    const idx = list.findIndex((c) => c.order.order_number === selected);
    if (/^[0-9]$/.test(e.key)) {
        const i = slotTicket(layout.pages, page, e.key);
        if (i >= 0) { selected = list[i].order.order_number; render(); }
        e.preventDefault();
    } else if (e.key === 'Enter' || e.key === ' ') {
        const target = selected && cards.has(selected) ? selected : defaultTarget();
        if (target) bump(target);
        e.preventDefault();
    } else if (e.key === 'r' || e.key === 'R' || e.key === 'Backspace' || e.key === '-') {
        recall();
        e.preventDefault();
    } else if (e.key === 'PageDown' || e.key === 'ArrowRight' || e.key === '+') {
        flip(1);
        e.preventDefault();
    } else if (e.key === 'PageUp' || e.key === 'ArrowLeft') {
        flip(-1);
        e.preventDefault();
    } else if (e.key === 'Home' || e.key === 'End') {
        if (layout.pages.length > 1) { page = e.key === 'Home' ? 0 : layout.pages.length - 1; selected = null; render(); }
        e.preventDefault();
    } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        // The selection moves through every ticket; the page follows it.
        const d = e.key === 'ArrowDown' ? 1 : -1;
        if (list.length) {
            const from = idx >= 0 ? idx : (d > 0 ? (layout.pages[page]?.tickets[0] ?? 0) - 1 : (layout.pages[page]?.tickets.at(-1) ?? 0) + 1);
            selected = list[(from + d + list.length) % list.length].order.order_number;
            render();
        }
        e.preventDefault();
    } else if (e.key === 'Escape') {
        selected = null;
        render();
    }
}

// ---- orders from the bus -------------------------------------------------------
function describe(o) {
    const bits = [`Order ${o.order_number}`];
    if (o.table) bits.push(`table ${o.table}`);
    else if (o.customer_name) bits.push(`for ${o.customer_name}`);
    if (o.priority === 'rush') bits.push('rush');
    return bits.join(', ');
}

function onOrder(ev) {
    const n = ev.order_number;
    if (ev.type === 'new' || (ev.type === 'update' && !cards.has(n))) {
        cards.set(n, { order: ev.order, seenAt: bridgeNow(), closed: null, pending: null, fresh: !ev.initial });
        if (ev.type === 'new' && !ev.initial) {
            // One alert per new order; a burst after an outage is one sound, not twenty.
            alerts.newOrder({
                speech: `New ${describe(ev.order)}`, title: `New order ${n}`, tag: n,
                body: (ev.order.items || []).map((it) => `${itemQty(it)}× ${itemName(it)}`).join(', '),
            });
        }
    } else if (ev.type === 'update') {
        const c = cards.get(n);
        c.order = ev.order;
        c.closed = null;
        if (c.pending && statusOf(c) === c.pending) c.pending = null;
    } else if (ev.type === 'closed') {
        const c = cards.get(n);
        if (!c) return;
        if (ev.status === 'served' || (mode === 'station' && ev.status === 'closed' && isDone(c))) {
            // Served, or closed without a reason (its closing view lost) after a station's part was done.
            cards.delete(n);
            if (selected === n) selected = null;
        } else {
            c.closed = { status: ev.status, by: ev.by, at: bridgeNow() };
            c.pending = null;
            if (ev.status === 'cancelled') {
                alerts.play('cancel');
                alerts.speak(`${describe(c.order)} is cancelled`);
                toast(`Order ${n} CANCELLED${ev.by ? ` by ${ev.by}` : ''}`, true);
                alerts.notify(`Order ${n} cancelled`, 'Stop preparing it', `${n}-cancel`);
            } else if (mode === 'station') {
                toast(`Order ${n} was closed (served or cancelled) before the ${myStation} part was done`, true);
            } else {
                toast(`Order ${n} was closed elsewhere`, true);
            }
        }
    }
    renderSoon();
}

/** The device's info says which screen this is. */
function setMode(info) {
    const was = `${mode}/${myStation}`;
    tenantStations = Array.isArray(info.stations) ? info.stations.map(String) : [];
    myStation = info.role === 'kitchen' && info.station ? String(info.station) : '';
    mode = info.role === 'expo' ? 'expo' : myStation ? 'station' : 'kitchen';
    document.body.dataset.mode = mode;
    const name = info.tenant_name || info.tenant;
    const what = mode === 'station' ? `${myStation} station` : mode === 'expo' ? 'expo' : 'kitchen';
    $('#tenant-name').textContent = mode === 'kitchen' ? name : `${name} · ${what}`;
    document.title = `${name} ${what} · Kitchen Bus`;
    if (`${mode}/${myStation}` !== was) { selected = null; page = 0; }
    render();
}

// ---- presence ------------------------------------------------------------------
let presence = { synced: false, docs: new Map() };

/** "No screen is on for station <s>" for each station with screens, none on
 *  (whole-order and expo screens; kb/presence.mjs decides). One banner. */
function renderPresence() {
    const box = $('#presence-warning');
    const warnings = presence.synced && bus?.info ? presenceWarnings(presence.docs, bus.info) : [];
    const text = warnings.map((w) => w.key).join('\n');
    if (text === box.dataset.shown) return;           // unchanged: no layout change either
    box.dataset.shown = text;
    box.hidden = warnings.length === 0;
    box.replaceChildren(...warnings.flatMap((w, i) => [
        ...(i ? [el('span', { class: 'sep', text: '·' })] : []),
        el('span', { 'data-warning': w.key, 'data-station': w.station, text: w.text })]));
}

// ---- start --------------------------------------------------------------------
function start() {
    alerts.installSound();
    keepClock();
    document.addEventListener('keydown', onKey);
    $('#station').addEventListener('change', (e) => {
        filter = e.target.value;
        localStorage.setItem('kb:kitchen:station', filter);
        selected = null;
        page = 0;
        render();
    });
    $('#settings').addEventListener('click', (e) => {
        if (e.shiftKey) return logout('kitchen');
        const what = prompt('Type "timers" to change the card timers or "logout" to log this screen out.', 'timers');
        if (what === 'logout') logout('kitchen');
        else if (what === 'timers') editThresholds();
    });
    $('#more').addEventListener('click', () => flip(1));
    alerts.installSwitches();
    alerts.show();
    render();
    setInterval(tick, 1000);
    window.addEventListener('online', () => bus?.reconnectNow());
    // A new size (a rotated tablet, the sound banner gone) is a new layout.
    let size = '';
    new ResizeObserver(() => {
        const r = $('#cards').getBoundingClientRect();
        const now = `${Math.round(r.width)}x${Math.round(r.height)}`;
        if (now !== size) { size = now; renderSoon(); }
    }).observe($('#cards'));

    login('kitchen', {
        roles: ['kitchen', 'expo'],
        onBus: (b) => {
            bus = kb.bus = b;
            $('#device').textContent = b.username;
            b.onInfo((info) => { setMode(info); renderPresence(); });
            b.onPresence((p) => { presence = p; renderPresence(); });
            showConnection(b, $('#conn'), (s) => {
                kb.state = s.state; kb.reason = s.reason; kb.stateLog.push(s.state);
                syncReprintButtons();
            });
            b.onOutbox((size) => {
                const o = $('#outbox');
                o.hidden = size === 0;
                o.textContent = `${size} waiting to send`;
                kb.outbox = size;
            });
            b.onOrder(onOrder);
        },
    });
}

start();
