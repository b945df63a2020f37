/**
 * The prekey bundle a server would hand out for a device, built straight
 * from its keys: for crypto tests and benchmarks that need no server.
 * Runs anywhere (the crypto benchmark bundles it for Chromium).
 */
import { publicPart, type DeviceKeys } from '../../lib/core/crypto/keys'
import type { PrekeyBundle } from '../../lib/core/crypto/pqxdh'

/** Takes the first one-time key of each kind, or falls back to the last-resort keys. */
export function bundleFromKeys(keys: DeviceKeys, withOneTime = true): PrekeyBundle {
  const spk = keys.signedPrekeys[0]
  const kemKey = withOneTime
    ? (keys.oneTimeKemPrekeys[0] ?? keys.lastResortKemPrekeys[0])
    : keys.lastResortKemPrekeys[0]
  const ec = withOneTime ? keys.oneTimePrekeys[0] : undefined
  return {
    identityKey: keys.identity.publicKey,
    signedPrekey: publicPart(spk),
    kemPrekey: publicPart(kemKey),
    oneTimePrekey: ec ? { keyId: ec.keyId, publicKey: ec.keyPair.publicKey } : null,
  }
}
