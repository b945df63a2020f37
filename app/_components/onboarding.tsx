'use client'

import { useState, type FormEvent } from 'react'

import { Messenger, UserFacingError } from '@/lib/browser/messenger'

import { ErrorText } from './error-text'
import { ScanCode } from './scan-code'

/** Creates this browser's account and device, or (soon) links it to one. */
export function Onboarding({ onRegistered }: { onRegistered: () => void }) {
  const [username, setUsername] = useState('')
  const [linking, setLinking] = useState(false)
  const [code, setCode] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  const register = async (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await Messenger.register(username)
      onRegistered()
    } catch (failure) {
      setError(
        failure instanceof UserFacingError
          ? failure.message
          : 'Creating the account failed.',
      )
      if (!(failure instanceof UserFacingError)) console.error('[ui] register', failure)
    } finally {
      setBusy(false)
    }
  }

  const link = async (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await Messenger.link(code)
      onRegistered()
    } catch (failure) {
      setError(failure instanceof UserFacingError ? failure.message : 'Linking failed.')
      if (!(failure instanceof UserFacingError)) console.error('[ui] link', failure)
    } finally {
      setBusy(false)
    }
  }

  return (
    <main className="onboarding">
      <h1>Tidings</h1>
      <p>
        End-to-end encrypted messages. Your keys are made on this device and never leave
        it.
      </p>

      <form onSubmit={(event) => void register(event)} className="card">
        <label htmlFor="username">Username</label>
        <input
          id="username"
          value={username}
          onChange={(event) => setUsername(event.target.value)}
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          maxLength={32}
          required
        />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Creating keys…' : 'Create account'}
        </button>
      </form>

      {!linking ? (
        <button type="button" className="link" onClick={() => setLinking(true)}>
          Link to an existing account
        </button>
      ) : (
        <form onSubmit={(event) => void link(event)} className="card">
          <label htmlFor="link-code">Link code</label>
          <input
            id="link-code"
            value={code}
            onChange={(event) => setCode(event.target.value)}
            autoComplete="off"
            required
          />
          <ScanCode onCode={setCode} />
          <button type="submit" className="primary" disabled={busy}>
            Link device
          </button>
          {busy && <p className="sub">Waiting for your other device to approve…</p>}
        </form>
      )}

      <ErrorText error={error} />
    </main>
  )
}
