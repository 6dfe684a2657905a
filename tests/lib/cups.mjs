// cups.mjs - Debian's own CUPS scheduler (cupsd) in a temporary folder, for
// tests of kitchen printers behind CUPS (issue 18). It listens only on a
// local socket in that folder; clients reach it with CUPS_SERVER=<socket>
// (env()), which lp, lpadmin and lpstat honour. Nothing of the machine's own
// CUPS (/etc/cups, port 631) is read or touched.
//
// Queues are raw (`lpadmin -m raw`: the bytes go to the device untouched),
// and their device is CUPS's socket backend (socket://host:port, the
// AppSocket/JetDirect protocol of port 9100 printers), pointed at a fake
// printer (fake_printer.mjs). A raw queue with a file:// device prints
// nothing in CUPS 2.4, so socket is the one device that records the bytes.
//
// When run as root, cupsd runs its backends as the lp user: the folder is
// made world-readable so that user can read the spooled job.
import { spawn, execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './harness.mjs';

const run = promisify(execFile);
const NEEDED = ['/usr/sbin/cupsd', '/usr/sbin/lpadmin', '/usr/bin/lp', '/usr/bin/lpstat', '/usr/lib/cups/backend/socket'];

const group = () => execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();

/** Why CUPS cannot run here (a sentence naming the fix), or false. */
export function cupsMissing() {
  const missing = NEEDED.filter((f) => !existsSync(f));
  return missing.length ? `CUPS is not installed (no ${missing.join(', ')}): ./kitchen-bus deps test installs cups` : false;
}

/** Starts cupsd in a new temporary folder. Returns { socket, env(), start(), stop(), addRawQueue(), log() }. */
export async function startCups() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kb-cups-'));
  chmodSync(dir, 0o755);
  for (const d of ['spool', 'spool/tmp', 'run', 'cache', 'log']) mkdirSync(path.join(dir, d), { recursive: true });
  const socket = path.join(dir, 'cups.sock');
  const files = path.join(dir, 'cups-files.conf');
  const conf = path.join(dir, 'cupsd.conf');
  writeFileSync(files, [
    `ServerRoot ${dir}`, `RequestRoot ${dir}/spool`, `TempDir ${dir}/spool/tmp`, `StateDir ${dir}/run`,
    `CacheDir ${dir}/cache`, 'ServerBin /usr/lib/cups', 'DataDir /usr/share/cups',
    `ErrorLog ${dir}/log/error_log`, `AccessLog ${dir}/log/access_log`, `PageLog ${dir}/log/page_log`,
    // As root, cupsd drops to lp for backends; as anyone else it runs them as that user.
    ...(process.getuid() === 0 ? ['SystemGroup root'] : [`User ${os.userInfo().username}`, `Group ${group()}`, `SystemGroup ${group()}`]),
    '',
  ].join('\n'));
  // Anyone who can open the socket (in a folder of ours) may print and add queues.
  writeFileSync(conf, [
    `Listen ${socket}`, 'LogLevel debug', 'Browsing Off', 'WebInterface No', 'DefaultAuthType None',
    '<Location />', '  Order allow,deny', '  Allow all', '</Location>',
    '<Policy default>', '  <Limit All>', '    Order deny,allow', '  </Limit>', '</Policy>', '',
  ].join('\n'));
  const env = () => ({ ...process.env, CUPS_SERVER: socket });
  const log = () => {
    try { return readFileSync(path.join(dir, 'log/error_log'), 'utf8'); } catch { return ''; }
  };
  let proc = null;
  let output = '';

  const cups = {
    dir, socket, env, log,
    /** Starts cupsd (again: its queues and jobs stay in the folder) and waits until it answers. */
    async start() {
      proc = spawn('/usr/sbin/cupsd', ['-f', '-c', conf, '-s', files], { stdio: ['ignore', 'pipe', 'pipe'] });
      const p = proc;
      p.stdout.on('data', (d) => { output += d; });
      p.stderr.on('data', (d) => { output += d; });
      p.exited = new Promise((resolve) => p.on('exit', resolve));
      await waitFor(async () => {
        if (p.exitCode !== null) throw new Error(`cupsd exited (${p.exitCode}): ${output.trim()}\n${log().slice(-2000)}`);
        try { return (await run('/usr/bin/lpstat', ['-r'], { env: env() })).stdout.includes('is running'); } catch { return false; }
      }, { timeout: 15000, what: 'cupsd to answer on its socket' });
    },
    /** Stops cupsd (SIGTERM) and waits for it to exit. */
    async stop() {
      if (!proc || proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      await proc.exited;
    },
    /** Adds an enabled raw queue `name` printing to the socket device `host:port`. */
    async addRawQueue(name, hostPort) {
      await run('/usr/sbin/lpadmin', ['-p', name, '-E', '-v', `socket://${hostPort}`, '-m', 'raw'], { env: env() });
    },
    /** Waits until CUPS has no job left to print (lpstat -o prints nothing). */
    async idle({ timeout = 20000 } = {}) {
      await waitFor(async () => (await run('/usr/bin/lpstat', ['-o'], { env: env() })).stdout.trim() === '',
        { timeout, what: `CUPS to finish its jobs\n${log().slice(-2000)}` });
    },
    /** Stops cupsd and removes its folder. */
    async close() {
      await cups.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await cups.start();
  return cups;
}
