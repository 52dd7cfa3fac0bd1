/* The XOR metric over SHA-256 keys. */
#include <string.h>

#include "dht/kp-kad-key.h"
#include "kp-test-peers.h"
#include "kp-test-util.h"

static void
key_from_hex(const char *hex, KpKadKey *ret)
{
        g_autoptr(GByteArray) b = kp_test_unhex(hex);

        g_assert_cmpuint(b->len, ==, KP_KAD_KEY_BYTES);
        memcpy(ret->bytes, b->data, KP_KAD_KEY_BYTES);
}

static void
test_key_sha256(void)
{
        KpKadKey k, want;

        /* FIPS 180-2 vectors: SHA-256("") and SHA-256("abc") */
        kp_kad_key_from_bytes((const guint8 *)"", 0, &k);
        key_from_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", &want);
        g_assert_true(kp_kad_key_equal(&k, &want));
        kp_kad_key_from_bytes((const guint8 *)"abc", 3, &k);
        key_from_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", &want);
        g_assert_true(kp_kad_key_equal(&k, &want));
}

static void
test_key_peer_id(void)
{
        KpPeerId id;
        KpKadKey a, b;

        kp_test_peer_id(1, &id);
        kp_kad_key_from_peer_id(&id, &a);
        kp_kad_key_from_bytes(id.bytes, id.len, &b);
        g_assert_true(kp_kad_key_equal(&a, &b));
}

static void
test_key_xor(void)
{
        KpKadKey a, b, d, zero = { { 0 } };

        key_from_hex("ff00000000000000000000000000000000000000000000000000000000000001", &a);
        key_from_hex("0f00000000000000000000000000000000000000000000000000000000000003", &b);
        kp_kad_key_distance(&a, &b, &d);
        g_assert_cmpuint(d.bytes[0], ==, 0xf0);
        g_assert_cmpuint(d.bytes[31], ==, 0x02);
        kp_kad_key_distance(&a, &a, &d);
        g_assert_true(kp_kad_key_equal(&d, &zero));

        g_assert_cmpuint(kp_kad_key_common_prefix_len(&a, &b), ==, 0);
        g_assert_cmpuint(kp_kad_key_common_prefix_len(&a, &a), ==, 256);
        key_from_hex("ff00000000000000000000000000000000000000000000000000000000000000", &b);
        g_assert_cmpuint(kp_kad_key_common_prefix_len(&a, &b), ==, 255);
        key_from_hex("fe00000000000000000000000000000000000000000000000000000000000001", &b);
        g_assert_cmpuint(kp_kad_key_common_prefix_len(&a, &b), ==, 7);
        key_from_hex("ff40000000000000000000000000000000000000000000000000000000000001", &b);
        g_assert_cmpuint(kp_kad_key_common_prefix_len(&a, &b), ==, 9);
}

static void
test_key_cmp_distance(void)
{
        KpKadKey t, a, b;

        key_from_hex("0000000000000000000000000000000000000000000000000000000000000000", &t);
        key_from_hex("0000000000000000000000000000000000000000000000000000000000000100", &a);
        key_from_hex("00000000000000000000000000000000000000000000000000000000000000ff", &b);
        g_assert_cmpint(kp_kad_key_cmp_distance(&t, &a, &b), >, 0);
        g_assert_cmpint(kp_kad_key_cmp_distance(&t, &b, &a), <, 0);
        g_assert_cmpint(kp_kad_key_cmp_distance(&t, &a, &a), ==, 0);
        /* relative to another target the order flips */
        g_assert_cmpint(kp_kad_key_cmp_distance(&a, &a, &b), <, 0);
        /* XOR is unidirectional: for a target, distinct keys have distinct
         * distances, so the order is total */
        for (guint i = 0; i < 50; i++) {
                KpPeerId x, y;
                KpKadKey kx, ky;
                kp_test_peer_id(i, &x);
                kp_test_peer_id(i + 100, &y);
                kp_kad_key_from_peer_id(&x, &kx);
                kp_kad_key_from_peer_id(&y, &ky);
                g_assert_cmpint(kp_kad_key_cmp_distance(&t, &kx, &ky), ==,
                                -kp_kad_key_cmp_distance(&t, &ky, &kx));
                g_assert_cmpint(kp_kad_key_cmp_distance(&t, &kx, &ky), !=, 0);
        }
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/kad-key/sha256", test_key_sha256);
        g_test_add_func("/kad-key/peer-id", test_key_peer_id);
        g_test_add_func("/kad-key/xor", test_key_xor);
        g_test_add_func("/kad-key/cmp-distance", test_key_cmp_distance);
        return g_test_run();
}
