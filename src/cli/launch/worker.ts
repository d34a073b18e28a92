// The worker's side of the agent's supervision: a worker started by our agent leaves when the agent
// is gone. The agent holds the write end of the worker's stdin open and never writes; the kernel
// closes it when the agent dies, even by SIGKILL, and the worker then exits instead of training on
// as an orphan nobody supervises.
export const AGENT_PID_ENV = 'CLUSTERFIT_AGENT_PID';

export function exitWhenAgentDies(env: NodeJS.ProcessEnv = process.env): void {
  const agent = env[AGENT_PID_ENV];
  if (agent === undefined) return;
  const leave = (): void => {
    process.stderr.write(`\nerror: the clusterfit launcher (pid ${agent}) is gone; this rank stops\n`);
    process.exit(1);
  };
  process.stdin.on('end', leave);
  process.stdin.on('error', leave);
  process.stdin.resume();
  // Watching must not keep a finished worker alive.
  (process.stdin as unknown as { unref?: () => void }).unref?.();
}
