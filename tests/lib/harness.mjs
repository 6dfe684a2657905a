// harness.mjs - starts a real Mosquitto and the real kb-bridge on free
// loopback ports for one test file, and gives tests real MQTT clients.
//
// Every wait here is on an event or a polled condition with a deadline;
// nothing sleeps in place of a condition. Each bus lives in its own temp
// directory, removed by bus.stop().
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, chmodSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = process.env.KB_ROOT || path.resolve(here, '../..');
export const BRIDGE_BIN = process.env.KB_BRIDGE_BIN || path.join(ROOT, 'build/bridge/kb-bridge');
// The broker the bus ships (broker/build.sh, built into <build>/broker by
// cmake); KB_MOSQUITTO=/usr/sbin/mosquitto runs Debian's own instead.
export const BROKER_BIN = path.resolve(process.env.KB_MOSQUITTO || path.join(path.dirname(BRIDGE_BIN), '../broker/mosquitto'));
export const DEMO_REGISTRY = path.join(ROOT, 'broker-config/demo-tenants.json');

/** Resolves when `check()` returns a truthy value; rejects after `timeout` ms. */
export async function waitFor(check, { timeout = 5000, interval = 10, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

const handedOut = new Set();

/**
 * A free TCP port on 127.0.0.1 (bound then released), never one this
 * process was given before: the kernel may hand out a port it just released
 * again, and a bus whose broker and bridge got the same port fails to start
 * (seen once in CI, under load).
 */
export async function freePort() {
  for (;;) {
    const port = await releasedPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function releasedPort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves true once something accepts TCP connections on 127.0.0.1:port, else false. */
export function portOpen(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  });
}

/** Spawns a process whose output is kept for diagnosis. */
function launch(cmd, args, env, logs, name, cwd = undefined) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk) => logs.push(`[${name}] ${chunk}`);
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return child;
}

async function stopProcess(child, signal = 'SIGTERM') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return child ? child.exited : null;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
  const exit = await child.exited;
  clearTimeout(timer);
  return exit;
}

/**
 * Starts a bus. Options: registry (path or object), bridge (false to start
 * the broker only), env (extra bridge environment).
 */
export async function startBus(opts = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kb-test-'));
  chmodSync(dir, 0o755); // the broker runs as the mosquitto user when we are root
  const [mqttPort, wsPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  let registry = opts.registry || DEMO_REGISTRY;
  if (typeof registry === 'object') {
    const file = path.join(dir, 'registry.json');
    writeFileSync(file, JSON.stringify(registry));
    registry = file;
  }
  const brokerDir = path.join(dir, 'broker');
  const brokerEnv = { KB_MQTT_PORT: String(mqttPort), KB_WS_PORT: String(wsPort), KB_WS_BIND: '127.0.0.1' };
  const conf = execFileSync(path.join(ROOT, 'kitchen-bus'), ['broker-init', brokerDir], {
    env: { ...process.env, ...brokerEnv }, encoding: 'utf8',
  }).trim();

  const logs = [];
  let syncMark = 0; // wall-clock ms of the last start of the broker or the bridge
  const bus = {
    dir, mqttPort, wsPort, httpPort, registry, logs, broker: null, bridge: null,
    bridgeEnv: {
      KB_MQTT_PORT: String(mqttPort), KB_WS_PORT: String(wsPort), KB_HTTP_PORT: String(httpPort),
      KB_HTTP_BIND: '127.0.0.1', KB_DATA_DIR: dir, KB_REGISTRY: registry,
      KB_BRIDGE_PASSWORD_FILE: path.join(brokerDir, 'bridge.pw'),
      KB_WEB_DIR: path.join(ROOT, 'web-adapter/public'), ...(opts.env || {}),
    },
    url: (p = '/') => `http://127.0.0.1:${httpPort}${p}`,
    wsUrl: () => `ws://127.0.0.1:${wsPort}`,

    async startBroker() {
      syncMark = Date.now();
      // In its own folder: the config names its files relative to it.
      if (!existsSync(BROKER_BIN)) {
        throw new Error(`${BROKER_BIN} is missing: build it (./kitchen-bus build, or cmake --build build), or set KB_MOSQUITTO=/usr/sbin/mosquitto for Debian's`);
      }
      bus.broker = launch(BROKER_BIN, ['-c', path.basename(conf)], {}, logs, 'broker', brokerDir);
      await waitFor(() => portOpen(mqttPort), { timeout: 10000, what: 'the broker to listen' });
      await waitFor(() => portOpen(wsPort), { timeout: 10000, what: 'the broker WebSocket listener' });
    },
    async stopBroker() { await stopProcess(bus.broker); },
    async killBroker() { await stopProcess(bus.broker, 'SIGKILL'); },
    /** Deletes the broker's persistence file: a broker that lost its state. */
    wipeBrokerState() { rmSync(path.join(brokerDir, 'mosquitto.db'), { force: true }); },

    async startBridge({ waitHealthy = true } = {}) {
      // KB_BRIDGE_WRAPPER runs the bridge under a tool, e.g.
      // "valgrind --leak-check=full --error-exitcode=99".
      const wrapper = (process.env.KB_BRIDGE_WRAPPER || '').split(' ').filter(Boolean);
      syncMark = Date.now();
      bus.bridge = wrapper.length
        ? launch(wrapper[0], [...wrapper.slice(1), BRIDGE_BIN], bus.bridgeEnv, logs, 'bridge')
        : launch(BRIDGE_BIN, [], bus.bridgeEnv, logs, 'bridge');
      if (waitHealthy) await bus.waitHealthy();
    },
    async stopBridge() { await stopProcess(bus.bridge); },
    async killBridge() { await stopProcess(bus.bridge, 'SIGKILL'); },

    /** The bridge's /metrics text. */
    async metrics() { return (await fetch(bus.url('/metrics'))).text(); },
    /** The value of an unlabelled metric, e.g. kb_journal_commits_total. */
    async metric(name) {
      const m = (await bus.metrics()).match(new RegExp(`^${name} (\\S+)$`, 'm'));
      if (!m) throw new Error(`no metric ${name} in /metrics`);
      return Number(m[1]);
    },
    async health() {
      const res = await fetch(bus.url('/health'));
      return { status: res.status, body: await res.json() };
    },
    async waitHealthy(timeout = process.env.KB_BRIDGE_WRAPPER ? 60000 : 10000) {
      // Healthy, with the registry's access sent to the broker, on a
      // connection made since the last (re)start of the broker or the bridge
      // (broker_since is when the bridge connected; same clock as ours).
      await waitFor(async () => {
        try {
          const h = (await bus.health()).body;
          return h.status === 'ok' && h.access === 'synced' && Date.parse(h.broker_since) >= syncMark - 5;
        } catch { return false; }
      }, { timeout, what: 'bridge /health to say ok with access synced' });
    },
    bridgeLog() { return logs.filter((l) => l.startsWith('[bridge]')).join(''); },
    brokerLog() { return logs.filter((l) => l.startsWith('[broker]')).join(''); },
    journalPath: () => path.join(dir, 'bridge/journal.db'),

    async stop() {
      const exit = bus.bridge && bus.bridge.exitCode === null && bus.bridge.signalCode === null
        ? await stopProcess(bus.bridge) : null;
      await stopProcess(bus.broker);
      // A clean stop must exit 0: under AddressSanitizer a leak or a memory
      // error at shutdown turns into a non-zero exit and fails the test.
      if (exit && (exit.code !== 0 || exit.signal)) {
        throw new Error(`kb-bridge exited with ${JSON.stringify(exit)} on SIGTERM:\n${bus.bridgeLog().slice(-4000)}`);
      }
      // Under valgrind, demand its verdict, so a wrapper that did not run cannot pass.
      if (exit && (process.env.KB_BRIDGE_WRAPPER || '').includes('valgrind')
          && !/ERROR SUMMARY: 0 errors/.test(bus.bridgeLog())) {
        throw new Error(`no clean valgrind summary from kb-bridge:\n${bus.bridgeLog().slice(-4000)}`);
      }
      if (process.env.KB_KEEP_TEST_DIRS) console.log(`kept ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await bus.startBroker();
    if (opts.bridge !== false) await bus.startBridge();
  } catch (e) {
    // The caller never gets `bus`, so nothing else would stop what started.
    await bus.stop().catch(() => {});
    e.message += `\n${logs.join('').slice(-4000)}`;
    throw e;
  }
  return bus;
}

/**
 * A connected MQTT.js client for a device. transport: 'tcp' or 'ws'.
 * Rejects with the broker's refusal (e.g. "Not authorized").
 */
export function mqttClient(bus, username, password = username, { transport = 'tcp', protocolVersion = 5, ...rest } = {}) {
  const url = transport === 'ws' ? bus.wsUrl() : `mqtt://127.0.0.1:${bus.mqttPort}`;
  const client = mqtt.connect(url, {
    username, password, protocolVersion, reconnectPeriod: 0, connectTimeout: 5000,
    clientId: rest.clientId || `${username}-${Math.random().toString(16).slice(2, 10)}`, ...rest,
  });
  client.received = [];
  client.on('message', (topic, payload, packet) => {
    client.received.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos });
  });
  return new Promise((resolve, reject) => {
    client.once('connect', () => {
      // Node sockets default to Nagle; without this a publish right after a
      // PUBACK waits ~40 ms for the broker's delayed ACK.
      client.stream?.setNoDelay?.(true);
      resolve(client);
    });
    client.once('error', (err) => { client.end(true); reject(err); });
  });
}

/** Subscribes and resolves with the granted QoS list (128/135 = refused). */
export async function subscribe(client, topics, qos = 1) {
  try {
    const granted = await client.subscribeAsync(topics, { qos });
    return granted.map((g) => g.qos);
  } catch (err) {
    // MQTT.js rejects when any filter is refused; the SUBACK is on the error.
    if (err.packet?.granted) return err.packet.granted.map((g) => (typeof g === 'number' ? g : g.qos));
    throw err;
  }
}

/** Waits for a received message matching `match(msg)`; returns it. */
export function waitMessage(client, match, { timeout = 5000, what = 'a message' } = {}) {
  return waitFor(() => client.received.find(match), { timeout, what });
}

/** Publishes a JSON document (or raw string) at QoS 1; resolves on PUBACK. */
/** A refused v5 publish resolves with { reasonCode } instead of throwing. */
export async function publish(client, topic, body, { timeout = 5000, ...opts } = {}) {
  const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no PUBACK for ${topic} within ${timeout} ms`)), timeout);
  });
  try {
    return (await Promise.race([client.publishAsync(topic, payload, { qos: 1, ...opts }), deadline])) ?? { reasonCode: 0 };
  } catch (err) {
    if (typeof err.code === 'number') return { reasonCode: err.code };
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

export function parse(msg) { return msg.payload === '' ? null : JSON.parse(msg.payload); }

export const submitTopic = (tenant, device) => `outlet/tenant/${tenant}/pos/${device}/submit`;
export const statusTopic = (tenant, device) => `outlet/tenant/${tenant}/kitchen/${device}/status`;
export const ackTopic = (tenant, role, device) => `outlet/tenant/${tenant}/${role}/${device}/ack`;
export const orderTopic = (tenant, number) => `outlet/tenant/${tenant}/orders/${number}`;
export const eventsTopic = (tenant) => `outlet/tenant/${tenant}/events`;

let orderCounter = 0;
/** A valid demo order for `tenant` with a unique number. */
export function makeOrder(tenant, extra = {}) {
  orderCounter += 1;
  return {
    order_number: `T-${process.pid}-${Date.now() % 100000}-${orderCounter}`,
    tenant_id: tenant,
    items: [{ name: 'Margherita', qty: 2, modifiers: ['extra cheese'], station: 'oven' }],
    customer_name: 'Budi', table: '12', priority: 'normal',
    ...extra,
  };
}

/**
 * A POS device: submits and waits for the ack of that order number.
 * Returns { submit(order|raw, number?) -> ack, client }. opts: password
 * (default: the username, as in demo registries), and mqttClient's options.
 */
export async function posDevice(bus, tenant, device = `${tenant}-pos`, { password = device, ...opts } = {}) {
  const client = await mqttClient(bus, device, password, opts);
  const granted = await subscribe(client, [ackTopic(tenant, 'pos', device)]);
  if (granted[0] >= 128) { client.end(true); throw new Error(`${device} may not read its ack topic`); }
  return {
    client,
    async submit(body, number = body.order_number, { timeout = 5000 } = {}) {
      const seen = client.received.length;
      await publish(client, submitTopic(tenant, device), body);
      return parse(await waitMessage(client, (m, i) => i >= seen
        && m.topic === ackTopic(tenant, 'pos', device)
        && JSON.parse(m.payload).order_number === (number ?? null), { timeout, what: `the ack for ${number}` }));
    },
  };
}

/** A kitchen device subscribed to its tenant's orders, events and acks. */
export async function kitchenDevice(bus, tenant, device = `${tenant}-kitchen`, { password = device, ...opts } = {}) {
  const client = await mqttClient(bus, device, password, opts);
  const granted = await subscribe(client, [`outlet/tenant/${tenant}/orders/+`, eventsTopic(tenant), ackTopic(tenant, 'kitchen', device)]);
  if (granted.some((g) => g >= 128)) { client.end(true); throw new Error(`${device} was refused its own topics: ${granted}`); }
  return {
    client,
    async setStatus(number, status, { timeout = 5000 } = {}) {
      const seen = client.received.length;
      await publish(client, statusTopic(tenant, device), { order_number: number, status });
      return parse(await waitMessage(client, (m, i) => i >= seen
        && m.topic === ackTopic(tenant, 'kitchen', device)
        && JSON.parse(m.payload).order_number === number, { timeout, what: `the status ack for ${number}` }));
    },
    orders(number) { return client.received.filter((m) => m.topic === orderTopic(tenant, number)); },
    events(number) {
      return client.received.filter((m) => m.topic === eventsTopic(tenant)).map(parse)
        .filter((e) => number === undefined || e.order_number === number);
    },
  };
}

export function readJson(file) { return JSON.parse(readFileSync(file, 'utf8')); }

/**
 * A client of the legacy gateway (the old sync server's protocol) on the
 * bridge's HTTP port, using the `ws` package as an old non-browser client
 * would. opts: type, id, username, password (query parameters unless
 * `basic` is set, then HTTP Basic), tenant, query (extra), headers, path.
 * Resolves once the WebSocket is open (identification follows: wait for the
 * "connected" frame, or for the close when it is refused).
 */
export async function legacyClient(bus, opts = {}) {
  const { default: WebSocket } = await import('ws');
  const q = new URLSearchParams(opts.query || {});
  if (opts.type) q.set('client-type', opts.type);
  if (opts.id) q.set('client-id', opts.id);
  if (opts.tenant) q.set('tenant', opts.tenant);
  const headers = { ...(opts.headers || {}) };
  if (opts.username !== undefined && opts.basic) {
    headers.Authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password ?? opts.username}`).toString('base64')}`;
  } else if (opts.username !== undefined) {
    q.set('username', opts.username);
    q.set('password', opts.password ?? opts.username);
  }
  const qs = q.toString();
  const url = `ws://127.0.0.1:${bus.httpPort}${opts.path || '/'}${qs ? `?${qs}` : ''}`;
  const ws = new WebSocket(url, { headers, maxPayload: 16 * 1024 * 1024 });
  const client = {
    ws, frames: [], closed: null,
    send(frame) { ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame)); },
    /** Resolves with the first frame (from index `from`) matching `match`. */
    waitFrame(match, { timeout = 5000, what = 'a legacy frame', from = 0 } = {}) {
      return waitFor(() => client.frames.slice(from).find(match), { timeout, what });
    },
    waitType(type, extra = () => true, o = {}) {
      return client.waitFrame((f) => f.type === type && extra(f), { what: `a ${type} frame`, ...o });
    },
    /** The ack for `number` (after index `from`). */
    waitAck(number, o = {}) {
      return client.waitFrame((f) => f.type === 'ack' && f.payload?.order_number === number,
        { what: `the legacy ack for ${number}`, ...o }).then((f) => f.payload);
    },
    waitClose({ timeout = 5000 } = {}) { return waitFor(() => client.closed, { timeout, what: 'the connection to close' }); },
    async close() {
      if (client.closed) return;
      ws.close();
      await client.waitClose().catch(() => ws.terminate());
    },
  };
  ws.on('message', (data, isBinary) => {
    try { client.frames.push(isBinary ? { binary: data } : JSON.parse(data.toString())); }
    catch { client.frames.push({ unparsable: data.toString() }); }
  });
  ws.on('close', (code, reason) => { client.closed = { code, reason: reason.toString() }; });
  await new Promise((resolve, reject) => {
    ws.once('open', () => { ws._socket?.setNoDelay?.(true); resolve(); });
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  return client;
}

// Stations, expo and boards (contract 1.2).
export const stationViewTopic = (tenant, station, number) => `outlet/tenant/${tenant}/stations/${station}/orders/${number}`;
export const expoStatusTopic = (tenant, device) => `outlet/tenant/${tenant}/expo/${device}/status`;
export const boardTopic = (tenant) => `outlet/board/${tenant}`;

/** Publishes `body` on `topic` and resolves with the ack for `number` on `ack`. */
async function sendForAck(client, topic, ack, body, number, timeout) {
  const seen = client.received.length;
  await publish(client, topic, body);
  return parse(await waitMessage(client, (m, i) => i >= seen && m.topic === ack
    && JSON.parse(m.payload).order_number === number, { timeout, what: `the ack for ${number} on ${ack}` }));
}

/**
 * A kitchen bound to a station (registry "station"), subscribed to its
 * station's views and its ack. report(number, status, {station}) sends a
 * station report (its own station unless told; station null sends none,
 * i.e. a whole-order status) and resolves with the ack.
 */
export async function stationDevice(bus, tenant, station, device = `${tenant}-${station}`, { password = device, ...opts } = {}) {
  const client = await mqttClient(bus, device, password, opts);
  const granted = await subscribe(client, [stationViewTopic(tenant, station, '+'), ackTopic(tenant, 'kitchen', device)]);
  if (granted.some((g) => g >= 128)) { client.end(true); throw new Error(`${device} was refused its own topics: ${granted}`); }
  return {
    client,
    report(number, status, { station: st = station, timeout = 5000, extra = {} } = {}) {
      const body = { order_number: number, status, ...(st === null ? {} : { station: st }), ...extra };
      return sendForAck(client, statusTopic(tenant, device), ackTopic(tenant, 'kitchen', device), body, number, timeout);
    },
    views(number) { return client.received.filter((m) => m.topic === stationViewTopic(tenant, station, number)); },
  };
}

/** An expo device subscribed to its tenant's orders, events and its ack. */
export async function expoDevice(bus, tenant, device = `${tenant}-expo`, { password = device, ...opts } = {}) {
  const client = await mqttClient(bus, device, password, opts);
  const granted = await subscribe(client, [`outlet/tenant/${tenant}/orders/+`, eventsTopic(tenant), ackTopic(tenant, 'expo', device)]);
  if (granted.some((g) => g >= 128)) { client.end(true); throw new Error(`${device} was refused its own topics: ${granted}`); }
  return {
    client,
    setStatus(number, status, { timeout = 5000 } = {}) {
      return sendForAck(client, expoStatusTopic(tenant, device), ackTopic(tenant, 'expo', device),
        { order_number: number, status }, number, timeout);
    },
    orders(number) { return client.received.filter((m) => m.topic === orderTopic(tenant, number)); },
    events(number) {
      return client.received.filter((m) => m.topic === eventsTopic(tenant)).map(parse)
        .filter((e) => number === undefined || e.order_number === number);
    },
  };
}

/**
 * A board device (registry "boards") subscribed to the board documents of
 * `tenants`. docs(tenant) lists the documents received; waitDoc(tenant,
 * match) resolves with the first received after index `from` that matches.
 */
export async function boardDevice(bus, device, tenants, { password = device, ...opts } = {}) {
  const client = await mqttClient(bus, device, password, opts);
  const granted = await subscribe(client, tenants.map(boardTopic));
  if (granted.some((g) => g >= 128)) { client.end(true); throw new Error(`${device} was refused its board topics: ${granted}`); }
  const board = {
    client,
    docs(tenant) { return client.received.filter((m) => m.topic === boardTopic(tenant)).map(parse); },
    waitDoc(tenant, match, { timeout = 5000, from = 0, what = `a board document of ${tenant}` } = {}) {
      return waitFor(() => board.docs(tenant).slice(from).find((d) => d && match(d)), { timeout, what });
    },
  };
  return board;
}

/** mulberry32: a small seeded PRNG (a function returning [0, 1)), so a run
 *  with random faults can be replayed from its printed seed. */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs the checkout's `kitchen-bus` against `bus` (its data dir, registry,
 *  broker port, and the build kb-bridge is in, so it uses that kb-device);
 *  resolves with stdout, throws with stderr on a non-zero exit. */
export function kitchenBusCommand(bus, env, ...args) {
  return execFileSync(path.join(ROOT, 'kitchen-bus'), args, {
    env: {
      ...process.env, KB_DATA_DIR: bus.dir, KB_REGISTRY: bus.registry, KB_MQTT_PORT: String(bus.mqttPort),
      KB_BUILD_DIR: path.dirname(path.dirname(BRIDGE_BIN)), ...env,
    },
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
}
