// The admin (/admin) and pairing (/pair) pages' pure logic: pairing codes,
// where a paired tablet keeps its login, durations and "ago" texts, the
// outlet's devices grouped with their presence, the kitchen printers' texts,
// and the QR code's drawing.
// No I/O (no DOM, storage or network; clocks are passed in), so
// tests/unit-js/admin_view.test.mjs runs it in plain Node.

/** The characters of a pairing code (docs/ADMIN-API.md): no 0/O, 1/I/L. */
export const CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
export const CODE_LENGTH = 8;

/** A code as the bridge looks it up: upper case, spaces and dashes dropped. */
export function normaliseCode(text) {
    return String(text ?? '').toUpperCase().replace(/[\s\-\u2010-\u2015]+/g, '');
}

/** Why `code` (normalised) cannot be a pairing code, or null when it can. */
export function codeProblem(code) {
    if (!code) return 'Type the 8-character code shown on the manager’s screen.';
    const bad = [...code].filter((c) => !CODE_ALPHABET.includes(c));
    if (bad.length) {
        const list = [...new Set(bad)].map((c) => `“${c}”`).join(', ');
        return `A pairing code has no ${list}: it uses the letters and digits ${CODE_ALPHABET} (no 0, O, 1, I or L).`;
    }
    if (code.length !== CODE_LENGTH) return `A pairing code has ${CODE_LENGTH} characters; this one has ${code.length}.`;
    return null;
}

/** "K7PX3MWQ" -> "K7PX 3MWQ" (easier to read out and type; the bridge drops the space). */
export function groupCode(code) {
    const c = String(code ?? '');
    return c.length === CODE_LENGTH ? `${c.slice(0, 4)} ${c.slice(4)}` : c;
}

/** The page that reads a role's login (js/common.mjs login(), js/board.mjs LOGIN_KEY):
 *  an expo screen is the kitchen page. */
const PAGE_ROLE = { pos: 'pos', kitchen: 'kitchen', expo: 'kitchen', board: 'board' };

/** localStorage key where the page of `role` looks for its login, or null for a role with no page. */
export function loginKey(role) {
    const page = PAGE_ROLE[role];
    return page ? `kb:login:${page}` : null;
}

/** The page a device of `role` opens. */
export function pageFor(role) {
    const page = PAGE_ROLE[role];
    return page ? `/${page}` : null;
}

/** The page the bridge named, when it is one of ours on this server; else the role's page. */
export function safePage(page, role) {
    return typeof page === 'string' && /^\/(?:pos|kitchen|board)$/.test(page) ? page : pageFor(role);
}

/** What the pairing page says for a failed POST /api/pair: {title, text}. */
export function pairError(status, body, code = '') {
    const shown = code ? ` ${groupCode(code)}` : '';
    const ask = 'ask the manager for a new one';
    switch (body?.error) {
        case 'used_code':
            return { title: 'Code already used', text: `This pairing code has already been used — ${ask}.` };
        case 'expired_code':
            return { title: 'Code expired', text: `This pairing code has expired — ${ask}.` };
        case 'revoked_code':
            return { title: 'Code cancelled', text: `The manager cancelled this pairing code — ${ask}.` };
        case 'unknown_code':
            return { title: 'Unknown code', text: `There is no pairing code${shown}. Check it, or ${ask}.` };
        case 'rate_limited':
            return { title: 'Too many attempts',
                text: 'Too many wrong pairing codes from this tablet. Wait a minute, then try again with the code on the manager’s screen.' };
        case 'broker':
            return { title: 'Server busy', text: `The server cannot set devices up right now${body.message ? ` (${body.message})` : ''}. Try again in a moment.` };
        default:
            break;
    }
    if (status === 429) return pairError(status, { error: 'rate_limited' }, code);
    if (status === 404) return pairError(status, { error: 'unknown_code' }, code);
    const why = body?.message || (status ? `the server answered ${status}` : 'no answer');
    return { title: 'Pairing failed', text: `This tablet could not be paired: ${why}.` };
}

/** A duration in whole seconds for a person: "45 s", "12 min", "1 h 05 min", "3 d 4 h". */
export function formatDuration(seconds) {
    if (seconds == null || !Number.isFinite(Number(seconds))) return '—';
    const s = Math.max(0, Math.floor(Number(seconds)));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min`;
    const h = Math.floor(m / 60);
    if (h < 24) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
    return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** How long ago `iso` was at `nowMs` (the bridge's clock): "just now", "5 min ago", or `never`. */
export function formatAgo(iso, nowMs, never = 'never') {
    const t = iso ? Date.parse(iso) : NaN;
    if (!Number.isFinite(t)) return never;
    const s = Math.floor((nowMs - t) / 1000);
    if (s < 5) return 'just now';
    return `${formatDuration(s)} ago`;
}

/** A countdown: "9:59", "0:05"; 0 and below: "0:00". */
export function formatCountdown(ms) {
    const s = Math.max(0, Math.ceil(ms / 1000));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** What a device is, in a few words: "Kitchen · grill station", "Board · all tenants". */
export function roleLabel(d, tenantName = (id) => id) {
    switch (d.role) {
        case 'pos': return 'POS';
        case 'kitchen': return d.station ? `Kitchen · ${d.station} station` : 'Kitchen · every station';
        case 'expo': return 'Expo';
        case 'board': {
            if (d.tenants === '*' || d.tenants == null) return 'Board · all tenants';
            const list = Array.isArray(d.tenants) ? d.tenants : [d.tenants];
            return `Board · ${list.map(tenantName).join(', ') || 'no tenant'}`;
        }
        case 'admin': return 'Admin';
        default: return String(d.role ?? '?');
    }
}

/**
 * The outlet's devices (GET /api/outlet) with their presence (GET /api/devices),
 * grouped as the page shows them: {tenants: [{id, name, stations, devices}],
 * boards, admins, others}. A device keeps the registry's order; one missing
 * from the presence list is shown offline and never seen.
 */
export function groupDevices(outlet, presence = []) {
    const live = new Map((presence || []).map((p) => [p.username, p]));
    const merge = (d) => ({ online: false, since: null, last_seen: null, page: null, address: null, paired: null,
        ...(live.get(d.username) || {}), ...d });
    const tenants = (outlet?.tenants || []).map((t) => ({
        id: t.id, name: t.name || t.id, stations: Array.isArray(t.stations) ? t.stations : [], devices: [],
    }));
    const byId = new Map(tenants.map((t) => [t.id, t]));
    const out = { tenants, boards: [], admins: [], others: [] };
    for (const d of outlet?.devices || []) {
        const m = merge(d);
        if (d.role === 'board') out.boards.push(m);
        else if (d.role === 'admin') out.admins.push(m);
        else if (d.tenant && byId.has(d.tenant)) byId.get(d.tenant).devices.push(m);
        else out.others.push(m);
    }
    return out;
}

/** True when the devices the presence list names are not the outlet's (someone changed the registry). */
export function devicesDiffer(outlet, presence = []) {
    const a = (outlet?.devices || []).map((d) => d.username).sort();
    const b = (presence || []).map((d) => d.username).sort();
    return a.length !== b.length || a.some((u, i) => u !== b[i]);
}

/** How many of `devices` are online. */
export const onlineCount = (devices) => devices.filter((d) => d.online).length;

/** The health document's uplink ({state, connection, since}; absent while
 *  the broker has no bridge to head office), in words. */
export function uplinkText(health) {
    const u = health?.uplink;
    if (!u) return 'none configured';
    return u.state === 'connected' ? `connected (${u.connection})` : `disconnected (${u.connection}); orders go on`;
}

// ---- kitchen printers (GET /api/printers, docs/ADMIN-API.md "Printers") -------------------------

/** GET /api/printers' answer as the page keeps it: {printing: 'ok'|'degraded', printers: [...]},
 *  each printer with a string `printer` key (anything else is left out). */
export function printersDoc(doc) {
    const list = Array.isArray(doc?.printers) ? doc.printers : [];
    return {
        printing: doc?.printing === 'degraded' ? 'degraded' : 'ok',
        printers: list.filter((p) => p && typeof p.printer === 'string' && p.printer),
    };
}

/** What a printer prints for: "oven station" or "whole orders" (the tenant's printer, for the
 *  stations without one of their own). */
export const printerFor = (p) => (p.station ? `${p.station} station` : 'whole orders');

/** Where a printer is: its network address, or its CUPS queue. */
export function printerWhere(p) {
    if (p.cups) return `CUPS queue ${p.cups}`;
    return p.address || '—';
}

const MODE_TEXT = {
    backup: 'backup: prints when no screen is on',
    always: 'always: prints every order',
    off: 'off: prints nothing',
};
/** A printer's mode, in words. */
export const printerMode = (mode) => MODE_TEXT[mode] || String(mode ?? '?');

const STATE_TEXT = { ok: 'ok', degraded: 'degraded', off: 'off' };
/** The state badge's class suffix and text: ok, degraded (failing: its tickets wait), off. */
export const printerState = (state) => STATE_TEXT[state] || 'unknown';

/** Whether the screens of what a printer prints for are on: "screens on", "no screen: printing"
 *  (in backup mode its tickets print), "—" while the bridge does not know yet (null). */
export function printerScreens(p) {
    if (p.screens_on === true) return 'screens on';
    if (p.screens_on === false) return p.mode === 'off' ? 'no screen (printer off)' : 'no screen: printing';
    return '—';
}

/**
 * The SVG path of a QR code's dark modules: one "M x y h1v1h-1z" square per
 * module, offset by a `margin` of light modules (the quiet zone). `isDark(row, col)`.
 * The drawing is (count + 2 * margin) units square.
 */
export function qrPath(count, isDark, margin = 4) {
    let d = '';
    for (let r = 0; r < count; r++) {
        for (let c = 0; c < count; c++) {
            if (!isDark(r, c)) continue;
            // Runs of dark modules in a row are one rectangle: a shorter path.
            let run = 1;
            while (c + run < count && isDark(r, c + run)) run++;
            d += `M${c + margin} ${r + margin}h${run}v1h-${run}z`;
            c += run - 1;
        }
    }
    return d;
}
