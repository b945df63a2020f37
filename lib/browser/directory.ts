/**
 * Who is who: verified accounts of contacts and of our own account, and
 * which account a sending device belongs to. Contacts are trusted on first
 * use: the first account key seen for a username is kept; a later change is
 * accepted but flagged, so the chat warns and the user can compare safety
 * numbers. A device list older than one already seen is refused (a relay
 * replaying an old list to bring back a removed device).
 */
import { type Bytes } from '@/lib/core/bytes'
import { UntrustedKeyError } from '@/lib/core/crypto/errors'
import { equalBytes } from '@/lib/core/crypto/primitives'

import { database, type ContactRecord } from './db'
import { logger } from './log'
import type { RelayClient } from './relay-client'
import { verifyAccount, type VerifiedAccount } from './trust'

const log = logger('directory')

/** A verified account is fetched again after this long. */
const FRESH_MS = 5 * 60 * 1000

/** Whether a cached verification is recent enough to rely on. */
const isFresh = ({ at }: { at: number }) => Date.now() - at < FRESH_MS

export class Directory {
  private readonly cache = new Map<string, { account: VerifiedAccount; at: number }>()

  constructor(
    private readonly relay: RelayClient,
    private readonly self: { username: string; accountKey: Bytes },
  ) {}

  /**
   * An account, verified, from the page's cache or the relay.
   * @param refresh - fetch even when cached (after a 409 from the relay)
   * @throws {UntrustedKeyError} when its signatures do not verify, its list
   *   is older than one seen before, or it claims to be ours with another key
   * @throws {RelayError} not-found for an unknown username
   */
  async account(username: string, refresh = false): Promise<VerifiedAccount> {
    const cached = refresh ? undefined : this.cached(username)
    if (cached) return cached

    const published = await this.relay.account(username)
    let account: VerifiedAccount
    try {
      account = verifyAccount(published)
    } catch (error) {
      if (error instanceof UntrustedKeyError) await this.flagRejected(username)
      throw error
    }
    if (
      username === this.self.username &&
      !equalBytes(account.identityKey, this.self.accountKey)
    ) {
      throw new UntrustedKeyError('account: the relay shows our account with another key')
    }
    // Our own list is remembered too, so an older one is refused as well.
    try {
      await this.remember(account)
    } catch (error) {
      if (error instanceof UntrustedKeyError) await this.flagRejected(username)
      throw error
    }
    this.cache.set(username, { account, at: Date.now() })
    return account
  }

  /**
   * An account verified recently, without asking the relay.
   * @returns the account; undefined when not cached or no longer fresh
   */
  cached(username: string): VerifiedAccount | undefined {
    const cached = this.cache.get(username)
    return cached && isFresh(cached) ? cached.account : undefined
  }

  /**
   * The username whose signed device list names this device and key.
   * @throws {UntrustedKeyError} when no verified list names it
   */
  async ownerOf(deviceId: string, identityKey: Uint8Array): Promise<string> {
    const names = (account: { devices: { deviceId: string; identityKey: Bytes }[] }) =>
      account.devices.some(
        (device) =>
          device.deviceId === deviceId && equalBytes(device.identityKey, identityKey),
      )

    // Recently verified lists answer at once. A device two accounts both
    // claim (each account key can sign any public key) belongs to neither.
    const claims = [...this.cache.values()]
      .filter(isFresh)
      .filter(({ account }) => names(account))
    if (claims.length > 1) {
      throw new UntrustedKeyError('ownerOf: the device is on several accounts')
    }
    if (claims[0]) return claims[0].account.username

    // Otherwise the list is fetched again (a device may have been removed
    // since): the contact we knew it from, or whoever the relay says.
    const db = await database()
    const known = (await db.getAll('contacts')).find(names)?.username
    const username = known ?? (await this.relay.deviceOwner(deviceId)).username
    const account = await this.account(username, true)
    if (!names(account)) {
      throw new UntrustedKeyError('ownerOf: the device is not on its account list')
    }
    return username
  }

  /** The stored contact, as last verified. */
  async contact(username: string): Promise<ContactRecord | undefined> {
    return (await database()).get('contacts', username)
  }

  /** Notes that a contact's list did not verify, so their chat warns. */
  private async flagRejected(username: string): Promise<void> {
    log.warn('a device list did not verify', { contact: username })
    const db = await database()
    const tx = db.transaction('contacts', 'readwrite')
    const known = await tx.store.get(username)
    if (known) await tx.store.put({ ...known, listRejectedAt: Date.now() })
    await tx.done
  }

  /** Keeps a contact's verified account; flags a changed identity key. */
  private async remember(account: VerifiedAccount): Promise<void> {
    const db = await database()
    const tx = db.transaction('contacts', 'readwrite')
    const known = await tx.store.get(account.username)

    // Limitation: only an older version is refused; a different list under
    // the same version (which only the account key can sign) is accepted.
    const sameKey =
      known !== undefined && equalBytes(known.identityKey, account.identityKey)
    if (sameKey && account.deviceListVersion < known.deviceListVersion) {
      throw new UntrustedKeyError(
        `account: the device list of ${account.username} is older than one seen before`,
      )
    }
    const changed = known !== undefined && !sameKey
    if (changed) log.warn('a contact identity key changed', { contact: account.username })

    await tx.store.put({
      username: account.username,
      identityKey: account.identityKey,
      deviceListVersion: account.deviceListVersion,
      devices: account.devices.map(({ deviceId, identityKey }) => ({
        deviceId,
        identityKey,
      })),
      identityChangedAt: changed ? Date.now() : (known?.identityChangedAt ?? null),
      listRejectedAt: null,
      checkedAt: Date.now(),
    })
    await tx.done
  }
}
