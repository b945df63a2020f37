import 'server-only'

import type { SendReceipt } from '@/lib/core/api'
import type { Bytes } from '@/lib/core/bytes'

import type { DeviceIdentity } from '../auth/credentials'
import { relayStore } from '../db/relay-store'
import { ApiError } from '../http/api-error'
import { logger, redactId } from '../log'
import { wakeDevices, type Waiting } from '../push/wake'
import { deliveryHub } from './hub'
import { enqueue } from './queue'

const log = logger('relay')

/**
 * Accepts one message: an envelope for every device of the recipient and for
 * every other device of the sender (client fan-out, as Signal-Server does).
 *
 * Devices without an open stream are woken by Web Push when the message is
 * `urgent` (one a person reads); receipts and syncs wait for the device's
 * next connection rather than wake a phone.
 *
 * @returns the server's receipt, sent once everything is committed
 * @throws {ApiError} not-found for an unknown recipient; device-mismatch
 *   (409) naming missing and extra devices when the set is not current
 */
export async function sendMessage(
  sender: DeviceIdentity,
  to: string,
  envelopes: { deviceId: string; content: Bytes }[],
  { urgent }: { urgent: boolean } = { urgent: true },
): Promise<SendReceipt> {
  const given = new Set(envelopes.map((envelope) => envelope.deviceId))
  if (given.size !== envelopes.length) {
    throw new ApiError('invalid-request', 'body.envelopes: one envelope per device', {
      field: 'envelopes',
    })
  }

  // Limitation: no idempotency key: a send retried after a lost answer is
  // stored again under new sequence numbers; recipients drop the copy by the
  // message id inside the encryption, not the relay.
  const { expected, contactDevices } = await expectedDevices(sender, to)
  const missingDevices = [...expected].filter((id) => !given.has(id))
  const extraDevices = [...given].filter((id) => !expected.has(id))
  if (missingDevices.length > 0 || extraDevices.length > 0) {
    throw mismatch(missingDevices, extraDevices)
  }

  const stored = await enqueue(
    sender.deviceId,
    envelopes.map(({ deviceId, content }) => ({ recipientDeviceId: deviceId, content })),
  )

  // Committed: from here on nothing may turn the answer into an error.
  const hub = deliveryHub()
  const told = await Promise.all(
    stored.map(({ recipientDeviceId, ...wire }) =>
      hub.publish(recipientDeviceId, { kind: 'envelopes', envelopes: [wire] }),
    ),
  )
  // Our own other devices see the message when next opened; a push with
  // nothing to notify about would only spend a phone's battery.
  const offline: Waiting[] = stored.filter(
    (envelope, i) => told[i] === 0 && contactDevices.has(envelope.recipientDeviceId),
  )
  log.debug(
    {
      sender: redactId(sender.deviceId),
      envelopes: stored.length,
      offline: offline.length,
    },
    'message accepted',
  )
  // Not awaited: the sender's tick does not wait for push services.
  if (urgent) void wakeDevices(sender.accountId, offline)

  const serverTimestamp = stored[0]?.serverTimestamp ?? Date.now()
  return {
    serverTimestamp,
    envelopes: stored.map(({ recipientDeviceId, seq }) => ({
      deviceId: recipientDeviceId,
      seq,
      serverId: `${recipientDeviceId}.${seq}`,
    })),
  }
}

/**
 * Every device of the recipient, and every device of the sender but itself;
 * and which of them are the recipient's.
 */
async function expectedDevices(sender: DeviceIdentity, to: string) {
  // One query for both accounts' devices; the recipient's account is the
  // one matched by name (it may be the sender's own).
  const rows = await relayStore().devicesOf(to, sender.accountId)
  if (!rows.some((row) => row.username === to)) {
    throw new ApiError('not-found', `body.to: no account named "${to}"`, { field: 'to' })
  }

  const expected = new Set(rows.map((row) => row.id))
  expected.delete(sender.deviceId)
  const contactDevices = new Set(
    rows.filter((row) => row.username === to).map((row) => row.id),
  )
  contactDevices.delete(sender.deviceId)
  return { expected, contactDevices }
}

function mismatch(missingDevices: string[], extraDevices: string[]): ApiError {
  return new ApiError(
    'device-mismatch',
    'body.envelopes: devices do not match the current device lists',
    { field: 'envelopes', extra: { missingDevices, extraDevices } },
  )
}
