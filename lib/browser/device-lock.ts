/**
 * One decryptor at a time per device. The page, a second tab and the
 * service worker all read a session, run the ratchet and write the session
 * back; two of them doing that at once would both use the same message
 * keys. A Web Lock (navigator.locks, in pages and service workers alike)
 * named after the device serialises them across every context of the origin.
 */

/** Runs `task` while holding the device's session lock. */
export async function withDeviceLock<T>(
  deviceId: string,
  task: () => Promise<T>,
): Promise<T> {
  return await navigator.locks.request(`tidings:sessions:${deviceId}`, task)
}

/** Runs `task` while holding the device's outbox lock, so one context sends at a time. */
export async function withOutboxLock<T>(
  deviceId: string,
  task: () => Promise<T>,
): Promise<T> {
  return await navigator.locks.request(`tidings:outbox:${deviceId}`, task)
}
