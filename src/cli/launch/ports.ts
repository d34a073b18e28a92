// Checks the agent makes before it starts any worker, so the common mistakes (a port another run
// holds, a node 0 host that does not resolve) end in one line naming the key instead of a c10d
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

/**
 * Throws when node 0 cannot listen on `port` (the TCP store listens on every interface); `setBy`
 * names where the user set it.
 */
export async function assertPortFree(port: number, setBy: string): Promise<void> {
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
      `${setBy}: port ${port} ${why}; pick another port, or config.DISTRIBUTED.RUN_ID=auto on a single machine`,
    );
  }
}

/** Throws when node 0's host does not resolve (a typo is the usual cause); `setBy` names where it was set. */
export async function assertResolves(host: string, setBy: string): Promise<void> {
  try {
    await lookup(host);
  } catch (error) {
    throw new Error(
      `${setBy}: the master address '${host}' does not resolve (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); ` +
        'give the host name or IP address of node 0 as this machine can reach it',
    );
  }
}
