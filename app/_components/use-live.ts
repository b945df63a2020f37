'use client'

import { useEffect, useState, useSyncExternalStore } from 'react'

import type { Messenger } from '@/lib/browser/messenger'

/** A number that changes whenever the messenger's data changes. */
export function useVersion(messenger: Messenger): number {
  return useSyncExternalStore(messenger.subscribe, messenger.getVersion, () => 0)
}

/**
 * Data read from IndexedDB, read again whenever the messenger's data or
 * `key` changes. Answers that arrive out of order are ignored.
 */
export function useLive<T>(
  messenger: Messenger,
  load: () => Promise<T>,
  key: string,
): T | undefined {
  const version = useVersion(messenger)
  const [state, setState] = useState<{ key: string; value: T } | undefined>()

  useEffect(() => {
    let current = true
    load().then(
      (value) => current && setState({ key, value }),
      (error: unknown) => console.error('[ui] reading the local store failed', error),
    )
    return () => {
      current = false
    }
    // `load` is a new function each render; `key` and `version` say when to reload.
  }, [key, version])

  return state?.key === key ? state.value : undefined
}
