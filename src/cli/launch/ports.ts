// Checks the agent makes before it starts any worker, so the common mistakes (a port another run
// holds, a RUN_ID host that does not resolve) end in one line naming the key instead of a c10d
// socket error in a worker's log after the timeout.
import { lookup } from 'node:dns/promises';
import { createServer } from 'node:net';

function listenOnce(port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}

/** A port free on the loopback interface now (RUN_ID=auto). */
export function freePort(): Promise<number> {
  return listenOnce(0, '127.0.0.1');
}

/** Throws when node 0 cannot listen on `port` (the TCP store listens on every interface). */
export async function assertPortFree(port: number): Promise<void> {
  try {
    await listenOnce(port);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? 'is in use on this machine (another run, or a worker of a run that is still shutting down)'
        : code === 'EACCES'
          ? 'needs privileges to listen on'
          : `cannot be listened on (${(error as Error).message})`;
    throw new Error(
      `config.DISTRIBUTED.RUN_ID: port ${port} ${why}; pick another port, or RUN_ID=auto on a single machine`,
    );
  }
}

/** Throws when the RUN_ID host does not resolve (a typo is the usual cause). */
export async function assertResolves(host: string): Promise<void> {
  try {
    await lookup(host);
  } catch (error) {
    throw new Error(
      `config.DISTRIBUTED.RUN_ID: the master address '${host}' does not resolve (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); ` +
        'give the host name or IP address of node 0 as this machine can reach it',
    );
  }
}
