// compose.test.mjs - docker/compose.yaml for real: builds both images, brings
// the compose file up on free host ports, places orders end to end through
// the containers, restarts the broker container and checks the open orders
// are still there, recreates both containers (an upgrade) and checks the
// journal survived on its volume, then tears everything down.
//
// There is no Docker engine here: Debian's podman serves the Docker API
// (`podman system service`) and Debian's docker-compose 1.29 talks to it
// through DOCKER_HOST, with docker/containers.conf (runc, rlimits within the
// machine's hard limits). The debian:bookworm-slim base is made locally by
// docker/make-base-image.sh (debootstrap | podman import) and stays in
// podman's store, as do the image layers, so only the first run is slow.
//
// Podman runs HEALTHCHECKs from systemd timers, and there is no systemd
// here: the test executes each container's healthcheck every 2 s with
// `podman healthcheck run`, which is what Docker's daemon does on its own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, copyFileSync, rmSync, chmodSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  ROOT, DEMO_REGISTRY, freePort, waitFor, posDevice, kitchenDevice, makeOrder, waitMessage, parse,
} from '../lib/harness.mjs';
import { requireTools, ensureBaseImage, note } from '../lib/containers.mjs';

const run = promisify(execFile);
const DOCKER_DIR = path.join(ROOT, 'docker');
const CONTAINERS_CONF = path.join(DOCKER_DIR, 'containers.conf');
const PROJECT = `kbdeploy${process.pid}`;

let workDir;
let service;
let ticker;
let env;
const ports = {};

function apiPing(socketPath) {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/_ping', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
  });
}

const podman = (args, opts = {}) => run('podman', args, { env, maxBuffer: 1 << 26, ...opts });
const compose = (args, opts = {}) => run('docker-compose', ['-p', PROJECT, '-f', path.join(DOCKER_DIR, 'compose.yaml'), ...args],
  { env, cwd: DOCKER_DIR, maxBuffer: 1 << 26, ...opts });

async function composeLogs() {
  try { return (await compose(['logs', '--no-color', '--tail=60'])).stdout; } catch (err) { return String(err); }
}

/** Runs every project container's healthcheck, as Docker's daemon would. */
function startHealthTicker() {
  let busy = false;
  ticker = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const { stdout } = await podman(['ps', '-q', '--filter', `label=com.docker.compose.project=${PROJECT}`]);
      await Promise.all(stdout.split('\n').filter(Boolean)
        .map((id) => podman(['healthcheck', 'run', id]).catch(() => {})));
    } catch { /* the service may be restarting a container */ }
    busy = false;
  }, 2000);
}

function fetchJson(url) {
  return fetch(url).then(async (res) => ({ status: res.status, body: await res.json() }));
}

async function waitHealthy(what, timeout = 60000) {
  return waitFor(async () => {
    try {
      const h = await fetchJson(`http://127.0.0.1:${ports.http}/health`);
      return h.body.status === 'ok' && h.body;
    } catch { return false; }
  }, { timeout, interval: 250, what });
}

/** A stand-in for the harness's bus: the containers' published ports. */
const bus = {
  get mqttPort() { return ports.mqtt; },
  wsUrl: () => `ws://127.0.0.1:${ports.ws}`,
};

async function removeLeftovers() {
  // Containers, volumes and networks of an earlier run that was killed.
  const names = async (args) => (await podman(args)).stdout.split('\n').filter((n) => /^kbdeploy\d+_/.test(n));
  const containers = await names(['ps', '-a', '--format', '{{.Names}}']);
  if (containers.length) await podman(['rm', '-f', '-t', '2', ...containers]);
  const volumes = await names(['volume', 'ls', '--format', '{{.Name}}']);
  if (volumes.length) await podman(['volume', 'rm', '-f', ...volumes]);
  const networks = await names(['network', 'ls', '--format', '{{.Name}}']);
  if (networks.length) await podman(['network', 'rm', '-f', ...networks]);
}

before(async () => {
  requireTools(['docker-compose']);
  workDir = mkdtempSync(path.join(os.tmpdir(), 'kb-deploy-'));
  chmodSync(workDir, 0o755);
  const socket = path.join(workDir, 'podman.sock');
  [ports.ws, ports.http, ports.mqtt] = [await freePort(), await freePort(), await freePort()];
  const configDir = path.join(workDir, 'config');
  execFileSync('mkdir', ['-p', configDir]);
  copyFileSync(DEMO_REGISTRY, path.join(configDir, 'registry.json'));
  chmodSync(configDir, 0o755);
  env = {
    ...process.env,
    CONTAINERS_CONF,
    DOCKER_HOST: `unix://${socket}`,
    KB_WS_PORT: String(ports.ws), KB_HTTP_PORT: String(ports.http), KB_MQTT_PORT: String(ports.mqtt),
    KB_CONFIG_DIR: configDir,
  };

  service = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  service.stderrText = '';
  service.stderr.on('data', (c) => { service.stderrText = (service.stderrText + c).slice(-8000); });
  await waitFor(() => apiPing(socket), { timeout: 20000, interval: 100, what: 'the podman API service' });
  note('podman API service up');
  await removeLeftovers();

  await ensureBaseImage();
  note('base image debian:bookworm-slim present');
  if (!existsSync(path.join(ROOT, 'web-adapter/public/vendor/mqtt.esm.js'))) {
    await run('npm', ['run', '--silent', 'build:web'], { cwd: ROOT });
  }
});

after(async () => {
  clearInterval(ticker);
  if (env) {
    try { await compose(['down', '-v', '--remove-orphans', '-t', '5']); } catch (err) { console.log(`# compose down: ${err.message}`); }
  }
  if (service && service.exitCode === null) {
    service.kill('SIGTERM');
    await new Promise((r) => { const t = setTimeout(() => { service.kill('SIGKILL'); r(); }, 10000); service.once('exit', () => { clearTimeout(t); r(); }); });
  }
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  note('torn down');
});

test('docker-compose config -q accepts the compose file', async () => {
  await compose(['config', '-q']);
  const { stdout } = await compose(['config']);
  assert.match(stdout, /restart: unless-stopped[\s\S]*restart: unless-stopped/);
  assert.match(stdout, /host_ip: 127\.0\.0\.1\s+published: \d+\s+target: 1883|127\.0\.0\.1:\d+:1883/);
  assert.match(stdout, /CMD-SHELL/);
});

test('the images build, the bus comes up and takes an order end to end', { timeout: 600000 }, async () => {
  try {
    await compose(['build', '--parallel']);
  } catch (err) {
    throw new Error(`docker-compose build failed:\n${String(err.stdout).slice(-4000)}\n${String(err.stderr).slice(-4000)}`);
  }
  note('images built');

  // The bridge image: non-root, with a HEALTHCHECK, and no registry or secret in it.
  const [inspect] = JSON.parse((await podman(['image', 'inspect', 'kitchen-bus/bridge:latest'])).stdout);
  assert.equal(inspect.Config.User, 'kb');
  assert.ok((inspect.Healthcheck ?? inspect.Config.Healthcheck)?.Test?.length, 'the bridge image has a HEALTHCHECK');
  const files = (await podman(['run', '--rm', '--entrypoint', 'sh', 'kitchen-bus/bridge:latest', '-c',
    'ls /etc/kitchen-bus /run/kitchen-bus 2>&1; ls /usr/share/kitchen-bus/web; ls /usr/include | head -1'])).stdout;
  assert.match(files, /No such file/, 'no registry or password baked into the image');
  assert.match(files, /kitchen\.html/);
  assert.doesNotMatch(files, /mosquitto\.h/, 'no -dev packages in the runtime image');

  startHealthTicker();
  try {
    await compose(['up', '-d'], { timeout: 180000 });
  } catch (err) {
    throw new Error(`docker-compose up failed: ${err.stderr}\n${await composeLogs()}`);
  }
  note('compose up');
  const health = await waitHealthy('the bridge container to be healthy');
  assert.equal(health.broker, 'connected');
  // argv[0] (the exe link of a process that dropped to another user is not readable here).
  assert.equal((await compose(['exec', '-T', 'broker', 'sh', '-c', "tr '\\0' '\\n' </proc/1/cmdline | head -n1"])).stdout.trim(),
    '/usr/lib/kitchen-bus/mosquitto', "the broker container runs our broker (broker/build.sh), not Debian's");

  // 1883 only on loopback; 3001 and 3002 on all interfaces.
  assert.match((await compose(['port', 'broker', '1883'])).stdout.trim(), /^127\.0\.0\.1:\d+$/);
  assert.match((await compose(['port', 'broker', '3001'])).stdout.trim(), /^(0\.0\.0\.0)?:\d+$/);
  assert.match((await compose(['port', 'bridge', '3002'])).stdout.trim(), /^(0\.0\.0\.0)?:\d+$/);
  const bridgeUid = (await compose(['exec', '-T', 'bridge', 'id', '-u'])).stdout.trim();
  assert.equal(bridgeUid, '10001', 'the bridge runs as the non-root kb user');

  // The pages and their config come from the bridge container.
  const page = await fetch(`http://127.0.0.1:${ports.http}/kitchen`);
  assert.equal(page.status, 200);
  assert.equal((await fetchJson(`http://127.0.0.1:${ports.http}/config.json`)).body.mqtt_ws_port, ports.ws);

  // A POS over WebSockets (as a browser, published 3001), a kitchen over TCP (published 1883).
  const pos = await posDevice(bus, 'pizza', 'pizza-pos', { transport: 'ws' });
  const kitchen = await kitchenDevice(bus, 'pizza');
  const orders = [makeOrder('pizza'), makeOrder('pizza'), makeOrder('pizza')];
  for (const o of orders) {
    const ack = await pos.submit(o);
    assert.equal(ack.result, 'accepted', JSON.stringify(ack));
  }
  for (const o of orders) {
    await waitMessage(kitchen.client, (m) => m.topic.endsWith(`/orders/${o.order_number}`) && m.payload !== '',
      { what: `order ${o.order_number} at the kitchen` });
  }
  assert.equal((await kitchen.setStatus(orders[1].order_number, 'accepted')).result, 'accepted');
  assert.equal((await pos.submit({ order_number: orders[2].order_number, action: 'cancel' })).result, 'accepted');
  const open = [orders[0].order_number, orders[1].order_number];
  assert.equal((await fetchJson(`http://127.0.0.1:${ports.http}/health`)).body.orders_open, 2);
  pos.client.end(true);
  kitchen.client.end(true);
  note('orders placed through the containers');

  async function openOrdersSeenByAKitchen(what) {
    const k = await kitchenDevice(bus, 'pizza');
    try {
      await waitFor(() => open.every((n) => k.orders(n).some((m) => m.retain && m.payload !== '')),
        { timeout: 10000, what });
      const seen = [...new Set(k.client.received.filter((m) => m.retain && m.topic.includes('/orders/') && m.payload !== '')
        .map((m) => parse(m).order_number))].sort();
      assert.deepEqual(seen, [...open].sort(), 'exactly the open orders are retained');
      assert.equal(parse(k.orders(orders[1].order_number).at(-1)).status, 'accepted');
    } finally {
      k.client.end(true);
    }
  }

  // Broker container restart: the open orders are still there.
  await compose(['restart', '-t', '10', 'broker']);
  note('broker container restarted');
  await waitFor(async () => (await podman(['inspect', '-f', '{{.State.Running}}', `${PROJECT}_broker_1`])).stdout.trim() === 'true',
    { timeout: 30000, what: 'the broker container to run again' });
  await waitHealthy('the bridge to reconnect to the restarted broker');
  await openOrdersSeenByAKitchen('the open orders after a broker restart');
  note('open orders still there after the broker restart');

  // An upgrade: both containers recreated from the images, data on the volumes.
  await compose(['up', '-d', '--force-recreate'], { timeout: 180000 });
  await waitHealthy('the recreated bridge to be healthy');
  await openOrdersSeenByAKitchen('the open orders after recreating the containers');
  const pos2 = await posDevice(bus, 'pizza');
  const again = await pos2.submit(orders[0]);
  assert.equal(again.result, 'duplicate', 'the journal on the bridge volume remembers the order');
  pos2.client.end(true);
  note('open orders and journal kept across recreated containers');
});
