// Vendors MQTT.js, the admin page's QR code library and its chart library
// (uPlot, the Reports view) from node_modules into
// public/vendor/ so browsers load every asset from the bridge (no CDN: the
// internet is down when this matters).
// Run by `npm run build:web` (and so by `./kitchen-bus build`).
//
// Nothing else is built: the pages and the adapter's modules (kitchen-bus.mjs,
// kb/, js/) are served from public/ as they are, and the .deb and the docker
// image copy public/ whole. The last step checks that every module the pages
// and /kitchen-bus.mjs import is there.
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', 'package.json'));
const mqttPkgPath = require.resolve('mqtt/package.json');
const mqttDir = dirname(mqttPkgPath);
const { version } = JSON.parse(readFileSync(mqttPkgPath, 'utf8'));

const src = join(mqttDir, 'dist', 'mqtt.esm.js');
const publicDir = join(here, 'public');
const outDir = join(publicDir, 'vendor');
mkdirSync(outDir, { recursive: true });
const dst = join(outDir, 'mqtt.esm.js');
copyFileSync(src, dst);
console.log(`web-adapter: vendored mqtt ${version} (${statSync(dst).size} bytes) -> ${dst}`);

// The admin page draws the pairing QR code in the browser (qrcode-generator:
// one dependency-free ES module; its package exports no package.json).
const qrDist = dirname(require.resolve('qrcode-generator'));
const qrVersion = JSON.parse(readFileSync(join(qrDist, '..', 'package.json'), 'utf8')).version;
const qrDst = join(outDir, 'qrcode.mjs');
copyFileSync(join(qrDist, 'qrcode.mjs'), qrDst);
console.log(`web-adapter: vendored qrcode-generator ${qrVersion} (${statSync(qrDst).size} bytes) -> ${qrDst}`);

// The admin page's Reports view draws its charts with uPlot (no dependencies;
// its ES module build and its stylesheet).
const uplotPkgPath = require.resolve('uplot/package.json');
const uplotDir = dirname(uplotPkgPath);
const uplotVersion = JSON.parse(readFileSync(uplotPkgPath, 'utf8')).version;
for (const f of ['uPlot.esm.js', 'uPlot.min.css']) {
    const d = join(outDir, f);
    copyFileSync(join(uplotDir, 'dist', f), d);
    console.log(`web-adapter: vendored uplot ${uplotVersion} ${f} (${statSync(d).size} bytes) -> ${d}`);
}
writeFileSync(join(outDir, 'VERSION.json'),
    JSON.stringify({ mqtt: version, 'qrcode-generator': qrVersion, uplot: uplotVersion }) + '\n');

// Every module reachable from the entry points, by their static imports.
const entries = ['kitchen-bus.mjs', 'js/kitchen.mjs', 'js/pos.mjs', 'js/admin.mjs', 'js/pair.mjs'];
const seen = new Set();
const missing = [];
const walk = (rel, from) => {
    if (seen.has(rel)) return;
    seen.add(rel);
    const file = join(publicDir, rel);
    if (!existsSync(file)) { missing.push(`${rel}${from ? ` (imported by ${from})` : ''}`); return; }
    if (rel.startsWith('vendor/')) return;
    const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    for (const [, spec] of code.matchAll(/\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
        walk(posix.normalize(posix.join(posix.dirname(rel), spec)), rel);
    }
};
for (const e of entries) walk(e, null);
if (missing.length) {
    console.error(`web-adapter: missing module(s): ${missing.join(', ')}`);
    process.exit(1);
}
console.log(`web-adapter: ${seen.size} modules reachable from ${entries.join(', ')}, all present`);
