// admin_view: the device hub's and the pairing page's pure logic
// (web-adapter/public/js/admin-view.mjs) in plain Node: pairing codes as the
// bridge normalises them, where a paired tablet's login goes (checked against
// the pages that read it), the error page's texts, durations and ages, the
// outlet's devices grouped with their presence, and the QR code's path
// (drawn from qrcode-generator, the library the build vendors).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import qrcode from 'qrcode-generator';
import { PUBLIC } from './adapter.mjs';
import {
    CODE_ALPHABET, CODE_LENGTH, codeProblem, devicesDiffer, formatAgo, formatCountdown, formatDuration, groupCode, groupDevices,
    loginKey, normaliseCode, onlineCount, pageFor, pairError, qrPath, roleLabel, safePage, uplinkText,
} from '../../web-adapter/public/js/admin-view.mjs';

test('a code is normalised as the bridge does: upper case, spaces and dashes dropped', () => {
    assert.equal(normaliseCode('k7px-3mwq'), 'K7PX3MWQ');
    assert.equal(normaliseCode(' K7PX 3MWQ\n'), 'K7PX3MWQ');
    assert.equal(normaliseCode('k7px\u20113mwq'), 'K7PX3MWQ', 'a typographic hyphen too');
    assert.equal(normaliseCode(null), '');
    assert.equal(normaliseCode(undefined), '');
});

test('codeProblem accepts 8 characters of the alphabet and says what is wrong otherwise', () => {
    assert.equal(CODE_ALPHABET, '23456789ABCDEFGHJKMNPQRSTUVWXYZ', 'docs/ADMIN-API.md: no 0/O, 1/I/L');
    assert.equal(CODE_LENGTH, 8);
    assert.equal(codeProblem('K7PX3MWQ'), null);
    assert.equal(codeProblem('23456789'), null);
    assert.match(codeProblem(''), /8-character code/);
    assert.match(codeProblem('K7PX3MW'), /8 characters; this one has 7/);
    assert.match(codeProblem('K7PX3MWQQ'), /has 9/);
    assert.match(codeProblem('K0PX3MWO'), /no “0”, “O”/, 'each bad character named once');
    assert.match(codeProblem('K1PXIMWL'), /“1”, “I”, “L”/);
    for (const c of 'O0I1L') assert.ok(!CODE_ALPHABET.includes(c));
});

test('groupCode splits an 8-character code in two for reading out', () => {
    assert.equal(groupCode('K7PX3MWQ'), 'K7PX 3MWQ');
    assert.equal(groupCode('K7PX'), 'K7PX');
    assert.equal(normaliseCode(groupCode('K7PX3MWQ')), 'K7PX3MWQ', 'the grouped form is typed back as the code');
});

test('a paired login goes where its page reads it: kb:login:<pos|kitchen|board>, expo on the kitchen page', () => {
    assert.equal(loginKey('pos'), 'kb:login:pos');
    assert.equal(loginKey('kitchen'), 'kb:login:kitchen');
    assert.equal(loginKey('expo'), 'kb:login:kitchen');
    assert.equal(loginKey('board'), 'kb:login:board');
    assert.equal(loginKey('admin'), null);
    assert.equal(loginKey(undefined), null);
    assert.deepEqual(['pos', 'kitchen', 'expo', 'board'].map(pageFor), ['/pos', '/kitchen', '/kitchen', '/board']);
    assert.equal(pageFor('admin'), null);
    assert.equal(safePage('/kitchen', 'kitchen'), '/kitchen');
    assert.equal(safePage('https://evil.example/x', 'pos'), '/pos', 'only a page of this server');
    assert.equal(safePage('//evil.example', 'board'), '/board');
    assert.equal(safePage(undefined, 'expo'), '/kitchen');
});

test('the keys and the JSON shape are the ones the pages read (js/common.mjs login(), js/board.mjs)', () => {
    const src = (f) => readFileSync(path.join(PUBLIC, f), 'utf8');
    const common = src('js/common.mjs');
    assert.match(common, /const key = `kb:login:\$\{role\}`/);
    assert.match(common, /JSON\.parse\(localStorage\.getItem\(key\)/);
    assert.match(common, /creds\.username, password: creds\.password/, 'login() reads {username, password}');
    assert.match(src('js/kitchen.mjs'), /login\('kitchen', \{\s*roles: \['kitchen', 'expo'\]/, 'the kitchen page takes kitchen and expo devices');
    assert.match(src('js/pos.mjs'), /login\('pos'/);
    const board = src('js/board.mjs');
    assert.match(board, /const ROLE = 'board'/);
    assert.match(board, /const LOGIN_KEY = `kb:login:\$\{ROLE\}`/);
    assert.match(board, /JSON\.parse\(localStorage\.getItem\(LOGIN_KEY\)/);
    assert.match(src('js/pair.mjs'), /JSON\.stringify\(\{ username: body\.username, password: body\.password \}\)/);
});

test('pairError: one clear text per refusal, never a raw status', () => {
    assert.equal(pairError(410, { error: 'used_code' }).text, 'This pairing code has already been used — ask the manager for a new one.');
    assert.match(pairError(410, { error: 'expired_code' }).text, /expired — ask the manager for a new one/);
    assert.match(pairError(410, { error: 'revoked_code' }).text, /cancelled/);
    assert.match(pairError(404, { error: 'unknown_code' }, 'K7PX3MWQ').text, /no pairing code K7PX 3MWQ/);
    assert.equal(pairError(429, { error: 'rate_limited', message: 'x' }).title, 'Too many attempts');
    assert.equal(pairError(429, null).title, 'Too many attempts', 'by status when the body is not JSON');
    assert.equal(pairError(404, null).title, 'Unknown code');
    assert.match(pairError(503, { error: 'broker', message: 'the broker did not answer' }).text, /the broker did not answer.*Try again/);
    assert.match(pairError(400, { error: 'bad_request', message: 'code must be a string' }).text, /code must be a string/);
    assert.match(pairError(500, null).text, /answered 500/);
});

test('formatDuration, formatAgo and formatCountdown', () => {
    assert.equal(formatDuration(0), '0 s');
    assert.equal(formatDuration(59.9), '59 s');
    assert.equal(formatDuration(60), '1 min');
    assert.equal(formatDuration(3599), '59 min');
    assert.equal(formatDuration(3600 + 5 * 60), '1 h 05 min');
    assert.equal(formatDuration(26 * 3600), '1 d 2 h');
    assert.equal(formatDuration(-5), '0 s');
    assert.equal(formatDuration(null), '—');
    assert.equal(formatDuration('x'), '—');
    const now = Date.parse('2026-12-01T12:10:00.000Z');
    assert.equal(formatAgo('2026-12-01T12:09:58.000Z', now), 'just now');
    assert.equal(formatAgo('2026-12-01T12:09:30.000Z', now), '30 s ago');
    assert.equal(formatAgo('2026-12-01T12:00:00.000Z', now), '10 min ago');
    assert.equal(formatAgo(null, now), 'never');
    assert.equal(formatAgo('garbage', now, '—'), '—');
    assert.equal(formatAgo('2026-12-01T12:11:00.000Z', now), 'just now', 'a time ahead of the clock is now, not negative');
    assert.equal(formatCountdown(600000), '10:00');
    assert.equal(formatCountdown(599001), '10:00', 'a part second counts up to the whole');
    assert.equal(formatCountdown(598500), '9:59');
    assert.equal(formatCountdown(4100), '0:05');
    assert.equal(formatCountdown(0), '0:00');
    assert.equal(formatCountdown(-3000), '0:00');
});

const OUTLET = {
    version: 'v1', demo: true, outlet: { id: 'court', name: 'Court 1' },
    tenants: [{ id: 'pizza', name: 'Pizza Paradise', stations: ['oven', 'grill'] }, { id: 'burger', name: 'Burger Station' }],
    devices: [
        { username: 'pizza-pos', role: 'pos', tenant: 'pizza' },
        { username: 'pizza-grill', role: 'kitchen', tenant: 'pizza', station: 'grill' },
        { username: 'burger-kitchen', role: 'kitchen', tenant: 'burger' },
        { username: 'court-board', role: 'board', tenant: null, tenants: '*' },
        { username: 'pizza-board', role: 'board', tenant: null, tenants: ['pizza', 'burger'] },
        { username: 'admin', role: 'admin', tenant: null },
        { username: 'ghost-pos', role: 'pos', tenant: 'ghost' },
    ],
};

test('groupDevices: tenants in the registry order with their devices, boards, admins; presence merged', () => {
    const g = groupDevices(OUTLET, [
        { username: 'pizza-grill', online: true, since: '2026-12-01T12:00:00.000Z', last_seen: '2026-12-01T12:05:00.000Z', page: '/kitchen',
            address: '192.168.1.23', role: 'kitchen', tenant: 'pizza', station: 'grill' },
        { username: 'court-board', online: false, since: '2026-12-01T11:00:00.000Z' },
    ]);
    assert.deepEqual(g.tenants.map((t) => [t.id, t.name, t.stations, t.devices.map((d) => d.username)]), [
        ['pizza', 'Pizza Paradise', ['oven', 'grill'], ['pizza-pos', 'pizza-grill']],
        ['burger', 'Burger Station', [], ['burger-kitchen']],
    ]);
    assert.deepEqual(g.boards.map((d) => d.username), ['court-board', 'pizza-board']);
    assert.deepEqual(g.admins.map((d) => d.username), ['admin']);
    assert.deepEqual(g.others.map((d) => d.username), ['ghost-pos'], 'a device of no listed tenant is still shown');
    const grill = g.tenants[0].devices[1];
    assert.equal(grill.online, true);
    assert.equal(grill.address, '192.168.1.23');
    assert.equal(grill.station, 'grill', 'the registry entry wins over the presence copy');
    const pos = g.tenants[0].devices[0];
    assert.deepEqual([pos.online, pos.since, pos.last_seen, pos.address], [false, null, null, null], 'never seen: offline');
    assert.equal(g.boards[0].since, '2026-12-01T11:00:00.000Z');
    assert.equal(onlineCount(g.tenants[0].devices), 1);
    assert.deepEqual(groupDevices(null), { tenants: [], boards: [], admins: [], others: [] });
});

test('devicesDiffer notices a device added or removed elsewhere', () => {
    const same = OUTLET.devices.map((d) => ({ username: d.username })).reverse();
    assert.equal(devicesDiffer(OUTLET, same), false, 'order does not matter');
    assert.equal(devicesDiffer(OUTLET, same.slice(1)), true);
    assert.equal(devicesDiffer(OUTLET, [...same, { username: 'new-pos' }]), true);
    assert.equal(devicesDiffer(OUTLET, [...same.slice(1), { username: 'new-pos' }]), true, 'one in, one out');
});

test('roleLabel says what a device is', () => {
    const name = (id) => OUTLET.tenants.find((t) => t.id === id)?.name || id;
    const by = (u) => OUTLET.devices.find((d) => d.username === u);
    assert.equal(roleLabel(by('pizza-pos')), 'POS');
    assert.equal(roleLabel(by('pizza-grill')), 'Kitchen · grill station');
    assert.equal(roleLabel(by('burger-kitchen')), 'Kitchen · every station');
    assert.equal(roleLabel({ role: 'expo' }), 'Expo');
    assert.equal(roleLabel(by('court-board')), 'Board · all tenants');
    assert.equal(roleLabel(by('pizza-board'), name), 'Board · Pizza Paradise, Burger Station');
    assert.equal(roleLabel(by('admin')), 'Admin');
});

test('uplinkText says whether the broker\'s bridge to head office is up', () => {
    assert.equal(uplinkText({}), 'none configured');
    assert.equal(uplinkText(null), 'none configured');
    assert.equal(uplinkText({ uplink: { state: 'connected', connection: 'kb-outlet-court', since: 'x' } }), 'connected (kb-outlet-court)');
    assert.equal(uplinkText({ uplink: { state: 'disconnected', connection: 'court' } }), 'disconnected (court); orders go on');
});

test('qrPath draws exactly the dark modules of the code, inside the quiet zone', () => {
    const url = 'http://192.168.1.10:3002/pair?code=K7PX3MWQ';
    const q = qrcode(0, 'M');
    q.addData(url);
    q.make();
    const n = q.getModuleCount();
    const d = qrPath(n, (r, c) => q.isDark(r, c), 4);
    // Paint the path back onto a grid and compare it with the library's modules.
    const grid = Array.from({ length: n + 8 }, () => new Array(n + 8).fill(0));
    for (const [, x, y, w] of d.matchAll(/M(\d+) (\d+)h(\d+)v1h-\3z/g)) {
        for (let i = 0; i < Number(w); i++) grid[Number(y)][Number(x) + i] += 1;
    }
    assert.equal(d.replace(/M\d+ \d+h\d+v1h-\d+z/g, ''), '', 'nothing but row runs in the path');
    for (let r = 0; r < n + 8; r++) {
        for (let c = 0; c < n + 8; c++) {
            const inside = r >= 4 && c >= 4 && r < n + 4 && c < n + 4;
            const want = inside && q.isDark(r - 4, c - 4) ? 1 : 0;
            assert.equal(grid[r][c], want, `module ${r - 4},${c - 4}`);
        }
    }
    assert.equal(qrPath(3, () => false), '');
    assert.equal(qrPath(2, () => true, 1), 'M1 1h2v1h-2zM1 2h2v1h-2z', 'a run is one rectangle');
});
