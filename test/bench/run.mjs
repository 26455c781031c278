#!/usr/bin/env node
// `npm run bench`: the /verify hot-path benchmark (issues 4 and 11). Starts everything it needs on 127.0.0.1 (two
// bare "ok" servers, the real server as `node dist/main.js` on SQLite and on MySQL, each its own child process),
// drives them with wrk (autocannon when wrk is missing), and prints Markdown: per row the median and range of
// several interleaved rounds, in requests per second and in the server's own CPU time per request; then a memory
// check under a flood of one million distinct junk cookies, the targets with PASS/FAIL, and the machine it ran on.
// See docs/bench.md for the method and why.
//
// Exit code: 0 when every measurement ran (even if a target is missed: this is a report, not a test), 1 when
// something could not start or answered wrongly before measuring (a server, seeding, login, a sanity request).
//
// Switches: --quick or BENCH_QUICK=1 (3 rounds of 2 s, a 50 000-pair flood: for development);
// --profile or BENCH_PROFILE=1 (one more window each of the warm row and of bare node:http with the server under
// `node --cpu-prof`, the .cpuprofile files kept in bench-profiles/, and a summary of where the CPU time went;
// BENCH_PROFILE=warm,junk profiles the junk row too; rules50 and public can be profiled as well).
// Knobs (environment): BENCH_ROUNDS, BENCH_DURATION (s per row and round),
// BENCH_WARMUP (s before each window), BENCH_FIRST_WARMUP (s before a row's first window), BENCH_CONNECTIONS (50),
// BENCH_ROWS (e.g. "node,warm,mem" or "1,3,mem"), BENCH_LOADGEN (wrk | autocannon), BENCH_WRK_THREADS (1),
// BENCH_MEMCHECK_PAIRS, BENCH_MEMCHECK_SECONDS, BENCH_MEMCHECK_PIPELINING (4), BENCH_MEMORY_BOUND_MB (384),
// BENCH_MYSQL_URL / TEST_MYSQL_URL (server to create a scratch database on; default mysql://root@127.0.0.1:3306/test).
// The server's cache variables (VERIFY_CACHE_*, NEGATIVE_CACHE_*, LAST_SEEN_INTERVAL_SECONDS, DATABASE_POOL_SIZE
// and its old name MYSQL_POOL_SIZE) are
// passed through to the servers when set; the cold rows always force both cache TTLs to 0.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'dist/main.js');
const CLI = join(ROOT, 'dist/cli.js');
const BARE = fileURLToPath(new URL('./bare-server.mjs', import.meta.url));
const WRK_SCRIPT = fileURLToPath(new URL('./wrk.lua', import.meta.url));
const PROFILE_DIR = join(ROOT, 'bench-profiles'); // git-ignored
const HOST = '127.0.0.1';

// ---------------------------------------------------------------------------------------------------------------
// Settings

const argv = process.argv.slice(2);
for (const arg of argv) {
  if (arg !== '--quick' && arg !== '--profile') {
    console.error(`bench: unknown argument ${arg} (known: --quick, --profile; knobs are environment variables, see docs/bench.md)`);
    process.exit(2);
  }
}
const truthy = (name) => ['1', 'true', 'yes'].includes((process.env[name] ?? '').toLowerCase());
const QUICK = argv.includes('--quick') || truthy('BENCH_QUICK');
// BENCH_PROFILE=1 profiles the warm row; a list (e.g. "warm,junk") picks rows among warm, junk, hono, rules50 and
// public. Bare node:http is always profiled too: it is what the others are read against.
const PROFILE_ROWS = (() => {
  const raw = (process.env.BENCH_PROFILE ?? '').toLowerCase();
  if (raw === '' || raw === '0' || raw === 'false' || raw === 'no') return argv.includes('--profile') ? ['warm'] : [];
  if (truthy('BENCH_PROFILE')) return ['warm'];
  const keys = raw.split(',').map((k) => k.trim());
  for (const k of keys) {
    if (!['warm', 'junk', 'hono', 'rules50', 'public'].includes(k)) {
      console.error(`bench: BENCH_PROFILE: "${k}" cannot be profiled (1, or a list of warm, junk, hono, rules50, public)`);
      process.exit(2);
    }
  }
  return [...new Set(keys)];
})();
const PROFILE = PROFILE_ROWS.length > 0;

function intEnv(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`bench: ${name}=${raw} must be a whole number from ${min} to ${max}`);
    process.exit(2);
  }
  return n;
}

const ROUNDS = intEnv('BENCH_ROUNDS', QUICK ? 3 : 9, 1, 50);
const DURATION = intEnv('BENCH_DURATION', QUICK ? 2 : 3, 1, 120);
const PROFILE_SECONDS = Math.max(DURATION, 5); // enough samples for the small functions
const WARMUP = intEnv('BENCH_WARMUP', 1, 0, 60);
/** How long the warm row's server is watched at rest after its rounds (the change feed's cost). */
const AT_REST_SECONDS = QUICK ? 5 : 10;
const FIRST_WARMUP = intEnv('BENCH_FIRST_WARMUP', QUICK ? 1 : 3, 0, 120);
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 50, 2, 1000);
const MEM_PAIRS = intEnv('BENCH_MEMCHECK_PAIRS', QUICK ? 50_000 : 1_000_000, 1000, 10_000_000);
const MEM_SECONDS = intEnv('BENCH_MEMCHECK_SECONDS', QUICK ? 60 : 240, 5, 600);
const MEM_PIPELINING = intEnv('BENCH_MEMCHECK_PIPELINING', 4, 1, 64);
const MEM_BOUND_MIB = intEnv('BENCH_MEMORY_BOUND_MB', 384, 16, 65536);
const WRK_THREADS = intEnv('BENCH_WRK_THREADS', 1, 1, 64);
const MYSQL_URL = process.env.BENCH_MYSQL_URL || process.env.TEST_MYSQL_URL || 'mysql://root@127.0.0.1:3306/test';
const PASS_THROUGH = [
  'VERIFY_CACHE_TTL_SECONDS',
  'VERIFY_CACHE_MAX_ENTRIES',
  'NEGATIVE_CACHE_TTL_SECONDS',
  'NEGATIVE_CACHE_MAX_ENTRIES',
  'LAST_SEEN_INTERVAL_SECONDS',
  'DATABASE_POOL_SIZE',
  'MYSQL_POOL_SIZE',
];
const NEGATIVE_MAX_ENTRIES = process.env.NEGATIVE_CACHE_MAX_ENTRIES || '100000';
const COLD = { VERIFY_CACHE_TTL_SECONDS: '0', NEGATIVE_CACHE_TTL_SECONDS: '0' };
// Row 7: 80 % of the connections carry the valid device, 20 % a new junk pair per request (40 + 10 at 50).
const MIXED_JUNK_CONNS = Math.max(1, Math.round(CONNECTIONS / 5));
const MIXED_VALID_CONNS = CONNECTIONS - MIXED_JUNK_CONNS;

/** The rows, in the order of an odd round (even rounds run them backwards). */
const ROWS = [
  { n: 1, key: 'node', label: 'bare node:http "ok" (ceiling)' },
  { n: 2, key: 'hono', label: 'bare Hono "ok"' },
  { n: 3, key: 'warm', label: '/verify valid device, warm (SQLite)' },
  { n: 4, key: 'junk', label: '/verify junk cookies → 404 (negative cache)' },
  { n: 5, key: 'cold-sqlite', label: '/verify cold, caches off (SQLite)' },
  { n: 6, key: 'cold-mysql', label: '/verify cold, caches off (MySQL)' },
  { n: 7, key: 'mixed', label: `/verify warm on ${MIXED_VALID_CONNS} conns + distinct junk on ${MIXED_JUNK_CONNS}` },
  { n: 8, key: 'node404', label: 'bare node:http 404 (ceiling of row 4: its answer, its load-generator mode)' },
  { n: 9, key: 'warm-workers', label: '/verify valid device, warm, WORKERS=2 (SQLite; CPU of primary + workers)' },
  { n: 10, key: 'rules50', label: '/verify warm, service with 50 rules, the last one matching (SQLite)' },
  { n: 11, key: 'public', label: '/verify `public` path, no cookies (SQLite)' },
];
const SELECTED = new Set();
for (const token of (process.env.BENCH_ROWS || 'all').split(',').map((s) => s.trim().toLowerCase())) {
  if (token === 'all') {
    for (const r of ROWS) SELECTED.add(r.key);
    SELECTED.add('mem');
  } else if (token === 'mem') SELECTED.add('mem');
  else {
    const row = ROWS.find((r) => r.key === token || String(r.n) === token);
    if (!row) {
      console.error(`bench: BENCH_ROWS: unknown row "${token}" (rows: ${ROWS.map((r) => `${r.n}/${r.key}`).join(', ')}, mem)`);
      process.exit(2);
    }
    SELECTED.add(row.key);
  }
}

const startedAt = performance.now();
const tmp = mkdtempSync(join(tmpdir(), 'pa-bench-'));
const children = new Set();
let mysqlCleanup;
let fatal = false;
let interrupted = false;

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hex32 = () => randomBytes(16).toString('hex');
const junkCookie = () => `device_id=${hex32()}; hmac_secret=${hex32()}`;
const log = (msg) => process.stderr.write(`bench: ${msg}\n`);

class SetupError extends Error {}

function encryptionKeys() {
  const file = join(ROOT, '.env.testing');
  const keys = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')).ENCRYPTION_KEYS : undefined;
  if (!keys) throw new SetupError(`no ENCRYPTION_KEYS in ${file}`);
  return keys;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A clean environment for a child: no inherited DATABASE_URL, DB_*, NODE_OPTIONS or .env surprises. */
function childEnv(extra) {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmp, NODE_ENV: 'development' };
  for (const name of PASS_THROUGH) if (process.env[name] !== undefined) env[name] = process.env[name];
  // WORKERS=1: every row measures one process (its CPU is read from /proc/<pid>), whatever WORKERS defaults to.
  return { ...env, HOST, LOG_LEVEL: 'warn', ENCRYPTION_KEYS: encryptionKeys(), WORKERS: '1', ...extra };
}

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {}

/** Fields of /proc/<pid>/stat after the command name: fields[0] is field 3 (state) of proc(5). */
function statFields(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
}

/** The process and its children (a WORKERS > 1 server's workers), by pid. */
function withChildren(pid) {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return [pid, ...children];
  } catch {
    return [pid];
  }
}

/** CPU seconds of a process and its children, counted over the children it has now. */
function cpuOfTree(pids) {
  return pids.reduce((sum, p) => sum + cpuOf(p), 0);
}

/** CPU seconds (user + system, all threads) a process has used so far. */
function cpuOf(pid) {
  try {
    const f = statFields(pid);
    return (Number(f[11]) + Number(f[12])) / clkTck;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU seconds of the load generator so far: this process (autocannon runs in it) plus its children that have
 * exited and been waited for (wrk: each run ends before the window is read).
 */
function generatorCpu() {
  const f = statFields('self');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / clkTck;
}

/** CPU seconds the whole machine has been busy (all cores, everything but idle and iowait). */
function machineBusy() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
    return (total - f[3] - f[4]) / clkTck;
  } catch {
    return 0;
  }
}

/** VmRSS and VmHWM (peak) of a process, in KiB. */
function memOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0), hwm: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0) };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

/** The pid of a local MariaDB/MySQL server, to report its CPU time in the MySQL row (it is not ours: a note). */
function mysqldPid() {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (comm === 'mariadbd' || comm === 'mysqld') return Number(entry);
    } catch {}
  }
  return undefined;
}

/** The 1-minute load average. */
function loadAverage() {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}

const mib = (kib) => (kib / 1024).toFixed(1);
const pct = (x) => `${Math.round(x * 100)} %`;
const fmtMs = (ms) => (Number.isNaN(ms) ? '–' : ms < 10 ? ms.toFixed(2) : ms.toFixed(1));
const fmtUs = (us) => (Number.isFinite(us) ? (us < 100 ? us.toFixed(1) : us.toFixed(0)) : '–');
const fmtX = (x) => (Number.isFinite(x) ? x.toFixed(2) : '–');

function median(values) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}
const lowest = (values) => Math.min(...values.filter(Number.isFinite));
const highest = (values) => Math.max(...values.filter(Number.isFinite));

function tail(file, lines = 15) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes

const running = (child) => child.exitCode === null && child.signalCode === null;

async function startServer(name, script, extraEnv, nodeFlags = []) {
  const port = await freePort();
  const logFile = join(tmp, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...nodeFlags, script], {
    cwd: tmp,
    env: childEnv({ PORT: String(port), ...extraEnv }),
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  children.add(child);
  child.once('exit', () => children.delete(child));
  const base = `http://${HOST}:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (!running(child)) throw new SetupError(`${name} exited during start (code ${child.exitCode}):\n${tail(logFile)}`);
    if (Date.now() > deadline) {
      await stopServer({ child });
      throw new SetupError(`${name} was not ready within 20 s:\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {}
    await sleep(50);
  }
  return { name, child, pid: child.pid, port, base, url: `${base}/verify/bench`, logFile };
}

/** The server's Prometheus metrics as series → value. */
async function scrape(server) {
  const text = await (await fetch(`${server.base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const values = new Map();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

async function stopServer(server) {
  const { child } = server;
  if (!running(child)) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  if (await Promise.race([exited.then(() => true), sleep(5000).then(() => false)])) return;
  child.kill('SIGKILL');
  await Promise.race([exited, sleep(2000)]);
}

function runCli(args, env) {
  try {
    return execFileSync(process.execPath, [CLI, ...args], { cwd: tmp, env, encoding: 'utf8', timeout: 30_000, stdio: 'pipe' });
  } catch (err) {
    throw new SetupError(`cli ${args.join(' ')} failed: ${(err.stderr || err.stdout || err.message || '').toString().trim()}`);
  }
}

/** Seeds one user, one service, one grant; returns the TOTP secret and the service token. */
function seed(databaseUrl) {
  const env = childEnv({ DATABASE_URL: databaseUrl });
  const user = JSON.parse(runCli(['--json', 'user', 'add', '--email', 'bench@example.com'], env));
  const service = JSON.parse(runCli(['--json', 'service', 'add', 'bench'], env));
  runCli(['grant', '--email', 'bench@example.com', '--service', 'bench', '--scope', 'read:email'], env);
  if (!user.totpSecret || !service.token) throw new SetupError('cli did not print totpSecret / token');
  // Rows 9 and 10: a second service with 50 access rules (written as one policy file: one CLI run): rule 1 makes
  // /health public, rules 2-49 close other areas, rule 50 (the last) is the one an /app/… page load meets.
  const ruled = JSON.parse(runCli(['--json', 'service', 'add', 'ruled'], env));
  const rules = [
    '      - paths: [/health]\n        policy: public',
    ...Array.from({ length: 48 }, (_, i) => `      - paths: [/area-${i + 2}/**]\n        methods: [GET, POST]\n        policy: deny`),
    '      - paths: [/app/**]\n        policy: signed-in',
  ];
  const policyFile = join(tmp, 'bench-policy.yaml');
  writeFileSync(policyFile, `services:\n  ruled:\n    grants:\n      bench@example.com: read:email\n    rules:\n${rules.join('\n')}\n`);
  runCli(['policy', 'apply', policyFile], env);
  return { totpSecret: user.totpSecret, token: service.token, ruledToken: ruled.token };
}

/** What Traefik sends with a /verify for a GET of `path` (rows 9 and 10; the server trusts 127.0.0.1 there). */
const forwardedHeaders = (path) => ({
  'X-Forwarded-Proto': 'https',
  'X-Forwarded-Host': 'app.example.com',
  'X-Forwarded-Uri': path,
  'X-Forwarded-Method': 'GET',
  'X-Forwarded-For': '192.0.2.10',
});

/** Logs in through POST /device/add and returns the Cookie header of the new device. */
async function login(server, totpSecret) {
  const { generate } = await import('otplib');
  const code = await generate({ secret: totpSecret });
  const res = await fetch(`${server.base}/device/add`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: 'bench@example.com', device_registration_code: code, device_type: 'bench' }),
  });
  const body = await res.text();
  if (res.status !== 200) throw new SetupError(`login on ${server.name} answered ${res.status}: ${body}`);
  const pairs = res.headers.getSetCookie().map((c) => c.split(';')[0]);
  const id = pairs.find((p) => p.startsWith('device_id='));
  const secret = pairs.find((p) => p.startsWith('hmac_secret='));
  if (!id || !secret) throw new SetupError(`login on ${server.name} set no device cookies`);
  return `${id}; ${secret}`;
}

/** One request before measuring: the row is only meaningful if the answer is the expected one. */
async function sanity(server, headers, expected, url = server.url) {
  const res = await fetch(url, { headers });
  const body = await res.text();
  if (res.status !== expected)
    throw new SetupError(`${server.name}: GET /verify/bench answered ${res.status}, expected ${expected}: ${body}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Load generators. Both take the same options and return the same shape:
//   { responses, seconds, rps, p50, p99 (ms), errors, detail }
// mode: 'static' (the same request every time, 2xx expected), 'expect404' (the same request, 404 expected),
// 'junk' (a new random cookie pair per request, 404 expected). quota/step/onProgress: the memory flood.

function findOnPath(name) {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {}
  }
  return undefined;
}

function chooseGenerator() {
  const wanted = (process.env.BENCH_LOADGEN ?? '').toLowerCase();
  if (wanted !== '' && wanted !== 'wrk' && wanted !== 'autocannon') {
    console.error('bench: BENCH_LOADGEN must be "wrk" or "autocannon"');
    process.exit(2);
  }
  const wrk = wanted === 'autocannon' ? undefined : findOnPath('wrk');
  if (wrk) {
    let version = '';
    try {
      version = execFileSync(wrk, ['-v'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      version = String(err.stdout ?? ''); // wrk -v prints its version and usage, then exits 1
    }
    const v = /^wrk\s+(\S+)/m.exec(version)?.[1] ?? '';
    return { name: 'wrk', path: wrk, describe: `wrk ${v} (native, ${WRK_THREADS} thread${WRK_THREADS > 1 ? 's' : ''})` };
  }
  if (wanted === 'wrk') throw new SetupError('BENCH_LOADGEN=wrk but there is no wrk on PATH');
  let v = '';
  try {
    v = JSON.parse(readFileSync(join(ROOT, 'node_modules/autocannon/package.json'), 'utf8')).version;
  } catch {}
  const why = wanted === 'autocannon' ? 'BENCH_LOADGEN=autocannon' : 'wrk not found';
  return { name: 'autocannon', describe: `autocannon ${v} (in the benchmark's process; ${why})` };
}

let GEN;

function load(opts) {
  return GEN.name === 'wrk' ? wrkLoad(opts) : cannonLoad(opts);
}

function wrkLoad({ url, connections, seconds, auth, cookie, headers, mode, pipelining = 1, quota = 0, step = 0, onProgress }) {
  const threads = Math.min(WRK_THREADS, connections);
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--timeout', '10s', '-s', WRK_SCRIPT, url];
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    BENCH_WRK_MODE: mode,
    BENCH_WRK_AUTH: auth ?? '',
    BENCH_WRK_COOKIE: cookie ?? '',
    BENCH_WRK_HEADERS: Object.entries(headers ?? {})
      .map(([name, value]) => `${name}: ${value}`)
      .join('\n'),
    BENCH_WRK_SEED: String(randomInt(1, 2 ** 31 - 1)),
    BENCH_WRK_PIPELINE: String(pipelining),
    BENCH_WRK_QUOTA: quota ? String(Math.ceil(quota / threads)) : '0',
    BENCH_WRK_STEP: step ? String(Math.max(1, Math.round(step / threads))) : '0',
  };
  const child = spawn(GEN.path, args, { cwd: tmp, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  let pending = '';
  let progressed = 0;
  let doneThreads = 0;
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    stdout += chunk;
    pending += chunk;
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
      if (line.startsWith('BENCH_PROGRESS ')) {
        progressed += Number(line.slice(15));
        onProgress?.(progressed);
      } else if (line === 'BENCH_DONE' && ++doneThreads === threads) {
        // Every thread has its quota. wrk itself would sit out the rest of -d; SIGINT makes it report now.
        child.kill('SIGINT');
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      children.delete(child);
      const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      if (!line) {
        reject(new SetupError(`wrk ended (${signal ?? `code ${code}`}) without a result:\n${(stderr || stdout).trim().slice(-2000)}`));
        return;
      }
      const r = JSON.parse(line.slice('BENCH_RESULT '.length));
      const socketErrors = r.connect + r.read + r.write + r.timeout;
      // static: wrk's own count of statuses > 399; otherwise the script's count of answers other than 404.
      const wrong = mode === 'static' ? r.status : r.unexpected;
      const seconds = r.durationUs / 1e6;
      const detail = [];
      if (wrong) detail.push(`${wrong} unexpected statuses${r.unexpectedStatus ? ` (e.g. ${r.unexpectedStatus})` : ' (> 399)'}`);
      if (socketErrors) detail.push(`socket errors: connect ${r.connect}, read ${r.read}, write ${r.write}, timeouts ${r.timeout}`);
      resolve({
        responses: r.requests,
        seconds,
        rps: r.requests / seconds,
        p50: r.p50Us / 1000,
        p99: r.p99Us / 1000,
        errors: wrong + socketErrors,
        detail: detail.join('; '),
      });
    });
  });
}

/** Response times, kept exactly (autocannon's own histogram rounds to whole milliseconds). */
class Samples {
  constructor() {
    this.buf = new Float64Array(1 << 16);
    this.n = 0;
  }
  add(ms) {
    if (this.n === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.n++] = ms;
  }
  percentile(p) {
    if (this.n === 0) return Number.NaN;
    if (!this.sorted) this.sorted = this.buf.slice(0, this.n).sort();
    return this.sorted[Math.min(this.n - 1, Math.max(0, Math.ceil((p / 100) * this.n) - 1))];
  }
}

async function cannonLoad({
  url,
  connections,
  seconds,
  auth,
  cookie,
  headers: extra,
  mode,
  pipelining = 1,
  quota = 0,
  step = 0,
  onProgress,
}) {
  const { default: autocannon } = await import('autocannon');
  const headers = { ...(extra ?? {}), ...(auth ? { authorization: auth } : {}) };
  const opts = { url, connections, pipelining, timeout: 10, headers: { ...headers } };
  if (mode === 'junk') {
    opts.requests = [{ setupRequest: (req) => ({ ...req, headers: { ...headers, cookie: junkCookie() } }) }];
  } else if (cookie) {
    opts.headers.cookie = cookie;
  }
  // autocannon drops the last pipelining-1 answers of each connection when it reaches `amount`: ask for that many
  // more so that at least `quota` are answered.
  if (quota) opts.amount = quota + connections * (pipelining - 1);
  const expect = mode === 'static' ? (s) => s >= 200 && s < 300 : (s) => s === 404;
  const samples = new Samples();
  const statuses = new Map();
  const t0 = performance.now();
  const instance = autocannon(opts);
  let responses = 0;
  instance.on('response', (_client, status, _bytes, ms) => {
    responses++;
    samples.add(ms);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (step && responses % step === 0) onProgress?.(responses);
  });
  const cap = setTimeout(() => instance.stop(), seconds * 1000);
  const result = await instance;
  clearTimeout(cap);
  const elapsed = (performance.now() - t0) / 1000;
  let wrong = 0;
  for (const [status, n] of statuses) if (!expect(status)) wrong += n;
  const detail = [];
  if (wrong) detail.push(`statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  if (result.errors) detail.push(`socket errors ${result.errors} (timeouts ${result.timeouts})`);
  return {
    responses,
    seconds: elapsed,
    rps: responses / elapsed,
    p50: samples.percentile(50),
    p99: samples.percentile(99),
    errors: wrong + result.errors,
    detail: detail.join('; '),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// One measured window

/**
 * Runs a row's load for `seconds` and reads, around it: the server's CPU time (utime + stime of its process in
 * /proc/<pid>/stat), the load generator's and the whole machine's; the remainder is other work on the machine.
 * CPU per request = the server's CPU time / the answers received. Unlike req/s it does not depend on how much of
 * the window the server got a core for, only on what each request cost it once it ran.
 */
async function measureWindow(row, seconds) {
  const pids = withChildren(row.server.pid);
  const srv0 = cpuOfTree(pids);
  const gen0 = generatorCpu();
  const box0 = machineBusy();
  const db0 = row.dbPid ? cpuOf(row.dbPid) : Number.NaN;
  const t0 = performance.now();
  const r = await row.drive(seconds);
  const wall = (performance.now() - t0) / 1000;
  const serverCpu = cpuOfTree(pids) - srv0;
  const genCpu = generatorCpu() - gen0;
  const boxCpu = machineBusy() - box0;
  const dbCpu = row.dbPid ? cpuOf(row.dbPid) - db0 : Number.NaN;
  return {
    ...r,
    cpuUsPerReq: (serverCpu * 1e6) / r.served,
    dbUsPerReq: (dbCpu * 1e6) / r.served,
    serverShare: serverCpu / wall,
    genShare: genCpu / wall,
    otherShare: Math.max(0, (boxCpu - serverCpu - genCpu) / wall),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// MySQL scratch database

async function mysqlScratch() {
  let url;
  try {
    url = new URL(MYSQL_URL);
    if (url.protocol !== 'mysql:') throw new Error('not a mysql:// URL');
  } catch (err) {
    return { skipped: `bad MySQL URL ${MYSQL_URL}: ${err.message}` };
  }
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    return { skipped: `MySQL URL host ${url.hostname} is not loopback; the benchmark stays on 127.0.0.1` };
  }
  let mysql;
  try {
    mysql = (await import('mysql2/promise')).default;
  } catch (err) {
    return { skipped: `mysql2 not importable: ${err.message}` };
  }
  const access = {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password || ''),
    connectTimeout: 3000,
  };
  let conn;
  try {
    conn = await mysql.createConnection(access);
  } catch (err) {
    return { skipped: `MySQL unreachable at ${access.host}:${access.port} (${err.code ?? err.message})` };
  }
  const name = `pa_bench_${randomBytes(4).toString('hex')}`;
  try {
    await conn.query(`CREATE DATABASE \`${name}\``);
  } catch (err) {
    await conn.end().catch(() => {});
    return { skipped: `cannot create database ${name}: ${err.message}` };
  }
  const drop = async () => {
    try {
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
    } finally {
      await conn.end().catch(() => {});
    }
  };
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${name}`;
  dbUrl.search = '';
  return { name, url: dbUrl.toString(), drop };
}

// ---------------------------------------------------------------------------------------------------------------
// The CPU profile summary (BENCH_PROFILE=1)

/** Where a profile node's code lives, for grouping: this project, a package, Node itself, native code, the VM. */
function categoryOf(frame) {
  const { functionName, url } = frame;
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(program)') return 'V8 and native code outside any JS function';
  if (functionName === '(idle)') return 'idle';
  if (url.startsWith('node:')) {
    const mod = url.slice(5).replace(/^internal\//, '');
    if (/^(_http|http)/.test(mod)) return 'Node http (parser glue, request/response objects)';
    if (/^(net|stream|streams\/|timers|events|buffer)/.test(mod)) return 'Node net, streams, timers, events';
    return `Node ${mod.split('/')[0]}`;
  }
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (pkg) return `package ${pkg}`;
  if (url.includes('/dist/')) return `this project: ${url.slice(url.indexOf('/dist/') + 1)}`;
  if (url === '') return 'native functions called from JS (writev = the socket write)';
  return 'other scripts';
}

function shortUrl(url) {
  if (url.startsWith('file://')) return relative(ROOT, fileURLToPath(url));
  return url || '(native)';
}

/** Self time per function and per category within [fromUs, toUs] (the profile's clock is CLOCK_MONOTONIC). */
function summarizeProfile(file, fromUs, toUs) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const times = [];
  let t = profile.startTime;
  for (const d of profile.timeDeltas) {
    t += d;
    times.push(t);
  }
  // The measured window, when the clocks line up; otherwise the whole profile (said in the report).
  let lo = 0;
  let hi = times.length;
  const windowed = times.length > 0 && fromUs >= times[0] && toUs <= times[times.length - 1] + 1e6;
  if (windowed) {
    lo = times.findIndex((x) => x >= fromUs);
    hi = times.findIndex((x) => x > toUs);
    if (hi < 0) hi = times.length;
  }
  const byFunction = new Map();
  const byCategory = new Map();
  let busyUs = 0;
  let idleUs = 0;
  for (let i = lo; i < hi; i++) {
    const dt = i + 1 < times.length ? times[i + 1] - times[i] : 0; // a sample stands for the time until the next
    const { callFrame } = nodes.get(profile.samples[i]);
    const category = categoryOf(callFrame);
    if (category === 'idle') {
      idleUs += dt;
      continue;
    }
    busyUs += dt;
    const key = `${callFrame.functionName || '(anonymous)'}\t${shortUrl(callFrame.url)}${callFrame.url ? `:${callFrame.lineNumber + 1}` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + dt);
    byCategory.set(category, (byCategory.get(category) ?? 0) + dt);
  }
  const top = (map, n) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n);
  return { windowed, busyUs, idleUs, functions: top(byFunction, 15), categories: byCategory };
}

// ---------------------------------------------------------------------------------------------------------------
// The run

function machine() {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return {
    cpu: model.trim(),
    cores: availableParallelism(),
    node: process.version,
    kernel: release(),
    memGiB: (totalmem() / 1024 ** 3).toFixed(1),
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

async function cleanup() {
  for (const child of [...children]) await stopServer({ child });
  if (mysqlCleanup) {
    const drop = mysqlCleanup;
    mysqlCleanup = undefined;
    await drop().catch((err) => log(`could not drop the MySQL scratch database: ${err.message}`));
  }
  try {
    rmSync(tmp, { recursive: true, force: true });
  } catch {}
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    interrupted = true;
    log(`${signal}: stopping`);
    cleanup().finally(() => process.exit(130));
  });
}

async function main() {
  if (!existsSync(MAIN) || !existsSync(CLI)) throw new SetupError(`${MAIN} missing: run "npm run build" first (npm run bench does)`);
  GEN = chooseGenerator();
  const mach = machine();
  const loadBefore = loadAverage();
  const active = ROWS.filter((r) => SELECTED.has(r.key));
  const has = (key) => SELECTED.has(key);

  // SQLite: one database file, seeded once, shared by the SQLite rows (never two of them under load at once), the
  // profile and the memory check. Its service token and device cookie are also what the bare rows are sent, so
  // that every row gets the same request bytes.
  const sqliteUrl = `sqlite:${join(tmp, 'auth.db')}`;
  const needSqlite = [...SELECTED].some((key) => key !== 'cold-mysql') || PROFILE;
  const sqliteServer = (name, extraEnv, nodeFlags) => startServer(name, MAIN, { DATABASE_URL: sqliteUrl, ...extraEnv }, nodeFlags);
  let sq;
  let auth;
  let cookie;
  if (needSqlite) {
    log('seeding SQLite');
    sq = seed(sqliteUrl);
    auth = `Bearer ${sq.token}`;
    const server = await sqliteServer('login', {});
    try {
      cookie = await login(server, sq.totpSecret);
    } finally {
      await stopServer(server);
    }
  }

  // Every row's server starts now and runs until the rounds are over (idle between its windows).
  const staticDrive = (row, a, c) => async (seconds) => {
    const r = await load({ url: row.server.url, connections: CONNECTIONS, seconds, auth: a, cookie: c, mode: 'static' });
    return { ...r, served: r.responses };
  };
  /** Rows 10 and 11: the `ruled` service asked as Traefik does, after a sanity request; returns the row's driver. */
  const ruledDrive = async (key, server) => {
    const url = `${server.base}/verify/ruled?proxy=traefik`;
    const headers = forwardedHeaders(key === 'public' ? '/health' : '/app/page');
    const rowCookie = key === 'public' ? undefined : cookie;
    const rowAuth = `Bearer ${sq.ruledToken}`;
    await sanity(server, { authorization: rowAuth, ...headers, ...(rowCookie ? { cookie: rowCookie } : {}) }, 200, url);
    return async (seconds) => {
      const r = await load({ url, connections: CONNECTIONS, seconds, auth: rowAuth, cookie: rowCookie, headers, mode: 'static' });
      return { ...r, served: r.responses };
    };
  };
  for (const row of active) {
    row.samples = [];
    log(`starting row ${row.n}: ${row.key}`);
    if (row.key === 'node' || row.key === 'hono') {
      row.server = await startServer(`bare-${row.key}`, BARE, { BARE: row.key });
      await sanity(row.server, { authorization: auth, cookie }, 200);
      row.drive = staticDrive(row, auth, cookie);
    } else if (row.key === 'warm' || row.key === 'cold-sqlite' || row.key === 'warm-workers') {
      const env = row.key === 'cold-sqlite' ? COLD : row.key === 'warm-workers' ? { WORKERS: '2' } : {};
      row.server = await sqliteServer(row.key, env);
      await sanity(row.server, { authorization: auth, cookie }, 200);
      row.drive = staticDrive(row, auth, cookie);
    } else if (row.key === 'rules50' || row.key === 'public') {
      row.server = await sqliteServer(row.key, { TRUSTED_PROXIES: '127.0.0.1' });
      row.drive = await ruledDrive(row.key, row.server);
    } else if (row.key === 'node404') {
      row.server = await startServer('bare-node404', BARE, { BARE: 'node404' });
      row.junk = junkCookie();
      await sanity(row.server, { authorization: auth, cookie: row.junk }, 404);
      row.drive = async (seconds) => {
        const r = await load({ url: row.server.url, connections: CONNECTIONS, seconds, auth, cookie: row.junk, mode: 'expect404' });
        return { ...r, served: r.responses };
      };
    } else if (row.key === 'junk') {
      row.server = await sqliteServer('junk', {});
      row.junk = junkCookie();
      await sanity(row.server, { authorization: auth, cookie: row.junk }, 404);
      row.drive = async (seconds) => {
        const r = await load({ url: row.server.url, connections: CONNECTIONS, seconds, auth, cookie: row.junk, mode: 'expect404' });
        return { ...r, served: r.responses };
      };
    } else if (row.key === 'mixed') {
      row.server = await sqliteServer('mixed', {});
      await sanity(row.server, { authorization: auth, cookie }, 200);
      await sanity(row.server, { authorization: auth, cookie: junkCookie() }, 404);
      row.drive = async (seconds) => {
        const [valid, junk] = await Promise.all([
          load({ url: row.server.url, connections: MIXED_VALID_CONNS, seconds, auth, cookie, mode: 'static' }),
          load({ url: row.server.url, connections: MIXED_JUNK_CONNS, seconds, auth, mode: 'junk' }),
        ]);
        // The row shows the valid side; the server's CPU is shared by both, so it is divided by both.
        return {
          ...valid,
          served: valid.responses + junk.responses,
          errors: valid.errors + junk.errors,
          detail: [valid.detail, junk.detail && `junk side: ${junk.detail}`].filter(Boolean).join('; '),
          junk,
        };
      };
    } else if (row.key === 'cold-mysql') {
      const scratch = await mysqlScratch();
      if (scratch.skipped) {
        log(`row 6 skipped: ${scratch.skipped}`);
        row.skipped = scratch.skipped;
        continue;
      }
      mysqlCleanup = scratch.drop;
      const my = seed(scratch.url);
      row.server = await startServer('cold-mysql', MAIN, { DATABASE_URL: scratch.url, ...COLD });
      const myAuth = `Bearer ${my.token}`;
      const myCookie = await login(row.server, my.totpSecret);
      await sanity(row.server, { authorization: myAuth, cookie: myCookie }, 200);
      row.dbPid = mysqldPid();
      row.drive = staticDrive(row, myAuth, myCookie);
    }
  }
  const measured = active.filter((r) => !r.skipped);

  // The warm row's own counters, before and after all its windows (warm-ups included).
  const warmRow = measured.find((r) => r.key === 'warm');
  const warmBefore = warmRow ? await scrape(warmRow.server) : undefined;

  // Interleaved rounds: every row once per round, odd rounds in table order and even rounds backwards, so that a
  // slow minute of the shared machine lands on every row alike instead of on whichever row ran then.
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 === 1 ? measured : [...measured].reverse();
    for (const row of order) {
      log(`round ${round}/${ROUNDS}: row ${row.n} (${row.key})`);
      const warmup = round === 1 ? FIRST_WARMUP : WARMUP;
      if (warmup > 0) await row.drive(warmup);
      row.samples.push({ round, ...(await measureWindow(row, DURATION)) });
    }
  }

  let warmDelta;
  let warmAtRest;
  let warmFeedBound;
  if (warmRow) {
    // The change feed is read on a timer, off the request path: whatever it costs, it costs as much with no
    // requests as under load. The warm row's server at rest (its feed polling every CHANGE_POLL_MS, every other
    // timer too) therefore bounds the feed's share of its CPU per request from above.
    await sleep(3000); // the collector and the compiler settle after the load first
    const from = cpuOf(warmRow.server.pid);
    await sleep(AT_REST_SECONDS * 1000);
    warmAtRest = (cpuOf(warmRow.server.pid) - from) / AT_REST_SECONDS;
    // Two readings of a tick counter: the true figure is below the reading plus one tick.
    warmFeedBound = warmAtRest + 1 / clkTck / AT_REST_SECONDS;
    const after = await scrape(warmRow.server);
    const d = (series) => (after.get(series) ?? 0) - (warmBefore.get(series) ?? 0);
    warmDelta =
      `/metrics over all its windows and warm-ups: verify_total{result="allow"} +${d('passwordless_auth_verify_total{result="allow"}')}, ` +
      `cache positive hits +${d('passwordless_auth_verify_cache_total{outcome="positive_hit"}')}, ` +
      `misses +${d('passwordless_auth_verify_cache_total{outcome="miss"}')}`;
  }
  for (const row of measured) {
    row.peakKiB = memOf(row.server.pid).hwm;
    await stopServer(row.server);
  }
  if (mysqlCleanup) {
    const drop = mysqlCleanup;
    mysqlCleanup = undefined;
    await drop().catch((err) => log(`could not drop the MySQL scratch database: ${err.message}`));
  }

  // Profiles: one more window of each profiled row and of bare node:http, each on a server of its own under
  // --cpu-prof (the profiler's overhead stays out of the table). Side by side they show what /verify spends beyond
  // what any Node server spends on reading a request and writing an answer.
  const profiles = [];
  if (PROFILE) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    const stamp = mach.date.replace(/[:]/g, '');
    for (const key of ['node', ...PROFILE_ROWS]) {
      log(`profile: ${key} under node --cpu-prof`);
      const name = `${key}-${stamp}.cpuprofile`;
      const flags = ['--cpu-prof', '--cpu-prof-interval=250', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${name}`];
      const ruled = key === 'rules50' || key === 'public';
      const server =
        key === 'node' || key === 'hono'
          ? await startServer(`profile-${key}`, BARE, { BARE: key }, flags)
          : await sqliteServer(`profile-${key}`, ruled ? { TRUSTED_PROXIES: '127.0.0.1' } : {}, flags);
      const row = { server };
      const junk = junkCookie();
      try {
        if (ruled) row.drive = await ruledDrive(key, server);
        else {
          await sanity(server, { authorization: auth, cookie: key === 'junk' ? junk : cookie }, key === 'junk' ? 404 : 200);
          row.drive =
            key === 'junk'
              ? async (seconds) => {
                  const r = await load({ url: server.url, connections: CONNECTIONS, seconds, auth, cookie: junk, mode: 'expect404' });
                  return { ...r, served: r.responses };
                }
              : staticDrive(row, auth, cookie);
        }
        await row.drive(FIRST_WARMUP);
        const fromUs = Number(process.hrtime.bigint() / 1000n);
        const m = await measureWindow(row, PROFILE_SECONDS);
        const toUs = Number(process.hrtime.bigint() / 1000n);
        await stopServer(server); // SIGTERM: the server exits normally and Node writes the profile
        const file = join(PROFILE_DIR, name);
        if (!existsSync(file)) throw new SetupError(`no profile at ${file}:\n${tail(server.logFile)}`);
        profiles.push({ key, label: ROWS.find((r) => r.key === key).label, file, m, ...summarizeProfile(file, fromUs, toUs) });
      } finally {
        await stopServer(server);
      }
    }
  }

  // Memory check: distinct junk pairs at one server with the default negative cache.
  let mem;
  if (has('mem')) {
    log(`memory check: ${MEM_PAIRS} distinct junk pairs (cap ${MEM_SECONDS} s)`);
    const server = await sqliteServer('memcheck', { NEGATIVE_CACHE_MAX_ENTRIES: NEGATIVE_MAX_ENTRIES });
    try {
      await sanity(server, { authorization: auth, cookie: junkCookie() }, 404);
      const { pid } = server;
      const before = memOf(pid).rss;
      const series = [[0, before]];
      let peakSeen = before;
      const poll = setInterval(() => {
        peakSeen = Math.max(peakSeen, memOf(pid).rss);
      }, 100);
      let r;
      try {
        r = await load({
          url: server.url,
          connections: CONNECTIONS,
          seconds: MEM_SECONDS,
          auth,
          mode: 'junk',
          pipelining: MEM_PIPELINING,
          quota: MEM_PAIRS,
          step: Math.max(1, Math.round(MEM_PAIRS / 10)),
          onProgress: (n) => series.push([n, memOf(pid).rss]),
        });
      } finally {
        clearInterval(poll);
      }
      await sleep(1000);
      const after = memOf(pid);
      // The valid device still answers after the flood (the flood did not push it out or break anything).
      await sanity(server, { authorization: auth, cookie }, 200);
      mem = { ...r, before, after: after.rss, peak: Math.max(after.hwm, peakSeen), series };
    } finally {
      await stopServer(server);
    }
  }
  const loadAfter = loadAverage();

  // -------------------------------------------------------------------------------------------------------------
  // Report

  const node = measured.find((r) => r.key === 'node');
  const node404 = measured.find((r) => r.key === 'node404');
  /**
   * A row's ceiling: bare node:http driven the same way. The junk row's load generator checks every status (a
   * Lua hook per answer), which leaves the server more idle time and so more wake-ups per request than the plain
   * mode; its ceiling is bare node:http answering the same 404 in that same mode.
   */
  const ceilingOf = (row) => (row.key === 'junk' && node404 ? node404 : node);
  /** Per-round ratios of a row's figure to another row's in the same round (by default its ceiling's). */
  const ratios = (row, pick, base = ceilingOf(row)) => {
    if (!base) return [];
    return row.samples.map((s) => pick(s) / pick(base.samples.find((b) => b.round === s.round)));
  };
  const sum = (row) => {
    const v = (pick) => row.samples.map(pick);
    const rpsRatio = ratios(row, (s) => s.rps);
    const cpuRatio = ratios(row, (s) => s.cpuUsPerReq);
    return {
      rps: median(v((s) => s.rps)),
      rpsMin: lowest(v((s) => s.rps)),
      rpsMax: highest(v((s) => s.rps)),
      cpu: median(v((s) => s.cpuUsPerReq)),
      cpuMin: lowest(v((s) => s.cpuUsPerReq)),
      cpuMax: highest(v((s) => s.cpuUsPerReq)),
      rpsX: median(rpsRatio),
      rpsXMin: lowest(rpsRatio),
      rpsXMax: highest(rpsRatio),
      cpuX: median(cpuRatio),
      cpuXMin: lowest(cpuRatio),
      cpuXMax: highest(cpuRatio),
      p50: median(v((s) => s.p50)),
      p99: median(v((s) => s.p99)),
      errors: row.samples.reduce((a, s) => a + s.errors, 0),
      server: median(v((s) => s.serverShare)),
      gen: median(v((s) => s.genShare)),
      other: median(v((s) => s.otherShare)),
      otherMax: highest(v((s) => s.otherShare)),
    };
  };
  for (const row of measured) row.sum = sum(row);
  // The change feed's bound as a share of the CPU per second the warm row spent in its median window.
  const feedShare = warmRow && warmFeedBound !== undefined ? warmFeedBound / (warmRow.sum.rps * warmRow.sum.cpu * 1e-6) : undefined;

  const out = [];
  out.push('');
  out.push(`## passwordless-auth /verify benchmark${QUICK ? ' (quick)' : ''}`);
  out.push('');
  out.push(
    `${mach.date} · ${mach.cpu} · ${mach.cores} cores · ${mach.memGiB} GiB · Node ${mach.node} · Linux ${mach.kernel} · ` +
      `load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after · ${GEN.describe}, ${CONNECTIONS} connections · ` +
      `${ROUNDS} interleaved round${ROUNDS > 1 ? 's' : ''} of ${DURATION} s per row, after ${WARMUP} s warm-up (${FIRST_WARMUP} s the first time) · all on 127.0.0.1`,
  );
  out.push('');
  out.push(
    '| # | row | req/s median (min–max) | × node:http | server CPU µs/req median (min–max) | × node:http | p50 ms | p99 ms | errors | peak RSS MiB | CPU server / load-gen / other |',
  );
  out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of active) {
    if (row.skipped) {
      out.push(`| ${row.n} | ${row.label} | skipped | – | – | – | – | – | – | – | – |`);
      continue;
    }
    const s = row.sum;
    out.push(
      `| ${row.n} | ${row.label} | ${Math.round(s.rps)} (${Math.round(s.rpsMin)}–${Math.round(s.rpsMax)}) | ${fmtX(s.rpsX)} | ` +
        `${fmtUs(s.cpu)} (${fmtUs(s.cpuMin)}–${fmtUs(s.cpuMax)}) | ${fmtX(s.cpuX)} | ${fmtMs(s.p50)} | ${fmtMs(s.p99)} | ${s.errors} | ` +
        `${mib(row.peakKiB)} | ${pct(s.server)} / ${pct(s.gen)} / ${pct(s.other)} |`,
    );
  }
  out.push('');
  if (measured.length > 0) {
    out.push('Every round, req/s · server CPU µs per request:');
    out.push('');
    const rounds = Array.from({ length: ROUNDS }, (_, i) => i + 1);
    out.push(`| # | ${rounds.map((r) => `round ${r}${r % 2 === 0 ? ' ↑' : ''}`).join(' | ')} |`);
    out.push(`|---|${rounds.map(() => '---:').join('|')}|`);
    for (const row of measured) {
      const cells = rounds.map((r) => {
        const s = row.samples.find((x) => x.round === r);
        return s ? `${Math.round(s.rps)} · ${fmtUs(s.cpuUsPerReq)}` : '–';
      });
      out.push(`| ${row.n} | ${cells.join(' | ')} |`);
    }
    out.push('');
  }
  for (const row of active) {
    if (row.skipped) out.push(`- row ${row.n}: skipped: ${row.skipped}`);
    if (row.key === 'warm' && warmDelta) out.push(`- row ${row.n}: ${warmDelta}`);
    if (row.key === 'warm' && feedShare !== undefined) {
      out.push(
        `- row ${row.n} at rest for ${AT_REST_SECONDS} s after its rounds (the change feed polling, no requests): ` +
          `${(warmAtRest * 1000).toFixed(1)} ms of CPU per second read (under ${(warmFeedBound * 1000).toFixed(1)} ms with the ` +
          `${Math.round(1000 / clkTck)} ms clock tick), at most ${(100 * feedShare).toFixed(2)} % of the CPU it spent per second ` +
          'in its median window: the bound on what the feed adds to its CPU per request',
      );
    }
    if (row.key === 'mixed' && row.samples?.length) {
      const junk = row.samples.map((s) => s.junk);
      out.push(
        `- row ${row.n}: the valid side is shown; the distinct-junk side alongside: ${Math.round(median(junk.map((j) => j.rps)))} req/s, ` +
          `p99 ${fmtMs(median(junk.map((j) => j.p99)))} ms (medians); server CPU per request counts the answers of both sides`,
      );
    }
    if (row.key === 'cold-mysql' && row.samples?.length && row.dbPid) {
      out.push(
        `- row ${row.n}: MariaDB's own CPU on top (the local server, shared with anything else that uses it): ` +
          `${fmtUs(median(row.samples.map((s) => s.dbUsPerReq)))} µs per request (median)`,
      );
    }
    for (const s of row.samples ?? []) if (s.detail) out.push(`- row ${row.n}, round ${s.round}: ${s.detail}`);
  }
  out.push(
    '- req/s = answers in the window / its wall time. Server CPU µs/req = utime + stime of the server process ' +
      '(/proc/<pid>/stat) over the window / answers. × node:http = the median of the per-round ratios to row 1 (row 4: to row 8, bare node:http answering its 404 under the same load-generator mode) ' +
      '(same round). p50/p99 = medians over the rounds. errors = answers other than expected (2xx; 404 for junk) + ' +
      "socket errors and timeouts, all rounds. Peak RSS = the server's VmHWM after all rounds. CPU = medians of CPU " +
      'seconds per wall second (100 % = one core) of the server, the load generator and everything else on the machine.',
  );
  const otherMedian = median(measured.map((r) => r.sum.other));
  const otherMax = Math.max(0, ...measured.map((r) => r.sum.otherMax));
  if (measured.length > 0) {
    // What other processes took during the windows is the direct evidence; the load average before the run only
    // says what the last minute was like.
    const noisy = otherMedian > 0.1 || loadBefore > mach.cores;
    out.push(
      `- ${noisy ? '**Warning: the machine was not quiet**: o' : 'O'}ther processes used ${pct(otherMedian)} of a core in the ` +
        `median window, ${pct(otherMax)} in the busiest (load average ${loadBefore.toFixed(2)} before the run).` +
        (noisy ? ' Trust the medians and the CPU per request over single rounds; req/s ranges will be wide.' : ''),
    );
  }

  if (profiles.length > 0) {
    const perReq = (p, us) => us / p.m.served;
    const f2 = (x) => x.toFixed(2);
    out.push('');
    out.push('### Where the CPU goes (node --cpu-prof)');
    out.push('');
    for (const p of profiles) {
      out.push(
        `- ${p.label}: \`${relative(ROOT, p.file)}\`; one ${PROFILE_SECONDS} s window under the profiler: ${Math.round(p.m.rps)} req/s, ` +
          `${fmtUs(p.m.cpuUsPerReq)} µs server CPU per request; ${p.windowed ? 'the window' : 'the whole profile (the window could not be located in it)'} ` +
          `holds ${(p.busyUs / 1000).toFixed(0)} ms of main-thread samples and ${(p.idleUs / 1000).toFixed(0)} ms idle`,
      );
    }
    out.push('');
    out.push(
      'Main-thread self time per request (sampled wall time while not idle, so close to CPU time on a quiet machine), ' +
        'by where the code lives; the gap to bare node:http is what the row adds:',
    );
    out.push('');
    out.push(`| where | ${profiles.map((p) => `${p.key} µs/req`).join(' | ')} |`);
    out.push(`|---|${profiles.map(() => '---:').join('|')}|`);
    const categories = new Set(profiles.flatMap((p) => [...p.categories.keys()]));
    const lines = [...categories].map((c) => [c, profiles.map((p) => perReq(p, p.categories.get(c) ?? 0))]);
    lines.sort((a, b) => Math.max(...b[1]) - Math.max(...a[1]));
    for (const [c, v] of lines) if (Math.max(...v) >= 0.05) out.push(`| ${c} | ${v.map(f2).join(' | ')} |`);
    out.push(`| **all main-thread samples** | ${profiles.map((p) => `**${f2(perReq(p, p.busyUs))}**`).join(' | ')} |`);
    for (const p of profiles) {
      out.push('');
      out.push(`Top functions by self time, ${p.label}:`);
      out.push('');
      out.push('| function | location | µs/req | share |');
      out.push('|---|---|---:|---:|');
      for (const [key, us] of p.functions) {
        const [fn, where] = key.split('\t');
        out.push(`| \`${fn}\` | ${where} | ${f2(perReq(p, us))} | ${((100 * us) / p.busyUs).toFixed(1)} % |`);
      }
    }
    out.push('');
    out.push(
      "Open a .cpuprofile in Chrome DevTools (Performance → Load profile) or VS Code. Main-thread samples only: the process's " +
        'other threads (GC helpers, libuv) count in the CPU per request of the table but not here; the profiler adds a few per cent.',
    );
  }

  if (mem) {
    const complete = mem.responses >= MEM_PAIRS;
    const k = (n) => (n >= 10_000 ? `${Math.round(n / 1000)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(n));
    out.push('');
    out.push('### Memory under a flood of distinct junk cookies');
    out.push('');
    out.push(
      `- ${mem.responses} distinct junk pairs${complete ? '' : ` of ${MEM_PAIRS} (stopped at the ${MEM_SECONDS} s cap)`} in ` +
        `${mem.seconds.toFixed(1)} s (${Math.round(mem.rps)} req/s, ${CONNECTIONS} connections, pipelining ${MEM_PIPELINING}, ` +
        `${mem.errors} errors${mem.detail ? `: ${mem.detail}` : ''}); negative cache bound NEGATIVE_CACHE_MAX_ENTRIES=${NEGATIVE_MAX_ENTRIES} entries`,
    );
    out.push(
      `- server RSS before ${mib(mem.before)} MiB · after ${mib(mem.after)} MiB · peak ${mib(mem.peak)} MiB (VmHWM) · ` +
        `bound ${MEM_BOUND_MIB} MiB (BENCH_MEMORY_BOUND_MB)`,
    );
    const half = mem.series.find(([n]) => n >= mem.responses / 2);
    if (half && half[0] > 0) {
      const growth = (mem.after - half[1]) / 1024;
      out.push(`- RSS change over the second half (${k(half[0])} pairs → end): ${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MiB`);
    }
    out.push(`- RSS along the flood (pairs → MiB): ${mem.series.map(([n, kib]) => `${k(n)} → ${mib(kib)}`).join(', ')}`);
    out.push('- after the flood the valid device still verified (200)');
  }

  // Targets
  const t = [];
  const target = (name, ok, detail) => t.push(`| ${name} | ${detail} | ${ok === undefined ? 'SKIP' : ok ? 'PASS' : 'FAIL'} |`);
  const row = (key) => measured.find((r) => r.key === key);
  const cpuTarget = (key, bound, name) => {
    const r = row(key);
    const ceiling = r && ceilingOf(r);
    const x = r?.sum.cpuX;
    target(
      `${name} CPU/request ≤ ${bound} × bare node:http${ceiling === node404 ? ' 404 (row 8)' : ''}`,
      ceiling && r ? x <= bound : undefined,
      ceiling && r
        ? `${fmtX(x)} × (${fmtUs(r.sum.cpu)} vs ${fmtUs(ceiling.sum.cpu)} µs; rounds ${fmtX(r.sum.cpuXMin)}–${fmtX(r.sum.cpuXMax)})`
        : 'not measured',
    );
  };
  const rpsTarget = (key, bound, name) => {
    const r = row(key);
    const ceiling = r && ceilingOf(r);
    const x = r?.sum.rpsX;
    target(
      `${name} ≥ ${bound} × bare node:http${ceiling === node404 ? ' 404 (row 8)' : ''} req/s`,
      ceiling && r ? x >= bound : undefined,
      ceiling && r
        ? `${fmtX(x)} × (rounds ${fmtX(r.sum.rpsXMin)}–${fmtX(r.sum.rpsXMax)})`
        : (active.find((a) => a.key === key)?.skipped ?? 'not measured'),
    );
  };
  cpuTarget('warm', 1.25, 'warm hit');
  cpuTarget('junk', 1.15, 'junk rejection');
  cpuTarget('rules50', 1.3, 'warm with 50 rules (the last matching)');
  cpuTarget('public', 1.1, '`public` path, no cookies');
  rpsTarget('warm', 0.75, 'warm verify');
  const warm = row('warm');
  target(
    'warm verify p99 ≤ 2 × bare node:http p99',
    warm && node ? warm.sum.p99 <= 2 * node.sum.p99 : undefined,
    warm && node ? `${fmtMs(warm.sum.p99)} ms vs ${fmtMs(2 * node.sum.p99)} ms` : 'not measured',
  );
  // Issue 16: the second worker's gain, per round against row 3 in the same round (on 2 cores, where the load
  // generator takes part of one), and the change feed's share of row 3's CPU (its bound, measured at rest).
  const workers = row('warm-workers');
  const gains = workers && warm ? ratios(workers, (s) => s.rps, warm) : [];
  const gain = gains.length ? median(gains) : undefined;
  target(
    'WORKERS=2 ≥ 1.3 × WORKERS=1 req/s (row 9 vs row 3)',
    gain === undefined ? undefined : gain >= 1.3,
    gain === undefined ? 'not measured' : `${fmtX(gain)} × (rounds ${fmtX(lowest(gains))}–${fmtX(highest(gains))})`,
  );
  target(
    'change feed ≤ 5 % of the warm row’s CPU (row 3 at rest, a bound)',
    feedShare === undefined ? undefined : feedShare <= 0.05,
    feedShare === undefined ? 'not measured' : `at most ${(100 * feedShare).toFixed(2)} %`,
  );
  rpsTarget('junk', 0.8, 'negative-cache rejection');
  rpsTarget('cold-mysql', 0.15, 'cold verify on MySQL');
  const totalErrors = measured.reduce((a, r) => a + r.sum.errors, 0) + (mem?.errors ?? 0);
  target('zero errors in every row', measured.length || mem ? totalErrors === 0 : undefined, `${totalErrors} errors`);
  if (mem) {
    const complete = mem.responses >= MEM_PAIRS;
    target(
      `memory bounded under ${MEM_PAIRS} distinct junk pairs`,
      complete && mem.peak / 1024 <= MEM_BOUND_MIB,
      `peak ${mib(mem.peak)} MiB ≤ ${MEM_BOUND_MIB} MiB${complete ? '' : `; only ${mem.responses} sent`}`,
    );
  } else {
    target('memory bounded under the junk flood', undefined, 'not measured');
  }
  out.push('');
  out.push('### Targets (issues 4, 11 and 16)');
  out.push('');
  out.push('| target | measured (medians) | |');
  out.push('|---|---|---|');
  out.push(...t);
  out.push('');
  out.push(`Benchmark wall time: ${((performance.now() - startedAt) / 1000).toFixed(0)} s.`);
  console.log(out.join('\n'));
}

try {
  await main();
} catch (err) {
  fatal = true;
  if (interrupted) log('interrupted');
  else if (err instanceof SetupError) log(`could not run: ${err.message}`);
  else log(`failed: ${err?.stack ?? err}`);
} finally {
  await cleanup();
}
process.exit(fatal ? 1 : 0);
