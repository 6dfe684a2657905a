// admin_api: the admin HTTP API (docs/ADMIN-API.md) against a real broker
// and bridge: who may call it (sessions, CSRF, non-admins), registry changes
// applied live by diff, stale versions refused, pairing codes (once, expired,
// revoked, brute force), unpairing, presence in /api/devices and /clients,
// and KB_ADMIN_BIND. Requests that must count as another tablet come from
// another loopback address (127.0.0.2), so each rate limit is tested alone.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { startBus, waitFor, mqttClient, DEMO_REGISTRY, submitTopic, makeOrder, publish, legacyClient, subscribe } from '../lib/harness.mjs';

const TTL_S = 3;
let bus;
before(async () => {
  bus = await startBus({ registry: JSON.parse(readFileSync(DEMO_REGISTRY, 'utf8')), env: { KB_PAIRING_TTL: `${TTL_S}s` } });
});
after(async () => { await bus?.stop(); });

/** One HTTP request: {status, body (parsed JSON or text), cookie}. */
function request(method, path, { body, cookie, csrf, from = '127.0.0.1', port = bus.httpPort, host = '127.0.0.1' } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers = {};
    if (data !== undefined) { headers['content-type'] = 'application/json'; headers['content-length'] = Buffer.byteLength(data); }
    if (cookie) headers.cookie = cookie;
    if (csrf) headers['x-csrf-token'] = csrf;
    const req = http.request({ host, port, method, path, headers, localAddress: from }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let parsed = text;
        try { parsed = JSON.parse(text); } catch { /* text */ }
        const set = res.headers['set-cookie']?.[0];
        resolve({ status: res.statusCode, body: parsed, cookie: set ? set.split(';')[0] : undefined, headers: res.headers });
      });
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

async function login(username = 'admin', password = username, from = '127.0.0.1') {
  const r = await request('POST', '/api/login', { body: { username, password }, from });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { cookie: r.cookie, csrf: r.body.csrf };
}

const as = (s, extra = {}) => ({ cookie: s.cookie, csrf: s.csrf, ...extra });
const outlet = async (s) => (await request('GET', '/api/outlet', as(s))).body;

const GETS = ['/api/session', '/api/outlet', '/api/devices', '/api/overview', '/api/pairings'];
const POSTS = ['/api/logout', '/api/tenant/add', '/api/tenant/rename', '/api/station/add', '/api/device/add',
  '/api/device/remove', '/api/device/unpair', '/api/pairing/create', '/api/pairing/revoke'];

test('without an admin session every /api route answers 401, a device account 403, a wrong password 401', async () => {
  for (const p of GETS) assert.equal((await request('GET', p)).status, 401, p);
  for (const p of POSTS) assert.equal((await request('POST', p, { body: {} })).status, 401, p);
  const device = await request('POST', '/api/login', { body: { username: 'pizza-pos', password: 'pizza-pos' }, from: '127.0.0.3' });
  assert.equal(device.status, 403);
  assert.equal(device.body.error, 'not_admin');
  assert.equal(device.cookie, undefined);
  const wrong = await request('POST', '/api/login', { body: { username: 'admin', password: 'nope' }, from: '127.0.0.3' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error, 'bad_login');
  // A made-up cookie is no session.
  assert.equal((await request('GET', '/api/outlet', { cookie: 'kb_admin=' + 'a'.repeat(64) })).status, 401);
});

test('a session: HttpOnly SameSite cookie, no CORS header, and every POST needs its CSRF token', async () => {
  const r = await request('POST', '/api/login', { body: { username: 'admin', password: 'admin' } });
  assert.equal(r.status, 200);
  const set = r.headers['set-cookie'][0];
  assert.match(set, /^kb_admin=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=\//);
  assert.equal(r.headers['access-control-allow-origin'], undefined);
  const s = { cookie: r.cookie, csrf: r.body.csrf };
  const o = await outlet(s);
  assert.equal(o.writable, true);
  const change = { version: o.version, id: 'tacos', name: 'Taco Town' };
  for (const csrf of [undefined, 'f'.repeat(32)]) {
    const refused = await request('POST', '/api/tenant/add', { cookie: s.cookie, csrf, body: change });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error, 'csrf');
  }
  assert.equal((await outlet(s)).version, o.version, 'a refused request changed nothing');
  const session = await request('GET', '/api/session', as(s));
  assert.equal(session.body.user, 'admin');
  assert.equal(session.body.csrf, s.csrf);
  // Logging out ends the session.
  assert.equal((await request('POST', '/api/logout', as(s, { body: {} }))).status, 200);
  assert.equal((await request('GET', '/api/outlet', as(s))).status, 401);
});

test('a change is saved atomically with a .bak, applied to the broker live, and unrelated devices stay connected', async () => {
  const s = await login();
  // Devices of another tenant and of the same tenant stay on through the change.
  const bystanders = await Promise.all(['burger-pos', 'pizza-pos', 'pizza-kitchen', 'pizza-oven'].map((u) => mqttClient(bus, u)));
  let closed = 0;
  for (const b of bystanders) b.on('close', () => { closed++; });
  const before = readFileSync(bus.registry, 'utf8');
  let o = await outlet(s);
  let r = await request('POST', '/api/station/add', as(s, { body: { version: o.version, tenant: 'pizza', station: 'grill' } }));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  r = await request('POST', '/api/device/add', as(s, { body: { version: r.body.version, username: 'pizza-grill', role: 'kitchen', tenant: 'pizza', station: 'grill' } }));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  o = await outlet(s);
  assert.equal(o.version, r.body.version);
  assert.deepEqual(o.tenants.find((t) => t.id === 'pizza').stations, ['oven', 'cold', 'bar', 'grill']);
  assert.deepEqual(o.devices.find((d) => d.username === 'pizza-grill'), { username: 'pizza-grill', role: 'kitchen', tenant: 'pizza', station: 'grill' });
  const file = JSON.parse(readFileSync(bus.registry, 'utf8'));
  assert.ok(file.tenants[0].devices.some((d) => d.username === 'pizza-grill'));
  assert.ok(existsSync(`${bus.registry}.bak`) && !existsSync(`${bus.registry}.tmp`));
  // The broker has the new device (demo: its password is its username) and
  // its station's view; the new kitchen reads grill views only.
  await waitFor(async () => {
    try { (await mqttClient(bus, 'pizza-grill')).end(true); return true; } catch { return false; }
  }, { what: 'the broker to know pizza-grill' });
  assert.equal(closed, 0, 'no bystander was disconnected');
  for (const b of bystanders) { assert.ok(b.connected); b.end(true); }
  assert.notEqual(readFileSync(bus.registry, 'utf8'), before);
});

test('two admins change the outlet from the same version: one wins, the other gets 409 stale; a bad change is 400', async () => {
  const a = await login();
  const b = await login();
  const { version } = await outlet(a);
  const [ra, rb] = await Promise.all([
    request('POST', '/api/tenant/rename', as(a, { body: { version, id: 'burger', name: 'Burger One' } })),
    request('POST', '/api/tenant/rename', as(b, { body: { version, id: 'burger', name: 'Burger Two' } })),
  ]);
  const statuses = [ra.status, rb.status].sort();
  assert.deepEqual(statuses, [200, 409]);
  const loser = ra.status === 409 ? ra : rb;
  assert.equal(loser.body.error, 'stale');
  const o = await outlet(a);
  assert.equal(loser.body.version, o.version);
  assert.equal(o.tenants.find((t) => t.id === 'burger').name, ra.status === 200 ? 'Burger One' : 'Burger Two');
  // Rules of the registry: a bad id, a duplicate device, a station the tenant lacks.
  for (const body of [
    { version: o.version, id: 'Bad Id!', name: 'x' },
  ]) assert.equal((await request('POST', '/api/tenant/add', as(a, { body }))).status, 400);
  const dup = await request('POST', '/api/device/add', as(a, { body: { version: o.version, username: 'pizza-pos', role: 'pos', tenant: 'burger' } }));
  assert.equal(dup.status, 400);
  assert.match(dup.body.message, /pizza-pos/);
  const nost = await request('POST', '/api/device/add', as(a, { body: { version: o.version, username: 'burger-fry', role: 'kitchen', tenant: 'burger', station: 'fryer' } }));
  assert.equal(nost.status, 400);
  assert.equal((await request('POST', '/api/tenant/add', as(a, { body: '{not json' }))).status, 400);
  assert.equal((await outlet(a)).version, o.version, 'refused changes left the registry alone');
});

test('a hand edit plus SIGHUP keeps working, and a change made on the old version is refused', async () => {
  const s = await login();
  const { version } = await outlet(s);
  const doc = JSON.parse(readFileSync(bus.registry, 'utf8'));
  doc.tenants.find((t) => t.id === 'noodle').name = 'Noodle Hand-Edited';
  (await import('node:fs')).writeFileSync(bus.registry, JSON.stringify(doc, null, 2));
  bus.bridge.kill('SIGHUP');
  await waitFor(async () => (await outlet(s)).version !== version, { what: 'the SIGHUP reload' });
  assert.equal((await outlet(s)).tenants.find((t) => t.id === 'noodle').name, 'Noodle Hand-Edited');
  const r = await request('POST', '/api/tenant/rename', as(s, { body: { version, id: 'noodle', name: 'Lost' } }));
  assert.equal(r.status, 409);
});

async function pairingFor(s, username) {
  const r = await request('POST', '/api/pairing/create', as(s, { body: { username } }));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

test('a pairing works once, for the device it was made for, and its password is the broker\'s', async () => {
  const s = await login();
  const p = await pairingFor(s, 'noodle-kitchen');
  assert.match(p.code, /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}$/);
  assert.equal(p.url, `http://127.0.0.1:${bus.httpPort}/pair?code=${p.code}`);
  assert.ok(p.expires_in <= TTL_S && p.expires_in >= TTL_S - 1);
  assert.ok((await request('GET', '/api/pairings', as(s))).body.pairings.some((x) => x.code === p.code));
  // An old tablet of that device is cut off when a new one pairs.
  const old = await mqttClient(bus, 'noodle-kitchen');
  const oldClosed = new Promise((resolve) => old.once('close', resolve));
  const typed = `${p.code.slice(0, 4).toLowerCase()}-${p.code.slice(4)}`; // as typed by a person
  const r = await request('POST', '/api/pair', { body: { code: typed }, from: '127.0.0.4' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual({ ...r.body, password: undefined }, { username: 'noodle-kitchen', password: undefined, role: 'kitchen', tenant: 'noodle', station: null, page: '/kitchen' });
  assert.match(r.body.password, /^[A-Za-z0-9_-]{24}$/);
  await oldClosed;
  old.end(true);
  const fresh = await mqttClient(bus, 'noodle-kitchen', r.body.password);
  fresh.end(true);
  await assert.rejects(mqttClient(bus, 'noodle-kitchen', 'noodle-kitchen'), /bad user name or password|Not authorized|Bad username/i);
  const again = await request('POST', '/api/pair', { body: { code: p.code }, from: '127.0.0.4' });
  assert.equal(again.status, 410);
  assert.equal(again.body.error, 'used_code');
  assert.doesNotMatch(bus.bridgeLog(), new RegExp(r.body.password), 'the password is never logged');
  const devices = (await request('GET', '/api/devices', as(s))).body.devices;
  const entry = devices.find((d) => d.username === 'noodle-kitchen');
  assert.ok(['127.0.0.4', '127.0.0.1'].includes(entry.address), entry.address); // the pairing's, or the broker's log of the connect after it
  assert.ok(entry.paired);
});

test('an expired code, a revoked code and an unknown code each fail with their reason', async () => {
  const s = await login();
  const revoked = await pairingFor(s, 'burger-kitchen');
  assert.equal((await request('POST', '/api/pairing/revoke', as(s, { body: { code: revoked.code } }))).status, 200);
  let r = await request('POST', '/api/pair', { body: { code: revoked.code }, from: '127.0.0.5' });
  assert.equal(r.status, 410);
  assert.equal(r.body.error, 'revoked_code');
  const expiring = await pairingFor(s, 'burger-kitchen');
  const deadline = Date.now() + expiring.expires_in * 1000 + 1000;
  await waitFor(() => Date.now() > deadline, { timeout: (TTL_S + 3) * 1000, what: 'the pairing code to expire' });
  r = await request('POST', '/api/pair', { body: { code: expiring.code }, from: '127.0.0.5' });
  assert.equal(r.status, 410);
  assert.equal(r.body.error, 'expired_code');
  r = await request('POST', '/api/pair', { body: { code: 'ZZZZZZZZ' }, from: '127.0.0.6' });
  assert.equal(r.status, 404);
  assert.equal(r.body.error, 'unknown_code');
  r = await request('POST', '/api/pair', { body: { code: '0O1IL' }, from: '127.0.0.6' });
  assert.equal(r.status, 404);
});

test('guessing codes is rate-limited per address: after 5 misses even a good code is refused there, not elsewhere', async () => {
  const s = await login();
  const good = await pairingFor(s, 'burger-pos');
  for (let i = 0; i < 5; i++) {
    const r = await request('POST', '/api/pair', { body: { code: `2345678${'ABCDE'[i]}` }, from: '127.0.0.7' });
    assert.equal(r.status, 404);
  }
  const blocked = await request('POST', '/api/pair', { body: { code: good.code }, from: '127.0.0.7' });
  assert.equal(blocked.status, 429);
  const other = await request('POST', '/api/pair', { body: { code: good.code }, from: '127.0.0.8' });
  assert.equal(other.status, 200, 'the code was not burnt by the refused attempt');
});

test('presence: /api/devices and /clients follow a device on, then off through its will when its socket dies', async () => {
  const s = await login();
  const topic = 'outlet/tenant/burger/kitchen/burger-kitchen/presence';
  const paired = await pairingFor(s, 'burger-kitchen');
  const { password } = (await request('POST', '/api/pair', { body: { code: paired.code }, from: '127.0.0.9' })).body;
  const kitchen = await mqttClient(bus, 'burger-kitchen', password, {
    will: { topic, payload: JSON.stringify({ online: false }), qos: 1, retain: true },
  });
  await publish(kitchen, topic, { online: true, since: '2020-01-01T00:00:00Z', page: '/kitchen', version: 'test', user_agent: 'node' }, { qos: 1, retain: true });
  const entry = async () => (await request('GET', '/api/devices', as(s))).body.devices.find((d) => d.username === 'burger-kitchen');
  await waitFor(async () => (await entry()).online === true, { what: 'burger-kitchen online in /api/devices' });
  // The pairing came from 127.0.0.9; the broker's log says where the MQTT connection came from.
  await waitFor(async () => (await entry()).address === '127.0.0.1', { what: 'the address from the broker\'s log' });
  const on = await entry();
  assert.equal(on.page, '/kitchen');
  assert.ok(Date.parse(on.since) > Date.parse('2026-01-01'), 'since is the bridge\'s clock, not the tablet\'s');
  const clients = await (await fetch(bus.url('/clients'))).json();
  assert.ok(clients.mqtt_clients.some((c) => c.device === 'burger-kitchen' && c.transport === 'mqtt'));
  const overview = (await request('GET', '/api/overview', as(s))).body;
  assert.equal(overview.tenants.find((t) => t.id === 'burger').screens_online, 1);
  assert.match(await bus.metrics(), /^kb_devices_online\{tenant="burger",role="kitchen"\} 1$/m);
  kitchen.stream.destroy(); // the tablet's battery dies: no DISCONNECT, the will fires
  await waitFor(async () => (await entry()).online === false, { what: 'burger-kitchen offline through its will' });
  assert.match(await bus.metrics(), /^kb_devices_online\{tenant="burger",role="kitchen"\} 0$/m);
  kitchen.end(true);
  // Only that device may write its presence: pizza-pos cannot fake it.
  const pos = await mqttClient(bus, 'pizza-pos');
  await publish(pos, topic, { online: true }, { qos: 1, retain: true }).catch(() => {});
  await publish(pos, submitTopic('pizza', 'pizza-pos'), makeOrder('pizza'), { qos: 1 });
  pos.end(true);
  assert.equal((await entry()).online, false);
});

test('a kitchen on the old sync server\'s protocol counts as a screen: the bridge writes its presence, and a stale one of an earlier run is cleared', async () => {
  const s = await login();
  const watcher = await mqttClient(bus, 'noodle-pos'); // a POS reads its tenant's presence
  const seen = [];
  watcher.on('message', (topic, payload) => { if (topic.endsWith('/presence')) seen.push({ topic, doc: payload.length ? JSON.parse(payload) : null }); });
  await subscribe(watcher, ['outlet/tenant/noodle/+/+/presence']);
  const topic = 'outlet/tenant/noodle/kitchen/noodle-kitchen/presence';
  const p = await pairingFor(s, 'noodle-kitchen');
  const { password } = (await request('POST', '/api/pair', { body: { code: p.code }, from: '127.0.0.13' })).body;
  const old = await legacyClient(bus, { type: 'kitchen', id: 'K-OLD', username: 'noodle-kitchen', password });
  await old.waitType('connected');
  await waitFor(() => seen.some((m) => m.topic === topic && m.doc?.online === true && m.doc.via === 'legacy'), { what: 'the legacy kitchen online' });
  const entry = async () => (await request('GET', '/api/devices', as(s))).body.devices.find((d) => d.username === 'noodle-kitchen');
  await waitFor(async () => (await entry()).online, { what: 'noodle-kitchen online in /api/devices' });
  assert.equal((await entry()).page, 'legacy');
  const second = await legacyClient(bus, { type: 'kitchen', id: 'K-OLD-2', username: 'noodle-kitchen', password });
  await second.waitType('connected');
  await old.close();
  assert.equal((await entry()).online, true, 'one of its connections is still there');
  await second.close();
  await waitFor(async () => (await entry()).online === false, { what: 'noodle-kitchen offline after its last connection' });
  // The bridge dies with a legacy kitchen connected: its next run clears that presence.
  const third = await legacyClient(bus, { type: 'kitchen', id: 'K-OLD-3', username: 'noodle-kitchen', password });
  await third.waitType('connected');
  await waitFor(async () => (await entry()).online, { what: 'online again' });
  const mark = seen.length;
  await bus.killBridge();
  await third.waitClose();
  await bus.startBridge();
  await waitFor(() => seen.slice(mark).some((m) => m.topic === topic && m.doc?.online === false), { what: 'the stale legacy presence cleared' });
  watcher.end(true);
});

test('after a bridge restart, a device that stayed on keeps the since its retained presence says (within bounds)', async () => {
  const topic = 'outlet/tenant/noodle/pos/noodle-pos/presence';
  const pos = await mqttClient(bus, 'noodle-pos', 'noodle-pos', { will: { topic, payload: JSON.stringify({ online: false }), qos: 1, retain: true } });
  const since = new Date(Date.now() - 3600e3).toISOString(); // on for an hour, by the bridge-corrected page clock
  await publish(pos, topic, { online: true, since, page: '/pos' }, { qos: 1, retain: true });
  await bus.killBridge();
  await bus.startBridge();
  const s = await login();
  const entry = async () => (await request('GET', '/api/devices', as(s))).body.devices.find((d) => d.username === 'noodle-pos');
  await waitFor(async () => (await entry()).online, { what: 'noodle-pos online after the restart' });
  assert.equal((await entry()).since, since);
  pos.end(true);
});

test('overview: open orders and the oldest open order\'s age per tenant', async () => {
  const s = await login();
  const pos = await mqttClient(bus, 'pizza-pos');
  await publish(pos, submitTopic('pizza', 'pizza-pos'), makeOrder('pizza'), { qos: 1 });
  await waitFor(async () => (await request('GET', '/api/overview', as(s))).body.tenants.find((t) => t.id === 'pizza').open_orders >= 1,
    { what: 'an open pizza order in the overview' });
  pos.end(true);
  const o = (await request('GET', '/api/overview', as(s))).body;
  const pizza = o.tenants.find((t) => t.id === 'pizza');
  assert.ok(pizza.oldest_open_age_s >= 0 && pizza.oldest_open_age_s < 600);
  assert.equal(o.health.status, 'ok');
});

test('unpairing cuts the tablet off; removing a device deletes it from the registry and the broker', async () => {
  const s = await login();
  const p = await pairingFor(s, 'pizza-bar');
  const { password } = (await request('POST', '/api/pair', { body: { code: p.code }, from: '127.0.0.10' })).body;
  const tablet = await mqttClient(bus, 'pizza-bar', password);
  const closed = new Promise((resolve) => tablet.once('close', resolve));
  assert.equal((await request('POST', '/api/device/unpair', as(s, { body: { username: 'pizza-bar' } }))).status, 200);
  await closed;
  tablet.end(true);
  await assert.rejects(mqttClient(bus, 'pizza-bar', password));
  const { version } = await outlet(s);
  const again = await mqttClient(bus, 'pizza-cold');
  const gone = new Promise((resolve) => again.once('close', resolve));
  const r = await request('POST', '/api/device/remove', as(s, { body: { version, username: 'pizza-cold' } }));
  assert.equal(r.status, 200);
  await gone;
  again.end(true);
  assert.ok(!(await outlet(s)).devices.some((d) => d.username === 'pizza-cold'));
  await assert.rejects(mqttClient(bus, 'pizza-cold'));
  // The last admin cannot be removed.
  const last = await request('POST', '/api/device/remove', as(s, { body: { version: r.body.version, username: 'admin' } }));
  assert.equal(last.status, 400);
});

test('failed logins are rate-limited per address', async () => {
  for (let i = 0; i < 5; i++) {
    assert.equal((await request('POST', '/api/login', { body: { username: 'admin', password: 'wrong' }, from: '127.0.0.11' })).status, 401);
  }
  const r = await request('POST', '/api/login', { body: { username: 'admin', password: 'admin' }, from: '127.0.0.11' });
  assert.equal(r.status, 429);
  assert.equal((await request('POST', '/api/login', { body: { username: 'admin', password: 'admin' }, from: '127.0.0.12' })).status, 200);
});

test('KB_ADMIN_BIND: /admin and /api answer only on that address; /pair, /api/pair and the pages everywhere; a bad value stops the bridge with one line', async () => {
  const other = await startBus({ env: { KB_ADMIN_BIND: '127.0.0.2' } });
  try {
    const get = (p) => request('GET', p, { port: other.httpPort });
    assert.equal((await get('/api/session')).status, 404);
    assert.equal((await get('/admin')).status, 404);
    assert.equal((await request('POST', '/api/login', { port: other.httpPort, body: { username: 'admin', password: 'admin' } })).status, 404);
    const pair = await request('POST', '/api/pair', { port: other.httpPort, body: { code: 'ZZZZZZZZ' } });
    assert.equal(pair.body.error, 'unknown_code', 'the pairing endpoint answers');
    assert.equal((await get('/pair')).status, 200);
    assert.equal((await get('/kitchen')).status, 200);
    assert.equal((await get('/health')).status, 200);
  } finally { await other.stop(); }
  // The default answers on the address the HTTP port listens on.
  assert.equal((await request('GET', '/api/session')).status, 401);
  assert.equal((await request('GET', '/admin')).status, 200);
  const { spawnSync } = await import('node:child_process');
  const { BRIDGE_BIN } = await import('../lib/harness.mjs');
  const run = spawnSync(BRIDGE_BIN, [], { env: { ...bus.bridgeEnv, KB_ADMIN_BIND: 'the-office' }, encoding: 'utf8', timeout: 5000 });
  assert.equal(run.status, 2);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0], /KB_ADMIN_BIND=the-office is not an IPv4 address/);
});
