/**
 * The relay as one device sees it: a client that logs in with the device's
 * identity key and keeps its credential in IndexedDB, and the directory of
 * verified accounts on top of it. The page and the service worker each make
 * their own; the credential they store is shared.
 */
import { database, type LocalDevice } from './db'
import { Directory } from './directory'
import { RelayClient, type Credential } from './relay-client'

/** A relay client and directory for this device. */
export function deviceRelay(device: Readonly<LocalDevice>): {
  relay: RelayClient
  directory: Directory
} {
  const relay = new RelayClient({
    deviceId: device.deviceId,
    identitySecretKey: device.identity.secretKey,
    credential: device.credential,
    saveCredential,
  })
  const directory = new Directory(relay, {
    username: device.username,
    accountKey: device.account.publicKey,
  })
  return { relay, directory }
}

/** Keeps the relay credential with the device record. */
async function saveCredential(credential: Credential | null): Promise<void> {
  const db = await database()
  const tx = db.transaction('device', 'readwrite')
  const device = await tx.store.get('self')
  if (device) await tx.store.put({ ...device, credential }, 'self')
  await tx.done
}
