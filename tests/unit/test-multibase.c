#include <string.h>

#include "core/kp-error.h"
#include "core/kp-multibase.h"

#include "kp-test-util.h"
#include "kp-test-vectors.h"

typedef struct {
        const char *data;
        gsize len;
        const char *text;
} Vector;

#define V(s, t)                                                                                    \
        {                                                                                          \
                s, sizeof(s) - 1, t                                                                \
        }

/* Bitcoin base58 vectors and draft-msporny-base58. */
static const Vector base58_vectors[] = {
        V("", ""),
        V("\x00", "1"),
        V("\x00\x00\x00", "111"),
        V("a", "2g"),
        V("abc", "ZiCa"),
        V("\x61\x62\x63\x00", "3VNr4f"),
        V("hello world", "StV1DL6CwTryKyV"),
        V("Hello World!", "2NEpo7TZRRrLZSi2U"),
        V("The quick brown fox jumps over the lazy dog.",
          "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z"),
        V("\x00\x00\x28\x7f\xb4\xcd", "11233QC4"),
        V("\xff", "5Q"),
        V("\x00\xff", "15Q"),
        V("\xff\xff\xff\xff", "7YXq9G"),
};

/* RFC 4648 section 10, lower case and without padding. */
static const Vector base32_vectors[] = {
        V("", ""),
        V("f", "my"),
        V("fo", "mzxq"),
        V("foo", "mzxw6"),
        V("foob", "mzxw6yq"),
        V("fooba", "mzxw6ytb"),
        V("foobar", "mzxw6ytboi"),
        V("\x00", "aa"),
        V("\xff\xff\xff\xff\xff", "77777777"),
};

static void
check_base58(const Vector *v)
{
        g_autofree char *text = kp_base58btc_encode((const guint8 *)v->data, v->len);
        g_autoptr(GBytes) bytes = NULL;
        g_autoptr(GError) error = NULL;

        g_assert_cmpstr(text, ==, v->text);
        bytes = kp_base58btc_decode(v->text, strlen(v->text), &error);
        g_assert_no_error(error);
        g_assert_cmpmem(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes), v->data, v->len);
}

static void
test_base58_vectors(void)
{
        for (gsize i = 0; i < G_N_ELEMENTS(base58_vectors); i++)
                check_base58(&base58_vectors[i]);
}

static void
test_base32_vectors(void)
{
        for (gsize i = 0; i < G_N_ELEMENTS(base32_vectors); i++) {
                const Vector *v = &base32_vectors[i];
                g_autofree char *text = kp_base32_encode((const guint8 *)v->data, v->len);
                g_autoptr(GBytes) bytes = NULL;
                g_autoptr(GError) error = NULL;

                g_assert_cmpstr(text, ==, v->text);
                bytes = kp_base32_decode(v->text, strlen(v->text), &error);
                g_assert_no_error(error);
                g_assert_cmpmem(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes), v->data,
                                v->len);
        }
}

/* multiformats/multibase test vectors for "yes mani !". */
static void
test_multibase_prefix(void)
{
        const char *data = "yes mani !";
        g_autofree char *z
            = kp_multibase_encode(KP_MULTIBASE_BASE58BTC, (const guint8 *)data, strlen(data));
        g_autofree char *b
            = kp_multibase_encode(KP_MULTIBASE_BASE32, (const guint8 *)data, strlen(data));
        g_autoptr(GBytes) from_z = NULL;
        g_autoptr(GBytes) from_b = NULL;
        g_autoptr(GError) error = NULL;

        g_assert_cmpstr(z, ==, "z7paNL19xttacUY");
        g_assert_cmpstr(b, ==, "bpfsxgidnmfxgsibb");
        from_z = kp_multibase_decode(z, &error);
        g_assert_no_error(error);
        from_b = kp_multibase_decode(b, &error);
        g_assert_no_error(error);
        g_assert_cmpmem(g_bytes_get_data(from_z, NULL), g_bytes_get_size(from_z), data,
                        strlen(data));
        g_assert_true(g_bytes_equal(from_z, from_b));
}

/* Peer ids of libp2p/specs peer-ids.md: the base58btc text of an identity
 * multihash of an Ed25519 key protobuf starts 00 24 08 01 12 20. */
static void
test_base58_peer_ids(void)
{
        const char *ed = SPEC_PEER_ED;
        const char *sha = SPEC_PEER_SHA;
        g_autoptr(GBytes) ed_bytes = NULL;
        g_autoptr(GBytes) sha_bytes = NULL;
        g_autofree char *ed_again = NULL;
        g_autofree char *sha_again = NULL;
        const guint8 *p;
        gsize len;

        ed_bytes = kp_base58btc_decode(ed, strlen(ed), NULL);
        g_assert_nonnull(ed_bytes);
        p = g_bytes_get_data(ed_bytes, &len);
        g_assert_cmpuint(len, ==, 38);
        g_assert_cmpmem(p, 6, "\x00\x24\x08\x01\x12\x20", 6);
        ed_again = kp_base58btc_encode(p, len);
        g_assert_cmpstr(ed_again, ==, ed);

        sha_bytes = kp_base58btc_decode(sha, strlen(sha), NULL);
        g_assert_nonnull(sha_bytes);
        p = g_bytes_get_data(sha_bytes, &len);
        g_assert_cmpuint(len, ==, 34);
        g_assert_cmpmem(p, 2, "\x12\x20", 2);
        sha_again = kp_base58btc_encode(p, len);
        g_assert_cmpstr(sha_again, ==, sha);
}

static void
test_round_trip_random(void)
{
        GRand *rand = g_rand_new_with_seed(4001);

        for (guint i = 0; i < 500; i++) {
                guint8 data[64];
                gsize len = (gsize)g_rand_int_range(rand, 0, sizeof data + 1);
                gsize zeros = (gsize)g_rand_int_range(rand, 0, 4);

                for (gsize j = 0; j < len; j++)
                        data[j] = j < zeros ? 0 : (guint8)g_rand_int(rand);
                for (KpMultibase base = 0; base < 2; base++) {
                        KpMultibase b = base == 0 ? KP_MULTIBASE_BASE58BTC : KP_MULTIBASE_BASE32;
                        g_autofree char *text = kp_multibase_encode(b, data, len);
                        g_autoptr(GBytes) back = NULL;
                        g_autoptr(GError) error = NULL;

                        back = kp_multibase_decode(text, &error);
                        g_assert_no_error(error);
                        g_assert_cmpmem(g_bytes_get_data(back, NULL), g_bytes_get_size(back), data,
                                        len);
                }
        }
        g_rand_free(rand);
}

static void
test_max_text(void)
{
        g_autofree char *ok = g_strnfill(KP_MULTIBASE_MAX_TEXT, '1');
        g_autofree char *long58 = g_strnfill(KP_MULTIBASE_MAX_TEXT + 1, '1');
        g_autofree char *long32 = g_strnfill(KP_MULTIBASE_MAX_TEXT + 8, 'a');
        g_autoptr(GBytes) bytes = NULL;
        g_autoptr(GError) error = NULL;

        bytes = kp_base58btc_decode(ok, strlen(ok), &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_bytes_get_size(bytes), ==, KP_MULTIBASE_MAX_TEXT);
        g_assert_null(kp_base58btc_decode(long58, strlen(long58), &error));
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "exceeds 1024");
        g_clear_error(&error);
        g_assert_null(kp_base32_decode(long32, strlen(long32), &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_TOO_LARGE);
}

/* Multibase text, with its prefix. */
static const KpTestMalformed malformed[] = {
        { "", KP_ERROR_INVALID, "empty multibase text" },
        { "m", KP_ERROR_UNSUPPORTED, "unsupported multibase prefix 'm'" },
        { "B", KP_ERROR_UNSUPPORTED, "unsupported multibase prefix 'B'" },
        { "\x01z", KP_ERROR_UNSUPPORTED, "unsupported multibase prefix '?'" },
        { "z0", KP_ERROR_INVALID, "invalid base58btc character '0' at offset 0" },
        { "zStV1DLO", KP_ERROR_INVALID, "invalid base58btc character 'O' at offset 6" },
        { "z2Il", KP_ERROR_INVALID, "invalid base58btc character 'I'" },
        { "z2g\xc3\xa9", KP_ERROR_INVALID, "invalid base58btc character '?' at offset 2" },
        { "zab+", KP_ERROR_INVALID, "invalid base58btc character '+'" },
        { "bmzxw6y=", KP_ERROR_INVALID, "invalid base32 character '=' at offset 6" },
        { "bMZXW6", KP_ERROR_INVALID, "invalid base32 character 'M' at offset 0" },
        { "bmzx1", KP_ERROR_INVALID, "invalid base32 character '1' at offset 3" },
        { "bm", KP_ERROR_INVALID, "invalid base32 length 1" },
        { "bmzx", KP_ERROR_INVALID, "invalid base32 length 3" },
        { "bmzxw6y", KP_ERROR_INVALID, "invalid base32 length 6" },
        /* "mz" would be "f" with a set bit in the unused tail. */
        { "bmz", KP_ERROR_INVALID, "non-zero trailing bits" },
        { "bmzxr", KP_ERROR_INVALID, "non-zero trailing bits" },
};

static gboolean
decode_text(const guint8 *data, gsize len, GError **error)
{
        g_autoptr(GBytes) bytes = kp_multibase_decode((const char *)data, error);

        return bytes != NULL;
}

static void
test_malformed(void)
{
        kp_test_malformed_text(malformed, G_N_ELEMENTS(malformed), decode_text);
}

static void
test_embedded_nul(void)
{
        g_autoptr(GError) error = NULL;

        g_assert_null(kp_base58btc_decode("2g\0", 3, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_INVALID);
        g_clear_error(&error);
        g_assert_null(kp_base32_decode("my\0\0\0\0\0\0", 8, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_INVALID);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/multibase/base58-vectors", test_base58_vectors);
        g_test_add_func("/multibase/base32-vectors", test_base32_vectors);
        g_test_add_func("/multibase/prefix", test_multibase_prefix);
        g_test_add_func("/multibase/peer-ids", test_base58_peer_ids);
        g_test_add_func("/multibase/round-trip", test_round_trip_random);
        g_test_add_func("/multibase/max-text", test_max_text);
        g_test_add_func("/multibase/malformed", test_malformed);
        g_test_add_func("/multibase/embedded-nul", test_embedded_nul);
        return g_test_run();
}
