import Database from 'better-sqlite3'

import {
  createAccountIdentity,
  signDeviceKey,
  signDeviceList,
} from '../../lib/core/crypto/keys'
import { expect, test } from './fixtures'
import { send, startChat, tick } from './chat'

/**
 * What a relay that swaps someone's account key would do: a new account
 * key, with a device list and device signature it made itself. Everything
 * verifies under the new key, so only the key change gives it away.
 */
function replaceAccountKey(dbFile: string, username: string): void {
  const db = new Database(dbFile)
  try {
    const account = db
      .prepare('SELECT "id" FROM "Account" WHERE "username" = ?')
      .get(username) as { id: string }
    const devices = db
      .prepare('SELECT "id", "identityKey" FROM "Device" WHERE "accountId" = ?')
      .all(account.id) as { id: string; identityKey: Buffer }[]
    const impostor = createAccountIdentity()
    const list = signDeviceList(
      impostor,
      1,
      devices.map((device) => new Uint8Array(device.identityKey)),
    )
    db.prepare(
      'UPDATE "Account" SET "identityKey" = ?, "deviceList" = ?, "deviceListSig" = ?, ' +
        '"deviceListVersion" = 1 WHERE "id" = ?',
    ).run(impostor.publicKey, list.bytes, list.signature, account.id)
    for (const device of devices) {
      db.prepare('UPDATE "Device" SET "identityKeySig" = ? WHERE "id" = ?').run(
        signDeviceKey(impostor, new Uint8Array(device.identityKey)),
        device.id,
      )
    }
  } finally {
    db.close()
  }
}

test('the chat warns when a contact account key changes', async ({ person, server }) => {
  const alice = await person('alice')
  const bob = await person('bob')
  await startChat(alice.page, bob.username)
  await send(alice.page, 'Before the change')
  await expect(tick(alice.page, 'Before the change')).toHaveAccessibleName('Delivered')
  const warning = alice.page.getByRole('alert').filter({ hasText: 'safety number' })
  await expect(warning).toHaveCount(0)

  replaceAccountKey(server.dbFile, bob.username)
  await alice.page.reload()
  await startChat(alice.page, bob.username)

  await expect(warning).toContainText(`The safety number with ${bob.username} changed`)
  await warning.getByRole('button', { name: 'OK' }).click()
  await expect(warning).toHaveCount(0)
})
