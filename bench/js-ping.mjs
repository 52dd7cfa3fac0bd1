// js-ping.mjs: js-libp2p's side of the kping benchmarks, with the js-libp2p
// pinned in tests/interop/package.json (tcp, noise, yamux, @libp2p/ping).
// Node resolves the packages from the script's own directory, so the bench
// scripts run a copy of it next to a node_modules symlink.
//
//   js-ping.mjs serve
//       print the node's multiaddr (with /p2p), serve @libp2p/ping until
//       SIGTERM/SIGINT; the connection manager's limits are raised so that
//       bench/kp-load can load it as it loads kpingd.
//   js-ping.mjs rtt ADDR [--count N] [--warmup W] [--api N]
//       dial ADDR, open ONE /ipfs/ping/1.0.0 stream and make W + N sequential
//       pings of 32 random bytes on it, each timed with hrtime from before
//       send() to the whole echo (checked) having arrived; then N' = --api
//       pings through @libp2p/ping's ping(), which opens a new stream per
//       ping (what its API offers), timed the same way around the call.
//       Prints one JSON line { count, rtt_us: {p50, p99, ...}, api: {...} }.
//   js-ping.mjs cold ADDR
//       start a node, dial ADDR, ping it once with ping(), stop and exit
//       (the cold-start figure times the whole process); prints JSON with
//       the in-process times.
//
// Every wait is bounded; failures exit non-zero.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { randomBytes } from 'node:crypto'

const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PING_LENGTH = 32
const STEP_TIMEOUT_MS = 10_000
// The server's ping handler aborts a stream this old; long rtt runs share one.
const SERVE_STREAM_TIMEOUT_MS = 600_000
const STOP_TIMEOUT_MS = 5_000
const CLIENT_PING_STREAMS = 4
const MAX_COUNT = 10_000_000

const t0 = process.hrtime.bigint()
const sinceStartUs = () => Number((process.hrtime.bigint() - t0) / 1000n)

function usage () {
  console.error('usage: js-ping.mjs serve | rtt ADDR [--count N] [--warmup W] [--api N] | cold ADDR')
  process.exit(2)
}

function parseArgs (argv) {
  const opts = { mode: argv[0], addr: null, count: 2000, warmup: 200, api: 200 }
  let i = 1
  if (opts.mode === 'rtt' || opts.mode === 'cold') {
    opts.addr = argv[i++]
    if (opts.addr == null) usage()
  } else if (opts.mode !== 'serve') {
    usage()
  }
  for (; i < argv.length; i += 2) {
    const value = Number(argv[i + 1])
    if (!Number.isInteger(value) || value < 0 || value > MAX_COUNT) usage()
    if (argv[i] === '--count') opts.count = value
    else if (argv[i] === '--warmup') opts.warmup = value
    else if (argv[i] === '--api') opts.api = value
    else usage()
  }
  return opts
}

// As a server (the handshake and idle-connection baselines) the connection
// manager's defaults would refuse the load: at most 300 connections, 10
// pending inbound handshakes and 5 new connections per second per host.
const SERVE_CONNECTION_MANAGER = {
  maxConnections: 20_000,
  maxIncomingPendingConnections: 1_000,
  inboundConnectionThreshold: 1_000_000
}

async function newNode (listen) {
  return createLibp2p({
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    connectionManager: listen ? SERVE_CONNECTION_MANAGER : {},
    // The monitor pings every peer now and then over /ipfs/ping/1.0.0 and
    // drops those that do not answer: kp-load's idle connections do not.
    connectionMonitor: { enabled: !listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // ping() does not wait for its stream's close to finish, so the next
    // call can find it still counted against the default limit of one.
    services: {
      ping: listen
        ? ping({ timeout: SERVE_STREAM_TIMEOUT_MS })
        : ping({ timeout: STEP_TIMEOUT_MS, maxOutboundStreams: CLIENT_PING_STREAMS })
    }
  })
}

async function stopNode (node) {
  await Promise.race([
    node.stop(),
    new Promise(resolve => setTimeout(resolve, STOP_TIMEOUT_MS).unref())
  ])
}

function stats (us) {
  const s = [...us].sort((a, b) => a - b)
  // nearest rank, as kpingctl and tcp-echo-client
  const pick = (p) => s[Math.max(1, Math.ceil(p / 100 * s.length)) - 1]
  return {
    count: s.length,
    min: s[0],
    avg: s.reduce((a, b) => a + b, 0) / s.length,
    p50: pick(50),
    p99: pick(99),
    max: s[s.length - 1]
  }
}

// One echo of `data` on `stream`, in microseconds.
function pingOnce (stream, data) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const chunks = []
    let got = 0
    const timer = setTimeout(() => done(new Error(`no echo within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS)
    const onMessage = (evt) => {
      const d = evt.data.subarray()
      chunks.push(d)
      got += d.byteLength
      if (got < PING_LENGTH) return
      const echo = Buffer.concat(chunks)
      if (got !== PING_LENGTH || !echo.equals(data)) return done(new Error('wrong echo'))
      done(null, Number(process.hrtime.bigint() - start) / 1000)
    }
    const onClose = () => done(new Error('stream closed'))
    function done (err, us) {
      clearTimeout(timer)
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('close', onClose)
      if (err) reject(err)
      else resolve(us)
    }
    stream.addEventListener('message', onMessage)
    stream.addEventListener('close', onClose)
    stream.send(data)
  })
}

async function rtt (opts) {
  const node = await newNode(false)
  try {
    const ma = multiaddr(opts.addr)
    const stream = await node.dialProtocol(ma, PING_PROTOCOL, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
    const us = []
    for (let i = 0; i < opts.warmup + opts.count; i++) {
      const r = await pingOnce(stream, randomBytes(PING_LENGTH))
      if (i >= opts.warmup) us.push(r)
    }
    await stream.close({ signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
    const api = []
    for (let i = 0; i < opts.api; i++) {
      const start = process.hrtime.bigint()
      await node.services.ping.ping(ma, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
      api.push(Number(process.hrtime.bigint() - start) / 1000)
    }
    console.log(JSON.stringify({
      count: us.length,
      rtt_us: stats(us),
      api: opts.api > 0 ? { note: 'ping(): a new stream per ping', rtt_us: stats(api) } : null
    }))
  } finally {
    await stopNode(node)
  }
}

async function cold (opts) {
  const node = await newNode(false)
  const started = sinceStartUs()
  const rttMs = await node.services.ping.ping(multiaddr(opts.addr), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
  const pong = sinceStartUs()
  await stopNode(node)
  console.log(JSON.stringify({ node_started_us: started, first_pong_us: pong, rtt_ms: rttMs, stopped_us: sinceStartUs() }))
}

async function serve () {
  const node = await newNode(true)
  const addrs = node.getMultiaddrs()
  if (addrs.length === 0) throw new Error('not listening')
  console.log(addrs[0].toString())
  const stop = async () => {
    await stopNode(node)
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

const opts = parseArgs(process.argv.slice(2))
const run = { serve, rtt, cold }[opts.mode]
run(opts).then(() => {
  if (opts.mode !== 'serve') process.exit(0)
}, (err) => {
  console.error(`js-ping.mjs ${opts.mode}: ${err.message ?? err}`)
  console.error(err.stack ?? '')
  process.exit(1)
})
