// headoffice_compose.mjs - docker/headoffice.compose.yaml for real, by hand
// (not in ctest: building its three images on a bare base takes minutes):
//   node tests/deploy/headoffice_compose.mjs
// Builds the images with podman (its Docker API socket, Debian's
// docker-compose, as tests/deploy/compose.test.mjs does), brings the file up
// with a config folder made here, connects one outlet bus of the harness to
// the three published MQTT ports, takes 20 orders, and checks that
// PostgreSQL has their 20 events once each and that the outlet's /health
// shows head office caught up. Then kills one NATS node, takes 20 more, and
// checks again. Everything is taken down at the end. Prints what it did.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitFor, posDevice, makeOrder } from '../lib/harness.mjs';
import { DOCKER_DIR, podmanEnv, ensureBaseImage, note } from '../lib/containers.mjs';
import { outlet } from '../lib/headoffice.mjs';

const run = promisify(execFile);
const PROJECT = 'kbho';
const config = mkdtempSync(path.join(os.tmpdir(), 'kb-ho-config-'));
chmodSync(config, 0o755);
const sockDir = mkdtempSync(path.join(os.tmpdir(), 'kb-ho-podman-'));
const socket = path.join(sockDir, 'podman.sock');
const ports = [await freePort(), await freePort(), await freePort()];
const env = {
  ...podmanEnv, DOCKER_HOST: `unix://${socket}`, KB_HO_CONFIG_DIR: config,
  KB_HO_MQTT_PORT_1: String(ports[0]), KB_HO_MQTT_PORT_2: String(ports[1]), KB_HO_MQTT_PORT_3: String(ports[2]),
  KB_HO_PG_PORT: String(await freePort()),
};
const compose = (args, opts = {}) => run('docker-compose', ['-p', PROJECT, '-f', path.join(DOCKER_DIR, 'headoffice.compose.yaml'), ...args],
  { env, maxBuffer: 1 << 26, timeout: 1800000, ...opts });
const psql = async (sql) => (await compose(['exec', '-T', 'postgres', '/usr/lib/postgresql/15/bin/psql', '-h', '/run/postgresql', '-U', 'kb', '-d', 'kb', '-At', '-c', sql])).stdout.trim();

writeFileSync(path.join(config, 'users.conf'), 'authorization {\n  users: [\n    {user: "kb-headoffice", password: "ho-pw"}\n    {user: "kb-outlet-mall-9", password: "m9-pw"}\n  ]\n}\n');
writeFileSync(path.join(config, 'headoffice.pw'), 'ho-pw\n');
writeFileSync(path.join(config, 'postgres.pw'), 'pg-pw\n');
for (const f of ['users.conf', 'headoffice.pw', 'postgres.pw']) chmodSync(path.join(config, f), 0o644);

const service = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], { env: podmanEnv, stdio: 'ignore' });
// Podman runs HEALTHCHECKs from systemd timers, and there is none here: run
// them every 2 s, as Docker's daemon does (as compose.test.mjs does).
const health = setInterval(async () => {
  try {
    const { stdout } = await run('podman', ['ps', '-q', '--filter', `label=com.docker.compose.project=${PROJECT}`], { env: podmanEnv });
    await Promise.all(stdout.split('\n').filter(Boolean).map((id) => run('podman', ['healthcheck', 'run', id], { env: podmanEnv }).catch(() => {})));
  } catch { /* podman busy: next time */ }
}, 2000);
let bus;
try {
  await ensureBaseImage();
  note('base image present');
  await waitFor(async () => { try { await run('podman', ['--url', `unix://${socket}`, 'info'], { env: podmanEnv }); return true; } catch { return false; } },
    { timeout: 20000, what: 'the podman API socket' });
  await compose(['build']);
  note('images built');
  await compose(['up', '-d']);
  note('compose up');
  const cluster = { addresses: () => ports.map((p) => `127.0.0.1:${p}`) };
  await waitFor(async () => /connected to broker/.test((await compose(['logs', '--no-color', 'consumer'])).stdout),
    { timeout: 120000, interval: 1000, what: 'kb-headoffice connected to the cluster' });
  bus = await outlet('mall-9', cluster, { password: 'm9-pw' });
  await waitFor(async () => (await bus.health()).body.uplink?.state === 'connected', { timeout: 60000, what: 'the outlet uplink' });
  note('outlet connected');
  const pos = await posDevice(bus, 'pizza');
  const take = async (tag) => {
    for (let i = 0; i < 20; i++) assert.equal((await pos.submit(makeOrder('pizza', { order_number: `${tag}-${i}` }))).result, 'accepted');
  };
  await take('C');
  await waitFor(async () => (await psql("SELECT count(*) FROM kb_events WHERE outlet='mall-9' AND tenant='pizza'")) === '20',
    { timeout: 60000, interval: 1000, what: '20 events in PostgreSQL' });
  await waitFor(async () => (await bus.health()).body.uplink?.tenants?.pizza?.lag === 0, { timeout: 60000, what: 'the outlet caught up' });
  note('20 orders stored once, seen back at the outlet');
  await compose(['kill', 'ho1']);
  await take('D');
  await waitFor(async () => (await psql("SELECT count(*), count(DISTINCT seq) FROM kb_events WHERE outlet='mall-9'")) === '40|40',
    { timeout: 120000, interval: 1000, what: '40 events once each with ho1 down' });
  note('node ho1 killed: 20 more stored once each');
  await pos.client.endAsync();
  console.log('headoffice compose: ok');
} catch (err) {
  try { console.log((await compose(['logs', '--no-color', '--tail=40'])).stdout); } catch { /* nothing */ }
  throw err;
} finally {
  await bus?.stop().catch(() => {});
  await compose(['down', '-v', '-t', '5']).catch((e) => console.log(`# down: ${e.message}`));
  clearInterval(health);
  service.kill();
  rmSync(config, { recursive: true, force: true });
  rmSync(sockDir, { recursive: true, force: true });
}
