/* Peer ids: the libp2p/specs peer-ids/peer-ids.md key vectors and examples.
 * The expected peer ids of the key vectors were computed with js-libp2p
 * (@libp2p/peer-id 6.0.15, @libp2p/crypto 5.1.23; multiformats sha256 for the
 * ECDSA and RSA ones). */
#include <string.h>

#include "core/kp-error.h"
#include "core/kp-multibase.h"
#include "core/kp-multihash.h"
#include "core/kp-peer-id.h"

#include "kp-test-util.h"
#include "kp-test-vectors.h"

static void
test_spec_key_vectors(void)
{
        const struct {
                const char *key;
                const char *base58;
                const char *cid;
                gboolean inline_key;
        } vectors[] = {
                { SPEC_ED25519_PUBLIC, "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
                  "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6", TRUE },
                { SPEC_SECP256K1_PUBLIC, "16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY",
                  "bafzaajiiaijcca3xo7uzjzcsyilaj6i54cj44qk7kqzpoao5rti2pjx6udtdbp6kte", TRUE },
                { SPEC_ECDSA_PUBLIC, "QmVMT29id3TUASyfZZ6k9hmNyc2nYabCo4uMSpDw4zrgDk",
                  "bafzbeidigywdclqvl5hxfefwp5onbffcfife7pza57mmfb4tiqmtkdjw64", FALSE },
                { SPEC_RSA_PUBLIC, "QmaeANgBs1DTSxWSrPPtobgQuxW8XTfsS4ydbK4rCHzqxG",
                  "bafzbeifwzcumbiyql7bhv7fe7mixg6i7aohegq75k234m63bnw6dbicmzu", FALSE },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(vectors); i++) {
                g_autoptr(GBytes) buf = kp_test_unhex_bytes(vectors[i].key);
                g_autoptr(KpPublicKey) key = NULL;
                g_autoptr(KpPublicKey) extracted = NULL;
                g_autoptr(GError) error = NULL;
                g_autofree char *text = NULL;
                g_autofree char *cid = NULL;
                KpPeerId id, from_text, from_cid, from_bytes;

                g_test_message("vector %s", vectors[i].base58);
                key = kp_public_key_from_protobuf(g_bytes_get_data(buf, NULL),
                                                  g_bytes_get_size(buf), &error);
                g_assert_no_error(error);
                kp_peer_id_from_public_key(key, &id);
                g_assert_cmpuint(id.bytes[0], ==,
                                 vectors[i].inline_key ? KP_MULTIHASH_IDENTITY
                                                       : KP_MULTIHASH_SHA2_256);
                g_assert_true(kp_peer_id_matches_public_key(&id, key));

                text = kp_peer_id_to_string(&id);
                g_assert_cmpstr(text, ==, vectors[i].base58);
                cid = kp_peer_id_to_cid_string(&id);
                g_assert_cmpstr(cid, ==, vectors[i].cid);

                g_assert_true(kp_peer_id_parse(vectors[i].base58, &from_text, &error));
                g_assert_no_error(error);
                g_assert_true(kp_peer_id_equal(&id, &from_text));
                g_assert_true(kp_peer_id_parse(vectors[i].cid, &from_cid, &error));
                g_assert_no_error(error);
                g_assert_true(kp_peer_id_equal(&id, &from_cid));
                g_assert_true(kp_peer_id_from_bytes(id.bytes, id.len, &from_bytes, &error));
                g_assert_no_error(error);
                g_assert_true(kp_peer_id_equal(&id, &from_bytes));

                extracted = kp_peer_id_extract_public_key(&id, &error);
                if (vectors[i].inline_key) {
                        g_assert_no_error(error);
                        g_assert_true(kp_public_key_equal(key, extracted));
                } else {
                        g_assert_null(extracted);
                        kp_test_assert_error(error, KP_ERROR_NOT_FOUND, "sha2-256");
                }
        }
}

static void
test_spec_private_key(void)
{
        g_autoptr(GBytes) buf = kp_test_unhex_bytes(SPEC_ED25519_PRIVATE);
        g_autoptr(KpKeypair) keypair = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *text = NULL;
        KpPeerId id;

        keypair = kp_keypair_from_private_key_protobuf(g_bytes_get_data(buf, NULL),
                                                       g_bytes_get_size(buf), &error);
        g_assert_no_error(error);
        kp_peer_id_from_public_key(kp_keypair_get_public_key(keypair), &id);
        text = kp_peer_id_to_string(&id);
        g_assert_cmpstr(text, ==, "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");
}

/* The examples in the spec's "String representation" section. */
static void
test_spec_examples(void)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) ed_bytes = kp_test_unhex_bytes(SPEC_PEER_ED_HEX);
        g_autoptr(GBytes) sha_bytes = kp_test_unhex_bytes(SPEC_PEER_SHA_HEX);
        g_autoptr(KpPublicKey) key = NULL;
        g_autofree char *ed_cid = NULL;
        g_autofree char *sha_text = NULL;
        g_autofree char *sha_cid = NULL;
        g_autofree char *ed_text = NULL;
        KpPeerId cid, b58, ed;

        g_assert_true(kp_peer_id_parse(SPEC_PEER_SHA_CID, &cid, &error));
        g_assert_no_error(error);
        g_assert_true(kp_peer_id_parse(SPEC_PEER_SHA, &b58, &error));
        g_assert_no_error(error);
        g_assert_true(kp_peer_id_equal(&cid, &b58));
        g_assert_cmpmem(b58.bytes, b58.len, g_bytes_get_data(sha_bytes, NULL),
                        g_bytes_get_size(sha_bytes));
        sha_text = kp_peer_id_to_string(&cid);
        g_assert_cmpstr(sha_text, ==, SPEC_PEER_SHA);
        sha_cid = kp_peer_id_to_cid_string(&b58);
        g_assert_cmpstr(sha_cid, ==, SPEC_PEER_SHA_CID);

        g_assert_true(kp_peer_id_parse(SPEC_PEER_ED, &ed, &error));
        g_assert_no_error(error);
        g_assert_cmpmem(ed.bytes, ed.len, g_bytes_get_data(ed_bytes, NULL),
                        g_bytes_get_size(ed_bytes));
        ed_text = kp_peer_id_to_string(&ed);
        g_assert_cmpstr(ed_text, ==, SPEC_PEER_ED);
        ed_cid = kp_peer_id_to_cid_string(&ed);
        g_assert_cmpstr(ed_cid, ==,
                        "bafzaajaiaejcal72gwuz2or47oyxxn6b3rkwdmmkrxgkjxzy3rqt5kczyn7lcm3l");
        key = kp_peer_id_extract_public_key(&ed, &error);
        g_assert_no_error(error);
        g_assert_cmpint(key->type, ==, KP_KEY_TYPE_ED25519);
        g_assert_false(kp_peer_id_equal(&ed, &b58));
}

/* A CID in base58btc multibase ('z') names the same peer. */
static void
test_cid_base58(void)
{
        KpPeerId id, parsed;
        g_autoptr(GError) error = NULL;
        g_autoptr(GByteArray) cid = g_byte_array_new();
        g_autofree char *text = NULL;

        g_assert_true(kp_peer_id_parse(SPEC_PEER_ED, &id, &error));
        g_byte_array_append(cid, (const guint8 *)"\x01\x72", 2);
        g_byte_array_append(cid, id.bytes, id.len);
        text = kp_multibase_encode(KP_MULTIBASE_BASE58BTC, cid->data, cid->len);
        g_assert_true(kp_peer_id_parse(text, &parsed, &error));
        g_assert_no_error(error);
        g_assert_true(kp_peer_id_equal(&id, &parsed));
}

/* An ECDSA-typed key whose PublicKey encoding is @encoded_len bytes. */
static KpPublicKey *
key_of_encoded_size(gsize encoded_len)
{
        gsize data_len = encoded_len - 4; /* 08 03 12 <1-byte length> */
        g_autofree guint8 *buf = g_malloc(encoded_len);
        KpPublicKey *key;
        g_autoptr(GError) error = NULL;

        buf[0] = 0x08;
        buf[1] = 0x03;
        buf[2] = 0x12;
        buf[3] = (guint8)data_len;
        memset(buf + 4, 0x5a, data_len);
        key = kp_public_key_from_protobuf(buf, encoded_len, &error);
        g_assert_no_error(error);
        return key;
}

static void
test_inline_boundary(void)
{
        g_autoptr(KpPublicKey) at_limit = key_of_encoded_size(KP_PEER_ID_MAX_INLINE_KEY);
        g_autoptr(KpPublicKey) over_limit = key_of_encoded_size(KP_PEER_ID_MAX_INLINE_KEY + 1);
        g_autoptr(KpPublicKey) extracted = NULL;
        g_autoptr(GError) error = NULL;
        KpPeerId id, again;

        kp_peer_id_from_public_key(at_limit, &id);
        g_assert_cmpuint(id.bytes[0], ==, KP_MULTIHASH_IDENTITY);
        g_assert_cmpuint(id.len, ==, KP_PEER_ID_MAX_BYTES);
        g_assert_true(kp_peer_id_from_bytes(id.bytes, id.len, &again, &error));
        g_assert_no_error(error);
        extracted = kp_peer_id_extract_public_key(&again, &error);
        g_assert_no_error(error);
        g_assert_true(kp_public_key_equal(extracted, at_limit));

        kp_peer_id_from_public_key(over_limit, &id);
        g_assert_cmpuint(id.bytes[0], ==, KP_MULTIHASH_SHA2_256);
        g_assert_cmpuint(id.len, ==, 34);
}

/* A refused peer id leaves the out-param untouched. */
static gboolean
parse_untouched(const guint8 *data, gsize len, GError **error)
{
        KpPeerId id = { 0 };
        gboolean ok = kp_peer_id_parse((const char *)data, &id, error);

        if (!ok)
                g_assert_cmpuint(id.len, ==, 0);
        return ok;
}

static gboolean
from_bytes_untouched(const guint8 *data, gsize len, GError **error)
{
        KpPeerId id = { 0 };
        gboolean ok = kp_peer_id_from_bytes(data, len, &id, error);

        if (!ok)
                g_assert_cmpuint(id.len, ==, 0);
        return ok;
}

static void
test_parse_malformed(void)
{
        g_autofree char *too_long = g_strnfill(KP_MULTIBASE_MAX_TEXT + 1, '1');
        const KpTestMalformed table[] = {
                /* empty */
                { "", KP_ERROR_INVALID, "empty text" },
                /* base58 '0' */
                { "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5S0", KP_ERROR_INVALID,
                  "invalid base58btc character '0'" },
                /* base58 'l' */
                { "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5l", KP_ERROR_INVALID,
                  "invalid base58btc character 'l'" },
                /* base58 one char short */
                { "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5", KP_ERROR_UNSUPPORTED,
                  "unsupported hash code" },
                /* dag-pb CID */
                { "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", KP_ERROR_INVALID,
                  "CID codec 0x70 (dag-pb) is not libp2p-key" },
                /* CIDv1 raw (0x55) of the spec's sha2-256 peer id */
                { "bafkreie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe", KP_ERROR_INVALID,
                  "CID codec 0x55 (raw)" },
                /* "bafz" with the version byte 0x01 changed to 0x02 */
                { "bajzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe",
                  KP_ERROR_UNSUPPORTED, "CID version 2, expected 1" },
                /* CID with only a version */
                { "bae", KP_ERROR_TRUNCATED, "CID codec" },
                /* unknown multibase */
                { "m12345", KP_ERROR_UNSUPPORTED, "unsupported multibase prefix 'm'" },
                /* upper-case base32 */
                { "BAFZBEIE5745RPV2M6TJYUUGYWY4D5EWRQGQQHFNF445HE3OMZPJBX5XQXE",
                  KP_ERROR_UNSUPPORTED, "unsupported multibase prefix 'B'" },
                /* base32 '1' */
                { "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqx1", KP_ERROR_INVALID,
                  "invalid base32 character '1'" },
                /* 00 04 deadbeef: an identity multihash that is not a key */
                { "1YsFvyU", KP_ERROR_INVALID, "peer id: inline public key: malformed protobuf" },
                /* too long */
                { too_long, KP_ERROR_TOO_LARGE, "exceeds 1024" },
        };

        kp_test_malformed_text(table, G_N_ELEMENTS(table), parse_untouched);
}

static void
test_bytes_malformed(void)
{
        const KpTestMalformed table[] = {
                /* empty */
                { "", KP_ERROR_TRUNCATED, "peer id: empty" },
                /* sha2-256 one byte short */
                { "12209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0",
                  KP_ERROR_TRUNCATED, "digest length 32 but 31 bytes follow" },
                /* sha2-256 one byte long */
                { "12209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9b9",
                  KP_ERROR_INVALID, "digest length 32 but 33 bytes follow" },
                /* sha2-256 of 31 bytes */
                { "121f9dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0",
                  KP_ERROR_INVALID, "sha2-256 digest of 31 bytes" },
                /* sha2-512 */
                { "1340" /* digest follows, never read */, KP_ERROR_UNSUPPORTED,
                  "unsupported hash code 0x13" },
                /* identity of 43 bytes */
                { "002b08031227"
                  "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
                  KP_ERROR_TOO_LARGE, "inline public key of 43 bytes exceeds 42" },
                /* identity of a 31-byte Ed25519 key */
                { "00230801121f2ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb133",
                  KP_ERROR_INVALID, "Ed25519 key of 31 bytes" },
                /* identity of an unknown key type */
                { "002408091220"
                  "2ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336b",
                  KP_ERROR_UNSUPPORTED, "unknown key type 9" },
                /* identity of an Ed25519 key with its fields reversed: the
                 * length of the canonical form, not its bytes */
                { "0024"
                  "12202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336b0801",
                  KP_ERROR_INVALID, "not canonically encoded" },
                /* identity of an Ed25519 key with its Type padded */
                { "0025"
                  "0881001220"
                  "2ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336b",
                  KP_ERROR_INVALID, "not canonically encoded" },
                /* code only */
                { "12", KP_ERROR_TRUNCATED, "multihash" },
                /* overlong varint */
                { "80808080808080808001", KP_ERROR_TOO_LARGE, "varint longer than 9 bytes" },
        };

        kp_test_malformed_hex(table, G_N_ELEMENTS(table), from_bytes_untouched);
}

static void
test_generated_round_trip(void)
{
        for (guint i = 0; i < 32; i++) {
                g_autoptr(KpKeypair) keypair = kp_keypair_generate();
                g_autoptr(GError) error = NULL;
                g_autofree char *text = NULL;
                g_autofree char *cid = NULL;
                KpPeerId id, a, b;

                kp_peer_id_from_public_key(kp_keypair_get_public_key(keypair), &id);
                text = kp_peer_id_to_string(&id);
                g_assert_true(g_str_has_prefix(text, "12D3KooW"));
                cid = kp_peer_id_to_cid_string(&id);
                g_assert_true(g_str_has_prefix(cid, "bafzaa"));
                g_assert_true(kp_peer_id_parse(text, &a, &error));
                g_assert_no_error(error);
                g_assert_true(kp_peer_id_parse(cid, &b, &error));
                g_assert_no_error(error);
                g_assert_true(kp_peer_id_equal(&id, &a));
                g_assert_true(kp_peer_id_equal(&id, &b));
        }
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/peer-id/spec-key-vectors", test_spec_key_vectors);
        g_test_add_func("/peer-id/spec-private-key", test_spec_private_key);
        g_test_add_func("/peer-id/spec-examples", test_spec_examples);
        g_test_add_func("/peer-id/cid-base58", test_cid_base58);
        g_test_add_func("/peer-id/inline-boundary", test_inline_boundary);
        g_test_add_func("/peer-id/parse-malformed", test_parse_malformed);
        g_test_add_func("/peer-id/bytes-malformed", test_bytes_malformed);
        g_test_add_func("/peer-id/generated-round-trip", test_generated_round_trip);
        return g_test_run();
}
