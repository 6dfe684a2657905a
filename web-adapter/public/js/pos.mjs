// The POS page (/pos): order entry for trying the bus and for outlets without a POS.
// A plain banner says when no kitchen screen of the tenant is on (presence,
// kb/presence.mjs); orders are taken all the same.
import { canMove, isOpen } from '../kb/status.mjs';
import { presenceWarnings } from '../kb/presence.mjs';
import { $, el, login, logout, showConnection, STATUS_LABEL, toast } from './common.mjs';

const MENUS = {
    pizza: [['Margherita', 'oven'], ['Pepperoni', 'oven'], ['Quattro formaggi', 'oven'], ['Garlic bread', 'oven'],
        ['Caesar salad', 'cold'], ['Tiramisu', 'cold'], ['Cola', 'bar'], ['Lemonade', 'bar']],
    burger: [['Cheeseburger', 'grill'], ['Double burger', 'grill'], ['Chicken burger', 'grill'], ['Fries', 'fryer'],
        ['Onion rings', 'fryer'], ['Milkshake', 'bar'], ['Cola', 'bar']],
    noodle: [['Ramen', 'wok'], ['Pad thai', 'wok'], ['Mie goreng', 'wok'], ['Gyoza', 'steamer'], ['Bao', 'steamer'],
        ['Spring rolls', 'fryer'], ['Iced tea', 'bar']],
};
const FALLBACK_MENU = [['Main', 'kitchen'], ['Side', 'kitchen'], ['Dessert', 'cold'], ['Drink', 'bar']];

const kb = window.__kb = {
    state: 'offline', reason: 'starting', outbox: 0, bus: null, stateLog: [],
    recent: () => [...recent.values()].map((r) => ({ ...r })),
    /** The presence warnings shown now (texts). */
    warnings: () => [...document.querySelectorAll('#presence-warning [data-warning]')].map((n) => n.textContent),
};

let bus = null;
let cart = [];
let recent = new Map();         // order_number -> {order_number, status, seq, detail, summary, at}
let recentKey = null;

function saveRecent() {
    const rows = [...recent.values()].slice(-60);
    localStorage.setItem(recentKey, JSON.stringify(rows));
}

function loadRecent() {
    try { recent = new Map(JSON.parse(localStorage.getItem(recentKey) || '[]').map((r) => [r.order_number, r])); } catch { recent = new Map(); }
}

/** Short, readable, and unique per browser even when two tablets share a device. */
function nextOrderNumber() {
    const tenant = bus.info?.tenant || 'x';
    let tag = localStorage.getItem('kb:pos:tag');
    if (!tag) { tag = Math.random().toString(36).slice(2, 4).toUpperCase(); localStorage.setItem('kb:pos:tag', tag); }
    const key = `kb:pos:counter:${bus.username}`;
    const n = Number(localStorage.getItem(key) || '1000') + 1;
    localStorage.setItem(key, String(n));
    return `${tenant[0].toUpperCase()}${n}-${tag}`;
}

// ---- menu and cart ---------------------------------------------------------------
function renderMenu() {
    const menu = MENUS[bus.info?.tenant] || FALLBACK_MENU;
    $('#menu').replaceChildren(...menu.map(([name, station]) => el('button', {
        'data-item': name, onclick: () => add(name, station),
    }, name, el('small', { text: station }))));
}

function add(name, station) {
    const line = cart.find((l) => l.name === name && !l.modifiers);
    if (line) line.qty++;
    else cart.push({ name, qty: 1, station, modifiers: '' });
    renderCart();
}

function renderCart() {
    $('#cart').replaceChildren(...cart.map((l, i) => el('li', {},
        el('span', { class: 'qtybtns' },
            el('button', { 'aria-label': `less ${l.name}`, onclick: () => { l.qty--; if (l.qty <= 0) cart.splice(i, 1); renderCart(); } }, '−'),
            el('b', { text: ` ${l.qty} ` }),
            el('button', { 'aria-label': `more ${l.name}`, onclick: () => { l.qty++; renderCart(); } }, '+')),
        el('span', { text: `${l.name}` }),
        el('small', { class: 'detail', text: l.station }),
        el('input', { placeholder: 'modifiers, comma separated', value: l.modifiers, 'aria-label': `modifiers for ${l.name}`,
            oninput: (e) => { l.modifiers = e.target.value; } }))));
    $('#submit').disabled = cart.length === 0 || !bus;
}

async function submit() {
    if (!cart.length) return;
    const order = {
        order_number: nextOrderNumber(),
        tenant_id: bus.info.tenant,
        tenant_name: bus.info.tenant_name,
        items: cart.map((l) => ({
            name: l.name, qty: l.qty, station: l.station,
            ...(l.modifiers.trim() ? { modifiers: l.modifiers.split(',').map((m) => m.trim()).filter(Boolean) } : {}),
        })),
        order_type: $('#order-type').value,
        priority: $('#priority').value,
        created_at: new Date().toISOString(),
    };
    const table = $('#table').value.trim(); if (table) order.table = table;
    const customer = $('#customer').value.trim(); if (customer) order.customer_name = customer;
    const notes = $('#notes').value.trim(); if (notes) order.notes = notes;

    cart = [];
    for (const id of ['#table', '#customer', '#notes']) $(id).value = '';
    $('#priority').value = 'normal';
    renderCart();

    const n = order.order_number;
    recent.set(n, { order_number: n, status: 'queued', seq: 0, detail: '', at: Date.now(),
        summary: order.items.map((it) => `${it.qty}× ${it.name}`).join(', ') + (table ? ` · table ${table}` : '') });
    saveRecent();
    renderRecent();
    try {
        await bus.submitOrder(order);           // the ack itself is handled in onAck (it also covers reloads)
    } catch (err) {
        toast(`${n} rejected: ${err.message}`, true);
    }
}

// ---- the order list ------------------------------------------------------------
function update(n, patch, seq) {
    const r = recent.get(n);
    if (!r) return;
    if (seq != null && seq < r.seq) return;          // older news than we have
    Object.assign(r, patch);
    if (seq != null) r.seq = seq;
    saveRecent();
    renderRecent();
}

function onAck(ack) {
    const n = ack.order_number;
    if (!n) { toast(`Rejected: ${ack.error} ${ack.detail || ''}`, true); return; }
    const r = recent.get(n);
    if (!r) return;
    if (ack.result === 'rejected') {
        if (r.status === 'queued' || r.status === 'sending') update(n, { status: 'rejected', detail: `${ack.error}: ${ack.detail || ''}` });
        else toast(`${n}: ${ack.error} ${ack.detail || ''}`, true);
        return;
    }
    update(n, { status: ack.status, detail: `${ack.result} · seq ${ack.seq}`, acked: true }, ack.seq);
}

function onOrder(ev) {
    if (!recent.has(ev.order_number)) return;
    const by = ev.by ? ` by ${ev.by}` : '';
    update(ev.order_number, { status: ev.status, detail: `seq ${ev.seq}${by}`, acked: true }, ev.seq);
}

function renderRecent() {
    const pending = new Set(bus ? bus.pending().map((p) => p.order_number) : []);
    const live = kb.state === 'live';
    const rows = [...recent.values()].sort((a, b) => b.at - a.at);
    $('#recent').replaceChildren(...rows.map((r) => {
        let st = r.status;
        if (st === 'queued' && live && pending.has(r.order_number)) st = 'sending';
        const label = { queued: 'In outbox', sending: 'Sending…', rejected: 'Rejected' }[st] || STATUS_LABEL[st] || st;
        const open = isOpen(r.status);
        return el('li', { 'data-order': r.order_number, 'data-status': r.status, 'data-testid': 'recent-order' },
            el('span', {}, el('span', { class: 'on', text: r.order_number }), ' ', el('span', { class: 'detail', text: r.summary })),
            el('span', { class: `st st-${st === 'sending' ? 'sent' : st}`, 'data-testid': 'recent-status', text: label }),
            el('span', { class: 'detail', 'data-testid': 'recent-detail', text: r.detail || (pending.has(r.order_number) ? 'waiting for the bridge' : '') }),
            el('span', { class: 'actions' },
                canMove(r.status, 'served') ? el('button', { onclick: () => act(r.order_number, 'served') }, 'Served') : null,
                open || r.status === 'queued' ? el('button', { 'data-testid': 'cancel', onclick: () => act(r.order_number, 'cancelled') }, 'Cancel') : null));
    }));
}

async function act(n, status) {
    if (status === 'cancelled' && !confirm(`Cancel order ${n}?`)) return;
    try {
        await bus.setStatus(n, status);
    } catch (err) {
        toast(`${n}: ${err.message}`, true);
    }
}

// ---- presence ----------------------------------------------------------------------
let presence = { synced: false, docs: new Map() };

/** The banner under the bar: shown only once the tenant's presence is known
 *  (offline, the connection pill already says so). */
function renderPresence() {
    const box = $('#presence-warning');
    const warnings = presence.synced && bus?.info ? presenceWarnings(presence.docs, bus.info) : [];
    box.hidden = warnings.length === 0;
    box.replaceChildren(...warnings.flatMap((w, i) => [
        ...(i ? [el('span', { class: 'sep', text: '·' })] : []),
        el('span', { 'data-warning': w.key, text: w.text })]));
}

// ---- start ------------------------------------------------------------------------
$('#submit').addEventListener('click', submit);
$('#logout').addEventListener('click', () => logout('pos'));
window.addEventListener('online', () => bus?.reconnectNow());

login('pos', {
    onBus: (b) => {
        bus = kb.bus = b;
        recentKey = `kb:pos:recent:${b.username}`;
        loadRecent();
        $('#device').textContent = b.username;
        b.onInfo((info) => {
            $('#tenant-name').textContent = `${info.tenant_name || info.tenant} POS`;
            document.title = `${info.tenant_name || info.tenant} POS · Kitchen Bus`;
            renderMenu();
            renderPresence();
        });
        b.onPresence((p) => { presence = p; renderPresence(); });
        showConnection(b, $('#conn'), (s) => { kb.state = s.state; kb.reason = s.reason; kb.stateLog.push(s.state); renderRecent(); });
        b.onOutbox((size) => {
            const o = $('#outbox');
            o.hidden = size === 0;
            o.textContent = `${size} in outbox`;
            kb.outbox = size;
            renderRecent();
        });
        b.onAck(onAck);
        b.onOrder(onOrder);
        renderCart();
        renderRecent();
    },
});
