// js-dht.mjs: a js-libp2p Kademlia node (tcp, noise, yamux, identify, ping,
// @libp2p/kad-dht) for kping's DHT interop tests. It listens on
// /ip4/127.0.0.1/tcp/0 only.
//
// The DHT is set up the way a LAN/loopback test needs it:
//  - clientMode: false (js otherwise serves only once it has a public addr);
//  - passthroughMapper (the default mapper drops loopback addresses from
//    every peer it hears of, so nothing on 127.0.0.1 would be dialable);
//  - a validator and a selector for the /kping/ namespace (js picks them by
//    the key's first path segment, and refuses keys it has none for).
//
//   js-dht.mjs serve --protocol P [--bootstrap ADDR]
//       print the node's multiaddr (with /p2p) on one line, serve until killed.
//   js-dht.mjs put --protocol P --bootstrap ADDR KEY VALUE
//       { self, key, stored: [peer ids that echoed the record], errors }
//   js-dht.mjs get --protocol P --bootstrap ADDR KEY
//       { self, key, value, from, answers: [{ from, value }] }; exit 1 when no
//       value was found
//   js-dht.mjs provide --protocol P --bootstrap ADDR TEXT
//       provide the raw CIDv1 of sha2-256(TEXT):
//       { self, cid, multihash (hex), announced: [peer ids] }
//   js-dht.mjs find-providers --protocol P --bootstrap ADDR TEXT|--hex MH
//       { cid, multihash, providers: [{ id, addrs }] }; exit 1 when none
//   js-dht.mjs find-peer --protocol P --bootstrap ADDR PEER_ID
//       { id, addrs }; exit 1 when not found
//   js-dht.mjs crowd --protocol P --bootstrap ADDR [--nodes N] [--fake-addrs M]
//       N DHT servers (default 20) in this process join through ADDR, each
//       also announcing M (default 10) webtransport addresses with two
//       certhashes, as public js and go nodes do; print { peers } once all
//       are in ADDR's neighbourhood, then serve until killed. ADDR's
//       FIND_NODE answers then pass 16 KiB.
//
// Every mode but serve dials the bootstrap peer, waits until it is in the
// routing table, runs the one operation, prints one JSON line and exits.
// Every wait is bounded; any failure exits non-zero with a message on stderr.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { CODE_P2P, multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { printAddrUntilSignal, stopNode } from './js-common.mjs'

const DIAL_TIMEOUT_MS = 10_000
const TABLE_TIMEOUT_MS = 10_000
const QUERY_TIMEOUT_MS = 20_000

function usage () {
  console.error('usage: js-dht.mjs serve|put|get|provide|find-providers|find-peer --protocol P [--bootstrap ADDR] [ARGS]')
  process.exit(2)
}

function parseArgs (argv) {
  const opts = { mode: argv[0], protocol: null, bootstrap: null, hex: null, nodes: 20, fakeAddrs: 10, args: [] }
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--protocol') opts.protocol = argv[++i]
    else if (argv[i] === '--bootstrap') opts.bootstrap = argv[++i]
    else if (argv[i] === '--hex') opts.hex = argv[++i]
    else if (argv[i] === '--nodes') opts.nodes = Number(argv[++i])
    else if (argv[i] === '--fake-addrs') opts.fakeAddrs = Number(argv[++i])
    else opts.args.push(argv[i])
  }
  if (!Number.isInteger(opts.nodes) || !Number.isInteger(opts.fakeAddrs)) usage()
  const nargs = { serve: 0, crowd: 0, put: 2, get: 1, provide: 1, 'find-providers': opts.hex != null ? 0 : 1, 'find-peer': 1 }[opts.mode]
  if (nargs == null || opts.protocol == null || opts.args.length !== nargs) usage()
  if (opts.mode !== 'serve' && opts.bootstrap == null) usage()
  return opts
}

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })
const hex = (b) => Buffer.from(b).toString('hex')

// M webtransport addresses of the kind public nodes announce (two certhashes
// each, about 130 bytes); nothing listens on them.
function fakeAddrs (n, m) {
  // a multibase (base64url) sha2-256 multihash
  const certhash = (k) => 'u' + Buffer.concat([Buffer.from([0x12, 0x20]), Buffer.alloc(32, (n * 64 + k) % 256)]).toString('base64url')
  return Array.from({ length: m }, (_, k) =>
    `/ip4/127.0.0.1/udp/${40000 + k}/quic-v1/webtransport/certhash/${certhash(2 * k)}/certhash/${certhash(2 * k + 1)}`)
}

async function newNode (protocol, appendAnnounce = []) {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'], appendAnnounce },
    // every peer of these tests dials from 127.0.0.1: lift the per-host
    // inbound rate limit (5 a second), which a crowd joining at once trips
    connectionManager: { inboundConnectionThreshold: 1000, maxIncomingPendingConnections: 100 },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol,
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        validators: { kping: async () => {} },
        selectors: { kping: () => 0 }
      })
    }
  })
}

// Dial ADDR and wait until its peer is in the DHT routing table (js adds it
// after identify shows it speaks the protocol, and a ping answered).
async function join (node, addr) {
  const ma = multiaddr(addr)
  const id = ma.getComponents().findLast(c => c.code === CODE_P2P)?.value
  if (id == null) throw new Error(`${addr} has no /p2p/ peer id`)
  const peer = peerIdFromString(id)
  await node.dial(ma, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
  const deadline = Date.now() + TABLE_TIMEOUT_MS
  while (await node.services.dht.routingTable.find(peer) == null) {
    if (Date.now() > deadline) {
      throw new Error(`${id} not in the routing table ${TABLE_TIMEOUT_MS} ms after the dial (does it list the protocol in identify?)`)
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return peer
}

async function cidOf (text) {
  return CID.createV1(raw.code, await sha256.digest(utf8.encode(text)))
}

async function put (node, key, value, signal) {
  const stored = []
  const errors = []
  for await (const ev of node.services.dht.put(utf8.encode(key), utf8.encode(value), { signal })) {
    if (ev.name === 'PEER_RESPONSE' && ev.record != null && fromUtf8.decode(ev.record.value) === value) {
      stored.push(ev.from.toString())
    } else if (ev.name === 'QUERY_ERROR') {
      errors.push(`${ev.from}: ${ev.error?.message ?? ev.error}`)
    }
  }
  return { key, stored, errors }
}

async function get (node, key, signal) {
  // every peer's answer, not just the value js picks in the end
  const answers = []
  let best = null
  for await (const ev of node.services.dht.get(utf8.encode(key), { signal })) {
    if (ev.name === 'PEER_RESPONSE' && ev.record != null) {
      answers.push({ from: ev.from.toString(), value: fromUtf8.decode(ev.record.value) })
    } else if (ev.name === 'VALUE') {
      best = { value: fromUtf8.decode(ev.value), from: ev.from.toString() }
    }
  }
  return best == null ? null : { key, ...best, answers }
}

async function provide (node, text, signal) {
  const cid = await cidOf(text)
  const announced = []
  for await (const ev of node.services.dht.provide(cid, { signal })) {
    // ADD_PROVIDER has no answer: js reports a completed send as a
    // PEER_RESPONSE of that type.
    if (ev.name === 'PEER_RESPONSE' && ev.messageType === 'ADD_PROVIDER') announced.push(ev.from.toString())
  }
  return { cid: cid.toString(), multihash: hex(cid.multihash.bytes), announced }
}

async function findProviders (node, text, hexMh, signal) {
  const cid = hexMh != null
    ? CID.createV1(raw.code, Digest.decode(Buffer.from(hexMh, 'hex')))
    : await cidOf(text)
  const providers = new Map()
  for await (const ev of node.services.dht.findProviders(cid, { signal })) {
    if (ev.name !== 'PROVIDER') continue
    for (const p of ev.providers) {
      const addrs = providers.get(p.id.toString()) ?? new Set()
      for (const a of p.multiaddrs) addrs.add(a.toString())
      providers.set(p.id.toString(), addrs)
    }
  }
  return {
    cid: cid.toString(),
    multihash: hex(cid.multihash.bytes),
    providers: [...providers].map(([id, addrs]) => ({ id, addrs: [...addrs] }))
  }
}

async function findPeer (node, id, signal) {
  for await (const ev of node.services.dht.findPeer(peerIdFromString(id), { signal })) {
    if (ev.name === 'FINAL_PEER' && ev.peer.id.toString() === id) {
      return { id, addrs: ev.peer.multiaddrs.map(a => a.toString()) }
    }
  }
  return null
}

async function serve (node, opts) {
  if (opts.bootstrap != null) await join(node, opts.bootstrap)
  printAddrUntilSignal(node)
}

async function crowd (opts) {
  const nodes = await Promise.all(Array.from({ length: opts.nodes }, (_, n) =>
    newNode(opts.protocol, fakeAddrs(n, opts.fakeAddrs))))
  // What matters is that the bootstrap node puts them in its table (which
  // the test checks through its answers); a crowd node that is slow to put
  // the bootstrap node in its own is no failure.
  await Promise.all(nodes.map(n => join(n, opts.bootstrap).catch(() => {})))
  console.log(JSON.stringify({ peers: nodes.map(n => n.peerId.toString()) }))
  const stop = async () => {
    await Promise.all(nodes.map(stopNode))
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

const opts = parseArgs(process.argv.slice(2))
let node
try {
  if (opts.mode === 'crowd') {
    await crowd(opts)
  } else {
    node = await newNode(opts.protocol)
  }
  if (opts.mode === 'crowd') {
    // serving until killed
  } else if (opts.mode === 'serve') {
    await serve(node, opts)
  } else {
    await join(node, opts.bootstrap)
    const signal = AbortSignal.timeout(QUERY_TIMEOUT_MS)
    let res
    if (opts.mode === 'put') res = await put(node, opts.args[0], opts.args[1], signal)
    else if (opts.mode === 'get') res = await get(node, opts.args[0], signal)
    else if (opts.mode === 'provide') res = await provide(node, opts.args[0], signal)
    else if (opts.mode === 'find-providers') res = await findProviders(node, opts.args[0], opts.hex, signal)
    else res = await findPeer(node, opts.args[0], signal)
    if (res == null || (opts.mode === 'find-providers' && res.providers.length === 0)) {
      console.log(JSON.stringify({ self: node.peerId.toString(), found: false, ...(res ?? {}) }))
      process.exitCode = 1
    } else {
      console.log(JSON.stringify({ self: node.peerId.toString(), ...res }))
    }
    await stopNode(node)
  }
} catch (err) {
  console.error(`js-dht ${opts.mode}: ${err.message ?? err}`)
  process.exit(1)
}
if (opts.mode !== 'serve' && opts.mode !== 'crowd') process.exit(process.exitCode ?? 0)
