// kameo-vectors.mjs FIXTURE: cross-checks the hand-derived kameo 0.19 wire
// vectors (fixtures/kameo-vectors.json, also checked by tests/unit/test-kameo.c)
// with independent implementations: each CBOR vector must decode with cbor-x,
// and each MessagePack vector with @msgpack/msgpack, to the expected value,
// and re-encode to the very same bytes. Byte strings are {"$bytes": hex}.
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { Decoder, Encoder } from 'cbor-x';
import { decode as mpDecode, encode as mpEncode } from '@msgpack/msgpack';

const fixture = JSON.parse(readFileSync(process.argv[2], 'utf8'));

// Expected values: {"$bytes": hex} becomes a Buffer.
function revive(v) {
  if (Array.isArray(v)) return v.map(revive);
  if (v !== null && typeof v === 'object') {
    if ('$bytes' in v) return Buffer.from(v.$bytes, 'hex');
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
  }
  return v;
}

// Decoded values: any byte array becomes a Buffer, objects plain objects.
function normalize(v) {
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, normalize(x)]));
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  }
  return v;
}

// Plain CBOR: no record extension, no typed-array tags, maps as objects,
// shortest map heads (variableMapSize; cbor-x otherwise writes b9 00 nn).
const cborOptions = { useRecords: false, mapsAsObjects: true, tagUint8Array: false, variableMapSize: true };
const cborDecoder = new Decoder(cborOptions);
const cborEncoder = new Encoder(cborOptions);

let failures = 0;
function check(kind, name, hex, expected, decode, encode) {
  const bytes = Buffer.from(hex, 'hex');
  let got;
  try {
    got = normalize(decode(bytes));
  } catch (e) {
    console.log(`FAIL: ${kind} ${name}: does not decode: ${e.message}`);
    failures++;
    return;
  }
  if (!isDeepStrictEqual(got, expected)) {
    console.log(`FAIL: ${kind} ${name}: decodes to ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
    failures++;
    return;
  }
  const again = Buffer.from(encode(expected)).toString('hex');
  if (again !== hex) {
    console.log(`FAIL: ${kind} ${name}: re-encodes to ${again}, expected ${hex}`);
    failures++;
    return;
  }
  console.log(`ok: ${kind} ${name}`);
}

for (const v of fixture.cbor) {
  check('cbor', v.name, v.hex, revive(v.value), (b) => cborDecoder.decode(b), (x) => cborEncoder.encode(x));
}
for (const v of fixture.msgpack) {
  check('msgpack', v.name, v.hex, revive(v.value), (b) => mpDecode(b), (x) => mpEncode(x));
}
const total = fixture.cbor.length + fixture.msgpack.length;
if (total < 30) {
  console.log(`FAIL: only ${total} vectors in ${process.argv[2]}`);
  failures++;
}
if (failures > 0) {
  console.log(`${failures} of ${total} vectors failed`);
  process.exit(1);
}
console.log(`all ${total} vectors agree`);
