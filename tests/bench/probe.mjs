// probe.mjs - one bus, one kb-bench run, with strace -c or perf record
// attached to the bridge or the broker: the per-process evidence behind
// docs/BENCHMARKS.md ("What limits ..."), not a benchmark of its own
// (both tools slow the process they watch).
//
//   node tests/bench/probe.mjs [--rate 200] [--seconds 5] [--tool strace|perf|none]
//                              [--who bridge|broker] [--path bridge|direct] [--out FILE]
//
// Prints kb-bench's latencies and the journal's commit count; the tool's
// output goes to --out (default /tmp/probe-<who>.<tool>).
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { startBus, waitFor } from '../lib/harness.mjs';
import { kbBench } from './kb_bench.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);
const rate = opt('rate', '200'), seconds = opt('seconds', '5'), tool = opt('tool', 'strace');
const who = opt('who', 'bridge'), via = opt('path', 'bridge');
const out = opt('out', `/tmp/probe-${who}.${tool}`);
if (!['strace', 'perf', 'none'].includes(tool) || !['bridge', 'broker'].includes(who)) {
  throw new Error('--tool takes strace, perf or none; --who takes bridge or broker');
}

const bus = await startBus();
let watcher = null;
try {
  const pid = String((who === 'bridge' ? bus.bridge : bus.broker).pid);
  if (tool !== 'none') {
    rmSync(out, { force: true });
    const argv = tool === 'strace' ? ['-c', '-f', '-p', pid, '-o', out] : ['record', '-g', '-o', out, '-p', pid];
    let attached = false;
    watcher = spawn(tool, argv, { stdio: ['ignore', 'inherit', 'pipe'] });
    watcher.stderr.on('data', (d) => { attached = true; process.stderr.write(d); });
    watcher.on('exit', (code) => { if (!attached) console.error(`${tool} exited with ${code} before attaching`); });
    // strace says so on stderr; perf record creates its output file.
    await waitFor(() => attached || (tool === 'perf' && existsSync(out)), { timeout: 5000, what: `${tool} to attach` });
  }
  const r = await kbBench(bus, { path: via, rate, seconds, kitchens: 1, label: 'probe' });
  console.log(JSON.stringify({ orders: r.orders, kitchen_ms: r.submit_to_kitchen_ms,
    ack_ms: r.submit_to_ack_ms || r.submit_to_puback_ms, commits: await bus.metric('kb_journal_commits_total') }));
} finally {
  if (watcher && watcher.exitCode === null) {
    const exited = new Promise((r) => watcher.on('exit', r));
    watcher.kill('SIGINT');
    await exited;
  }
  await bus.stop();
}
if (tool !== 'none') console.log(`${tool} output: ${out}`);
