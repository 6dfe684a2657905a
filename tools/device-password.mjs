// device-password.mjs - gives a device of a production registry a fresh
// password in the broker's dynamic-security store, adding the device first
// if needed.
//
//   node tools/device-password.mjs <registry.json> <bridge.pw> <mqtt-url> <tenant> <username> <pos|kitchen>
//   node tools/device-password.mjs <registry.json> <bridge.pw> <mqtt-url> --set-password <username>
//
// Run by `kitchen-bus add-device` and `kitchen-bus set-password`. It checks
// the same id rules as the bridge (bridge/src/registry.c) and refuses demo
// registries. A new device's broker client is created first, so a failure
// leaves the registry untouched; the registry file is then replaced
// atomically. The password is printed once on stdout and stored only as the
// broker's salted hash; it never goes on a command line.
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';

const [file, pwFile, url, ...rest] = process.argv.slice(2);
const fail = (msg) => { console.error(`kitchen-bus: ${msg}`); process.exit(1); };
const ID = /^[a-z0-9_-]{1,32}$/;
const DYNSEC = '$CONTROL/dynamic-security/v1';
const resetting = rest[0] === '--set-password';
const [tenant, username, role] = resetting ? [null, rest[1], null] : rest;

if (!username || (!resetting && !role)) {
  fail('usage: <registry.json> <bridge.pw> <mqtt-url> (<tenant> <username> <pos|kitchen> | --set-password <username>)');
}
if (!ID.test(username)) fail('username must be 1-32 characters of a-z 0-9 _ -');
if (username === 'kb-bridge') fail('kb-bridge is the bridge\'s own account');
if (!resetting && role !== 'pos' && role !== 'kitchen') fail('role must be pos or kitchen');

const reg = JSON.parse(readFileSync(file, 'utf8'));
if (reg.demo) fail(`${file} is a demo registry (password = username); copy it and set "demo": false first`);
const devices = [...(reg.tenants || []).flatMap((x) => (x.devices || []).map((d) => ({ ...d, tenant: x.id }))),
  ...(reg.admins || []).map((d) => ({ ...d, role: 'admin' }))];
const known = devices.find((d) => d.username === username);
const t = resetting ? null : (reg.tenants || []).find((x) => x.id === tenant);
if (resetting && !known) fail(`no device called "${username}" in ${file}`);
if (!resetting && !t) fail(`no tenant "${tenant}" in ${file}`);
if (!resetting && known) fail(`a device called "${username}" already exists (to give it a new password: kitchen-bus set-password ${username})`);

/** Sends one dynamic-security command as the bridge's account; resolves with the reply. */
function dynsec(command) {
  const client = mqtt.connect(url, {
    username: 'kb-bridge', password: readFileSync(pwFile, 'utf8').trim(), protocolVersion: 5,
    reconnectPeriod: 0, connectTimeout: 5000, clientId: `kb-device-password-${process.pid}`,
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => fail('the broker did not answer within 10 s; is the bus running?'), 10000);
    client.on('error', (err) => fail(`cannot reach the broker at ${url}: ${err.message}`));
    client.on('message', (topic, payload) => {
      const reply = JSON.parse(payload.toString()).responses?.[0] ?? {};
      if (reply.command !== command.command) return;
      clearTimeout(timer);
      client.end();
      resolve(reply);
    });
    client.on('connect', async () => {
      await client.subscribeAsync(`${DYNSEC}/response`, { qos: 1 });
      await client.publishAsync(DYNSEC, JSON.stringify({ commands: [command] }), { qos: 1 });
    });
  });
}

const password = randomBytes(18).toString('base64url');
const reply = await dynsec(resetting
  ? { command: 'setClientPassword', username, password }
  : { command: 'createClient', username, password, textname: 'kitchen-bus' });
if (reply.error) fail(`the broker refused: ${reply.error}`);
if (!resetting) {
  t.devices = [...(t.devices || []), { username, role }];
  writeFileSync(`${file}.tmp`, `${JSON.stringify(reg, null, 2)}\n`, { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
}
const who = resetting ? known : { role, tenant };
process.stdout.write(`\n  Device ${username} (${who.role}${who.tenant ? ` of tenant ${who.tenant}` : ''})\n`
  + `  username: ${username}\n  password: ${password}\n\n  This password is shown once; it is stored only as a hash.\n\n`);
