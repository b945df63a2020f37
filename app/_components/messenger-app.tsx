'use client'

import { useEffect, useState } from 'react'

import { Messenger } from '@/lib/browser/messenger'
import { registerServiceWorker } from '@/lib/browser/notifications'

import { ChatList } from './chat-list'
import { Conversation } from './conversation'
import { Devices } from './devices'
import { Onboarding } from './onboarding'
import { useVersion } from './use-live'

type Phase = 'loading' | 'onboarding' | 'ready'

/**
 * The whole client: onboarding until this browser has a device, then the
 * chat list beside (or, on a narrow screen, instead of) the open pane.
 */
export function MessengerApp() {
  const [phase, setPhase] = useState<Phase>('loading')
  const [messenger, setMessenger] = useState<Messenger | null>(null)
  const [failure, setFailure] = useState<string | null>(null)
  // Loads the device once on mount, and again after registering. One
  // Messenger runs per load; the effect's cleanup stops it.
  const [loads, setLoads] = useState(0)
  // A newer version waits to take over until asked (or every page is closed).
  const [update, setUpdate] = useState<(() => void) | null>(null)

  useEffect(() => registerServiceWorker((apply) => setUpdate(() => apply)), [])

  useEffect(() => {
    let active = true
    let loaded: Messenger | null = null
    Messenger.load().then(
      (found) => {
        if (!active) return
        if (!found) return setPhase('onboarding')
        loaded = found
        found.start()
        setMessenger(found)
        setPhase('ready')
      },
      (error: unknown) => {
        console.error('[ui] opening the local store failed', error)
        setFailure(
          'This browser does not let Tidings keep data (IndexedDB is unavailable).',
        )
      },
    )
    return () => {
      active = false
      loaded?.stop()
    }
  }, [loads])

  const banner = update && (
    <div className="update" role="status">
      <p>A new version of Tidings is ready.</p>
      <button type="button" onClick={update}>
        Reload
      </button>
    </div>
  )

  if (failure) return <p className="fatal">{failure}</p>
  if (phase === 'loading') return <p className="loading">Opening Tidings…</p>
  if (phase === 'onboarding' || !messenger) {
    return (
      <Onboarding
        onRegistered={() => {
          setPhase('loading')
          setLoads((count) => count + 1)
        }}
      />
    )
  }
  return (
    <>
      {banner}
      <Main messenger={messenger} onRemoved={() => setLoads((count) => count + 1)} />
    </>
  )
}

type Pane = { kind: 'chat'; id: string } | { kind: 'devices' } | null

function Main({ messenger, onRemoved }: { messenger: Messenger; onRemoved: () => void }) {
  const [pane, setPane] = useState<Pane>(null)
  useVersion(messenger)
  useOpenChatRequests((id) => setPane({ kind: 'chat', id }))

  if (messenger.removed) return <Removed messenger={messenger} onDeleted={onRemoved} />

  return (
    <div className="app" data-pane={pane ? 'open' : 'closed'}>
      <ChatList
        messenger={messenger}
        openId={pane?.kind === 'chat' ? pane.id : null}
        onOpen={(id) => setPane({ kind: 'chat', id })}
        onDevices={() => setPane({ kind: 'devices' })}
      />
      <main className="pane">
        {pane?.kind === 'chat' && (
          <Conversation
            key={pane.id}
            messenger={messenger}
            conversation={pane.id}
            onBack={() => setPane(null)}
          />
        )}
        {pane?.kind === 'devices' && (
          <Devices messenger={messenger} onBack={() => setPane(null)} />
        )}
        {!pane && (
          <div className="empty">
            <h2>Tidings</h2>
            <p>Messages are end-to-end encrypted. Pick a chat or start a new one.</p>
          </div>
        )}
      </main>
    </div>
  )
}

/**
 * Opens the chat a notification was clicked for: named in the address
 * (`/?chat=name`, a page the service worker opened) or in a message from
 * the service worker to a page already open.
 */
function useOpenChatRequests(open: (conversation: string) => void) {
  useEffect(() => {
    const url = new URL(location.href)
    const named = url.searchParams.get('chat')
    if (named) {
      open(named)
      url.searchParams.delete('chat')
      history.replaceState(null, '', url)
    }
    if (!('serviceWorker' in navigator)) return
    const onMessage = (event: MessageEvent) => {
      const data = event.data as { kind?: string; conversation?: unknown } | null
      if (data?.kind === 'open-chat' && typeof data.conversation === 'string') {
        open(data.conversation)
      }
    }
    navigator.serviceWorker.addEventListener('message', onMessage)
    return () => navigator.serviceWorker.removeEventListener('message', onMessage)
    // Once per page; `open` only sets state.
  }, [])
}

/** This device is no longer on its account: say so, and offer to delete its data. */
function Removed({
  messenger,
  onDeleted,
}: {
  messenger: Messenger
  onDeleted: () => void
}) {
  const [busy, setBusy] = useState(false)
  const remove = async () => {
    setBusy(true)
    await messenger.deleteLocalData().catch((error: unknown) => {
      console.error('[ui] deleting local data', error)
    })
    // A fresh page opens the database afresh, now empty.
    location.reload()
    onDeleted()
  }
  return (
    <main className="onboarding">
      <h1>Tidings</h1>
      <p role="alert">
        This device is no longer linked to {messenger.username}. It receives no new
        messages. Its chats are still here until you delete them.
      </p>
      <button
        type="button"
        className="primary"
        disabled={busy}
        onClick={() => void remove()}
      >
        Delete this device’s data
      </button>
    </main>
  )
}
