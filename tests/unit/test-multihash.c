#include <string.h>

#include "core/kp-error.h"
#include "core/kp-multibase.h"
#include "core/kp-multihash.h"

#include "kp-test-util.h"
#include "kp-test-vectors.h"

typedef struct {
        const char *data;
        const char *hex;
} Sha256Vector;

static const Sha256Vector sha256_vectors[] = {
        { "", "1220e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "foo", "12202c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae" },
        { "hello world", "1220b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9" },
        /* The multiformats/multihash README example. */
        { "Merkle\xe2\x80\x93"
          "Damg\xc3\xa5rd",
          "122041dd7b6443542e75701aa98a0c235951a28a0d851b11564d20022ab11d2589a8" },
};

static void
test_sha256_vectors(void)
{
        for (gsize i = 0; i < G_N_ELEMENTS(sha256_vectors); i++) {
                g_autoptr(GByteArray) want = kp_test_unhex(sha256_vectors[i].hex);
                g_autoptr(GByteArray) out = g_byte_array_new();
                g_autoptr(GError) error = NULL;
                KpMultihashView view;

                kp_multihash_append_sha256(out, (const guint8 *)sha256_vectors[i].data,
                                           strlen(sha256_vectors[i].data));
                g_assert_cmpmem(out->data, out->len, want->data, want->len);
                g_assert_true(kp_multihash_parse(out->data, out->len, &view, &error));
                g_assert_no_error(error);
                g_assert_cmpuint(view.code, ==, KP_MULTIHASH_SHA2_256);
                g_assert_cmpuint(view.digest_len, ==, 32);
                g_assert_true(view.digest == out->data + 2);
        }
}

static void
test_identity(void)
{
        /* Ed25519 public key protobuf of libp2p/specs peer-ids.md. */
        g_autoptr(GByteArray) key = kp_test_unhex(SPEC_ED25519_PUBLIC);
        g_autoptr(GByteArray) out = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        KpMultihashView view;

        kp_multihash_append(out, KP_MULTIHASH_IDENTITY, key->data, key->len);
        g_assert_cmpuint(out->len, ==, 2 + 36);
        g_assert_cmpmem(out->data, 2, "\x00\x24", 2);
        g_assert_true(kp_multihash_parse(out->data, out->len, &view, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(view.code, ==, KP_MULTIHASH_IDENTITY);
        g_assert_cmpmem(view.digest, view.digest_len, key->data, key->len);
}

static void
test_spec_peer_id(void)
{
        /* A spec sha2-256 peer id is a well-formed sha2-256 multihash. */
        const char *text = SPEC_PEER_SHA;
        g_autoptr(GBytes) bytes = kp_base58btc_decode(text, strlen(text), NULL);
        g_autoptr(GError) error = NULL;
        KpMultihashView view;
        gsize len;
        const guint8 *p = g_bytes_get_data(bytes, &len);

        g_assert_true(kp_multihash_parse(p, len, &view, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(view.code, ==, KP_MULTIHASH_SHA2_256);
}

static void
test_max_digest(void)
{
        guint8 digest[KP_MULTIHASH_MAX_DIGEST + 1] = { 0 };
        g_autoptr(GByteArray) ok = g_byte_array_new();
        g_autoptr(GByteArray) big = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        KpMultihashView view;

        kp_multihash_append(ok, KP_MULTIHASH_IDENTITY, digest, KP_MULTIHASH_MAX_DIGEST);
        g_assert_true(kp_multihash_parse(ok->data, ok->len, &view, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(view.digest_len, ==, KP_MULTIHASH_MAX_DIGEST);

        kp_multihash_append(big, KP_MULTIHASH_IDENTITY, digest, KP_MULTIHASH_MAX_DIGEST + 1);
        g_assert_false(kp_multihash_parse(big->data, big->len, &view, &error));
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "digest length 129 exceeds 128");
}

static const KpTestMalformed malformed[] = {
        { "", KP_ERROR_TRUNCATED, "multihash: truncated varint" },
        { "12", KP_ERROR_TRUNCATED, "multihash: truncated varint" },
        { "1220", KP_ERROR_TRUNCATED, "digest length 32 but 0 bytes follow" },
        { "12200000", KP_ERROR_TRUNCATED, "digest length 32 but 2 bytes follow" },
        { "0001aabb", KP_ERROR_INVALID, "digest length 1 but 2 bytes follow" },
        { "1201aa", KP_ERROR_INVALID, "sha2-256 digest of 1 bytes, not 32" },
        { "1300", KP_ERROR_UNSUPPORTED, "unsupported hash code 0x13" },
        { "b24000", KP_ERROR_UNSUPPORTED, "unsupported hash code 0x2032" },
        { "8000", KP_ERROR_INVALID, "multihash: varint is not minimally encoded" },
        { "008100", KP_ERROR_INVALID, "not minimally encoded" },
        { "00ffffffffffffffffff01", KP_ERROR_TOO_LARGE, "varint longer than 9 bytes" },
        { "00ff7f", KP_ERROR_TOO_LARGE, "digest length 16383 exceeds 128" },
};

/* A refused multihash leaves the view untouched. */
static gboolean
parse_untouched(const guint8 *data, gsize len, GError **error)
{
        KpMultihashView view = { 42, NULL, 42 };
        gboolean ok = kp_multihash_parse(data, len, &view, error);

        if (!ok) {
                g_assert_cmpuint(view.code, ==, 42);
                g_assert_cmpuint(view.digest_len, ==, 42);
        }
        return ok;
}

static void
test_malformed(void)
{
        kp_test_malformed_hex(malformed, G_N_ELEMENTS(malformed), parse_untouched);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/multihash/sha256-vectors", test_sha256_vectors);
        g_test_add_func("/multihash/identity", test_identity);
        g_test_add_func("/multihash/spec-peer-id", test_spec_peer_id);
        g_test_add_func("/multihash/max-digest", test_max_digest);
        g_test_add_func("/multihash/malformed", test_malformed);
        return g_test_run();
}
