'use client'

import QRCode from 'qrcode'
import { useEffect, useState } from 'react'

import { toBase64Url } from '@/lib/core/bytes'
import { randomBytes } from '@/lib/core/crypto/primitives'
import { formatPresence } from '@/lib/browser/format'
import type { Messenger } from '@/lib/browser/messenger'

/** The account's devices, and the code that links a new one. */
export function Devices({
  messenger,
  onBack,
}: {
  messenger: Messenger
  onBack: () => void
}) {
  const devices = useDevices(messenger)
  const [code, setCode] = useState<string | null>(null)

  return (
    <section className="devices" aria-label="Linked devices">
      <header className="bar">
        <button type="button" className="back" onClick={onBack}>
          Back
        </button>
        <div className="who">
          <h2>Linked devices</h2>
          <p className="sub">{messenger.username}</p>
        </div>
      </header>

      <ul aria-label="Devices" className="device-list">
        {(devices ?? []).map((device) => (
          <li key={device.deviceId}>
            <span className="name">{device.name ?? 'Device'}</span>
            <span className="sub">
              {device.deviceId === messenger.device.deviceId
                ? 'This device'
                : formatPresence({ online: false, lastSeenAt: device.lastSeenAt ?? 0 })}
            </span>
          </li>
        ))}
      </ul>

      <div className="link-new">
        <button
          type="button"
          className="primary"
          // Limitation: the code is made here but not yet registered with the
          // relay; redeeming it is the linked-devices issue.
          onClick={() => setCode(toBase64Url(randomBytes(12)))}
        >
          Link a new device
        </button>
        {code && <LinkCode code={code} />}
      </div>
    </section>
  )
}

/** The account's devices, asked of the relay once when the pane opens. */
function useDevices(messenger: Messenger) {
  const [devices, setDevices] =
    useState<Awaited<ReturnType<Messenger['linkedDevices']>>>()
  useEffect(() => {
    let active = true
    messenger.linkedDevices().then(
      (list) => active && setDevices(list),
      (error: unknown) => console.error('[ui] linked devices', error),
    )
    return () => {
      active = false
    }
  }, [messenger])
  return devices
}

function LinkCode({ code }: { code: string }) {
  const [svg, setSvg] = useState<string | null>(null)
  useEffect(() => {
    let active = true
    QRCode.toString(`tidings-link:${code}`, { type: 'svg', margin: 1 }).then(
      (markup) => active && setSvg(markup),
      (error: unknown) => console.error('[ui] QR code', error),
    )
    return () => {
      active = false
    }
  }, [code])

  return (
    <figure className="link-code">
      <p>On the new device, choose “Link to an existing account” and enter:</p>
      <output id="link-code" aria-label="Link code" className="code">
        {code}
      </output>
      {svg && (
        <span
          role="img"
          aria-label="The same code as a QR code"
          className="qr"
          dangerouslySetInnerHTML={{ __html: svg }}
        />
      )}
    </figure>
  )
}
