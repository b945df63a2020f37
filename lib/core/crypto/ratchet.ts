/**
 * The Double Ratchet (Signal's specification, revision 4), with libsignal's
 * bounds: at most 25,000 message keys skipped in one step, 2,000 stored
 * skipped keys per chain, 5 receiver chains kept for late messages.
 *
 * State is a plain record of Uint8Arrays and numbers, safe to store in
 * IndexedDB. Functions never change the state they are given: they return
 * the next state, which the caller stores with the message in one
 * transaction, so a failed decryption leaves nothing changed.
 */
import { concatBytes, utf8Bytes, type Bytes } from '../bytes'
import { DecryptError, DuplicateMessageError, MessageOutOfBoundsError } from './errors'
import {
  dh,
  equalBytes,
  generateDhKeyPair,
  kdf,
  mac,
  open,
  seal,
  type KeyPair,
} from './primitives'

/** libsignal's MAX_FORWARD_JUMPS. */
export const MAX_FORWARD_JUMPS = 25_000
/** libsignal's MAX_MESSAGE_KEYS, per receiver chain. */
export const MAX_SKIPPED_KEYS = 2_000
/** libsignal's MAX_RECEIVER_CHAINS. */
export const MAX_RECEIVER_CHAINS = 5

const ROOT_INFO = utf8Bytes('Tidings_DoubleRatchet_Root')
const MESSAGE_INFO = utf8Bytes('Tidings_DoubleRatchet_MessageKeys')
const ZERO_SALT = new Uint8Array(32)
const MESSAGE_KEY_SEED = Uint8Array.of(0x01)
const CHAIN_KEY_SEED = Uint8Array.of(0x02)

interface ReceiverChain {
  /** Their ratchet public key that opened this chain. */
  ratchetKey: Bytes
  chainKey: Bytes
  /** Index of the next message key this chain will derive. */
  index: number
  /** Keys of messages skipped on this chain, oldest first. */
  skipped: { index: number; messageKey: Bytes }[]
}

/** A session's ratchet state (serializable). */
export interface RatchetState {
  rootKey: Bytes
  sender: { ratchetKey: KeyPair; chainKey: Bytes; index: number } | null
  /** Messages sent on the previous sending chain (the header's PN). */
  previousCounter: number
  /** Newest first. */
  receivers: ReceiverChain[]
}

/** The cleartext header of each message (authenticated, not encrypted). */
export interface RatchetHeader {
  ratchetKey: Bytes
  previousCounter: number
  counter: number
}

/** KDF_RK (§5.2): HKDF with the root key as salt. */
function rootStep(rootKey: Uint8Array, dhOutput: Uint8Array): [Bytes, Bytes] {
  const out = kdf(dhOutput, rootKey, ROOT_INFO, 64)
  return [out.slice(0, 32), out.slice(32)]
}

/** KDF_CK (§5.2): HMAC with constant inputs, as Signal does. */
function chainStep(chainKey: Uint8Array): { chainKey: Bytes; messageKey: Bytes } {
  return {
    chainKey: mac(chainKey, CHAIN_KEY_SEED),
    messageKey: mac(chainKey, MESSAGE_KEY_SEED),
  }
}

/** The AEAD key and nonce of one message key; each message key seals once. */
function messageCipher(messageKey: Uint8Array) {
  const out = kdf(messageKey, ZERO_SALT, MESSAGE_INFO, 56)
  return { key: out.subarray(0, 32), nonce: out.subarray(32) }
}

/** Initial state of the party that started the session (Alice, §3.3). */
export async function initSender(
  sharedSecret: Uint8Array,
  theirRatchetKey: Uint8Array,
): Promise<RatchetState> {
  const ratchetKey = await generateDhKeyPair()
  const [rootKey, chainKey] = rootStep(
    sharedSecret,
    await dh(ratchetKey.secretKey, theirRatchetKey),
  )
  return {
    rootKey,
    sender: { ratchetKey, chainKey, index: 0 },
    previousCounter: 0,
    receivers: [],
  }
}

/** Initial state of the party that answers (Bob): its signed prekey is the first ratchet key. */
export function initReceiver(
  sharedSecret: Uint8Array,
  ourRatchetKey: KeyPair,
): RatchetState {
  return {
    rootKey: new Uint8Array(sharedSecret),
    sender: {
      ratchetKey: cloneKeyPair(ourRatchetKey),
      chainKey: new Uint8Array(0),
      index: 0,
    },
    previousCounter: 0,
    receivers: [],
  }
}

/**
 * Encrypts one message (RatchetEncrypt, §3.4).
 * @param encodeHeader - the wire encoding of the header, authenticated with `ad`
 * @returns the next state, the header and the ciphertext
 */
export function ratchetEncrypt(
  state: RatchetState,
  plaintext: Uint8Array,
  ad: Uint8Array,
  encodeHeader: (header: RatchetHeader) => Uint8Array,
) {
  const next = cloneState(state)
  const sender = next.sender
  if (!sender || sender.chainKey.length === 0) {
    throw new MessageOutOfBoundsError(
      'ratchetEncrypt: no sending chain until a message arrives',
    )
  }
  const { chainKey, messageKey } = chainStep(sender.chainKey)
  const header: RatchetHeader = {
    ratchetKey: sender.ratchetKey.publicKey,
    previousCounter: next.previousCounter,
    counter: sender.index,
  }
  sender.chainKey = chainKey
  sender.index += 1

  const { key, nonce } = messageCipher(messageKey)
  const headerBytes = encodeHeader(header)
  const ciphertext = seal(key, nonce, plaintext, concatBytes(ad, headerBytes))
  messageKey.fill(0)
  return { state: next, header, headerBytes, ciphertext }
}

/**
 * Decrypts one message (RatchetDecrypt, §3.5, with libsignal's chain bounds).
 * @throws {DuplicateMessageError} when its key was already used
 * @throws {MessageOutOfBoundsError} when it is too far ahead or its chain is gone
 * @throws {DecryptError} on any authentication failure
 */
export async function ratchetDecrypt(
  state: RatchetState,
  header: RatchetHeader,
  headerBytes: Uint8Array,
  ciphertext: Uint8Array,
  ad: Uint8Array,
  maxJump = MAX_FORWARD_JUMPS,
): Promise<{ state: RatchetState; plaintext: Bytes }> {
  const next = cloneState(state)
  let chain = next.receivers.find((c) => equalBytes(c.ratchetKey, header.ratchetKey))

  if (!chain) {
    const current = next.receivers[0]
    if (current) skipKeys(current, header.previousCounter, maxJump)
    chain = await dhRatchet(next, header.ratchetKey)
  }

  const messageKey = takeMessageKey(chain, header.counter, maxJump)
  const { key, nonce } = messageCipher(messageKey)
  const plaintext = open(
    key,
    nonce,
    ciphertext,
    concatBytes(ad, headerBytes),
    'ratchetDecrypt',
  )
  messageKey.fill(0)
  return { state: next, plaintext }
}

/** The DH ratchet step (§3.5 DHRatchet): a new receiver chain, then a new sender chain. */
async function dhRatchet(
  state: RatchetState,
  theirRatchetKey: Bytes,
): Promise<ReceiverChain> {
  const ours = state.sender?.ratchetKey
  if (!ours) throw new MessageOutOfBoundsError('ratchetDecrypt: no ratchet key')

  const [rootKey, receiveKey] = rootStep(
    state.rootKey,
    await dh(ours.secretKey, theirRatchetKey),
  )
  const chain: ReceiverChain = {
    ratchetKey: new Uint8Array(theirRatchetKey),
    chainKey: receiveKey,
    index: 0,
    skipped: [],
  }
  state.receivers.unshift(chain)
  state.receivers.length = Math.min(state.receivers.length, MAX_RECEIVER_CHAINS)

  const ratchetKey = await generateDhKeyPair()
  const [nextRoot, sendKey] = rootStep(
    rootKey,
    await dh(ratchetKey.secretKey, theirRatchetKey),
  )
  state.previousCounter = state.sender?.index ?? 0
  state.sender = { ratchetKey, chainKey: sendKey, index: 0 }
  state.rootKey = nextRoot
  return chain
}

/** Derives and stores the keys of messages skipped before `until`. */
function skipKeys(chain: ReceiverChain, until: number, maxJump: number): void {
  if (until - chain.index > maxJump) {
    throw new MessageOutOfBoundsError(
      `ratchetDecrypt: ${until - chain.index} skipped messages, at most ${maxJump}`,
    )
  }
  // Only the newest MAX_SKIPPED_KEYS are kept (libsignal drops the oldest),
  // so keys that would be dropped at once are never stored.
  const keepFrom = until - MAX_SKIPPED_KEYS
  while (chain.index < until) {
    const { chainKey, messageKey } = chainStep(chain.chainKey)
    if (chain.index >= keepFrom) chain.skipped.push({ index: chain.index, messageKey })
    chain.chainKey = chainKey
    chain.index += 1
  }
  if (chain.skipped.length > MAX_SKIPPED_KEYS) {
    chain.skipped.splice(0, chain.skipped.length - MAX_SKIPPED_KEYS)
  }
}

/** The key for message `counter` of a chain; a used key leaves the state. */
function takeMessageKey(chain: ReceiverChain, counter: number, maxJump: number): Bytes {
  if (counter < chain.index) {
    const at = chain.skipped.findIndex((entry) => entry.index === counter)
    if (at < 0) throw new DuplicateMessageError('ratchetDecrypt')
    const [entry] = chain.skipped.splice(at, 1)
    return entry.messageKey
  }
  skipKeys(chain, counter, maxJump)
  const { chainKey, messageKey } = chainStep(chain.chainKey)
  chain.chainKey = chainKey
  chain.index += 1
  return messageKey
}

function cloneKeyPair(pair: KeyPair): KeyPair {
  return {
    publicKey: new Uint8Array(pair.publicKey),
    secretKey: new Uint8Array(pair.secretKey),
  }
}

/** A deep copy: decryption works on it and commits only on success. */
export function cloneState(state: RatchetState): RatchetState {
  return {
    rootKey: new Uint8Array(state.rootKey),
    sender: state.sender && {
      ratchetKey: cloneKeyPair(state.sender.ratchetKey),
      chainKey: new Uint8Array(state.sender.chainKey),
      index: state.sender.index,
    },
    previousCounter: state.previousCounter,
    receivers: state.receivers.map((chain) => ({
      ratchetKey: new Uint8Array(chain.ratchetKey),
      chainKey: new Uint8Array(chain.chainKey),
      index: chain.index,
      skipped: chain.skipped.map(({ index, messageKey }) => ({
        index,
        messageKey: new Uint8Array(messageKey),
      })),
    })),
  }
}

export { DecryptError }
