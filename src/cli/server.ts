// `serve` and `migrate`: the server itself, and its database migrations on their own.
import type { Command } from './command.js';

export const serverCommands: readonly Command[] = [
  {
    name: 'serve',
    synopsis: '',
    summary: 'run the server (same as npm start)',
    help: 'Runs the server (the same as `npm start`): applies migrations, checks the keys open the stored secrets, then listens on PORT.',
    async run() {
      const { startServer } = await import('../main.js');
      const stop = await startServer();
      for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void stop().then(() => process.exit(0)));
      return new Promise<number>(() => {});
    },
  },
  {
    name: 'migrate',
    synopsis: '',
    summary: 'apply database migrations',
    help: 'Applies database migrations and exits. The server also applies them at start.',
    async run({ runtime, out }) {
      const report = (await runtime()).migrations ?? { applied: [], alreadyApplied: [] };
      out.result(report, report.applied.length ? `Applied: ${report.applied.join(', ')}` : 'Database is up to date.');
    },
  },
];
