/* Identify messages: encoding, decoding, limits. */
#include <string.h>

#include "core/kp-error.h"
#include "core/kp-identify.h"
#include "core/kp-peer-id.h"
#include "kp-test-util.h"

static KpIdentifyInfo *
sample_info(void)
{
        static const guint8 seed[KP_ED25519_SEED_BYTES] = { 1 };
        g_autoptr(KpKeypair) kp = kp_keypair_new_from_seed(seed);
        const KpPublicKey *pub = kp_keypair_get_public_key(kp);
        KpIdentifyInfo *info = kp_identify_info_new();
        static const char *protocols[] = { "/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", NULL };

        info->protocol_version = g_strdup(KP_IDENTIFY_PROTOCOL_VERSION);
        info->agent_version = g_strdup("kping/test");
        info->public_key = kp_public_key_new_ed25519(g_bytes_get_data(pub->data, NULL));
        info->listen_addrs = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
        g_ptr_array_add(info->listen_addrs,
                        kp_multiaddr_new_from_string("/ip4/127.0.0.1/tcp/4001", NULL));
        g_ptr_array_add(info->listen_addrs,
                        kp_multiaddr_new_from_string("/ip6/::1/tcp/4001", NULL));
        info->observed_addr = kp_multiaddr_new_from_string("/ip4/10.0.0.1/tcp/5000", NULL);
        info->protocols = g_strdupv((char **)protocols);
        return info;
}

static void
test_identify_round_trip(void)
{
        g_autoptr(KpIdentifyInfo) info = sample_info();
        g_autoptr(GBytes) wire = kp_identify_encode(info);
        g_autoptr(GError) error = NULL;
        g_autoptr(KpIdentifyInfo) back = NULL;
        g_autofree char *a0 = NULL;
        gsize len;
        const guint8 *data = g_bytes_get_data(wire, &len);

        back = kp_identify_decode(data, len, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(back->protocol_version, ==, "ipfs/0.1.0");
        g_assert_cmpstr(back->agent_version, ==, "kping/test");
        g_assert_true(kp_public_key_equal(back->public_key, info->public_key));
        g_assert_cmpuint(back->listen_addrs->len, ==, 2);
        a0 = kp_multiaddr_to_string(back->listen_addrs->pdata[0]);
        g_assert_cmpstr(a0, ==, "/ip4/127.0.0.1/tcp/4001");
        g_assert_true(kp_multiaddr_equal(back->observed_addr, info->observed_addr));
        g_assert_cmpstrv(back->protocols, info->protocols);
        g_assert_cmpuint(back->n_bad_addrs, ==, 0);
}

/* Hand-derived bytes: field 6 (agentVersion) is tag 0x32, field 3
 * (protocols) 0x1a, field 2 (listenAddrs) 0x12. */
static void
test_identify_vector(void)
{
        g_autoptr(KpIdentifyInfo) info = kp_identify_info_new();
        g_autoptr(GBytes) wire = NULL;
        g_autoptr(GByteArray) want = kp_test_unhex("1208047f000001061f90"
                                                   "1a022f61"
                                                   "320161");
        static const char *protocols[] = { "/a", NULL };

        info->agent_version = g_strdup("a");
        info->protocols = g_strdupv((char **)protocols);
        info->listen_addrs = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
        g_ptr_array_add(info->listen_addrs,
                        kp_multiaddr_new_from_string("/ip4/127.0.0.1/tcp/8080", NULL));
        wire = kp_identify_encode(info);
        g_assert_cmpmem(g_bytes_get_data(wire, NULL), g_bytes_get_size(wire), want->data,
                        want->len);
}

static void
test_identify_drops_unknown_addrs(void)
{
        /* listenAddrs: one good (/ip4/127.0.0.1/tcp/8080), one with an unknown
         * protocol code 0x3fff (varint ff 7f). */
        g_autoptr(GByteArray) wire = kp_test_unhex("1208047f000001061f90"
                                                   "1203ff7f00");
        g_autoptr(GError) error = NULL;
        g_autoptr(KpIdentifyInfo) info = kp_identify_decode(wire->data, wire->len, &error);

        g_assert_no_error(error);
        g_assert_cmpuint(info->listen_addrs->len, ==, 1);
        g_assert_cmpuint(info->n_bad_addrs, ==, 1);
}

static gboolean
decode(const guint8 *data, gsize len, GError **error)
{
        g_autoptr(KpIdentifyInfo) info = kp_identify_decode(data, len, error);

        return info != NULL;
}

static void
test_identify_malformed(void)
{
        const KpTestMalformed cases[] = {
                /* truncated length-delimited field */
                { "3205616263", KP_ERROR_INVALID, "malformed protobuf" },
                /* agentVersion with invalid UTF-8 */
                { "3202c328", KP_ERROR_INVALID, "agentVersion is not UTF-8" },
                /* publicKey that is not a key protobuf */
                { "0a03010203", KP_ERROR_INVALID,
                  "identify: publicKey: public key: malformed protobuf" },
        };

        kp_test_malformed_hex(cases, G_N_ELEMENTS(cases), decode);
}

static void
test_identify_limits(void)
{
        g_autoptr(GByteArray) many = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        g_autoptr(GError) error2 = NULL;
        g_autofree guint8 *huge = g_malloc0(KP_IDENTIFY_MAX_MESSAGE + 1);
        g_autoptr(KpIdentifyInfo) ok = NULL;

        /* Exactly the limit of protocols passes, one more fails. */
        for (int i = 0; i < KP_IDENTIFY_MAX_PROTOCOLS; i++)
                g_byte_array_append(many, (const guint8 *)"\x1a\x02/a", 4);
        ok = kp_identify_decode(many->data, many->len, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_strv_length(ok->protocols), ==, KP_IDENTIFY_MAX_PROTOCOLS);
        g_byte_array_append(many, (const guint8 *)"\x1a\x02/a", 4);
        g_assert_null(kp_identify_decode(many->data, many->len, &error));
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "protocols exceed");

        g_assert_null(kp_identify_decode(huge, KP_IDENTIFY_MAX_MESSAGE + 1, &error2));
        kp_test_assert_error(error2, KP_ERROR_TOO_LARGE, "exceeds 8192");
}

static void
test_identify_copy(void)
{
        g_autoptr(KpIdentifyInfo) info = sample_info();
        g_autoptr(KpIdentifyInfo) copy = kp_identify_info_copy(info);
        g_autoptr(GBytes) a = kp_identify_encode(info);
        g_autoptr(GBytes) b = kp_identify_encode(copy);

        g_assert_true(g_bytes_equal(a, b));
        g_assert_true(copy->listen_addrs != info->listen_addrs);
}

/* Split messages fold together: scalars replaced, lists extended, bounded. */
static void
test_identify_merge(void)
{
        g_autoptr(KpIdentifyInfo) into = sample_info();
        g_autoptr(KpIdentifyInfo) from = kp_identify_info_new();
        static const char *more[] = { "/kameo/messaging/1.0.0", NULL };

        from->agent_version = g_strdup("kping/second");
        from->protocols = g_strdupv((char **)more);
        from->listen_addrs = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
        for (int i = 0; i < KP_IDENTIFY_MAX_ADDRS; i++)
                g_ptr_array_add(from->listen_addrs,
                                kp_multiaddr_new_from_string("/ip4/192.0.2.1/tcp/1", NULL));
        kp_identify_info_merge(into, from);
        g_assert_cmpstr(into->agent_version, ==, "kping/second");
        g_assert_cmpstr(into->protocol_version, ==, "ipfs/0.1.0");
        g_assert_nonnull(into->public_key);
        g_assert_cmpuint(g_strv_length(into->protocols), ==, 3);
        g_assert_cmpstr(into->protocols[2], ==, "/kameo/messaging/1.0.0");
        g_assert_cmpuint(into->listen_addrs->len, ==, KP_IDENTIFY_MAX_ADDRS);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/identify/round-trip", test_identify_round_trip);
        g_test_add_func("/identify/vector", test_identify_vector);
        g_test_add_func("/identify/drops-unknown-addrs", test_identify_drops_unknown_addrs);
        g_test_add_func("/identify/malformed", test_identify_malformed);
        g_test_add_func("/identify/limits", test_identify_limits);
        g_test_add_func("/identify/merge", test_identify_merge);
        g_test_add_func("/identify/copy", test_identify_copy);
        return g_test_run();
}
