import 'server-only'

import { withDb } from '../db/client'
import { relayStore } from '../db/relay-store'
import { ApiError } from '../http/api-error'
import { deliveryHub } from './hub'

/** Records that a device was connected just now (written with the next batch). */
export function markSeen(deviceId: string, now = Date.now()): void {
  relayStore().markSeen(deviceId, now)
}

/** Presence of an account: online when any device has an open stream. */
export interface Presence {
  online: boolean
  /** Milliseconds since the epoch; now when online; to the minute for contacts. */
  lastSeenAt: number
  /** Per device, shown only to the account's own devices. */
  devices?: { deviceId: string; online: boolean; lastSeenAt: number }[]
}

const MINUTE = 60_000

/**
 * Presence of the account named `username`, for the chat header. Contacts
 * see one answer for the whole account, to the minute, not which device
 * was used when.
 * @throws {ApiError} not-found for an unknown account
 */
export async function presenceOf(
  username: string,
  askingAccountId: string,
): Promise<Presence> {
  const account = await withDb((db) =>
    db.account.findUnique({
      where: { username },
      select: { id: true, devices: { select: { id: true, lastSeenAt: true } } },
    }),
  )
  if (!account)
    throw new ApiError('not-found', `username: no account named "${username}"`)

  const streaming = await deliveryHub().onlineOf(
    account.devices.map((device) => device.id),
  )
  const now = Date.now()
  const devices = account.devices.map((device) => {
    const online = streaming.has(device.id)
    return {
      deviceId: device.id,
      online,
      lastSeenAt: online ? now : device.lastSeenAt.getTime(),
    }
  })
  const online = devices.some((device) => device.online)
  const lastSeenAt = Math.max(0, ...devices.map((device) => device.lastSeenAt))
  if (account.id === askingAccountId) return { online, lastSeenAt, devices }
  return { online, lastSeenAt: online ? now : lastSeenAt - (lastSeenAt % MINUTE) }
}
