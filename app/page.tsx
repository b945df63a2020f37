import { MessengerApp } from './_components/messenger-app'

// The messenger is a client application: everything it shows comes from
// the device's own IndexedDB, decrypted on the device.
export default function Home() {
  return <MessengerApp />
}
