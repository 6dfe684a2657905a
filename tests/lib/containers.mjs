// containers.mjs - bare Debian 12 machines for the deploy tests, as podman
// containers (there is no Docker engine here).
//
// Podman uses docker/containers.conf (runc, rlimits within the machine's
// hard limits, measured on the CI machines). The debian:bookworm-slim base
// is made locally by docker/make-base-image.sh (debootstrap | podman import)
// and stays in podman's store, as do images built from it, so only the
// first run on a machine pays for them. `./kitchen-bus test` installs the
// container tools (its TEST_PACKAGES).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { ROOT, waitFor } from './harness.mjs';

const run = promisify(execFile);
export const DOCKER_DIR = path.join(ROOT, 'docker');
export const BASE_IMAGE = 'docker.io/library/debian:bookworm-slim';
export const podmanEnv = { ...process.env, CONTAINERS_CONF: path.join(DOCKER_DIR, 'containers.conf') };
const TOOLS = ['podman', 'runc', 'debootstrap', 'netavark', 'aardvark-dns', 'iptables'];

/** A test's progress lines, each with the seconds since the test file started. */
const started = Date.now();
export const note = (msg) => console.log(`# [${((Date.now() - started) / 1000).toFixed(1)} s] ${msg}`);

/** Runs podman; resolves with { stdout, stderr }, rejects with both in the message. */
export async function podman(args, opts = {}) {
  try {
    return await run('podman', args, { env: podmanEnv, maxBuffer: 1 << 26, ...opts });
  } catch (err) {
    err.message = `podman ${args.slice(0, 3).join(' ')} failed: ${err.message}\n${String(err.stdout ?? '').slice(-3000)}`;
    throw err;
  }
}

/** Fails with the fix when the container tools (and `extra` packages) are missing. */
export function requireTools(extra = []) {
  const missing = [...TOOLS, ...extra].filter((p) => {
    try {
      return !execFileSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .includes('install ok installed');
    } catch { return true; }
  });
  if (missing.length) throw new Error(`missing ${missing.join(' ')}: run ./kitchen-bus deps test (as root)`);
}

/** The bare Debian 12 base image, made once per machine. */
export async function ensureBaseImage() {
  requireTools();
  await run(path.join(DOCKER_DIR, 'make-base-image.sh'), ['podman', BASE_IMAGE], { env: podmanEnv, maxBuffer: 1 << 26 });
}

/**
 * Removes containers whose names start with `prefix` and end in a number:
 * what an earlier run that was killed left behind.
 */
export async function removeLeftovers(prefix) {
  const { stdout } = await podman(['ps', '-a', '--format', '{{.Names}}']);
  const names = stdout.split('\n').filter((n) => new RegExp(`^${prefix}\\d+$`).test(n));
  if (names.length) await podman(['rm', '-f', '-t', '2', ...names]);
}

/** Runs a command in a container: resolves with its stdout, rejects with its output. */
export async function exec(container, args, { input, timeout = 600000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('podman', ['exec', '-i', container, ...args], { env: podmanEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { err += c; });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`in ${container}: ${args.join(' ')} exited ${code ?? signal}\n${out.slice(-3000)}\n${err.slice(-3000)}`));
    });
    child.stdin.end(input);
  });
}

/** The checkout's files (tracked, and new ones not ignored), as a tar stream into `dir` in the container. */
export async function copyCheckout(container, dir) {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT })
    .toString().split('\0').filter((f) => f && !f.startsWith('node_modules/'));
  const present = files.filter((f) => existsSync(path.join(ROOT, f)));
  const tar = execFileSync('tar', ['-c', '-C', ROOT, '--null', '-T', '-'], { input: present.join('\0'), maxBuffer: 1 << 28 });
  await exec(container, ['sh', '-c', `mkdir -p '${dir}' && tar -x -C '${dir}'`], { input: tar });
}

/** GET on the host; resolves with { status, body } or null while nothing answers. */
export async function getJson(url) {
  try {
    const res = await fetch(url);
    return { status: res.status, body: await res.json() };
  } catch { return null; }
}

/** Waits for /health at `base` to answer 200 "ok". */
export function waitHealthy(base, { timeout = 60000, what = 'the bridge to be healthy' } = {}) {
  return waitFor(async () => {
    const h = await getJson(`${base}/health`);
    return h && h.status === 200 && h.body.status === 'ok' && h.body;
  }, { timeout, interval: 250, what });
}
