// Shared by the kitchen display and the POS page: login, config, connection pill.
import { connect, loadConfig } from '../kitchen-bus.mjs';

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

export function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
        if (v == null || v === false) continue;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = v;
        else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
        else if (k === 'dataset') Object.assign(e.dataset, v);
        else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) if (c != null && c !== false) e.append(c.nodeType ? c : document.createTextNode(String(c)));
    return e;
}

const LABEL = { live: 'Live', degraded: 'Degraded', offline: 'Offline' };

/** Keeps the connection pill (#conn) up to date. */
export function showConnection(bus, pill, extra = () => {}) {
    return bus.onState((s) => {
        pill.dataset.state = s.state;
        pill.className = `conn conn-${s.state}`;
        $('.conn-label', pill).textContent = LABEL[s.state] || s.state;
        $('.conn-reason', pill).textContent = s.state === 'live' ? '' : s.reason;
        pill.title = s.reason;
        extra(s);
    });
}

/**
 * Log in as a device of the given role. Credentials come from ?user=&pass= (handy
 * for setting up a tablet once), or the ones remembered on this device, or the
 * login form. Resolves with a connected KitchenBus whose device has that role
 * (or one of `roles`: the kitchen page also takes an expo device).
 */
export async function login(role, { onBus, roles = [role] } = {}) {
    const key = `kb:login:${role}`;
    const params = new URLSearchParams(location.search);
    let creds = null;
    if (params.get('user')) {
        creds = { username: params.get('user'), password: params.get('pass') ?? params.get('user') };
    } else {
        try { creds = JSON.parse(localStorage.getItem(key) || 'null'); } catch { creds = null; }
    }
    let cfg;
    for (;;) {
        try { cfg = await loadConfig(); break; } catch (err) {
            showLoginError(`Cannot reach the server (${err.message}); retrying…`);
            await new Promise((r) => setTimeout(r, 2000));
        }
    }
    for (;;) {
        if (!creds) creds = await askLogin(role);
        const bus = await connect({ url: cfg.url, username: creds.username, password: creds.password });
        const verdict = await firstVerdict(bus, role, roles);
        if (verdict === 'ok') {
            localStorage.setItem(key, JSON.stringify(creds));
            hideLogin();
            if (params.get('user')) history.replaceState(null, '', location.pathname);   // no password in the address bar
            onBus?.(bus, cfg);
            return { bus, cfg };
        }
        await bus.close();
        creds = null;
        localStorage.removeItem(key);
        showLoginError(verdict);
    }
}

/** 'ok' once the device is known (or the broker is unreachable but we have
 *  logged in here before: work offline); otherwise the reason to show. */
function firstVerdict(bus, role, roles) {
    return new Promise((resolve) => {
        let done = false;
        let off = null, offInfo = null;
        const finish = (v) => {
            if (done) return;
            done = true;
            queueMicrotask(() => { off?.(); offInfo?.(); });
            resolve(v);
        };
        const check = () => {
            if (done) return;
            if (bus.authRefused) return finish('Wrong username or password.');
            if (bus.info) {
                if (!roles.includes(bus.info.role)) return finish(`“${bus.username}” is a ${bus.info.role} device, not a ${role} device.`);
                return finish('ok');
            }
            const box = loginBox();
            if (!box.hidden) $('.login-error', box).textContent = `${bus.username}: ${bus.state.reason}…`;
        };
        off = bus.onState(check);
        offInfo = bus.onInfo(check);
        check();
    });
}

function loginBox() { return $('#login'); }

function askLogin(role) {
    const box = loginBox();
    box.hidden = false;
    const form = $('form', box);
    const user = $('input[name=username]', form);
    if (!user.value) user.value = '';
    user.placeholder = role === 'kitchen' ? 'e.g. pizza-kitchen' : 'e.g. pizza-pos';
    setTimeout(() => user.focus(), 0);
    return new Promise((resolve) => {
        form.onsubmit = (ev) => {
            ev.preventDefault();
            const username = user.value.trim();
            const password = $('input[name=password]', form).value;
            if (!username) return;
            $('.login-error', box).textContent = 'Connecting…';
            resolve({ username, password });
        };
    });
}

function showLoginError(msg) {
    const box = loginBox();
    box.hidden = false;
    $('.login-error', box).textContent = msg;
}

function hideLogin() {
    loginBox().hidden = true;
    $('.login-error', loginBox()).textContent = '';
}

export function logout(role) {
    localStorage.removeItem(`kb:login:${role}`);
    location.reload();
}

const TOAST_MAX = 3;
/**
 * Shows `msg` in the page's #toast for a few seconds (longer when `bad`).
 * Messages stack, one line each with its own timer, so a later message never
 * hides an earlier one still on screen: a burst's "2 new orders" must not
 * wipe "Order D-1 CANCELLED" from the oven screen. The same text again only
 * restarts its timer; past TOAST_MAX lines the oldest plain line goes first.
 */
export function toast(msg, bad = false) {
    const t = $('#toast');
    let line = [...t.children].find((l) => l.textContent === msg);
    if (!line) {
        line = el('div', { class: bad ? 'bad' : '' }, msg);
        t.append(line);
    }
    if (bad) line.className = 'bad';            // a warning stays a warning, and keeps its time
    clearTimeout(line.timer);
    line.timer = setTimeout(() => { line.remove(); toastShow(t); }, line.className === 'bad' ? 6000 : 3500);
    while (t.children.length > TOAST_MAX) {
        const old = [...t.children].find((l) => l.className !== 'bad') || t.firstElementChild;
        clearTimeout(old.timer);
        old.remove();
    }
    toastShow(t);
}

/** Clears every toast (e.g. before a pairing code is shown full screen). */
export function clearToasts() {
    const t = $('#toast');
    for (const l of [...t.children]) { clearTimeout(l.timer); l.remove(); }
    toastShow(t);
}

function toastShow(t) {
    t.hidden = t.children.length === 0;
    t.className = `toast${t.querySelector('.bad') ? ' bad' : ''}`;
}

export function formatAge(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const m = Math.floor(s / 60);
    if (m >= 60) return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}`;
    return `${m}:${String(s % 60).padStart(2, '0')}`;
}

export const STATUS_LABEL = {
    new: 'New', accepted: 'Accepted', preparing: 'Preparing', ready: 'Ready',
    served: 'Served', cancelled: 'Cancelled', closed: 'Closed',
};
