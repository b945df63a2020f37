/** Two devices with real keys and a session between them, for the crypto tests. */
import { toBase64 } from '../../../lib/core/bytes'
import { deviceIdFromIdentityKey } from '../../../lib/core/device-id'
import { createDeviceKeys, type DeviceKeys } from '../../../lib/core/crypto/keys'
import { deleteConsumed, type PrekeyBundle } from '../../../lib/core/crypto/pqxdh'
import { bundleFromKeys } from '../../support/crypto-bundle'
import {
  decrypt,
  encrypt,
  startSession,
  type SessionRecord,
} from '../../../lib/core/crypto/session'

export interface Party {
  keys: DeviceKeys
  deviceId: string
  record: SessionRecord | null
}

export async function newParty(oneTimeCount = 2): Promise<Party> {
  const { keys } = await createDeviceKeys(oneTimeCount)
  return {
    keys,
    deviceId: deviceIdFromIdentityKey(keys.identity.publicKey),
    record: null,
  }
}

/** The bundle a server would hand out, taking one one-time key of each kind. */
export function bundleOf(party: Party, withOneTime = true): PrekeyBundle {
  return bundleFromKeys(party.keys, withOneTime)
}

/** `from` starts a session with `to`. */
export async function connect(from: Party, to: Party, withOneTime = true): Promise<void> {
  from.record = await startSession(
    from.record,
    from.keys.identity,
    to.deviceId,
    bundleOf(to, withOneTime),
  )
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Encrypts text from `from` to `to`, updating `from`'s record. */
export function send(from: Party, text: string): Uint8Array {
  const out = encrypt(from.record!, encoder.encode(text))
  from.record = out.record
  return out.message
}

/** Decrypts at `to`, updating its record and deleting used one-time keys. */
export async function receive(
  to: Party,
  from: Party,
  message: Uint8Array,
): Promise<string> {
  const out = await decrypt(
    to.record,
    { ourKeys: to.keys, ourDeviceId: to.deviceId, theirDeviceId: from.deviceId },
    message,
  )
  to.record = out.record
  if (out.consumed) to.keys = deleteConsumed(to.keys, out.consumed)
  return decoder.decode(out.plaintext)
}

/** What a stored record looks like after IndexedDB's structured clone. */
export function storeAndRestore<T>(value: T): T {
  return structuredClone(value)
}

export const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
export const b64 = toBase64
