// install.test.mjs - `cmake --install` into a temporary prefix: the systemd
// units pass `systemd-analyze verify` and point at installed files, and the
// installed pieces run the bus the way the units do (broker-init from the
// installed script, kb-bridge with the unit's environment and web pages).
// systemd itself does not run here, so the units are not started.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, rmSync, chmodSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, DEMO_REGISTRY, freePort, waitFor } from '../lib/harness.mjs';

const run = promisify(execFile);
const work = mkdtempSync(path.join(os.tmpdir(), 'kb-install-'));
chmodSync(work, 0o755);
const prefix = path.join(work, 'prefix');
const children = [];

after(async () => {
  for (const c of children) if (c.exitCode === null) { c.kill('SIGTERM'); await new Promise((r) => c.once('exit', r)); }
  rmSync(work, { recursive: true, force: true });
});

/** Environment= lines of a unit, with systemd's %d (credentials dir) left as is. */
function unitEnvironment(text) {
  return Object.fromEntries([...text.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
}

test('cmake --install lays out the bridge, the pages, broker-init and valid systemd units', { timeout: 300000 }, async () => {
  const build = path.join(work, 'build');
  await run('cmake', ['-S', ROOT, '-B', build, `-DCMAKE_INSTALL_PREFIX=${prefix}`, '-DCMAKE_BUILD_TYPE=RelWithDebInfo']);
  await run('cmake', ['--build', build, '--target', 'kb-bridge', 'kb-device', 'kb-journal', 'kb-broker', '-j2'], { maxBuffer: 1 << 26 });
  await run('cmake', ['--install', build], { maxBuffer: 1 << 26 });

  const units = path.join(prefix, 'lib/systemd/system');
  for (const f of ['bin/kb-bridge', 'lib/kitchen-bus/mosquitto', 'bin/kb-device', 'bin/kb-journal', 'bin/kitchen-bus', 'share/kitchen-bus/kitchen-bus', 'share/kitchen-bus/broker-config/mosquitto.conf.in',
    'share/kitchen-bus/broker-config/uplink.conf.example', 'share/kitchen-bus/web/kitchen.html',
    'share/kitchen-bus/web/vendor/mqtt.esm.js', 'lib/sysusers.d/kitchen-bus.conf', 'share/doc/kitchen-bus/OUTLET-SETUP.md',
    'lib/systemd/system/kitchen-bus-broker.service', 'lib/systemd/system/kitchen-bus-bridge.service']) {
    assert.ok(existsSync(path.join(prefix, f)), `${f} installed`);
  }
  const broker = readFileSync(path.join(units, 'kitchen-bus-broker.service'), 'utf8');
  const bridge = readFileSync(path.join(units, 'kitchen-bus-bridge.service'), 'utf8');
  assert.match(broker, /^Restart=always$/m);
  assert.match(bridge, /^Restart=always$/m);
  assert.match(bridge, /^After=kitchen-bus-broker\.service/m);
  assert.match(bridge, new RegExp(`^ExecStart=${prefix}/bin/kb-bridge$`, 'm'));
  assert.match(broker, new RegExp(`exec ${prefix}/lib/kitchen-bus/mosquitto -c mosquitto.conf'$`, 'm'), 'the unit runs our broker');
  assert.match(broker, new RegExp(`^ExecStartPre=${prefix}/share/kitchen-bus/kitchen-bus broker-init /var/lib/kitchen-bus/broker$`, 'm'));

  // systemd's own check (paths, directives, specifiers), where systemd is installed.
  let analyze = null;
  try { await run('sh', ['-c', 'command -v systemd-analyze']); analyze = true; } catch { analyze = false; }
  if (analyze) {
    await run('systemd-analyze', ['verify', '--man=no', './kitchen-bus-broker.service', './kitchen-bus-bridge.service'], { cwd: units });
  } else {
    console.log('# systemd-analyze not installed: unit verification skipped');
  }

  // The installed pieces, run as the units would run them (data in a temp dir).
  const data = path.join(work, 'var');
  const [mqttPort, wsPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  const portEnv = { KB_MQTT_PORT: String(mqttPort), KB_WS_PORT: String(wsPort), KB_HTTP_PORT: String(httpPort), KB_WS_BIND: '127.0.0.1' };
  const { stdout: conf } = await run(path.join(prefix, 'share/kitchen-bus/kitchen-bus'), ['broker-init', path.join(data, 'broker')],
    { env: { ...process.env, ...portEnv } });
  const logs = [];
  const start = (cmd, args, env, cwd = undefined) => {
    const c = spawn(cmd, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout.on('data', (d) => logs.push(String(d)));
    c.stderr.on('data', (d) => logs.push(String(d)));
    children.push(c);
    return c;
  };
  start(path.join(prefix, 'lib/kitchen-bus/mosquitto'), ['-c', 'mosquitto.conf'], {}, path.dirname(conf.trim()));
  const registry = path.join(work, 'registry.json');
  copyFileSync(DEMO_REGISTRY, registry);
  const env = unitEnvironment(bridge);
  assert.equal(env.KB_WEB_DIR, `${prefix}/share/kitchen-bus/web`);
  start(path.join(prefix, 'bin/kb-bridge'), [], {
    ...env, ...portEnv, KB_HTTP_BIND: '127.0.0.1', KB_DATA_DIR: data, KB_REGISTRY: registry,
    KB_BRIDGE_PASSWORD_FILE: path.join(data, 'broker/bridge.pw'), // systemd's LoadCredential copy
  });
  await waitFor(async () => {
    try { return (await (await fetch(`http://127.0.0.1:${httpPort}/health`)).json()).status === 'ok'; } catch { return false; }
  }, { timeout: 15000, what: `the installed bridge to be healthy\n${logs.join('')}` });
  const page = await fetch(`http://127.0.0.1:${httpPort}/kitchen`);
  assert.equal(page.status, 200);
  const mqttJs = await fetch(`http://127.0.0.1:${httpPort}/vendor/mqtt.esm.js`);
  assert.equal(mqttJs.status, 200);
});
