/* Key protobufs and Ed25519: libp2p/specs peer-ids/peer-ids.md test vectors,
 * RFC 8032 section 7.1 TEST 1, round trips and malformed inputs. */
#include <string.h>

#include "core/kp-error.h"
#include "core/kp-keys.h"

#include "kp-test-util.h"
#include "kp-test-vectors.h"

/* RFC 8032 section 7.1, TEST 1 (empty message) */
#define RFC8032_SEED   "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
#define RFC8032_PUBLIC "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define RFC8032_SIG                                                                                \
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970" \
        "1cf9b46bd25bf5f0595bbe24655141438e7a100b"

static void
assert_bytes_equal(GBytes *a, GBytes *b)
{
        gsize alen, blen;
        const guint8 *ad = g_bytes_get_data(a, &alen);
        const guint8 *bd = g_bytes_get_data(b, &blen);

        g_assert_cmpmem(ad, alen, bd, blen);
}

static void
test_spec_ed25519(void)
{
        g_autoptr(GBytes) priv = kp_test_unhex_bytes(SPEC_ED25519_PRIVATE);
        g_autoptr(GBytes) pub = kp_test_unhex_bytes(SPEC_ED25519_PUBLIC);
        g_autoptr(GBytes) priv2 = NULL;
        g_autoptr(GBytes) pub2 = NULL;
        g_autoptr(KpKeypair) keypair = NULL;
        g_autoptr(KpPublicKey) key = NULL;
        g_autoptr(GError) error = NULL;

        keypair = kp_keypair_from_private_key_protobuf(g_bytes_get_data(priv, NULL),
                                                       g_bytes_get_size(priv), &error);
        g_assert_no_error(error);
        g_assert_nonnull(keypair);

        /* the spec's public key belongs to its private key */
        pub2 = kp_public_key_to_protobuf(kp_keypair_get_public_key(keypair));
        assert_bytes_equal(pub2, pub);

        /* and we write the private key back byte for byte */
        priv2 = kp_keypair_to_private_key_protobuf(keypair);
        assert_bytes_equal(priv2, priv);

        key = kp_public_key_from_protobuf(g_bytes_get_data(pub, NULL), g_bytes_get_size(pub),
                                          &error);
        g_assert_no_error(error);
        g_assert_cmpint(key->type, ==, KP_KEY_TYPE_ED25519);
        g_assert_cmpuint(g_bytes_get_size(key->data), ==, KP_ED25519_PUBLIC_KEY_BYTES);
        g_assert_true(kp_public_key_equal(key, kp_keypair_get_public_key(keypair)));
}

static void
test_spec_public_keys(void)
{
        const struct {
                const char *hex;
                KpKeyType type;
                gsize data_len;
        } vectors[] = {
                { SPEC_ED25519_PUBLIC, KP_KEY_TYPE_ED25519, 32 },
                { SPEC_SECP256K1_PUBLIC, KP_KEY_TYPE_SECP256K1, 33 },
                { SPEC_ECDSA_PUBLIC, KP_KEY_TYPE_ECDSA, 91 },
                { SPEC_RSA_PUBLIC, KP_KEY_TYPE_RSA, 550 },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(vectors); i++) {
                g_autoptr(GBytes) buf = kp_test_unhex_bytes(vectors[i].hex);
                g_autoptr(GBytes) again = NULL;
                g_autoptr(KpPublicKey) key = NULL;
                g_autoptr(KpPublicKey) copy = NULL;
                g_autoptr(GError) error = NULL;

                key = kp_public_key_from_protobuf(g_bytes_get_data(buf, NULL),
                                                  g_bytes_get_size(buf), &error);
                g_assert_no_error(error);
                g_assert_cmpint(key->type, ==, vectors[i].type);
                g_assert_cmpuint(g_bytes_get_size(key->data), ==, vectors[i].data_len);
                again = kp_public_key_to_protobuf(key);
                assert_bytes_equal(again, buf);
                copy = kp_public_key_copy(key);
                g_assert_true(kp_public_key_equal(key, copy));
        }
}

static void
test_rfc8032_sign(void)
{
        g_autoptr(GBytes) seed = kp_test_unhex_bytes(RFC8032_SEED);
        g_autoptr(GBytes) pub = kp_test_unhex_bytes(RFC8032_PUBLIC);
        g_autoptr(GBytes) expected = kp_test_unhex_bytes(RFC8032_SIG);
        g_autoptr(KpKeypair) keypair = kp_keypair_new_from_seed(g_bytes_get_data(seed, NULL));
        const KpPublicKey *key = kp_keypair_get_public_key(keypair);
        guint8 sig[KP_ED25519_SIGNATURE_BYTES];
        g_autoptr(GError) error = NULL;

        assert_bytes_equal(key->data, pub);
        kp_keypair_sign(keypair, (const guint8 *)"", 0, sig);
        g_assert_cmpmem(sig, sizeof sig, g_bytes_get_data(expected, NULL),
                        g_bytes_get_size(expected));
        g_assert_true(kp_public_key_verify(key, (const guint8 *)"", 0, sig, sizeof sig, &error));
        g_assert_no_error(error);

        /* one flipped bit in the signature */
        sig[10] ^= 0x01;
        g_assert_false(kp_public_key_verify(key, (const guint8 *)"", 0, sig, sizeof sig, &error));
        kp_test_assert_error(error, KP_ERROR_CRYPTO, "does not verify");
        g_clear_error(&error);
        sig[10] ^= 0x01;

        /* the signature over another message */
        g_assert_false(kp_public_key_verify(key, (const guint8 *)"x", 1, sig, sizeof sig, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_CRYPTO);
        g_clear_error(&error);

        /* a short signature */
        g_assert_false(
            kp_public_key_verify(key, (const guint8 *)"", 0, sig, sizeof sig - 1, &error));
        kp_test_assert_error(error, KP_ERROR_CRYPTO, "signature of 63 bytes");
}

static void
test_generate_sign_verify(void)
{
        g_autoptr(KpKeypair) a = kp_keypair_generate();
        g_autoptr(KpKeypair) b = kp_keypair_generate();
        const guint8 msg[] = "libp2p-tls-handshake:";
        guint8 sig[KP_ED25519_SIGNATURE_BYTES];
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) priv = NULL;
        g_autoptr(KpKeypair) reloaded = NULL;

        g_assert_false(
            kp_public_key_equal(kp_keypair_get_public_key(a), kp_keypair_get_public_key(b)));
        kp_keypair_sign(a, msg, sizeof msg, sig);
        g_assert_true(kp_public_key_verify(kp_keypair_get_public_key(a), msg, sizeof msg, sig,
                                           sizeof sig, &error));
        g_assert_no_error(error);
        /* b did not sign it */
        g_assert_false(kp_public_key_verify(kp_keypair_get_public_key(b), msg, sizeof msg, sig,
                                            sizeof sig, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_CRYPTO);
        g_clear_error(&error);

        priv = kp_keypair_to_private_key_protobuf(a);
        g_assert_cmpuint(g_bytes_get_size(priv), ==, 4 + 64);
        reloaded = kp_keypair_from_private_key_protobuf(g_bytes_get_data(priv, NULL),
                                                        g_bytes_get_size(priv), &error);
        g_assert_no_error(error);
        g_assert_true(
            kp_public_key_equal(kp_keypair_get_public_key(a), kp_keypair_get_public_key(reloaded)));
        /* Ed25519 is deterministic: the reloaded key signs identically */
        {
                guint8 sig2[KP_ED25519_SIGNATURE_BYTES];
                kp_keypair_sign(reloaded, msg, sizeof msg, sig2);
                g_assert_cmpmem(sig, sizeof sig, sig2, sizeof sig2);
        }
}

static void
test_verify_unsupported(void)
{
        g_autoptr(GBytes) buf = kp_test_unhex_bytes(SPEC_SECP256K1_PUBLIC);
        g_autoptr(KpPublicKey) key = NULL;
        guint8 sig[KP_ED25519_SIGNATURE_BYTES] = { 0 };
        g_autoptr(GError) error = NULL;

        key = kp_public_key_from_protobuf(g_bytes_get_data(buf, NULL), g_bytes_get_size(buf),
                                          &error);
        g_assert_no_error(error);
        g_assert_false(kp_public_key_verify(key, sig, 1, sig, sizeof sig, &error));
        kp_test_assert_error(error, KP_ERROR_UNSUPPORTED, "cannot verify Secp256k1");
}

static void
test_private_key_forms(void)
{
        g_autoptr(GBytes) spec = kp_test_unhex_bytes(SPEC_ED25519_PRIVATE);
        const guint8 *spec_data = g_bytes_get_data(spec, NULL);
        g_autoptr(KpKeypair) reference = NULL;
        g_autoptr(GError) error = NULL;

        reference = kp_keypair_from_private_key_protobuf(spec_data, g_bytes_get_size(spec), &error);
        g_assert_no_error(error);

        /* the bare 32-byte seed */
        {
                guint8 buf[4 + 32] = { 0x08, 0x01, 0x12, 0x20 };
                g_autoptr(KpKeypair) kp = NULL;

                memcpy(buf + 4, spec_data + 4, 32);
                kp = kp_keypair_from_private_key_protobuf(buf, sizeof buf, &error);
                g_assert_no_error(error);
                g_assert_true(kp_public_key_equal(kp_keypair_get_public_key(kp),
                                                  kp_keypair_get_public_key(reference)));
        }
        /* the old seed || public || public */
        {
                guint8 buf[4 + 96] = { 0x08, 0x01, 0x12, 0x60 };
                g_autoptr(KpKeypair) kp = NULL;

                memcpy(buf + 4, spec_data + 4, 64);
                memcpy(buf + 4 + 64, spec_data + 4 + 32, 32);
                kp = kp_keypair_from_private_key_protobuf(buf, sizeof buf, &error);
                g_assert_no_error(error);
                g_assert_true(kp_public_key_equal(kp_keypair_get_public_key(kp),
                                                  kp_keypair_get_public_key(reference)));

                /* the two public halves disagree */
                buf[4 + 95] ^= 0x01;
                g_clear_pointer(&kp, kp_keypair_free);
                kp = kp_keypair_from_private_key_protobuf(buf, sizeof buf, &error);
                g_assert_null(kp);
                kp_test_assert_error(error, KP_ERROR_CRYPTO, "does not match the seed");
                g_clear_error(&error);
        }
}

static gboolean
public_from_protobuf(const guint8 *data, gsize len, GError **error)
{
        g_autoptr(KpPublicKey) key = kp_public_key_from_protobuf(data, len, error);

        return key != NULL;
}

static gboolean
private_from_protobuf(const guint8 *data, gsize len, GError **error)
{
        g_autoptr(KpKeypair) keypair = kp_keypair_from_private_key_protobuf(data, len, error);

        return keypair != NULL;
}

static void
test_public_key_malformed(void)
{
        const KpTestMalformed table[] = {
                /* empty */
                { "", KP_ERROR_TRUNCATED, "public key protobuf is empty" },
                /* unknown type 7 */
                { "080712201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
                  KP_ERROR_UNSUPPORTED, "unknown key type 7" },
                /* Ed25519 31 bytes */
                { "0801121f1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce2",
                  KP_ERROR_INVALID, "Ed25519 key of 31 bytes, expected 32" },
                /* Ed25519 33 bytes */
                { "080112211ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e00",
                  KP_ERROR_INVALID, "Ed25519 key of 33 bytes, expected 32" },
                /* Secp256k1 20 bytes */
                { "080212140000000000000000000000000000000000000000", KP_ERROR_INVALID,
                  "Secp256k1 key of 20 bytes" },
                /* RSA without data */
                { "08001200", KP_ERROR_INVALID, "empty RSA key data" },
                /* missing Data */
                { "0801", KP_ERROR_INVALID, "malformed protobuf" },
                /* missing Type */
                { "12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
                  KP_ERROR_INVALID, "malformed protobuf" },
                /* Data cut short */
                { "080112201ed1e8fae2c4a144b8be8f", KP_ERROR_INVALID, "malformed protobuf" },
                /* Type with wire type 2 */
                { "0a0101"
                  "12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
                  KP_ERROR_INVALID, "malformed protobuf" },
                /* fields reversed */
                { "12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e0801",
                  KP_ERROR_INVALID, "not canonically encoded" },
                /* Type repeated */
                { "0801080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
                  KP_ERROR_INVALID, "not canonically encoded" },
                /* Type as a padded varint */
                { "08810012201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
                  KP_ERROR_INVALID, "not canonically encoded" },
                /* unknown field 3 */
                { "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e1800",
                  KP_ERROR_INVALID, "1 unknown protobuf field" },
                /* garbage */
                { "ffffffffffffffffffff", KP_ERROR_INVALID, "malformed protobuf" },
        };

        kp_test_malformed_hex(table, G_N_ELEMENTS(table), public_from_protobuf);
}

/* An RSA-typed PublicKey of exactly @total encoded bytes (@total > 132). */
static GBytes *
rsa_public_key_of_size(gsize total)
{
        gsize data_len = total - 5; /* 08 00 12 <2-byte length> */
        guint8 *buf = g_malloc0(total);

        g_assert_cmpuint(data_len, >=, 128);
        g_assert_cmpuint(data_len, <, 16384);
        buf[0] = 0x08;
        buf[1] = 0x00;
        buf[2] = 0x12;
        buf[3] = (guint8)(0x80 | (data_len & 0x7f));
        buf[4] = (guint8)(data_len >> 7);
        memset(buf + 5, 0xab, data_len);
        return g_bytes_new_take(buf, total);
}

static void
test_public_key_size_limit(void)
{
        g_autoptr(GBytes) at_limit = rsa_public_key_of_size(KP_KEY_PROTOBUF_MAX);
        g_autoptr(GBytes) over_limit = rsa_public_key_of_size(KP_KEY_PROTOBUF_MAX + 1);
        g_autoptr(KpPublicKey) key = NULL;
        g_autoptr(GError) error = NULL;

        key = kp_public_key_from_protobuf(g_bytes_get_data(at_limit, NULL),
                                          g_bytes_get_size(at_limit), &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_bytes_get_size(key->data), ==, KP_KEY_PROTOBUF_MAX - 5);
        g_assert_false(public_from_protobuf(g_bytes_get_data(over_limit, NULL),
                                            g_bytes_get_size(over_limit), &error));
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE,
                             "public key protobuf of 2049 bytes exceeds 2048");
}

static void
test_private_key_malformed(void)
{
        const KpTestMalformed table[] = {
                /* empty */
                { "", KP_ERROR_TRUNCATED, "private key protobuf is empty" },
                /* Secp256k1 (spec vector) */
                { SPEC_SECP256K1_PRIVATE, KP_ERROR_UNSUPPORTED,
                  "Secp256k1 keys are not supported, only Ed25519" },
                /* ECDSA (spec vector) */
                { SPEC_ECDSA_PRIVATE, KP_ERROR_UNSUPPORTED, "ECDSA keys are not supported" },
                /* unknown type 9 */
                { "080912207e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d",
                  KP_ERROR_UNSUPPORTED, "private key: unknown key type 9" },
                /* Ed25519 31 bytes */
                { "0801121f7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee",
                  KP_ERROR_INVALID, "Ed25519 key of 31 bytes, expected 32, 64 or 96" },
                /* Ed25519 empty */
                { "08011200", KP_ERROR_INVALID, "Ed25519 key of 0 bytes" },
                /* public half wrong */
                { "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fa"
                  "e2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27f",
                  KP_ERROR_CRYPTO, "does not match the seed" },
                /* missing Data */
                { "0801", KP_ERROR_INVALID, "private key: malformed protobuf" },
                /* Data cut short */
                { "080112407e0830617c4a7de8", KP_ERROR_INVALID, "private key: malformed protobuf" },
                /* unknown field */
                { "080112207e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d2001",
                  KP_ERROR_INVALID, "1 unknown protobuf field" },
        };

        kp_test_malformed_hex(table, G_N_ELEMENTS(table), private_from_protobuf);

        /* over the size limit */
        {
                g_autoptr(GBytes) big = rsa_public_key_of_size(KP_KEY_PROTOBUF_MAX + 1);
                g_autoptr(GError) error = NULL;

                g_assert_false(private_from_protobuf(g_bytes_get_data(big, NULL),
                                                     g_bytes_get_size(big), &error));
                kp_test_assert_error(error, KP_ERROR_TOO_LARGE,
                                     "private key protobuf of 2049 bytes");
        }
}

static void
test_key_type_names(void)
{
        g_assert_cmpstr(kp_key_type_to_string(KP_KEY_TYPE_RSA), ==, "RSA");
        g_assert_cmpstr(kp_key_type_to_string(KP_KEY_TYPE_ED25519), ==, "Ed25519");
        g_assert_cmpstr(kp_key_type_to_string(KP_KEY_TYPE_SECP256K1), ==, "Secp256k1");
        g_assert_cmpstr(kp_key_type_to_string(KP_KEY_TYPE_ECDSA), ==, "ECDSA");
        g_assert_cmpstr(kp_key_type_to_string((KpKeyType)42), ==, "unknown");
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/keys/spec-ed25519", test_spec_ed25519);
        g_test_add_func("/keys/spec-public-keys", test_spec_public_keys);
        g_test_add_func("/keys/rfc8032-sign", test_rfc8032_sign);
        g_test_add_func("/keys/generate-sign-verify", test_generate_sign_verify);
        g_test_add_func("/keys/verify-unsupported", test_verify_unsupported);
        g_test_add_func("/keys/private-key-forms", test_private_key_forms);
        g_test_add_func("/keys/public-key-malformed", test_public_key_malformed);
        g_test_add_func("/keys/public-key-size-limit", test_public_key_size_limit);
        g_test_add_func("/keys/private-key-malformed", test_private_key_malformed);
        g_test_add_func("/keys/key-type-names", test_key_type_names);
        return g_test_run();
}
