// add-device.mjs - adds one device to a production registry and gives it a
// fresh password in the broker's dynamic-security store.
//
//   node tools/add-device.mjs <registry.json> <bridge.pw> <mqtt-url> <tenant> <username> <pos|kitchen>
//
// Run by `kitchen-bus add-device`. It checks the same id rules as the bridge
// (bridge/src/registry.c), refuses demo registries, creates the broker client
// first (so a failure leaves the registry untouched), then replaces the
// registry file atomically. The password is printed once on stdout and
// stored only as the broker's salted hash; it never goes on a command line.
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';

const [file, pwFile, url, tenant, username, role] = process.argv.slice(2);
const fail = (msg) => { console.error(`add-device: ${msg}`); process.exit(1); };
const ID = /^[a-z0-9_-]{1,32}$/;
const DYNSEC = '$CONTROL/dynamic-security/v1';

if (!role) fail('usage: <registry.json> <bridge.pw> <mqtt-url> <tenant> <username> <pos|kitchen>');
if (!ID.test(username)) fail('username must be 1-32 characters of a-z 0-9 _ -');
if (username === 'kb-bridge') fail('kb-bridge is the bridge\'s own account');
if (role !== 'pos' && role !== 'kitchen') fail('role must be pos or kitchen');

const reg = JSON.parse(readFileSync(file, 'utf8'));
if (reg.demo) fail(`${file} is a demo registry (password = username); copy it and set "demo": false first`);
const t = (reg.tenants || []).find((x) => x.id === tenant);
if (!t) fail(`no tenant "${tenant}" in ${file}`);
const taken = [...(reg.tenants || []).flatMap((x) => x.devices || []), ...(reg.admins || [])]
  .some((d) => d.username === username);
if (taken) fail(`a device called "${username}" already exists`);

const password = randomBytes(18).toString('base64url');
const client = mqtt.connect(url, {
  username: 'kb-bridge', password: readFileSync(pwFile, 'utf8').trim(), protocolVersion: 5,
  reconnectPeriod: 0, connectTimeout: 5000, clientId: `kb-add-device-${process.pid}`,
});
const timer = setTimeout(() => fail('the broker did not answer within 10 s; is the bus running?'), 10000);
client.on('error', (err) => fail(`cannot reach the broker at ${url}: ${err.message}`));
client.on('message', (topic, payload) => {
  const reply = JSON.parse(payload.toString()).responses?.[0] ?? {};
  if (reply.command !== 'createClient') return;
  clearTimeout(timer);
  client.end();
  if (reply.error) fail(`the broker refused: ${reply.error}`);
  t.devices = [...(t.devices || []), { username, role }];
  writeFileSync(`${file}.tmp`, `${JSON.stringify(reg, null, 2)}\n`, { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
  process.stdout.write(`\n  Device ${username} (${role} of tenant ${tenant})\n  username: ${username}\n`
    + `  password: ${password}\n\n  This password is shown once; it is stored only as a hash.\n\n`);
});
client.on('connect', async () => {
  await client.subscribeAsync(`${DYNSEC}/response`, { qos: 1 });
  await client.publishAsync(DYNSEC, JSON.stringify({
    commands: [{ command: 'createClient', username, password, textname: 'kitchen-bus' }],
  }), { qos: 1 });
});
