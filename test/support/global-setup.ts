// Finds a MySQL server for the MySQL suites once per run: TEST_MYSQL_URL, else a Testcontainers MySQL, else none
// (the suites then skip and say so); and a PostgreSQL server for the PostgreSQL suites: TEST_POSTGRES_URL, else
// none. Under CI nothing may be skipped, so a missing server fails the run.
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    mysqlUrl: string | undefined;
    mysqlSkipReason: string | undefined;
    postgresUrl: string | undefined;
    postgresSkipReason: string | undefined;
  }
}

export default async function setup(project: TestProject) {
  providePostgres(project);
  return provideMysql(project);
}

function providePostgres(project: TestProject): void {
  const url = process.env.TEST_POSTGRES_URL;
  if (url) {
    project.provide('postgresUrl', url);
    project.provide('postgresSkipReason', undefined);
    return;
  }
  const reason = 'no TEST_POSTGRES_URL';
  if (process.env.CI) throw new Error(`PostgreSQL suites cannot run under CI: ${reason}`);
  console.warn(
    `\n[passwordless-auth] SKIPPING the PostgreSQL suites: ${reason}.\n  Set TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test to run them.\n`,
  );
  project.provide('postgresUrl', undefined);
  project.provide('postgresSkipReason', reason);
}

async function provideMysql(project: TestProject) {
  const fromEnv = process.env.TEST_MYSQL_URL;
  if (fromEnv) {
    project.provide('mysqlUrl', fromEnv);
    project.provide('mysqlSkipReason', undefined);
    return;
  }
  try {
    const { MySqlContainer } = await import('@testcontainers/mysql');
    const container = await new MySqlContainer('mysql:8.4').withRootPassword('test').start();
    project.provide('mysqlUrl', `mysql://root:test@${container.getHost()}:${container.getPort()}/test`);
    project.provide('mysqlSkipReason', undefined);
    return async () => {
      await container.stop();
    };
  } catch (err) {
    const reason = `no TEST_MYSQL_URL and no Docker for Testcontainers (${(err as Error).message.split('\n')[0]})`;
    if (process.env.CI) throw new Error(`MySQL suites cannot run under CI: ${reason}`);
    console.warn(
      `\n[passwordless-auth] SKIPPING the MySQL suites: ${reason}.\n  Set TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test to run them.\n`,
    );
    project.provide('mysqlUrl', undefined);
    project.provide('mysqlSkipReason', reason);
  }
}
