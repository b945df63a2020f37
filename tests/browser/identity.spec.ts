import {
  createAccountIdentity,
  signDeviceKey,
  signDeviceList,
} from '../../lib/core/crypto/keys'
import type { TestServer } from '../support/server'
import { expect, test } from './fixtures'
import { send, startChat, tick } from './chat'

/**
 * What a relay that swaps someone's account key would do: a new account
 * key, with a device list and device signature it made itself. Everything
 * verifies under the new key, so only the key change gives it away.
 */
async function replaceAccountKey(server: TestServer, username: string): Promise<void> {
  const [account] = await server.query<{ id: string }>(
    'SELECT "id" FROM "Account" WHERE "username" = ?',
    username,
  )
  const devices = await server.query<{ id: string; identityKey: Buffer }>(
    'SELECT "id", "identityKey" FROM "Device" WHERE "accountId" = ?',
    account.id,
  )
  const impostor = createAccountIdentity()
  const list = signDeviceList(
    impostor,
    1,
    devices.map((device) => new Uint8Array(device.identityKey)),
  )
  await server.query(
    'UPDATE "Account" SET "identityKey" = ?, "deviceList" = ?, "deviceListSig" = ?, ' +
      '"deviceListVersion" = 1 WHERE "id" = ?',
    impostor.publicKey,
    list.bytes,
    list.signature,
    account.id,
  )
  for (const device of devices) {
    await server.query(
      'UPDATE "Device" SET "identityKeySig" = ? WHERE "id" = ?',
      signDeviceKey(impostor, new Uint8Array(device.identityKey)),
      device.id,
    )
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

  await replaceAccountKey(server, bob.username)
  await alice.page.reload()
  await startChat(alice.page, bob.username)

  await expect(warning).toContainText(`The safety number with ${bob.username} changed`)
  await warning.getByRole('button', { name: 'OK' }).click()
  await expect(warning).toHaveCount(0)
})
