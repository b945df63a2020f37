/**
 * Sessions between our device and one of theirs, Sesame-style: one active
 * session, older ones kept (at most 40, as libsignal) so delayed messages
 * still decrypt. The first messages of a session we start carry the PQXDH
 * prekey header until the other side answers.
 *
 * When both devices start a session at the same time, both keep the one
 * started by the device whose id sorts first, so they settle on one session
 * without another round trip; the other still decrypts its in-flight messages.
 *
 * Every function returns a new record and never changes its input.
 */
import type { Bytes } from '../bytes'
import { deviceIdFromIdentityKey } from '../device-id'
import {
  DecryptError,
  DuplicateMessageError,
  MessageOutOfBoundsError,
  UntrustedKeyError,
} from './errors'
import type { DeviceKeys } from './keys'
import { pad, unpad } from './padding'
import { initiate, respond, type ConsumedPrekeys, type PrekeyBundle } from './pqxdh'
import { equalBytes, type KeyPair } from './primitives'
import {
  initReceiver,
  MAX_FORWARD_JUMPS,
  MAX_SKIPPED_KEYS,
  initSender,
  ratchetDecrypt,
  ratchetEncrypt,
  type RatchetState,
} from './ratchet'
import {
  decodeMessage,
  encodeHeader,
  encodeMessage,
  encodePrekeyMessage,
  type PrekeyHeader,
} from './wire'

/** Old sessions kept per remote device (libsignal's ARCHIVED_STATES_MAX_LENGTH). */
export const MAX_ARCHIVED_SESSIONS = 40

/** One Double Ratchet session with a remote device. */
export interface Session {
  ratchet: RatchetState
  associatedData: Bytes
  /** The PQXDH ephemeral key: names the session on both sides. */
  baseKey: Bytes
  /** Set while we started the session and have not heard back on it. */
  pendingPrekey: PrekeyHeader | null
  initiatedBy: 'us' | 'them'
}

/** All sessions with one remote device (serializable). */
export interface SessionRecord {
  theirDeviceId: string
  theirIdentityKey: Bytes
  active: Session | null
  /** Newest first. */
  archived: Session[]
}

/** Where a decryption happens: our keys and who is who. */
export interface DecryptContext {
  ourKeys: DeviceKeys
  ourDeviceId: string
  theirDeviceId: string
}

/**
 * Starts a session from a contact device's bundle (the caller has checked
 * that the device is on the contact's signed device list).
 * @throws {UntrustedKeyError} when the bundle is not the expected device's
 */
export async function startSession(
  record: SessionRecord | null,
  ourIdentity: KeyPair,
  theirDeviceId: string,
  bundle: PrekeyBundle,
): Promise<SessionRecord> {
  if (deviceIdFromIdentityKey(bundle.identityKey) !== theirDeviceId) {
    throw new UntrustedKeyError('startSession: bundle identity key is not that device')
  }
  const { sharedSecret, associatedData, prekey } = await initiate(ourIdentity, bundle)
  const session: Session = {
    ratchet: await initSender(sharedSecret, bundle.signedPrekey.publicKey),
    associatedData,
    baseKey: prekey.ephemeralKey,
    pendingPrekey: prekey,
    initiatedBy: 'us',
  }
  sharedSecret.fill(0)
  return withActive(record, theirDeviceId, bundle.identityKey, session)
}

/**
 * Encrypts padded plaintext on the active session.
 * @throws {Error} when there is no active session (start one first)
 */
export function encrypt(record: SessionRecord, plaintext: Uint8Array) {
  const session = record.active
  if (!session) throw new Error('encrypt: no session with this device')

  const sealed = ratchetEncrypt(
    session.ratchet,
    pad(plaintext),
    session.associatedData,
    encodeHeader,
  )
  const message = encodeMessage(sealed.headerBytes, sealed.ciphertext)
  const next: SessionRecord = {
    ...record,
    active: { ...session, ratchet: sealed.state },
  }
  return {
    record: next,
    message: session.pendingPrekey
      ? encodePrekeyMessage(session.pendingPrekey, message)
      : message,
  }
}

/**
 * Decrypts a message from the remote device.
 * @returns the next record, the plaintext, and the one-time prekeys a
 *   first message used up (delete them in the same write)
 * @throws {DuplicateMessageError} for a message already decrypted
 * @throws {DecryptError} on any authentication failure
 * @throws {UntrustedKeyError} for a first message from another identity or
 *   naming prekeys we no longer have
 * @throws {RangeError} for bytes that are not a message
 */
export async function decrypt(
  record: SessionRecord | null,
  context: DecryptContext,
  bytes: Uint8Array,
): Promise<{
  record: SessionRecord
  plaintext: Bytes
  consumed: ConsumedPrekeys | null
}> {
  const wire = decodeMessage(bytes)
  const sessions = record ? [record.active, ...record.archived].filter(isSession) : []

  // A first message we already built a session from goes to that session.
  const known =
    wire.type === 'prekey'
      ? sessions.find((s) => equalBytes(s.baseKey, wire.prekey.ephemeralKey))
      : undefined

  if (wire.type === 'message' || known) {
    if (!record) throw new DecryptError('decrypt')
    // Ratchet keys are unique per session, so the owner of the key is tried
    // alone; only an unknown key (a new chain) is tried on every session, and
    // on old sessions with a short jump bound, so a forged header cannot make
    // 41 sessions each derive 25,000 keys.
    const owner =
      known ??
      sessions.find((s) =>
        s.ratchet.receivers.some((c) => equalBytes(c.ratchetKey, wire.header.ratchetKey)),
      )
    const candidates = owner ? [owner] : sessions

    let failure: Error | undefined
    for (const session of candidates) {
      try {
        const opened = await ratchetDecrypt(
          session.ratchet,
          wire.header,
          wire.headerBytes,
          wire.ciphertext,
          session.associatedData,
          owner || session === record.active ? MAX_FORWARD_JUMPS : MAX_SKIPPED_KEYS,
        )
        const updated: Session = {
          ...session,
          ratchet: opened.state,
          // An answer on a session we started: stop sending the prekey header.
          pendingPrekey: null,
        }
        // Padding is checked once the message is authentic, outside the retries.
        const plaintext = unpad(opened.plaintext)
        return { record: promote(record, session, updated), plaintext, consumed: null }
      } catch (error) {
        if (error instanceof RangeError && error.message.startsWith('unpad')) throw error
        if (error instanceof DuplicateMessageError) failure = error
        else if (error instanceof MessageOutOfBoundsError) failure ??= error
        else if (!(error instanceof DecryptError)) throw error
      }
    }
    throw failure ?? new DecryptError('decrypt')
  }

  // A new session started by them.
  // Limitation: a first message that used no one-time prekey can be replayed
  // once its session has left the 40 kept here, while its signed prekey is
  // still within the grace period (X3DH and PQXDH share this, §4.2 of the
  // spec); keeping the base keys of processed first messages would stop it.
  const prekey = wire.prekey
  if (deviceIdFromIdentityKey(prekey.identityKey) !== context.theirDeviceId) {
    throw new UntrustedKeyError('decrypt: first message is not from that device')
  }
  const agreed = await respond(context.ourKeys, prekey)
  const ratchet = initReceiver(agreed.sharedSecret, agreed.signedPrekey)
  agreed.sharedSecret.fill(0)
  const opened = await ratchetDecrypt(
    ratchet,
    wire.header,
    wire.headerBytes,
    wire.ciphertext,
    agreed.associatedData,
  )
  const session: Session = {
    ratchet: opened.state,
    associatedData: agreed.associatedData,
    baseKey: prekey.ephemeralKey,
    pendingPrekey: null,
    initiatedBy: 'them',
  }

  // Simultaneous start: keep the session started by the device whose id sorts first.
  const ours = record?.active
  const keepOurs =
    ours?.initiatedBy === 'us' &&
    ours.pendingPrekey !== null &&
    context.ourDeviceId < context.theirDeviceId
  const next = keepOurs
    ? {
        ...record!,
        archived: [session, ...record!.archived].slice(0, MAX_ARCHIVED_SESSIONS),
      }
    : withActive(record, context.theirDeviceId, prekey.identityKey, session)

  const plaintext = unpad(opened.plaintext)
  return { record: next, plaintext, consumed: agreed.consumed }
}

function withActive(
  record: SessionRecord | null,
  theirDeviceId: string,
  theirIdentityKey: Bytes,
  session: Session,
): SessionRecord {
  const archived = record ? [record.active, ...record.archived].filter(isSession) : []
  return {
    theirDeviceId,
    theirIdentityKey: new Uint8Array(theirIdentityKey),
    active: session,
    archived: archived.slice(0, MAX_ARCHIVED_SESSIONS),
  }
}

/**
 * Stores the updated session; an old session that decrypted becomes the
 * active one (Sesame: the other side is evidently using it).
 */
function promote(record: SessionRecord, old: Session, updated: Session): SessionRecord {
  if (record.active === old) return { ...record, active: updated }
  // Limitation: a delayed message on a session the other device has since
  // abandoned (say, after it lost its state) promotes that session too; our
  // next messages then fail there until its next first message moves us back.
  // Signal recovers with retry receipts, which Tidings does not have yet.
  const archived = [record.active, ...record.archived.filter((s) => s !== old)].filter(
    isSession,
  )
  return {
    ...record,
    active: updated,
    archived: archived.slice(0, MAX_ARCHIVED_SESSIONS),
  }
}

function isSession(session: Session | null): session is Session {
  return session !== null
}
