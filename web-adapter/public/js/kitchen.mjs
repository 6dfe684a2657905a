// The kitchen display (/kitchen).
import { nextStatus, recallStatus } from '../kb/status.mjs';
import { $, el, formatAge, login, logout, showConnection, STATUS_LABEL } from './common.mjs';
import { createAlerts } from './alerts.mjs';

const NEXT_LABEL = { new: 'Accept', accepted: 'Start', preparing: 'Ready', ready: 'Served' };

// Test and support hooks: everything here counts real calls, nothing is simulated.
// The alert counters (alertsPlayed, cancelAlertsPlayed, alertsMissed, spoken,
// notified, soundArmed) are kept by alerts.mjs.
const kb = window.__kb = {
    state: 'offline', reason: 'starting', stateLog: [], bus: null,
    cards: () => [...cards.values()].map((c) => ({ order_number: c.order.order_number, status: c.order.status, closed: c.closed?.status || null })),
};
const alerts = createAlerts(kb, { toast });

const cards = new Map();            // order_number -> {order, seenAt, closed, pending, fresh}
let selected = null;                // order_number
const bumped = [];                  // [{order_number, from, to}] most recent last
let bus = null;
let station = localStorage.getItem('kb:kitchen:station') || '';
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
let toastTimer = null;
function toast(msg, bad = false) {
    const t = $('#toast');
    t.textContent = msg;
    t.className = `toast${bad ? ' bad' : ''}`;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, bad ? 6000 : 3500);
}

const itemName = (it) => it.name ?? it.product_name ?? '?';
const itemQty = (it) => Number(it.qty ?? it.quantity ?? 1);
const mods = (it) => (Array.isArray(it.modifiers) ? it.modifiers : it.modifiers ? [it.modifiers] : [])
    .map((m) => (typeof m === 'string' ? m : m?.name ?? JSON.stringify(m)));

function ageBase(c) {
    const t = Date.parse(c.order.received_at || c.order.created_at || '');
    // A tablet with a wrong clock must not turn every card red: fall back to when we first saw it.
    if (!Number.isFinite(t) || t > Date.now() + 5000 || Date.now() - t > 12 * 3600 * 1000) return c.seenAt;
    return t;
}

function visibleCards() {
    return [...cards.values()]
        .filter((c) => !station || (c.order.items || []).some((it) => (it.station || '') === station))
        .sort((a, b) => (b.order.priority === 'rush') - (a.order.priority === 'rush')
            || (a.order.created_seq ?? a.order.seq ?? 0) - (b.order.created_seq ?? b.order.seq ?? 0)
            || a.seenAt - b.seenAt);
}

// ---- rendering ------------------------------------------------------------------
function render() {
    const list = visibleCards();
    const root = $('#cards');
    root.replaceChildren();
    if (!list.length) root.append(el('div', { class: 'empty', text: cards.size ? 'No open orders for this station' : 'No open orders' }));
    list.forEach((c, i) => root.append(renderCard(c, i)));
    renderAllDay();
    renderStations();
    tick();
}

function renderCard(c, i) {
    const o = c.order;
    const n = o.order_number;
    const closed = c.closed;
    const status = closed ? closed.status : o.status;
    const meta = [
        o.table != null && o.table !== '' ? el('span', {}, 'Table ', el('b', { text: String(o.table) })) : null,
        o.customer_name ? el('b', { text: o.customer_name }) : null,
        o.order_type ? el('span', { text: String(o.order_type).replace(/_/g, ' ') }) : null,
    ].filter(Boolean);
    const metaRow = meta.length ? el('div', { class: 'meta' }, ...meta.flatMap((m, k) => (k ? [' · ', m] : [m]))) : null;
    const items = el('ul', { class: 'items' }, (o.items || []).map((it) => el('li', {
        class: station && (it.station || '') !== station ? 'other-station' : null,
    },
    it.station ? el('span', { class: 'station', text: it.station }) : null,
    el('span', { class: 'qty', text: `${itemQty(it)}×` }), el('span', { class: 'name', text: itemName(it) }),
    mods(it).length ? el('div', { class: 'mods', text: mods(it).join(', ') }) : null,
    it.notes ? el('div', { class: 'inote', text: it.notes }) : null)));

    let actions;
    if (closed) {
        actions = [el('span', { class: 'status', text: STATUS_LABEL[status] || status }),
            el('button', { class: 'bump', 'data-testid': 'dismiss', onclick: (e) => { e.stopPropagation(); dismiss(n); } }, 'Dismiss')];
    } else {
        const next = nextStatus(o.status);
        actions = [el('span', { class: 'status', 'data-testid': 'status', text: STATUS_LABEL[o.status] || o.status }),
            c.pending ? el('span', { class: 'pending', text: `→ ${STATUS_LABEL[c.pending]}…` }) : null,
            recallStatus(o.status) ? el('button', { class: 'recall', title: `Back to ${recallStatus(o.status)}`, onclick: (e) => { e.stopPropagation(); move(n, recallStatus(o.status)); } }, 'Recall') : null,
            next ? el('button', { class: 'bump', 'data-testid': 'bump', onclick: (e) => { e.stopPropagation(); bump(n); } }, NEXT_LABEL[o.status]) : null];
    }
    const card = el('article', {
        class: ['card', `status-${o.status}`, closed ? 'closed' : '', n === selected ? 'selected' : '', c.fresh ? 'fresh' : ''].join(' '),
        'data-order': n, 'data-status': status, 'data-testid': 'order-card', onclick: () => select(n),
    },
    el('header', {}, el('span', { class: 'slot', text: i < 10 ? String((i + 1) % 10) : '' }), el('span', { class: n.length > 10 ? 'num long' : 'num', text: n }),
        el('span', { class: 'age', 'data-testid': 'age' })),
    closed ? el('div', { class: 'stamp', 'data-testid': 'stamp', text: status === 'cancelled' ? 'CANCELLED' : 'CLOSED' }) : null,
    o.priority === 'rush' ? el('div', { class: 'rush', text: 'RUSH' }) : null,
    metaRow, items,
    o.notes ? el('p', { class: 'notes', text: o.notes }) : null,
    el('footer', {}, ...actions));
    c.fresh = false;
    return card;
}

function renderAllDay() {
    const counts = new Map();
    for (const c of cards.values()) {
        if (c.closed) continue;
        for (const it of c.order.items || []) {
            if (station && (it.station || '') !== station) continue;
            const k = itemName(it);
            counts.set(k, (counts.get(k) || 0) + itemQty(it));
        }
    }
    const rows = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    $('#allday').replaceChildren(...rows.map(([k, v]) => el('li', { 'data-item': k }, el('span', { text: k }), el('b', { text: String(v) }))));
    const open = [...cards.values()].filter((c) => !c.closed).length;
    $('#allday-total').textContent = `${open} open order${open === 1 ? '' : 's'}`;
}

function renderStations() {
    const seen = new Set();
    for (const c of cards.values()) for (const it of c.order.items || []) if (it.station) seen.add(it.station);
    if (station) seen.add(station);
    const sel = $('#station');
    const want = ['', ...[...seen].sort()];
    const have = [...sel.options].map((o) => o.value);
    if (want.join('\n') !== have.join('\n')) {
        sel.replaceChildren(...want.map((s) => el('option', { value: s, text: s || 'All' })));
    }
    sel.value = station;
}

function tick() {
    const now = Date.now();
    $('#clock').textContent = new Date(now).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    for (const node of document.querySelectorAll('#cards .card')) {
        const c = cards.get(node.dataset.order);
        if (!c) continue;
        const age = (now - ageBase(c)) / 1000;
        node.querySelector('.age').textContent = formatAge(age * 1000);
        node.classList.toggle('age-warn', !c.closed && age >= thresholds.warn && age < thresholds.late);
        node.classList.toggle('age-late', !c.closed && age >= thresholds.late);
    }
    // Orders closed elsewhere whose reason we never learnt fade out after a minute.
    for (const [n, c] of cards) if (c.closed && c.closed.status === 'closed' && now - c.closed.at > 60000) { cards.delete(n); render(); return; }
}

// ---- actions ----------------------------------------------------------------
function select(n) {
    selected = selected === n ? null : n;
    for (const node of document.querySelectorAll('#cards .card')) node.classList.toggle('selected', node.dataset.order === selected);
}

function dismiss(n) {
    cards.delete(n);
    if (selected === n) selected = null;
    render();
}

async function move(n, to, { record = false } = {}) {
    const c = cards.get(n);
    if (!c || c.closed) return;
    const from = c.order.status;
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

function bump(n) {
    const c = cards.get(n);
    if (!c) return;
    if (c.closed) return dismiss(n);
    const next = nextStatus(c.pending || c.order.status);
    if (!next) return;
    move(n, next, { record: true });
}

function recall() {
    const last = bumped.pop();
    if (!last) return toast('Nothing to recall');
    const c = cards.get(last.order_number);
    if (!c || c.closed) return toast(`${last.order_number} is closed (${c?.closed?.status || last.to}); it cannot be recalled`, true);
    const back = recallStatus(c.order.status) || recallStatus(c.pending);
    if (back) {
        selected = last.order_number;
        toast(`Recalled ${last.order_number} to ${back}`);
        return move(last.order_number, back);
    }
    selected = last.order_number;
    render();
    toast(`${last.order_number} selected (only a ready order can go back to preparing)`);
}

function onKey(e) {
    if (!$('#login').hidden) return;
    const tag = e.target?.tagName;
    if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA') return;
    if (e.ctrlKey || e.altKey || e.metaKey) return;
    if (!alerts.soundOn()) alerts.arm();      // a key press is a user gesture too
    const list = visibleCards();
    const idx = list.findIndex((c) => c.order.order_number === selected);
    if (/^[0-9]$/.test(e.key)) {
        const i = e.key === '0' ? 9 : Number(e.key) - 1;
        if (list[i]) { selected = list[i].order.order_number; render(); }
        e.preventDefault();
    } else if (e.key === 'Enter' || e.key === ' ') {
        const target = selected && cards.has(selected) ? selected : list[0]?.order.order_number;
        if (target) bump(target);
        e.preventDefault();
    } else if (e.key === 'r' || e.key === 'R' || e.key === 'Backspace' || e.key === '-') {
        recall();
        e.preventDefault();
    } else if (e.key === 'ArrowRight' || e.key === 'ArrowDown') {
        if (list.length) { selected = list[(idx + 1) % list.length].order.order_number; render(); }
        e.preventDefault();
    } else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') {
        if (list.length) { selected = list[(idx - 1 + list.length) % list.length].order.order_number; render(); }
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
        cards.set(n, { order: ev.order, seenAt: Date.now(), closed: null, pending: null, fresh: !ev.initial });
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
        if (c.pending && ev.status === c.pending) c.pending = null;
    } else if (ev.type === 'closed') {
        const c = cards.get(n);
        if (!c) return;
        if (ev.status === 'served') {
            cards.delete(n);
            if (selected === n) selected = null;
        } else {
            c.closed = { status: ev.status, by: ev.by, at: Date.now() };
            c.pending = null;
            if (ev.status === 'cancelled') {
                alerts.play('cancel');
                alerts.speak(`${describe(c.order)} is cancelled`);
                toast(`Order ${n} CANCELLED${ev.by ? ` by ${ev.by}` : ''}`, true);
                alerts.notify(`Order ${n} cancelled`, 'Stop preparing it', `${n}-cancel`);
            } else {
                toast(`Order ${n} was closed elsewhere`, true);
            }
        }
    }
    render();
}

// ---- start --------------------------------------------------------------------
function start() {
    alerts.installSound();
    document.addEventListener('keydown', onKey);
    $('#station').addEventListener('change', (e) => {
        station = e.target.value;
        localStorage.setItem('kb:kitchen:station', station);
        selected = null;
        render();
    });
    $('#settings').addEventListener('click', (e) => {
        if (e.shiftKey) return logout('kitchen');
        const what = prompt('Type "timers" to change the card timers or "logout" to log this screen out.', 'timers');
        if (what === 'logout') logout('kitchen');
        else if (what === 'timers') editThresholds();
    });
    alerts.installSwitches();
    alerts.show();
    render();
    setInterval(tick, 1000);
    window.addEventListener('online', () => bus?.reconnectNow());

    login('kitchen', {
        onBus: (b) => {
            bus = kb.bus = b;
            $('#device').textContent = b.username;
            b.onInfo((info) => {
                $('#tenant-name').textContent = info.tenant_name || info.tenant;
                document.title = `${info.tenant_name || info.tenant} kitchen · Kitchen Bus`;
            });
            showConnection(b, $('#conn'), (s) => { kb.state = s.state; kb.reason = s.reason; kb.stateLog.push(s.state); });
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
