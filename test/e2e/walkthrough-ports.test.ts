// Rule: with something on a walk-through's port (the README's `npm start`, left running as the README orders
// before `npm test`), the walk-through says at once what is in the way: which process holds the port. On a
// developer's machine it then skips without waiting; under CI it waits for the port (a test may be finishing).
// And a port taken after it was found free does not pass for the walk-through's own server: an answer counts only
// from a process the walk-through started.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { freePort } from './support/processes.js';
import { answersHttp, startInTerminal, waitForPorts } from './support/walkthrough.js';

let holder: ChildProcess | undefined;
afterEach(() => {
  holder?.kill('SIGKILL');
  vi.unstubAllEnvs();
});

describe('a walk-through whose port is taken', () => {
  it('names the process that holds it and, outside CI, returns at once', async () => {
    const port = await freePort();
    // Listening on every address, as `npm start` does; says "ready" once it listens.
    holder = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${port}, () => console.log('ready'))`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise<void>((resolve) => holder?.stdout?.once('data', () => resolve()));
    vi.stubEnv('CI', '');
    const reason = await waitForPorts('the test walk-through', [port]);
    expect(reason).toContain(`needs port ${port}`);
    expect(reason).toContain(`port ${port} is held by pid ${holder.pid} (${process.execPath} -e`);
    expect(reason).not.toContain('stayed in use');
  });

  it('says nothing when the ports are free', async () => {
    vi.stubEnv('CI', '');
    expect(await waitForPorts('the test walk-through', [await freePort()])).toBeUndefined();
  });

  it("does not take another process's answer on the port for the command it started", async () => {
    const port = await freePort();
    // Someone else's HTTP server on the port, and a command that never listens.
    holder = spawn(
      process.execPath,
      ['-e', `require('node:http').createServer((q, s) => s.end('x')).listen(${port}, () => console.log('ready'))`],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    await new Promise<void>((resolve) => holder?.stdout?.once('data', () => resolve()));
    expect(await answersHttp(`http://127.0.0.1:${port}/`)).toBe(true);
    const started = startInTerminal('sleep 60', {
      cwd: process.cwd(),
      env: process.env,
      ready: () => answersHttp(`http://127.0.0.1:${port}/`),
      port,
      what: `serving on ${port}`,
      timeoutInMs: 2_000,
    });
    await expect(started).rejects.toThrow(`was not serving on ${port} after 2000 ms. Port ${port} is held by pid ${holder.pid} (`);
  }, 30_000);
});
