import { connection } from 'next/server'

import { MessengerApp } from './_components/messenger-app'

// The messenger is a client application: everything it shows comes from
// the device's own IndexedDB, decrypted on the device. The page is rendered
// per request so that its scripts carry the nonce of proxy.ts's
// Content-Security-Policy.
export default async function Home() {
  await connection()
  return <MessengerApp />
}
