// kb_bench.mjs - runs the C load client (kb_bench.c) against a bus of the
// test harness: the one place its command line is put together, for
// run.mjs's scenarios and probe.mjs.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { ROOT } from '../lib/harness.mjs';

export const BENCH = process.env.KB_BENCH_BIN || path.join(ROOT, 'build/tests/bench/kb-bench');

/** kb-bench's arguments for one POS of `tenant` and `kitchens` kitchens, by the demo registry's accounts. */
export function kbBenchArgs(bus, { path: via, rate, seconds, kitchens, label, tenant = 'pizza' }) {
  return ['--port', String(bus.mqttPort), '--path', via, '--rate', String(rate), '--seconds', String(seconds),
    '--kitchens', String(kitchens), '--label', label, '--tenant', tenant,
    '--pos-user', `${tenant}-pos`, '--pos-pass', `${tenant}-pos`,
    '--kitchen-user', `${tenant}-kitchen`, '--kitchen-pass', `${tenant}-kitchen`,
    '--direct-pass-file', bus.bridgeEnv.KB_BRIDGE_PASSWORD_FILE];
}

/** Runs one kb-bench and returns its JSON result line. */
export async function kbBench(bus, opts) {
  const { stdout } = await promisify(execFile)(BENCH, kbBenchArgs(bus, opts), { encoding: 'utf8', timeout: 120000 });
  return JSON.parse(stdout.trim().split('\n').pop());
}
