// gen-key.mjs FILE: write a new Ed25519 key as js-libp2p stores it
// (privateKeyToProtobuf) to FILE, print its peer id on stdout.
import { writeFileSync } from 'node:fs'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'

if (process.argv.length !== 3) {
  console.error('usage: gen-key.mjs FILE')
  process.exit(2)
}
const key = await generateKeyPair('Ed25519')
writeFileSync(process.argv[2], privateKeyToProtobuf(key), { mode: 0o600 })
console.log(peerIdFromPrivateKey(key).toString())
