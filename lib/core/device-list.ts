/**
 * The signed device list of an account (WhatsApp's "account signature" idea):
 * the account identity key signs which device identity keys belong to it, with
 * a version that only goes up, so a server cannot add a device or replay an
 * older list without the clients noticing.
 *
 * Encoding (big-endian): format (1 byte, = 1) | version (u32) |
 * count (u8) | count × device identity key (32 bytes each).
 */
import { deviceIdFromIdentityKey } from './device-id'
import { KEY_BYTES, MAX_DEVICES_PER_ACCOUNT } from './limits'

const FORMAT = 1
const HEADER_BYTES = 6

/** A decoded device list. */
export interface DeviceList {
  /** Starts at 1 and grows with every change. */
  version: number
  /** Ed25519 identity public keys of the devices, in list order. */
  identityKeys: Uint8Array[]
}

/**
 * Encodes a device list into the bytes the account key signs.
 * @throws {RangeError} on a bad version, device count or key length
 */
export function encodeDeviceList(list: DeviceList): Uint8Array {
  const { version, identityKeys } = list
  if (!Number.isInteger(version) || version < 1 || version > 0xffffffff) {
    throw new RangeError(`"version" expected integer in 1..2^32-1, got ${version}`)
  }
  if (identityKeys.length < 1 || identityKeys.length > MAX_DEVICES_PER_ACCOUNT) {
    throw new RangeError(
      `"identityKeys" expected 1..${MAX_DEVICES_PER_ACCOUNT} keys, got ${identityKeys.length}`,
    )
  }

  const out = new Uint8Array(HEADER_BYTES + identityKeys.length * KEY_BYTES.ed25519)
  const view = new DataView(out.buffer)
  out[0] = FORMAT
  view.setUint32(1, version)
  out[5] = identityKeys.length
  identityKeys.forEach((key, index) => {
    if (key.length !== KEY_BYTES.ed25519) {
      throw new RangeError(
        `"identityKeys[${index}]" expected length 32, got length=${key.length}`,
      )
    }
    out.set(key, HEADER_BYTES + index * KEY_BYTES.ed25519)
  })
  return out
}

/**
 * Decodes device-list bytes. Does not check the signature: verify it with
 * the account key first (see statements.ts).
 * @throws {RangeError} when the bytes are not a well-formed list
 */
export function decodeDeviceList(bytes: Uint8Array): DeviceList {
  if (bytes.length < HEADER_BYTES || bytes[0] !== FORMAT) {
    throw new RangeError('decodeDeviceList: unknown format')
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const version = view.getUint32(1)
  const count = bytes[5] ?? 0
  if (count < 1 || count > MAX_DEVICES_PER_ACCOUNT) {
    throw new RangeError(`decodeDeviceList: expected 1..6 devices, got ${count}`)
  }
  if (bytes.length !== HEADER_BYTES + count * KEY_BYTES.ed25519) {
    throw new RangeError('decodeDeviceList: length does not match device count')
  }
  if (version < 1) throw new RangeError('decodeDeviceList: version must be at least 1')

  const identityKeys: Uint8Array[] = []
  for (let index = 0; index < count; index++) {
    const start = HEADER_BYTES + index * KEY_BYTES.ed25519
    identityKeys.push(bytes.slice(start, start + KEY_BYTES.ed25519))
  }
  const ids = new Set(identityKeys.map(deviceIdFromIdentityKey))
  if (ids.size !== count) throw new RangeError('decodeDeviceList: duplicate device')
  return { version, identityKeys }
}
