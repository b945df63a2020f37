/**
 * The relay's JSON API as the page and the service worker call it: one
 * request function that adds the device credential, logs in again when it
 * has expired, and turns every failure into one of two errors, so callers
 * can tell "the network is down, retry later" from "the relay said no".
 */
import type {
  ApiErrorBody,
  DeviceMismatch,
  KeyUpload,
  LinkRequest,
  PushSubscriptionRequest,
  Registration,
  SendReceipt,
  SendRequest,
  WireEnvelope,
} from '@/lib/core/api'
import { fromBase64, toBase64 } from '@/lib/core/bytes'
import { sign } from '@/lib/core/crypto/primitives'
import { authStatement } from '@/lib/core/statements'

/** The relay answered with an error (4xx or 5xx). */
export class RelayError extends Error {
  override name = 'RelayError'

  constructor(
    readonly operation: string,
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(`${operation}: ${message}`)
  }

  /** The devices to add and drop when a send's fan-out is not current. */
  get mismatch(): DeviceMismatch | null {
    return this.code === 'device-mismatch' ? (this.body as DeviceMismatch) : null
  }
}

/** Whether a failed request is worth retrying as it is (network, relay busy or down). */
export function isTransient(error: unknown): boolean {
  if (error instanceof NetworkError) return true
  return error instanceof RelayError && (error.status >= 500 || error.status === 429)
}

/** The relay could not be reached (offline, server down, connection cut). */
export class NetworkError extends Error {
  override name = 'NetworkError'

  constructor(operation: string, options?: { cause?: unknown }) {
    super(`${operation}: the relay cannot be reached`, options)
  }
}

/** A bearer credential and when it stops working. */
export interface Credential {
  token: string
  expiresAt: number
}

/** What the client needs to log in as its device and keep the credential. */
export interface DeviceAuth {
  deviceId: string
  identitySecretKey: Uint8Array
  credential: Credential | null
  saveCredential: (credential: Credential | null) => Promise<void>
}

/** A device as GET /api/accounts/:username returns it. */
export interface PublishedDevice {
  deviceId: string
  identityKey: string
  identityKeySignature: string
  name?: string
  lastSeenAt?: number
}

/** An account as GET /api/accounts/:username returns it. */
export interface PublishedAccount {
  username: string
  identityKey: string
  deviceList: { bytes: string; signature: string; version: number }
  devices: PublishedDevice[]
}

/** A prekey bundle as GET /api/accounts/:username/bundles returns it. */
export interface PublishedBundle {
  deviceId: string
  identityKey: string
  identityKeySignature: string
  signedPrekey: { keyId: number; publicKey: string; signature: string }
  kemPrekey: { keyId: number; publicKey: string; signature: string }
  oneTimePrekey: { keyId: number; publicKey: string } | null
}

/** A new device's request on a link, as the account's devices read it. */
export interface PendingLink {
  name: string
  identityKey: string
  ephemeralKey: string
  proof: string
}

/** What the approving device posts (base64 fields). */
export interface LinkApproval {
  identityKeySignature: string
  deviceList: { bytes: string; signature: string }
  ephemeralKey: string
  sealed: string
}

export interface Presence {
  online: boolean
  lastSeenAt: number
}

/** A request that has not answered in this long is given up (a half-open connection). */
const REQUEST_TIMEOUT_MS = 20_000

/** Renew a credential this long before it expires. */
const RENEW_BEFORE_MS = 5 * 60 * 1000

/** Calls the relay on behalf of one device. */
export class RelayClient {
  private login: Promise<Credential> | null = null

  constructor(
    private readonly auth: DeviceAuth,
    private readonly baseUrl = '',
  ) {}

  /**
   * Creates an account with its first device (no credential needed).
   * @throws {RelayError} e.g. `conflict` when the username is taken
   */
  static async register(registration: Registration, baseUrl = ''): Promise<void> {
    await call(baseUrl, 'register', 'POST', '/api/accounts', registration, null)
  }

  /** A new device asks to join an account through an open link (no credential). */
  static async requestLink(
    linkId: string,
    request: LinkRequest,
    baseUrl = '',
  ): Promise<void> {
    await call(
      baseUrl,
      'request-link',
      'POST',
      `/api/links/${linkId}/request`,
      request,
      null,
    )
  }

  /** The new device's side of an open link: approved yet, and the sealed answer. */
  static linkResult(linkId: string, baseUrl = '') {
    return call<
      | { approved: false }
      | { approved: true; username: string; ephemeralKey: string; sealed: string }
    >(baseUrl, 'link-result', 'GET', `/api/links/${linkId}/result`, undefined, null)
  }

  /** A credential that is valid for a while yet, logging in when needed. */
  async authorization(): Promise<string> {
    const current = this.auth.credential
    if (current && current.expiresAt - RENEW_BEFORE_MS > Date.now()) return current.token
    return (await this.renew()).token
  }

  /** Drops the credential and logs in again (once, however many callers ask). */
  renew(): Promise<Credential> {
    this.login ??= (async () => {
      this.auth.credential = null
      try {
        const { challengeId, nonce } = await call<{ challengeId: string; nonce: string }>(
          this.baseUrl,
          'login',
          'POST',
          '/api/auth/challenge',
          { deviceId: this.auth.deviceId },
          null,
        )
        const statement = authStatement(this.auth.deviceId, fromBase64(nonce))
        const signature = sign(statement, this.auth.identitySecretKey)
        const credential = await call<Credential>(
          this.baseUrl,
          'login',
          'POST',
          '/api/auth/token',
          { challengeId, signature: toBase64(signature) },
          null,
        )
        this.auth.credential = credential
        await this.auth.saveCredential(credential)
        return credential
      } finally {
        this.login = null
      }
    })()
    return this.login
  }

  /** An authenticated request; logs in again once on 401. */
  private async request<T>(
    operation: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T> {
    const token = await this.authorization()
    try {
      return await call<T>(this.baseUrl, operation, method, path, body, token)
    } catch (error) {
      if (!(error instanceof RelayError) || error.status !== 401) throw error
      const renewed = await this.renew()
      return call<T>(this.baseUrl, operation, method, path, body, renewed.token)
    }
  }

  account(username: string) {
    return this.request<PublishedAccount>(
      'lookup',
      'GET',
      `/api/accounts/${encodeURIComponent(username)}`,
    )
  }

  deviceOwner(deviceId: string) {
    return this.request<{ username: string }>(
      'device-owner',
      'GET',
      `/api/devices/${encodeURIComponent(deviceId)}`,
    )
  }

  /** Bundles of all the account's devices, or of those named. */
  bundles(username: string, devices?: string[]) {
    const query = devices ? `?devices=${devices.map(encodeURIComponent).join(',')}` : ''
    return this.request<PublishedAccount & { bundles: PublishedBundle[] }>(
      'bundles',
      'GET',
      `/api/accounts/${encodeURIComponent(username)}/bundles${query}`,
    )
  }

  presence(username: string) {
    return this.request<Presence>(
      'presence',
      'GET',
      `/api/accounts/${encodeURIComponent(username)}/presence`,
    )
  }

  /** @throws {RelayError} with `mismatch` set when the fan-out is not current */
  send(message: SendRequest) {
    return this.request<SendReceipt>('send', 'POST', '/api/messages', message)
  }

  ack(seqs: number[]) {
    return this.request<{ deleted: number }>('ack', 'POST', '/api/envelopes/ack', {
      seqs,
    })
  }

  /** A page of this device's queue (the service worker's way in). */
  queue(after: number, limit = 100) {
    return this.request<{ envelopes: WireEnvelope[] }>(
      'queue',
      'GET',
      `/api/envelopes?after=${after}&limit=${limit}`,
    )
  }

  /** The relay's VAPID public key for push subscriptions; null without Web Push. */
  static pushKey(baseUrl = '') {
    return call<{ publicKey: string | null }>(
      baseUrl,
      'push-key',
      'GET',
      '/api/push',
      undefined,
      null,
    )
  }

  /** Registers this device's push subscription (replacing its previous one). */
  subscribePush(subscription: PushSubscriptionRequest) {
    return this.request<{ subscribed: true }>('push-subscribe', 'PUT', '/api/push', {
      endpoint: subscription.endpoint,
      keys: subscription.keys,
    })
  }

  /** No more pushes to this device. */
  unsubscribePush() {
    return this.request<{ deleted: boolean }>('push-unsubscribe', 'DELETE', '/api/push')
  }

  /** Opens a link for a new device of this account. */
  openLink() {
    return this.request<{ linkId: string; expiresAt: number }>(
      'open-link',
      'POST',
      '/api/links',
      {},
    )
  }

  readLink(linkId: string) {
    return this.request<{
      expiresAt: number
      request: PendingLink | null
      approved: boolean
    }>('read-link', 'GET', `/api/links/${linkId}`)
  }

  approveLink(linkId: string, approval: LinkApproval) {
    return this.request<{ deviceId: string; deviceListVersion: number }>(
      'approve-link',
      'POST',
      `/api/links/${linkId}/approve`,
      approval,
    )
  }

  /** Removes a device of this account, with the new signed device list. */
  unlink(deviceId: string, deviceList: { bytes: string; signature: string }) {
    return this.request<{ deviceListVersion: number }>(
      'unlink',
      'DELETE',
      `/api/devices/${encodeURIComponent(deviceId)}`,
      { deviceList },
    )
  }

  keyStock() {
    return this.request<{ oneTimePrekeys: number; oneTimeKemPrekeys: number }>(
      'prekey-stock',
      'GET',
      '/api/keys',
    )
  }

  uploadKeys(upload: KeyUpload) {
    return this.request<unknown>('upload-prekeys', 'PUT', '/api/keys', upload)
  }
}

/** One fetch, its failures mapped to NetworkError or RelayError. */
async function call<T>(
  baseUrl: string,
  operation: string,
  method: string,
  path: string,
  body: unknown,
  token: string | null,
): Promise<T> {
  let response: Response
  try {
    response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
  } catch (error) {
    throw new NetworkError(operation, { cause: error })
  }

  let json: unknown
  try {
    json = await response.json()
  } catch (error) {
    // A proxy's HTML error page, or a connection cut mid-answer.
    if (response.ok || response.status >= 500)
      throw new NetworkError(operation, { cause: error })
    json = null
  }
  if (response.ok) return json as T

  const error = (json as Partial<ApiErrorBody> | null)?.error
  throw new RelayError(
    operation,
    response.status,
    error?.code ?? 'unknown',
    error?.message ?? `HTTP ${response.status}`,
    json,
  )
}
