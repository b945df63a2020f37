'use client'

import { useState } from 'react'

import { UserFacingError, type Messenger } from '@/lib/browser/messenger'

import { ErrorText } from './error-text'
import { useLive } from './use-live'

/** Turns notifications on, with what went wrong in words when it could not. */
function useTurnOn(messenger: Messenger) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const turnOn = async () => {
    setBusy(true)
    setError(null)
    try {
      await messenger.turnOnNotifications()
    } catch (failure) {
      setError(
        failure instanceof UserFacingError
          ? failure.message
          : 'Notifications could not be turned on.',
      )
    } finally {
      setBusy(false)
    }
  }
  return { busy, error, turnOn }
}

/**
 * Above the chats while notifications are off: the offer to turn them on.
 * The browser asks only after this click (Safari asks for nothing else).
 */
export function NotificationOffer({ messenger }: { messenger: Messenger }) {
  const setting = useLive(messenger, () => messenger.notificationSetting(), 'setting')
  const [dismissed, setDismissed] = useState(false)
  const { busy, error, turnOn } = useTurnOn(messenger)
  if (setting?.state !== 'off' || dismissed) return null

  return (
    <div className="offer" role="region" aria-label="Notifications">
      <p>Get notified of new messages while Tidings is closed.</p>
      <div className="actions">
        <button
          type="button"
          className="primary"
          disabled={busy}
          onClick={() => void turnOn()}
        >
          Turn on notifications
        </button>
        <button type="button" onClick={() => setDismissed(true)}>
          Not now
        </button>
      </div>
      <ErrorText error={error} />
    </div>
  )
}

/** This device's notification settings, under "Linked devices". */
export function NotificationSettings({ messenger }: { messenger: Messenger }) {
  const setting = useLive(messenger, () => messenger.notificationSetting(), 'setting')
  const { busy, error, turnOn } = useTurnOn(messenger)
  const [offError, setOffError] = useState<string | null>(null)
  // Shown at once; the stored setting follows a moment later.
  const [previews, setPreviews] = useState<boolean | null>(null)
  if (!setting) return null

  const turnOff = async () => {
    setOffError(null)
    try {
      await messenger.turnOffNotifications()
    } catch (failure) {
      setOffError(
        failure instanceof UserFacingError ? failure.message : 'Turning off failed.',
      )
    }
  }

  return (
    <section className="settings" aria-labelledby="notifications-heading">
      <h3 id="notifications-heading">Notifications on this device</h3>
      {setting.state === 'unsupported' && (
        <p className="sub">This browser cannot show notifications from Tidings.</p>
      )}
      {setting.state === 'unavailable' && (
        <p className="sub">This server does not send notifications.</p>
      )}
      {setting.state === 'blocked' && (
        <p className="sub">
          Blocked for this site. Allow notifications in the browser’s site settings.
        </p>
      )}
      {setting.state === 'off' && (
        <button type="button" disabled={busy} onClick={() => void turnOn()}>
          Turn on notifications
        </button>
      )}
      {setting.state === 'on' && (
        <>
          <label className="check">
            <input
              type="checkbox"
              checked={previews ?? setting.previews}
              onChange={(event) => {
                // Ticked once stored: what the box shows is what the
                // service worker will read, even if the app closes now.
                const checked = event.target.checked
                void messenger.setNotificationPreviews(checked).then(
                  () => setPreviews(checked),
                  () => setOffError('Saving the setting failed.'),
                )
              }}
            />
            Show sender and text in notifications
          </label>
          <button type="button" onClick={() => void turnOff()}>
            Turn off notifications
          </button>
        </>
      )}
      <ErrorText error={error ?? offError} />
    </section>
  )
}
