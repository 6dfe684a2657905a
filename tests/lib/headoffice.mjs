// headoffice.mjs - head office on loopback for tests (issue 19): a NATS
// JetStream cluster from Debian's nats-server speaking MQTT 3.1.1 on each
// node, a PostgreSQL cluster in a temporary folder (initdb / pg_ctl, as the
// postgres user when we are root: PostgreSQL refuses to run as root), and
// the consumer kb-headoffice. Outlets are the harness's buses with
// broker-config/uplink.conf.example appended, pointed at every node.
//
// What is missing is said by missing(): a test skips with that reason.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync, appendFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, BRIDGE_BIN, freePort, portOpen, waitFor, startBus } from './harness.mjs';

export const HEADOFFICE_BIN = process.env.KB_HEADOFFICE_BIN || path.join(path.dirname(BRIDGE_BIN), '../headoffice/kb-headoffice');
const NATS = '/usr/sbin/nats-server';
const PG_BIN = (() => {
  const base = '/usr/lib/postgresql';
  const v = existsSync(base) ? readdirSync(base).filter((d) => existsSync(path.join(base, d, 'bin/initdb'))).sort().pop() : null;
  return v ? path.join(base, v, 'bin') : null;
})();

/** Why head office cannot run here, or null. */
export function missing() {
  if (!existsSync(NATS)) return 'nats-server is not installed (apt install nats-server; ./kitchen-bus deps test does)';
  if (!PG_BIN) return 'PostgreSQL is not installed (apt install postgresql; ./kitchen-bus deps test does)';
  if (!existsSync(HEADOFFICE_BIN)) return `${HEADOFFICE_BIN} is not built (libpq-dev missing at configure time?)`;
  return null;
}

const asRoot = process.getuid?.() === 0;
function launch(bin, args, { env = {}, user, logs, tag, cwd } = {}) {
  const opts = { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd };
  if (user && asRoot) {
    const id = (flag) => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
    opts.uid = id('-u');
    opts.gid = id('-g');
  }
  const p = spawn(bin, args, opts);
  const keep = (c) => { logs.push(`[${tag}] ${c}`); if (logs.length > 4000) logs.splice(0, 1000); };
  p.stdout.on('data', keep);
  p.stderr.on('data', keep);
  p.exited = new Promise((r) => p.once('exit', (code, signal) => r({ code, signal })));
  return p;
}
async function stopProc(p, signal = 'SIGTERM') {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  p.kill(signal);
  await p.exited;
}

/** A NATS cluster of `n` nodes, each with JetStream and MQTT (stream_replicas n). */
export async function startNats({ n = 3, users }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kb-nats-'));
  const logs = [];
  const nodes = [];
  for (let i = 0; i < n; i++) nodes.push({ name: `ho${i + 1}`, client: await freePort(), cluster: await freePort(), mqtt: await freePort() });
  const routes = nodes.map((x) => `nats://127.0.0.1:${x.cluster}`).join(', ');
  const auth = users.map((u) => `{user: "${u.user}", password: "${u.password}"}`).join(', ');
  for (const x of nodes) {
    x.conf = path.join(dir, `${x.name}.conf`);
    writeFileSync(x.conf, [
      `server_name: ${x.name}`, `listen: 127.0.0.1:${x.client}`,
      `jetstream { store_dir: "${dir}/${x.name}" }`,
      `cluster { name: kb-headoffice, listen: 127.0.0.1:${x.cluster}, routes: [${routes}] }`,
      `mqtt { listen: 127.0.0.1:${x.mqtt}, stream_replicas: ${n} }`,
      `authorization { users: [${auth}] }`, '',
    ].join('\n'));
  }
  const cluster = {
    dir, nodes, logs,
    addresses: () => nodes.map((x) => `127.0.0.1:${x.mqtt}`),
    async start(i) {
      const x = nodes[i];
      x.proc = launch(NATS, ['-c', x.conf], { logs, tag: x.name });
      await waitFor(() => portOpen(x.mqtt), { timeout: 15000, what: `NATS ${x.name}'s MQTT port` });
    },
    async kill(i) { await stopProc(nodes[i].proc, 'SIGKILL'); },
    async stop() {
      for (const x of nodes) await stopProc(x.proc);
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => logs.join(''),
  };
  await Promise.all(nodes.map((_, i) => cluster.start(i)));
  // JetStream has a meta leader once every node says so in its log.
  await waitFor(() => /JetStream cluster new metadata leader|Self is new JetStream cluster metadata leader/.test(cluster.log()),
    { timeout: 30000, what: 'a JetStream metadata leader' });
  return cluster;
}

/** A PostgreSQL cluster in a temporary folder, trust on 127.0.0.1 (tests only). */
export async function startPostgres() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kb-pg-'));
  chmodSync(dir, 0o755);
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const data = path.join(dir, 'data');
  const port = await freePort();
  const logs = [];
  const run = (bin, args) => execFileSync(path.join(PG_BIN, bin), args, {
    encoding: 'utf8', stdio: 'pipe', ...(asRoot ? { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })) } : {}),
  });
  run('initdb', ['-D', data, '-U', 'kb', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  appendFileSync(path.join(data, 'postgresql.conf'), `\nport = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nfsync = on\n`);
  const pg = {
    dir, port, logs,
    conninfo: `host=127.0.0.1 port=${port} user=kb dbname=postgres connect_timeout=2`,
    async start() {
      run('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', 'start']);
    },
    async stop(mode = 'fast') { run('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']); },
    /** Rows of a query, each an array of text fields. */
    query(sql) {
      const out = execFileSync(path.join(PG_BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'kb', '-d', 'postgres', '-At', '-F', '\t', '-c', sql], { encoding: 'utf8' });
      return out.split('\n').filter(Boolean).map((l) => l.split('\t'));
    },
    log: () => { try { return readFileSync(path.join(dir, 'log'), 'utf8'); } catch { return ''; } },
    async destroy() {
      try { await pg.stop('immediate'); } catch { /* already stopped */ }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await pg.start();
  return pg;
}

/** The consumer, against `brokers` (addresses) and `pg`. */
export function consumer({ brokers, pg, user, password, env = {} }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kb-ho-'));
  writeFileSync(path.join(dir, 'password'), `${password}\n`, { mode: 0o600 });
  const logs = [];
  const c = {
    logs, proc: null,
    start() {
      // KB_HEADOFFICE_WRAPPER runs it under a tool, e.g. "valgrind --leak-check=full --error-exitcode=99".
      const wrapper = (process.env.KB_HEADOFFICE_WRAPPER || '').split(' ').filter(Boolean);
      c.proc = launch(wrapper[0] || HEADOFFICE_BIN, wrapper.length ? [...wrapper.slice(1), HEADOFFICE_BIN] : [], {
        logs, tag: 'headoffice',
        env: { KB_HO_BROKERS: brokers.join(','), KB_HO_USERNAME: user, KB_HO_PASSWORD_FILE: path.join(dir, 'password'), KB_HO_DATABASE: pg.conninfo, ...env },
      });
      return c.proc;
    },
    async stop() { await stopProc(c.proc); },
    async kill() { await stopProc(c.proc, 'SIGKILL'); },
    log: () => logs.join(''),
    async destroy() {
      const exit = c.proc && c.proc.exitCode === null && c.proc.signalCode === null ? (c.proc.kill('SIGTERM'), await c.proc.exited) : null;
      rmSync(dir, { recursive: true, force: true });
      // Under valgrind, demand its clean verdict at the last clean stop.
      if (exit && (process.env.KB_HEADOFFICE_WRAPPER || '').includes('valgrind')
          && (exit.code !== 0 || !/ERROR SUMMARY: 0 errors/.test(c.log()))) {
        throw new Error(`kb-headoffice under valgrind exited ${JSON.stringify(exit)}:\n${c.log().slice(-4000)}`);
      }
    },
  };
  c.start();
  return c;
}

/** An outlet: the harness's bus with the uplink to every node of `cluster`
 * (or to `addresses`: relays standing for its internet link). */
export async function outlet(id, cluster, { password, env = {}, registry, addresses } = {}) {
  const conf = readFileSync(path.join(ROOT, 'broker-config/uplink.conf.example'), 'utf8')
    .replaceAll('OUTLET_ID', id)
    .replace(/^address .*$/m, `address ${(addresses || cluster.addresses()).join(' ')}`)
    .replace(/^bridge_capath .*$/m, '# (no TLS to a loopback test cluster)')
    .replace(/^remote_password .*$/m, `remote_password ${password}`)
    .replace(/^restart_timeout .*$/m, 'restart_timeout 1 2');
  const reg = registry || JSON.parse(readFileSync(path.join(ROOT, 'broker-config/demo-tenants.json'), 'utf8'));
  reg.outlet = { ...reg.outlet, id };
  const bus = await startBus({ registry: reg, bridge: false, env: { KB_UPLINK: '1', KB_UPLINK_GRACE_MS: '1500', ...env } });
  await bus.stopBroker();
  appendFileSync(path.join(bus.dir, 'broker/mosquitto.conf'), `\n${conf}`);
  await bus.startBroker();
  await bus.startBridge();
  bus.outletId = id;
  return bus;
}

/** A TCP relay on a free loopback port to `target` (host:port): an outlet's
 * internet link, which block() cuts (open connections reset, new ones
 * refused) and unblock() restores. */
export async function relay(target) {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set();
  const listenPort = await freePort();
  let server = null;
  const open = () => new Promise((resolve, reject) => {
    server = net.createServer((client) => {
      const up = net.connect(port, host);
      for (const s of [client, up]) { sockets.add(s); s.on('error', () => {}); s.on('close', () => sockets.delete(s)); }
      client.pipe(up);
      up.pipe(client);
      client.on('close', () => up.destroy());
      up.on('close', () => client.destroy());
    });
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', resolve);
  });
  await open();
  return {
    address: `127.0.0.1:${listenPort}`,
    async block() {
      const closed = new Promise((r) => server.close(r));
      for (const s of sockets) { if (s.resetAndDestroy) s.resetAndDestroy(); else s.destroy(); }
      await closed;
      server = null;
    },
    async unblock() { if (!server) await open(); },
    async stop() { if (server) server.close(); for (const s of sockets) s.destroy(); },
  };
}
