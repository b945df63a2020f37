/**
 * The raw-SSE relay for the store-and-forward benchmark, run by
 * `bench/peers/raw-sse.ts` as its own process:
 *
 *   node --import tsx bench/peers/raw-sse-server.ts [port]
 *
 * The least a Node server can do to store and forward over HTTP, as the
 * ceiling for Node on this machine: everything lives in this process's
 * memory, so a crash loses every queued envelope (on purpose).
 *
 * - `POST /send?to=<n>`: the body is the envelope's bytes; 200 once queued.
 * - `GET /stream/<n>`: Server-Sent Events with receiver n's queue, from the
 *   oldest unacknowledged envelope on. Each event carries every envelope
 *   that is ready (up to BATCH), one `data:` line each, `<seq> <base64>`,
 *   and `id:` the last seq. A new stream for n replaces the old one.
 * - `POST /ack/<n>?seq=<s>`: deletes n's envelopes up to seq s (batched:
 *   the client acknowledges every few ms, not per envelope).
 * - `GET /idle`: a stream that never gets an envelope (idle connections).
 *
 * It prints `listening <port>` once it accepts connections, and exits when
 * its stdin closes, so it never outlives the process that started it.
 */
import http from 'node:http'

/** Envelopes per event: bounds one write while a long backlog drains. */
const BATCH = 256
/** Same rate as the Tidings relay's keepalive comments on its streams. */
const HEARTBEAT_MS = 15_000

interface Queue {
  /** Unacknowledged envelopes, oldest first from `head`: `<seq> <base64>`. */
  lines: string[]
  seqs: number[]
  head: number
  nextSeq: number
  stream: http.ServerResponse | null
  /** Index into lines of the next envelope to write to the stream. */
  sent: number
  flushing: boolean
}

const queues = new Map<string, Queue>()
const idle = new Set<http.ServerResponse>()

function queueOf(receiver: string): Queue {
  let queue = queues.get(receiver)
  if (!queue) {
    queue = {
      lines: [],
      seqs: [],
      head: 0,
      nextSeq: 1,
      stream: null,
      sent: 0,
      flushing: false,
    }
    queues.set(receiver, queue)
  }
  return queue
}

/** Writes what the stream has not had yet, a batch per event, minding backpressure. */
function flush(queue: Queue) {
  queue.flushing = false
  const stream = queue.stream
  while (stream && queue.sent < queue.lines.length) {
    const end = Math.min(queue.lines.length, queue.sent + BATCH)
    const lines = queue.lines.slice(queue.sent, end)
    const event = `id: ${queue.seqs[end - 1]}\ndata: ${lines.join('\ndata: ')}\n\n`
    queue.sent = end
    if (!stream.write(event)) {
      queue.flushing = true
      stream.once('drain', () => flush(queue))
      return
    }
  }
}

function scheduleFlush(queue: Queue) {
  if (queue.flushing || !queue.stream) return
  queue.flushing = true
  // Envelopes that come in during one turn of the event loop share an event.
  setImmediate(() => flush(queue))
}

function acknowledge(queue: Queue, seq: number) {
  let acked = queue.head
  while (acked < queue.seqs.length && queue.seqs[acked] <= seq) acked++
  queue.head = acked
  // Drop the acknowledged prefix once it is worth the copy.
  if (queue.head > 1024 && queue.head * 2 > queue.lines.length) {
    queue.lines = queue.lines.slice(queue.head)
    queue.seqs = queue.seqs.slice(queue.head)
    queue.sent -= queue.head
    queue.head = 0
  }
  if (queue.sent < queue.head) queue.sent = queue.head
}

function openStream(response: http.ServerResponse) {
  response.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
  })
  // Sends the headers now: the client counts the stream open on them.
  response.write(': open\n\n')
}

function readBody(request: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => resolve(Buffer.concat(chunks)))
    request.on('error', reject)
  })
}

async function handle(request: http.IncomingMessage, response: http.ServerResponse) {
  const url = new URL(request.url ?? '/', 'http://relay')
  const [, route, receiver] = url.pathname.split('/')

  if (request.method === 'POST' && route === 'send') {
    const body = await readBody(request)
    const queue = queueOf(url.searchParams.get('to') ?? '')
    queue.seqs.push(queue.nextSeq)
    queue.lines.push(`${queue.nextSeq} ${body.toString('base64')}`)
    queue.nextSeq++
    scheduleFlush(queue)
    response.writeHead(200, { 'content-length': '0' }).end()
    return
  }

  if (request.method === 'POST' && route === 'ack' && receiver) {
    await readBody(request)
    acknowledge(queueOf(receiver), Number(url.searchParams.get('seq')))
    response.writeHead(204).end()
    return
  }

  if (request.method === 'GET' && route === 'stream' && receiver) {
    const queue = queueOf(receiver)
    queue.stream?.end()
    queue.stream = response
    // Whatever the last stream got without acknowledging goes out again.
    queue.sent = queue.head
    // A write that was waiting for the old stream to drain never will.
    queue.flushing = false
    openStream(response)
    response.on('close', () => {
      if (queue.stream === response) queue.stream = null
    })
    scheduleFlush(queue)
    return
  }

  if (request.method === 'GET' && route === 'idle') {
    openStream(response)
    idle.add(response)
    response.on('close', () => idle.delete(response))
    return
  }

  response.writeHead(404).end()
}

const server = http.createServer(
  { noDelay: true, keepAlive: true },
  (request, response) => {
    handle(request, response).catch(() => response.destroy())
  },
)
// Streams are long-lived; nothing here should time a connection out.
server.requestTimeout = 0
server.keepAliveTimeout = 60_000

setInterval(() => {
  for (const queue of queues.values()) queue.stream?.write(': keepalive\n\n')
  for (const response of idle) response.write(': keepalive\n\n')
}, HEARTBEAT_MS).unref()

process.stdin.resume()
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))

// The default backlog (511) would drop bursts of connects; the kernel caps it anyway.
server.listen(
  { host: '127.0.0.1', port: Number(process.argv[2] ?? 0), backlog: 4096 },
  () => {
    const address = server.address()
    const port = typeof address === 'object' && address ? address.port : 0
    process.stdout.write(`listening ${port}\n`)
  },
)
