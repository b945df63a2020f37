/**
 * One system under the store-and-forward benchmark (`npm run bench`):
 * Tidings' relay or one of the peers a user would otherwise pick. Every
 * peer runs the same workload through this interface, one after another in
 * the same run, so the figures are comparable.
 *
 * Receivers and senders are numbered 0..devices-1. An envelope is opaque
 * bytes; the harness writes its send time into the first 8 bytes and a
 * sequence number after, and counts what arrives.
 */
export interface Peer {
  readonly name: string

  /**
   * Starts the server on 127.0.0.1 with fresh state in `dataDir`, and
   * prepares `devices` receivers and `devices` senders (accounts, sessions,
   * persistent subscriptions). Receivers start disconnected; their queues
   * exist, so what is sent to them before they connect is kept.
   */
  start(devices: number, dataDir: string): Promise<void>

  /** The server's process ids: their CPU time and RSS are the server's cost. */
  serverPids(): number[]

  /**
   * Connects receiver `receiver`, which from then on hands every envelope it
   * gets to `onEnvelope` and acknowledges it the way its protocol does
   * (batched where the protocol allows), so the server may delete it.
   * Resolves once the receiver is connected and subscribed.
   */
  connect(receiver: number, onEnvelope: (payload: Uint8Array) => void): Promise<void>

  /** Disconnects a receiver; its queue stays on the server. */
  disconnect(receiver: number): Promise<void>

  /**
   * Sender `sender` sends one envelope to receiver `receiver`. Resolves when
   * the server has accepted it (MQTT PUBACK, XEP-0198 ack, HTTP 200): from
   * then on the server must not lose it.
   */
  send(sender: number, receiver: number, payload: Uint8Array): Promise<void>

  /** SIGKILLs the server and starts it again on the same data. */
  crash(): Promise<void>

  /**
   * Prepares what `count` idle connections need before they open (Tidings
   * registers their devices), so the memory measured for open connections
   * is theirs alone.
   */
  prepareIdle?(count: number): Promise<void>

  /**
   * Opens `count` idle receiving connections (streams that get nothing),
   * separate from the numbered receivers; resolves when all are open.
   * Returns the function that closes them.
   */
  openIdle(count: number): Promise<() => Promise<void>>

  /** Closes every client and stops the server; removes nothing in dataDir. */
  stop(): Promise<void>
}
