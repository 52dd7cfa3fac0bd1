/* Key protobufs and Ed25519: libp2p/specs peer-ids/peer-ids.md test vectors,
 * RFC 8032 section 7.1 TEST 1, round trips and malformed inputs. */
#include <string.h>

#include "core/kp-error.h"
#include "core/kp-keys.h"

/* libp2p/specs peer-ids/peer-ids.md, "Test vectors" */
#define SPEC_ED25519_PRIVATE                                                                       \
        "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144" \
        "b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
#define SPEC_ED25519_PUBLIC                                                                        \
        "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
#define SPEC_SECP256K1_PRIVATE                                                                     \
        "0802122053DADF1D5A164D6B4ACDB15E24AA4C5B1D3461BDBD42ABEDB0A4404D56CED8FB"
#define SPEC_SECP256K1_PUBLIC                                                                      \
        "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99"
#define SPEC_ECDSA_PRIVATE                                                                         \
        "08031279307702010104203E5B1FE9712E6C314942A750BD67485DE3C1EFE85B1BFB520AE8F9AE3DFA4A4CA0" \
        "0A06082A8648CE3D030107A14403420004DE3D300FA36AE0E8F5D530899D83ABAB44ABF3161F162A4BC901D8" \
        "E6ECDA020E8B6D5F8DA30525E71D6851510C098E5C47C646A597FB4DCEC034E9F77C409E62"
#define SPEC_ECDSA_PUBLIC                                                                          \
        "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa36ae0e8f5d530899d" \
        "83abab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d6851510c098e5c47c646a597fb4dcec0" \
        "34e9f77c409e62"
#define SPEC_RSA_PUBLIC                                                                            \
        "080012a60430820222300d06092a864886f70d01010105000382020f003082020a0282020100e1beab071d08" \
        "200bde24eef00d049449b07770ff9910257b2d7d5dda242ce8f0e2f12e1af4b32d9efd2c090f66b0f29986db" \
        "b645dae9880089704a94e5066d594162ae6ee8892e6ec70701db0a6c445c04778eb3de1293aa1a23c3825b85" \
        "c6620a2bc3f82f9b0c309bc0ab3aeb1873282bebd3da03c33e76c21e9beb172fd44c9e43be32e2c99827033c" \
        "f8d0f0c606f4579326c930eb4e854395ad941256542c793902185153c474bed109d6ff5141ebf9cd256cf588" \
        "93a37f83729f97e7cb435ec679d2e33901d27bb35aa0d7e20561da08885ef0abbf8e2fb48d6a5487047a9ecb" \
        "1ad41fa7ed84f6e3e8ecd5d98b3982d2a901b4454991766da295ab78822add5612a2df83bcee814cf50973e8" \
        "0d7ef38111b1bd87da2ae92438a2c8cbcc70b31ee319939a3b9c761dbc13b5c086d6b64bf7ae7dacc1462237" \
        "5d92a8ff9af7eb962162bbddebf90acb32adb5e4e4029f1c96019949ecfbfeffd7ac1e3fbcc6b6168c34be3d" \
        "5a2e5999fcbb39bba7adbca78eab09b9bc39f7fa4b93411f4cc175e70c0a083e96bfaefb04a9580b4753c173" \
        "8a6a760ae1afd851a1a4bdad231cf56e9284d832483df215a46c1c21bdf0c6cfe951c18f1ee4078c79c13d63" \
        "edb6e14feaeffabc90ad317e4875fe648101b0864097e998f0ca3025ef9638cd2b0caecd3770ab54a1d9c6ca" \
        "959b0f5dcbc90caeefc4135baca6fd475224269bbe1b0203010001"

/* RFC 8032 section 7.1, TEST 1 (empty message) */
#define RFC8032_SEED   "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
#define RFC8032_PUBLIC "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define RFC8032_SIG                                                                                \
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970" \
        "1cf9b46bd25bf5f0595bbe24655141438e7a100b"

static GBytes *
hex(const char *text)
{
        gsize len = strlen(text);
        GByteArray *out = g_byte_array_sized_new((guint)(len / 2));

        g_assert_cmpuint(len % 2, ==, 0);
        for (gsize i = 0; i < len; i += 2) {
                gint hi = g_ascii_xdigit_value(text[i]);
                gint lo = g_ascii_xdigit_value(text[i + 1]);
                guint8 b;

                g_assert_cmpint(hi, >=, 0);
                g_assert_cmpint(lo, >=, 0);
                b = (guint8)(hi << 4 | lo);
                g_byte_array_append(out, &b, 1);
        }
        return g_byte_array_free_to_bytes(out);
}

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
        g_autoptr(GBytes) priv = hex(SPEC_ED25519_PRIVATE);
        g_autoptr(GBytes) pub = hex(SPEC_ED25519_PUBLIC);
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
                g_autoptr(GBytes) buf = hex(vectors[i].hex);
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
        g_autoptr(GBytes) seed = hex(RFC8032_SEED);
        g_autoptr(GBytes) pub = hex(RFC8032_PUBLIC);
        g_autoptr(GBytes) expected = hex(RFC8032_SIG);
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
        g_assert_error(error, KP_ERROR, KP_ERROR_CRYPTO);
        g_assert_nonnull(strstr(error->message, "does not verify"));
        g_clear_error(&error);
        sig[10] ^= 0x01;

        /* the signature over another message */
        g_assert_false(kp_public_key_verify(key, (const guint8 *)"x", 1, sig, sizeof sig, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_CRYPTO);
        g_clear_error(&error);

        /* a short signature */
        g_assert_false(
            kp_public_key_verify(key, (const guint8 *)"", 0, sig, sizeof sig - 1, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_CRYPTO);
        g_assert_nonnull(strstr(error->message, "signature of 63 bytes"));
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
        g_autoptr(GBytes) buf = hex(SPEC_SECP256K1_PUBLIC);
        g_autoptr(KpPublicKey) key = NULL;
        guint8 sig[KP_ED25519_SIGNATURE_BYTES] = { 0 };
        g_autoptr(GError) error = NULL;

        key = kp_public_key_from_protobuf(g_bytes_get_data(buf, NULL), g_bytes_get_size(buf),
                                          &error);
        g_assert_no_error(error);
        g_assert_false(kp_public_key_verify(key, sig, 1, sig, sizeof sig, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_UNSUPPORTED);
        g_assert_nonnull(strstr(error->message, "cannot verify Secp256k1"));
}

static void
test_private_key_forms(void)
{
        g_autoptr(GBytes) spec = hex(SPEC_ED25519_PRIVATE);
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
                g_assert_error(error, KP_ERROR, KP_ERROR_CRYPTO);
                g_assert_nonnull(strstr(error->message, "does not match the seed"));
                g_clear_error(&error);
        }
}

typedef struct {
        const char *name;
        const char *hex; /* NULL: built by the test */
        gint code;
        const char *message;
} Malformed;

static void
check_public_malformed(const char *name, const guint8 *buf, gsize len, gint code,
                       const char *message)
{
        g_autoptr(KpPublicKey) key = NULL;
        g_autoptr(GError) error = NULL;

        g_test_message("public key: %s", name);
        key = kp_public_key_from_protobuf(buf, len, &error);
        g_assert_null(key);
        g_assert_error(error, KP_ERROR, code);
        if (strstr(error->message, message) == NULL)
                g_error("%s: \"%s\" does not contain \"%s\"", name, error->message, message);
}

static void
test_public_key_malformed(void)
{
        const Malformed table[] = {
                { "empty", "", KP_ERROR_TRUNCATED, "public key protobuf is empty" },
                { "unknown type 7",
                  "080712201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
                  KP_ERROR_UNSUPPORTED, "unknown key type 7" },
                { "Ed25519 31 bytes",
                  "0801121f1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce2",
                  KP_ERROR_INVALID, "Ed25519 key of 31 bytes, expected 32" },
                { "Ed25519 33 bytes",
                  "080112211ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e00",
                  KP_ERROR_INVALID, "Ed25519 key of 33 bytes, expected 32" },
                { "Secp256k1 20 bytes", "080212140000000000000000000000000000000000000000",
                  KP_ERROR_INVALID, "Secp256k1 key of 20 bytes" },
                { "RSA without data", "08001200", KP_ERROR_INVALID, "empty RSA key data" },
                { "missing Data", "0801", KP_ERROR_INVALID, "malformed protobuf" },
                { "missing Type",
                  "12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
                  KP_ERROR_INVALID, "malformed protobuf" },
                { "Data cut short", "080112201ed1e8fae2c4a144b8be8f", KP_ERROR_INVALID,
                  "malformed protobuf" },
                { "Type with wire type 2",
                  "0a0101"
                  "12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
                  KP_ERROR_INVALID, "malformed protobuf" },
                { "fields reversed",
                  "12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e0801",
                  KP_ERROR_INVALID, "not canonically encoded" },
                { "Type repeated",
                  "0801080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
                  KP_ERROR_INVALID, "not canonically encoded" },
                { "Type as a padded varint",
                  "08810012201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
                  KP_ERROR_INVALID, "not canonically encoded" },
                { "unknown field 3",
                  "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e1800",
                  KP_ERROR_INVALID, "1 unknown protobuf field" },
                { "garbage", "ffffffffffffffffffff", KP_ERROR_INVALID, "malformed protobuf" },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(table); i++) {
                g_autoptr(GBytes) buf = hex(table[i].hex);
                check_public_malformed(table[i].name, g_bytes_get_data(buf, NULL),
                                       g_bytes_get_size(buf), table[i].code, table[i].message);
        }
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
        check_public_malformed("one byte over the limit", g_bytes_get_data(over_limit, NULL),
                               g_bytes_get_size(over_limit), KP_ERROR_TOO_LARGE,
                               "public key protobuf of 2049 bytes exceeds 2048");
}

static void
test_private_key_malformed(void)
{
        const Malformed table[] = {
                { "empty", "", KP_ERROR_TRUNCATED, "private key protobuf is empty" },
                { "Secp256k1 (spec vector)", SPEC_SECP256K1_PRIVATE, KP_ERROR_UNSUPPORTED,
                  "Secp256k1 keys are not supported, only Ed25519" },
                { "ECDSA (spec vector)", SPEC_ECDSA_PRIVATE, KP_ERROR_UNSUPPORTED,
                  "ECDSA keys are not supported" },
                { "unknown type 9",
                  "080912207e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d",
                  KP_ERROR_UNSUPPORTED, "private key: unknown key type 9" },
                { "Ed25519 31 bytes",
                  "0801121f7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee",
                  KP_ERROR_INVALID, "Ed25519 key of 31 bytes, expected 32, 64 or 96" },
                { "Ed25519 empty", "08011200", KP_ERROR_INVALID, "Ed25519 key of 0 bytes" },
                { "public half wrong",
                  "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fa"
                  "e2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27f",
                  KP_ERROR_CRYPTO, "does not match the seed" },
                { "missing Data", "0801", KP_ERROR_INVALID, "private key: malformed protobuf" },
                { "Data cut short", "080112407e0830617c4a7de8", KP_ERROR_INVALID,
                  "private key: malformed protobuf" },
                { "unknown field",
                  "080112207e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d2001",
                  KP_ERROR_INVALID, "1 unknown protobuf field" },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(table); i++) {
                g_autoptr(GBytes) buf = hex(table[i].hex);
                g_autoptr(KpKeypair) kp = NULL;
                g_autoptr(GError) error = NULL;

                g_test_message("private key: %s", table[i].name);
                kp = kp_keypair_from_private_key_protobuf(g_bytes_get_data(buf, NULL),
                                                          g_bytes_get_size(buf), &error);
                g_assert_null(kp);
                g_assert_error(error, KP_ERROR, table[i].code);
                if (strstr(error->message, table[i].message) == NULL)
                        g_error("%s: \"%s\" does not contain \"%s\"", table[i].name, error->message,
                                table[i].message);
        }

        /* over the size limit */
        {
                g_autoptr(GBytes) big = rsa_public_key_of_size(KP_KEY_PROTOBUF_MAX + 1);
                g_autoptr(KpKeypair) kp = NULL;
                g_autoptr(GError) error = NULL;

                kp = kp_keypair_from_private_key_protobuf(g_bytes_get_data(big, NULL),
                                                          g_bytes_get_size(big), &error);
                g_assert_null(kp);
                g_assert_error(error, KP_ERROR, KP_ERROR_TOO_LARGE);
                g_assert_nonnull(strstr(error->message, "private key protobuf of 2049 bytes"));
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
