'use client'

import QRCode from 'qrcode'
import { useEffect, useState } from 'react'

import { formatPresence } from '@/lib/browser/format'
import { UserFacingError, type Messenger } from '@/lib/browser/messenger'

import { ErrorText } from './error-text'
import { NotificationSettings } from './notifications'
import { useVersion } from './use-live'

type Devices = Awaited<ReturnType<Messenger['linkedDevices']>>

/** The account's devices, removing one, and linking a new one. */
export function Devices({
  messenger,
  onBack,
}: {
  messenger: Messenger
  onBack: () => void
}) {
  const devices = useDevices(messenger)
  const [linking, setLinking] = useState(false)
  const [error, setError] = useState<string | null>(null)

  const remove = async (deviceId: string, name: string) => {
    const self = deviceId === messenger.device.deviceId
    const question = self
      ? 'Unlink this device? Its messages and keys are deleted here.'
      : `Remove “${name}”? It will receive no more messages.`
    if (!confirm(question)) return
    setError(null)
    try {
      await messenger.unlink(deviceId)
      // This device's data is gone: start afresh.
      if (self) location.reload()
    } catch (failure) {
      setError(failure instanceof UserFacingError ? failure.message : 'Removing failed.')
    }
  }

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
        {(devices ?? []).map((device) => {
          const self = device.deviceId === messenger.device.deviceId
          const name = device.name ?? 'Device'
          return (
            <li key={device.deviceId}>
              <span className="summary">
                <span className="name">{name}</span>
                <span className="sub">
                  {self
                    ? 'This device'
                    : formatPresence({
                        online: false,
                        lastSeenAt: device.lastSeenAt ?? 0,
                      })}
                </span>
              </span>
              <button type="button" onClick={() => void remove(device.deviceId, name)}>
                {self ? 'Unlink this device' : 'Remove'}
              </button>
            </li>
          )
        })}
      </ul>

      <NotificationSettings messenger={messenger} />

      <div className="link-new">
        {!linking && (
          <button type="button" className="primary" onClick={() => setLinking(true)}>
            Link a new device
          </button>
        )}
        {linking && (
          <LinkNewDevice messenger={messenger} onDone={() => setLinking(false)} />
        )}
        <ErrorText error={error} />
      </div>
    </section>
  )
}

/** The account's devices, asked of the relay when the pane opens and after changes. */
function useDevices(messenger: Messenger) {
  const version = useVersion(messenger)
  const [devices, setDevices] = useState<Devices>()
  useEffect(() => {
    let active = true
    // A burst of changes (a chat going on) asks once, shortly after.
    const timer = setTimeout(() => {
      messenger.linkedDevices().then(
        (list) => active && setDevices(list),
        (error: unknown) => console.error('[ui] linked devices', error),
      )
    }, 300)
    return () => {
      active = false
      clearTimeout(timer)
    }
  }, [messenger, version])
  return devices
}

/** Shows the link code (and QR code) until a new device has been linked with it. */
function LinkNewDevice({
  messenger,
  onDone,
}: {
  messenger: Messenger
  onDone: () => void
}) {
  const [code, setCode] = useState<string | null>(null)
  const [asking, setAsking] = useState<{ name: string; answer: (yes: boolean) => void }>()
  const [linked, setLinked] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    const controller = new AbortController()
    const confirm = (name: string) =>
      new Promise<boolean>((resolve) =>
        setAsking({
          name,
          answer: (yes) => {
            setAsking(undefined)
            resolve(yes)
          },
        }),
      )
    messenger
      .linkNewDevice(
        (state) => {
          if ('code' in state) setCode(state.code)
          else setLinked(state.linked)
        },
        confirm,
        controller.signal,
      )
      .catch((failure: unknown) => {
        setError(failure instanceof UserFacingError ? failure.message : 'Linking failed.')
        if (!(failure instanceof UserFacingError)) console.error('[ui] link', failure)
      })
    return () => controller.abort()
  }, [messenger])

  if (linked) {
    return (
      <p role="status">
        Linked “{linked}”. Your recent chats are on their way to it.{' '}
        <button type="button" onClick={onDone}>
          Done
        </button>
      </p>
    )
  }
  if (error) return <ErrorText error={error} />
  if (asking) {
    return (
      <div role="group" aria-label="Confirm the new device" className="link-code">
        <p>
          A device called “{asking.name}” typed the code. Link it only if it is yours and
          in front of you: it will read all your new messages.
        </p>
        <button type="button" className="primary" onClick={() => asking.answer(true)}>
          Link it
        </button>{' '}
        <button type="button" onClick={() => asking.answer(false)}>
          Cancel
        </button>
      </div>
    )
  }
  if (!code) return <p className="sub">Making a code…</p>
  return <LinkCode code={code} />
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
      <p>
        On the new device, choose “Link to an existing account” and enter this code, or
        scan it. It works once, for 5 minutes.
      </p>
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
