// package.test.mjs - the Debian package on a Debian 12 machine booted with
// systemd as PID 1 (a podman container, `--systemd=always`): `./kitchen-bus
// package` builds the .deb here, `apt-get install ./kitchen-bus_*.deb`
// installs it there with its dependencies from Debian. Then, as an operator
// would: both units active and enabled, Debian's mosquitto.service disabled,
// /health 200, device passwords from the `kitchen-bus` command on the PATH,
// an order round trip; the open order survives `systemctl restart` of the
// broker and of the bridge, an upgrade (the same .deb again), and a reboot
// (the container stopped and started); the nightly backup timer is enabled,
// its service writes a backup holding the open order, and `kitchen-bus
// restore` puts it back (refused while the bridge runs); `apt-get remove`
// stops the units and the timer and keeps the data, `apt-get purge` removes it.
//
// The systemd image (the base plus Debian's systemd) is built once per
// machine and kept in podman's store.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import {
  ROOT, BRIDGE_BIN, freePort, waitFor, posDevice, kitchenDevice, makeOrder, waitMessage, parse,
} from '../lib/harness.mjs';
import { podman, ensureBaseImage, removeLeftovers, exec, waitHealthy, note } from '../lib/containers.mjs';

const run = promisify(execFile);
const NAME = `kbpkg${process.pid}`;
const IMAGE = 'localhost/kitchen-bus/systemd-test:bookworm';
const ports = {};
let deb;

async function ensureSystemdImage() {
  try { await podman(['image', 'exists', IMAGE]); return; } catch { /* build it, once per machine */ }
  await podman(['build', '-t', IMAGE, '-f', path.join(ROOT, 'tests/deploy/systemd.Containerfile'), path.join(ROOT, 'tests/deploy')],
    { timeout: 600000 });
}

const sh = (cmd, opts) => exec(NAME, ['sh', '-c', cmd], opts);
const unitState = async (what, units) => (await sh(`systemctl ${what} ${units.join(' ')} || true`)).trim().split('\n');
const UNITS = ['kitchen-bus-broker', 'kitchen-bus-bridge'];
const base = () => `http://127.0.0.1:${ports.http}`;
const bus = { wsUrl: () => `ws://127.0.0.1:${ports.ws}` };

async function booted() {
  await waitFor(async () => {
    const state = (await sh('systemctl is-system-running 2>/dev/null || true').catch(() => '')).trim();
    return ['running', 'degraded'].includes(state);
  }, { timeout: 90000, interval: 500, what: 'systemd to finish booting' });
}

async function startContainer() {
  await podman(['start', NAME]);
  await booted();
}

before(async () => {
  await ensureBaseImage();
  await removeLeftovers('kbpkg');
  await ensureSystemdImage();
  note('systemd image present');
  const buildDir = path.dirname(path.dirname(BRIDGE_BIN));
  const { stdout } = await run(path.join(ROOT, 'kitchen-bus'), ['package'], {
    env: { ...process.env, KB_BUILD_DIR: buildDir }, maxBuffer: 1 << 26, timeout: 600000,
  });
  deb = stdout.trim().split('\n').at(-1);
  assert.match(path.basename(deb), /^kitchen-bus_\d+\.\d+\.\d+_[a-z0-9]+\.deb$/);
  note(`built ${path.basename(deb)}`);
  ports.ws = await freePort();
  ports.http = await freePort();
  await podman(['create', '--name', NAME, '--systemd=always',
    '-p', `127.0.0.1:${ports.ws}:3001`, '-p', `127.0.0.1:${ports.http}:3002`,
    '-v', `${path.dirname(deb)}:/pkg:ro`, IMAGE]);
  await startContainer();
  note('systemd booted in the container');
});

after(async () => {
  await podman(['rm', '-f', '-t', '5', NAME]).catch(() => {});
  note('container removed');
});

test('the .deb installs, runs under systemd, survives restarts, an upgrade and a reboot, and removes cleanly', { timeout: 1500000 }, async () => {
  const pkg = `/pkg/${path.basename(deb)}`;
  await sh(`apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkg}`, { timeout: 900000 });
  note('apt-get install ./kitchen-bus_*.deb');

  assert.deepEqual(await unitState('is-active', UNITS), ['active', 'active']);
  assert.deepEqual(await unitState('is-enabled', UNITS), ['enabled', 'enabled']);
  assert.deepEqual(await unitState('is-enabled', ['mosquitto']), ['disabled'], "Debian's own broker does not hold 1883");
  const health = await waitHealthy(base(), { timeout: 30000 });
  assert.equal(health.mode, 'production', 'the shipped registry is not a demo one');
  assert.equal((await sh('id -u kitchen-bus && stat -c %U /var/lib/kitchen-bus/bridge')).trim().split('\n')[1], 'kitchen-bus');
  const owner = async (unit) => (await sh(`stat -c %U /proc/$(systemctl show -p MainPID --value ${unit})`)).trim();
  assert.equal(await owner('kitchen-bus-bridge'), 'kitchen-bus', 'the bridge runs as its own user');
  assert.equal(await owner('kitchen-bus-broker'), 'mosquitto', 'the broker runs unprivileged');
  // argv[0] (the exe link of a process that dropped to another user is not readable here).
  assert.equal((await sh("tr '\\0' '\\n' </proc/$(systemctl show -p MainPID --value kitchen-bus-broker)/cmdline | head -n1")).trim(),
    '/usr/lib/kitchen-bus/mosquitto', 'the unit runs our broker (broker/build.sh), not Debian\'s');

  // The operator command on the PATH: passwords for the shipped devices, and a new device.
  const password = async (...args) => (await sh(`kitchen-bus ${args.join(' ')}`)).match(/password: (\S+)/)[1];
  const posPw = await password('set-password', 'main-pos');
  const kitchenPw = await password('set-password', 'main-kitchen');
  const tillPw = await password('add-device', 'main', 'main-till-2', 'pos');
  note('device passwords set with the installed kitchen-bus command');

  // The admin page saves the registry under systemd (ProtectSystem=strict,
  // user kitchen-bus), before and after root's CLI wrote it.
  const adminPw = await password('set-password', 'admin');
  const api = async (method, path, body, session = {}) => {
    const res = await fetch(`${base()}${path}`, { method, body: body && JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...(session.cookie ? { cookie: session.cookie, 'x-csrf-token': session.csrf } : {}) } });
    return { status: res.status, body: await res.json(), cookie: res.headers.get('set-cookie')?.split(';')[0] };
  };
  const login = await api('POST', '/api/login', { username: 'admin', password: adminPw });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const admin = { cookie: login.cookie, csrf: login.body.csrf };
  const addTenant = async (id) => {
    const { version } = (await api('GET', '/api/outlet', null, admin)).body;
    const r = await api('POST', '/api/tenant/add', { version, id, name: id }, admin);
    assert.equal(r.status, 200, JSON.stringify(r.body));
  };
  await addTenant('cafe');
  assert.match(await sh('cat /etc/kitchen-bus/registry.json'), /"cafe"/);
  assert.equal((await sh('stat -c %U /etc/kitchen-bus/registry.json')).trim(), 'kitchen-bus');
  await password('add-device', 'cafe', 'cafe-pos', 'pos');
  assert.equal((await sh('stat -c %U /etc/kitchen-bus/registry.json')).trim(), 'kitchen-bus', 'root\'s CLI kept the owner');
  await addTenant('juice');
  const saved = await sh('cat /etc/kitchen-bus/registry.json');
  assert.match(saved, /"juice"/);
  assert.match(saved, /"cafe-pos"/);
  note('the admin API saved /etc/kitchen-bus/registry.json under systemd, before and after root\'s add-device');

  const kitchen = await kitchenDevice(bus, 'main', 'main-kitchen', { transport: 'ws', password: kitchenPw });
  const pos = await posDevice(bus, 'main', 'main-pos', { transport: 'ws', password: posPw });
  const order = makeOrder('main');
  assert.equal((await pos.submit(order)).result, 'accepted');
  await waitMessage(kitchen.client, (m) => m.topic.endsWith(`/orders/${order.order_number}`) && m.payload !== '',
    { what: 'the order at main-kitchen' });
  pos.client.end(true);
  kitchen.client.end(true);
  note('an order went from main-pos to main-kitchen');

  async function orderStillOpen(what) {
    await waitHealthy(base(), { timeout: 60000, what: `the bridge to be healthy (${what})` });
    const k = await kitchenDevice(bus, 'main', 'main-kitchen', { transport: 'ws', password: kitchenPw });
    try {
      const m = await waitMessage(k.client, (x) => x.retain && x.topic.endsWith(`/orders/${order.order_number}`) && x.payload !== '',
        { timeout: 10000, what: `the open order ${what}` });
      assert.equal(parse(m).status, 'new');
    } finally { k.client.end(true); }
  }

  // The nightly backup: the timer is enabled and waiting; one backup now,
  // started as the timer starts it, while the bus runs, holds the open order.
  assert.deepEqual(await unitState('is-enabled', ['kitchen-bus-backup.timer']), ['enabled']);
  assert.deepEqual(await unitState('is-active', ['kitchen-bus-backup.timer']), ['active']);
  assert.match(await sh('systemctl list-timers --all kitchen-bus-backup.timer'), /kitchen-bus-backup\.service/);
  await sh('systemctl start kitchen-bus-backup.service', { timeout: 120000 });
  const backups = (await sh('ls /var/lib/kitchen-bus/backups')).trim().split('\n');
  assert.equal(backups.length, 1, `one backup: ${backups}`);
  assert.match(backups[0], /^journal-\d{4}-\d\d-\d\dT\d{6}Z\.db$/);
  const backup = `/var/lib/kitchen-bus/backups/${backups[0]}`;
  assert.equal((await sh(`stat -c %U ${backup}`)).trim(), 'kitchen-bus', 'the service runs as the bridge\'s user');
  assert.match(await sh(`kb-journal orders ${backup}`), new RegExp(`^main\t${order.order_number}\tnew\topen\t`, 'm'));
  note(`systemctl start kitchen-bus-backup.service wrote ${backups[0]}`);

  // Restore, as root: refused while the bridge runs; once it is stopped, the
  // backup is the journal again (owned by the bridge's user), and an order
  // acked after the backup leaves the screens when the bridge starts.
  const pos2 = await posDevice(bus, 'main', 'main-pos', { transport: 'ws', password: posPw });
  const afterBackup = makeOrder('main');
  assert.equal((await pos2.submit(afterBackup)).result, 'accepted');
  pos2.client.end(true);
  await assert.rejects(sh(`kitchen-bus restore ${backup}`), /kitchen-bus: error: the bridge is running on \/var\/lib\/kitchen-bus \(pid \d+\); stop it first: systemctl stop kitchen-bus-bridge/);
  await sh('systemctl stop kitchen-bus-bridge');
  assert.match(await sh(`kitchen-bus restore ${backup} 2>&1`), /restored \/var\/lib\/kitchen-bus\/bridge\/journal\.db: \d+ bytes, 1 open orders/);
  assert.equal((await sh('stat -c %U:%G /var/lib/kitchen-bus/bridge/journal.db')).trim(), 'kitchen-bus:kitchen-bus');
  await sh('systemctl start kitchen-bus-bridge');
  await orderStillOpen('after a restore');
  await waitFor(async () => (await sh('journalctl -u kitchen-bus-bridge --no-pager -o cat')).includes(
    `clearing stale retained order main/${afterBackup.order_number}`), { timeout: 20000, interval: 200, what: 'the bridge to clear the later order' });
  const k2 = await kitchenDevice(bus, 'main', 'main-kitchen', { transport: 'ws', password: kitchenPw });
  try {
    await waitMessage(k2.client, (x) => x.retain && x.topic.endsWith(`/orders/${order.order_number}`), { what: 'the restored order' });
    assert.ok(!k2.client.received.some((x) => x.topic.endsWith(`/orders/${afterBackup.order_number}`) && x.payload !== ''),
      'the order acked after the backup is gone from the screens');
  } finally { k2.client.end(true); }
  await sh('rm /var/lib/kitchen-bus/bridge/journal.db.before-restore');
  note('kitchen-bus restore put the backup back; the later order left the screens');

  const mainPid = async (unit) => (await sh(`systemctl show -p MainPID --value ${unit}`)).trim();
  for (const unit of UNITS) {
    const before = await mainPid(unit);
    await sh(`systemctl restart ${unit}`);
    assert.notEqual(await mainPid(unit), before, `${unit} was restarted`);
    await orderStillOpen(`after systemctl restart ${unit}`);
    note(`open order kept across systemctl restart ${unit}`);
  }

  // An upgrade (the same package again): data and registry kept, units restarted.
  const bridgePid = await mainPid('kitchen-bus-bridge');
  await sh(`DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall ${pkg}`, { timeout: 300000 });
  assert.notEqual(await mainPid('kitchen-bus-bridge'), bridgePid, 'the upgrade restarted the bridge');
  assert.deepEqual(await unitState('is-active', UNITS), ['active', 'active']);
  assert.match(await sh('cat /etc/kitchen-bus/registry.json'), /main-till-2/, 'the registry the operator changed is kept');
  await orderStillOpen('after an upgrade');
  const till = await posDevice(bus, 'main', 'main-till-2', { transport: 'ws', password: tillPw });
  till.client.end(true);
  note('upgrade kept the data, the registry and the passwords');

  // A reboot.
  await podman(['stop', '-t', '30', NAME]);
  await startContainer();
  assert.deepEqual(await unitState('is-active', UNITS), ['active', 'active']);
  assert.deepEqual(await unitState('is-active', ['kitchen-bus-backup.timer']), ['active'], 'the timer after a reboot');
  await orderStillOpen('after a reboot');
  note('everything came back after a reboot');

  // Remove keeps the data; purge removes it.
  await sh('DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq kitchen-bus', { timeout: 300000 });
  assert.deepEqual((await unitState('is-active', UNITS)).map((s) => s === 'active'), [false, false]);
  assert.notEqual((await unitState('is-active', ['kitchen-bus-backup.timer']))[0], 'active', 'the backup timer is stopped');
  assert.doesNotMatch(await sh('cat /proc/[0-9]*/comm 2>/dev/null; true'), /^(kb-bridge|mosquitto)$/m, 'no bridge or broker left running');
  assert.match(await sh('ls /var/lib/kitchen-bus/bridge /var/lib/kitchen-bus/broker'), /journal\.db[\s\S]*dynamic-security\.json/);
  assert.match(await sh('ls /var/lib/kitchen-bus/backups'), /^journal-.*\.db$/m, 'remove keeps the backups');
  assert.match(await sh('cat /etc/kitchen-bus/registry.json'), /main-till-2/);
  note('apt-get remove stopped the units and kept the data');
  await sh('DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq kitchen-bus', { timeout: 300000 });
  assert.equal((await sh('test -e /var/lib/kitchen-bus && echo kept || echo gone')).trim(), 'gone');
  note('apt-get purge removed the data');
});
