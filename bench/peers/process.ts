/**
 * Helpers for the peers that run their server as a child process.
 */
import type { ChildProcess } from 'node:child_process'

export { freePort } from '../../tests/support/ports'

/** Runs `work` over `items`, at most `limit` at a time. */
export async function inBatches<T>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += limit) {
    await Promise.all(items.slice(i, i + limit).map(work))
  }
}

/** Sends `signal` to the child, when it still runs, and waits for it to exit. */
export async function stopChild(
  child: ChildProcess | null,
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill(signal)
  await exited
}
