// Vendors MQTT.js from node_modules into public/vendor/ so browsers load every
// asset from the bridge (no CDN: the internet is down when this matters).
// Run by `npm run build:web` (and so by `./kitchen-bus build`).
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', 'package.json'));
const mqttPkgPath = require.resolve('mqtt/package.json');
const mqttDir = dirname(mqttPkgPath);
const { version } = JSON.parse(readFileSync(mqttPkgPath, 'utf8'));

const src = join(mqttDir, 'dist', 'mqtt.esm.js');
const outDir = join(here, 'public', 'vendor');
mkdirSync(outDir, { recursive: true });
const dst = join(outDir, 'mqtt.esm.js');
copyFileSync(src, dst);
writeFileSync(join(outDir, 'VERSION.json'), JSON.stringify({ mqtt: version }) + '\n');
console.log(`web-adapter: vendored mqtt ${version} (${statSync(dst).size} bytes) -> ${dst}`);
