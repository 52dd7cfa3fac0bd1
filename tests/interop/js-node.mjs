// js-node.mjs: a js-libp2p peer (tcp, noise, yamux, identify, ping) for
// kping's interop tests. It listens on /ip4/127.0.0.1/tcp/0 only.
//
//   js-node.mjs serve
//       print the node's full multiaddr (with /p2p) on one line, then serve
//       until killed.
//   js-node.mjs dial ADDR [--pings N]
//       dial ADDR, wait for identify of the remote, ping it N times (a new
//       stream per ping: that is what js-libp2p's ping() does), print one JSON
//       object: { peer, agent, protocolVersion, protocols, listenAddrs,
//       observedAddr, rtts_ms, wall_us }.
//   js-node.mjs swarm ADDR [--clients C] [--pings N]
//       C separate nodes dial ADDR at once, each pings N times; print one JSON
//       summary { clients, pings, ok, failed, errors, elapsed_ms, rtt_ms }.
//   js-node.mjs bulk ADDR [--streams S] [--bytes B]
//       open S /ipfs/ping/1.0.0 streams at once on one connection, send B
//       random bytes on each and check that exactly they come back (yamux
//       flow control past the 256 KiB window, both ways); print JSON
//       { streams, bytes, elapsed_ms }.
//
// --no-early-muxer (any mode): Noise carries no stream_muxers extension, so
// yamux is negotiated with multistream-select after the handshake.
//
// Every wait is bounded (AbortSignal.timeout); any failure exits non-zero
// with a message on stderr.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { CODE_P2P, multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { printAddrUntilSignal, stopNode } from './js-common.mjs'

const DIAL_TIMEOUT_MS = 10_000
const IDENTIFY_TIMEOUT_MS = 10_000
const PING_TIMEOUT_MS = 10_000
const BULK_TIMEOUT_MS = 30_000
const BULK_CHUNK = 16384

function usage () {
  console.error('usage: js-node.mjs serve | dial ADDR [--pings N] | swarm ADDR [--clients C] [--pings N] |')
  console.error('       bulk ADDR [--streams S] [--bytes B]; --no-early-muxer in each')
  process.exit(2)
}

function parseArgs (argv) {
  const opts = { mode: argv[0], addr: null, pings: 10, clients: 20, streams: 4, bytes: 1048576, earlyMuxer: true }
  let i = 1
  if (opts.mode === 'dial' || opts.mode === 'swarm' || opts.mode === 'bulk') {
    opts.addr = argv[i++]
    if (opts.addr == null) usage()
  } else if (opts.mode !== 'serve') {
    usage()
  }
  for (; i < argv.length; i++) {
    const flag = argv[i]
    if (flag === '--no-early-muxer') {
      opts.earlyMuxer = false
      continue
    }
    const value = Number(argv[++i])
    if (!Number.isInteger(value) || value < 0) usage()
    if (flag === '--pings') opts.pings = value
    else if (flag === '--clients' && opts.mode === 'swarm') opts.clients = value
    else if (flag === '--streams' && opts.mode === 'bulk') opts.streams = value
    else if (flag === '--bytes' && opts.mode === 'bulk') opts.bytes = value
    else usage()
  }
  return opts
}

// Noise that neither offers nor takes a muxer in its handshake payload, so
// the muxer is negotiated with multistream-select after the handshake.
function noiseWithoutEarlyMuxer () {
  return (components) => {
    const n = noise()(components)
    const secureInbound = n.secureInbound.bind(n)
    const secureOutbound = n.secureOutbound.bind(n)
    n.secureInbound = (conn, options) => secureInbound(conn, { ...options, skipStreamMuxerNegotiation: true })
    n.secureOutbound = (conn, options) => secureOutbound(conn, { ...options, skipStreamMuxerNegotiation: true })
    return n
  }
}

async function newNode () {
  // bulk opens several ping streams on one connection: lift ping's limit of
  // one outbound stream per connection (its default) for that mode only.
  const pingInit = { timeout: PING_TIMEOUT_MS }
  if (opts.mode === 'bulk') pingInit.maxOutboundStreams = opts.streams + 1
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [opts.earlyMuxer ? noise() : noiseWithoutEarlyMuxer()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(pingInit)
    }
  })
}

// Dial, wait for the remote's identify, ping it `pings` times.
async function dialAndPing (node, addr, pings) {
  const ma = multiaddr(addr)
  const want = ma.getComponents().findLast(c => c.code === CODE_P2P)?.value
  if (want == null) throw new Error(`${addr} has no /p2p/ peer id`)
  const identified = new Promise((resolve, reject) => {
    const signal = AbortSignal.timeout(IDENTIFY_TIMEOUT_MS)
    const onIdentify = (evt) => {
      if (evt.detail.peerId.toString() !== want) return
      node.removeEventListener('peer:identify', onIdentify)
      resolve(evt.detail)
    }
    node.addEventListener('peer:identify', onIdentify)
    signal.addEventListener('abort', () => {
      node.removeEventListener('peer:identify', onIdentify)
      reject(new Error(`no identify from ${addr} within ${IDENTIFY_TIMEOUT_MS} ms`))
    })
  })
  identified.catch(() => {})
  const start = process.hrtime.bigint()
  const conn = await node.dial(ma, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
  if (conn.remotePeer.toString() !== want) {
    throw new Error(`dialled ${want}, connected to ${conn.remotePeer}`)
  }
  const id = await identified
  const rtts = []
  for (let i = 0; i < pings; i++) {
    try {
      rtts.push(await node.services.ping.ping(ma, { signal: AbortSignal.timeout(PING_TIMEOUT_MS) }))
    } catch (err) {
      throw new Error(`ping ${i + 1}/${pings}: ${err.message ?? err}`)
    }
  }
  const wallUs = Number((process.hrtime.bigint() - start) / 1000n)
  return {
    peer: id.peerId.toString(),
    remoteAddr: conn.remoteAddr.toString(),
    agent: id.agentVersion ?? null,
    protocolVersion: id.protocolVersion ?? null,
    protocols: [...id.protocols].sort(),
    listenAddrs: id.listenAddrs.map(a => a.toString()),
    observedAddr: id.observedAddr?.toString() ?? null,
    rtts_ms: rtts,
    wall_us: wallUs
  }
}

function stats (values) {
  if (values.length === 0) return null
  const s = [...values].sort((a, b) => a - b)
  const pick = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))]
  return {
    min: s[0],
    avg: s.reduce((a, b) => a + b, 0) / s.length,
    max: s[s.length - 1],
    p50: pick(0.5),
    p99: pick(0.99)
  }
}

async function serve () {
  const node = await newNode()
  printAddrUntilSignal(node)
}

async function dial (opts) {
  const node = await newNode()
  try {
    const res = await dialAndPing(node, opts.addr, opts.pings)
    console.log(JSON.stringify({ self: node.peerId.toString(), ...res }))
  } finally {
    await stopNode(node)
  }
}

async function swarm (opts) {
  const nodes = await Promise.all(Array.from({ length: opts.clients }, () => newNode()))
  const start = Date.now()
  const results = await Promise.allSettled(nodes.map(n => dialAndPing(n, opts.addr, opts.pings)))
  const elapsed = Date.now() - start
  await Promise.all(nodes.map(stopNode))
  const ok = results.filter(r => r.status === 'fulfilled' && r.value.rtts_ms.length === opts.pings)
  const errors = results.filter(r => r.status === 'rejected').map(r => String(r.reason?.message ?? r.reason))
  const summary = {
    clients: opts.clients,
    pings: opts.pings,
    ok: ok.length,
    failed: opts.clients - ok.length,
    errors,
    peers: nodes.map(n => n.peerId.toString()),
    elapsed_ms: elapsed,
    rtt_ms: stats(ok.flatMap(r => r.value.rtts_ms))
  }
  console.log(JSON.stringify(summary))
  if (summary.failed !== 0) process.exitCode = 1
}

// One echo stream: send `size` random bytes, expect exactly them back.
async function echoStream (conn, k, size, signal) {
  const stream = await conn.newStream('/ipfs/ping/1.0.0', { signal })
  const data = randomBytes(size)
  const got = Buffer.alloc(size)
  let have = 0
  const reader = (async () => {
    for await (const chunk of stream) {
      const buf = chunk.subarray()
      if (have + buf.byteLength > size) throw new Error(`stream ${k}: more than ${size} bytes came back`)
      got.set(buf, have)
      have += buf.byteLength
      if (have === size) return
    }
    throw new Error(`stream ${k}: ended after ${have}/${size} bytes`)
  })()
  reader.catch(() => {})
  for (let off = 0; off < size; off += BULK_CHUNK) {
    if (!stream.send(data.subarray(off, Math.min(size, off + BULK_CHUNK)))) {
      await once(stream, 'drain', { signal })
    }
  }
  await Promise.race([reader, new Promise((resolve, reject) => {
    signal.addEventListener('abort', () => reject(new Error(`stream ${k}: timed out after ${have}/${size} bytes`)))
  })])
  if (!got.equals(data)) throw new Error(`stream ${k}: the echo differs from what was sent`)
  await stream.close({ signal })
}

async function bulk (opts) {
  const node = await newNode()
  try {
    const conn = await node.dial(multiaddr(opts.addr), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
    const signal = AbortSignal.timeout(BULK_TIMEOUT_MS)
    const start = Date.now()
    await Promise.all(Array.from({ length: opts.streams }, (_, k) => echoStream(conn, k, opts.bytes, signal)))
    console.log(JSON.stringify({ streams: opts.streams, bytes: opts.bytes, elapsed_ms: Date.now() - start }))
  } finally {
    await stopNode(node)
  }
}

const opts = parseArgs(process.argv.slice(2))
try {
  if (opts.mode === 'serve') await serve()
  else if (opts.mode === 'dial') await dial(opts)
  else if (opts.mode === 'bulk') await bulk(opts)
  else await swarm(opts)
} catch (err) {
  console.error(`js-node ${opts.mode}: ${err.message ?? err}`)
  process.exit(1)
}
if (opts.mode !== 'serve') process.exit(process.exitCode ?? 0)
