// load-key.mjs FILE: read a PrivateKey protobuf with js-libp2p
// (privateKeyFromProtobuf), print its peer id and then its CID form.
import { readFileSync } from 'node:fs'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'

if (process.argv.length !== 3) {
  console.error('usage: load-key.mjs FILE')
  process.exit(2)
}
const key = privateKeyFromProtobuf(readFileSync(process.argv[2]))
const id = peerIdFromPrivateKey(key)
console.log(id.toString())
console.log(id.toCID().toString())
