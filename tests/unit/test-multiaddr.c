#include <string.h>

#include "core/kp-error.h"
#include "core/kp-multiaddr.h"
#include "core/kp-varint.h"

#include "kp-test-util.h"
#include "kp-test-vectors.h"

typedef struct {
        const char *text;
        const char *hex;
} Vector;

/* Binary forms derived by hand from protocols.csv (code varint, then the
 * value: fixed size or varint length-prefixed). */
static const Vector vectors[] = {
        /* multiformats/multiaddr README */
        { "/ip4/127.0.0.1/udp/1234", "04 7f000001 9102 04d2" },
        /* multiformats/multiaddr test/multiaddr.feature */
        { "/ip4/192.0.2.42/tcp/443", "04 c000022a 06 01bb" },
        { "/ip4/127.0.0.1/tcp/4001", "04 7f000001 06 0fa1" },
        { "/ip4/0.0.0.0/tcp/0", "04 00000000 06 0000" },
        { "/ip4/255.255.255.255/tcp/65535", "04 ffffffff 06 ffff" },
        { "/ip6/::1/tcp/1", "29 00000000000000000000000000000001 06 0001" },
        { "/ip6/::/tcp/36341", "29 00000000000000000000000000000000 06 8df5" },
        { "/ip6/2001:db8::ff00:42:8329/udp/53", "29 20010db8000000000000ff0000428329 9102 0035" },
        { "/ip6/::ffff:1.2.3.4/tcp/80", "29 00000000000000000000ffff01020304 06 0050" },
        { "/dns/example.com/tcp/443", "35 0b 6578616d706c652e636f6d 06 01bb" },
        { "/dns4/example.com/tcp/443", "36 0b 6578616d706c652e636f6d 06 01bb" },
        { "/dns6/example.com/tcp/443", "37 0b 6578616d706c652e636f6d 06 01bb" },
        { "/dnsaddr/bootstrap.libp2p.io", "38 13 626f6f7473747261702e6c69627032702e696f" },
        { "/ip4/1.2.3.4/udp/4001/quic-v1", "04 01020304 9102 0fa1 cd03" },
        { "/ip4/1.2.3.4/udp/4001/quic", "04 01020304 9102 0fa1 cc03" },
        { "/p2p/" SPEC_PEER_SHA, "a503 22 " SPEC_PEER_SHA_HEX },
        { "/ip4/127.0.0.1/tcp/4001/p2p/" SPEC_PEER_ED,
          "04 7f000001 06 0fa1 a503 26 " SPEC_PEER_ED_HEX },
        { "/dns4/d\xc3\xa9j\xc3\xa0.example/tcp/1", "36 0e 64c3a96ac3a02e6578616d706c65 06 0001" },
};

static void
test_vectors(void)
{
        for (gsize i = 0; i < G_N_ELEMENTS(vectors); i++) {
                g_autoptr(GByteArray) want = kp_test_unhex(vectors[i].hex);
                g_autoptr(KpMultiaddr) from_text = NULL;
                g_autoptr(KpMultiaddr) from_bytes = NULL;
                g_autoptr(GError) error = NULL;
                g_autofree char *text = NULL;
                const guint8 *bytes;
                gsize len;

                g_test_message("vector %s", vectors[i].text);
                from_text = kp_multiaddr_new_from_string(vectors[i].text, &error);
                g_assert_no_error(error);
                bytes = kp_multiaddr_get_bytes(from_text, &len);
                g_assert_cmpmem(bytes, len, want->data, want->len);

                from_bytes = kp_multiaddr_new_from_bytes(want->data, want->len, &error);
                g_assert_no_error(error);
                text = kp_multiaddr_to_string(from_bytes);
                g_assert_cmpstr(text, ==, vectors[i].text);
                g_assert_true(kp_multiaddr_equal(from_text, from_bytes));
                g_assert_cmpuint(kp_multiaddr_hash(from_text), ==, kp_multiaddr_hash(from_bytes));
        }
}

typedef struct {
        const char *input;
        const char *canonical;
} Canonical;

static const Canonical canonical[] = {
        { "/ip6/0:0:0:0:0:0:0:1/tcp/1", "/ip6/::1/tcp/1" },
        { "/ip6/0000:0000:0000:0000:0000:0000:0000:0000/tcp/1", "/ip6/::/tcp/1" },
        { "/ip6/2001:DB8:0:0:0:0:0:1/tcp/1", "/ip6/2001:db8::1/tcp/1" },
        { "/ip6/2001:db8:0:0:1:0:0:1/udp/1", "/ip6/2001:db8::1:0:0:1/udp/1" },
        { "/ip6/::FFFF:102:304/tcp/80", "/ip6/::ffff:1.2.3.4/tcp/80" },
        { "/ipfs/" SPEC_PEER_SHA, "/p2p/" SPEC_PEER_SHA },
        { "/ip4/1.2.3.4/tcp/1/ipfs/" SPEC_PEER_ED, "/ip4/1.2.3.4/tcp/1/p2p/" SPEC_PEER_ED },
        { "/p2p/" SPEC_PEER_SHA_CID, "/p2p/" SPEC_PEER_SHA },
        { "/ip4/1.2.3.4/", "/ip4/1.2.3.4" },
        { "/ip4/1.2.3.4/tcp/80/", "/ip4/1.2.3.4/tcp/80" },
        { "/ip4/1.2.3.4/udp/1/quic-v1/", "/ip4/1.2.3.4/udp/1/quic-v1" },
        { "/ip4/1.2.3.4/tcp/0080", "/ip4/1.2.3.4/tcp/80" },
        { "/ip4/1.2.3.4/tcp/00000000000000000001", "/ip4/1.2.3.4/tcp/1" },
};

static void
test_canonical(void)
{
        for (gsize i = 0; i < G_N_ELEMENTS(canonical); i++) {
                g_autoptr(KpMultiaddr) ma = NULL;
                g_autoptr(KpMultiaddr) again = NULL;
                g_autoptr(GError) error = NULL;
                g_autofree char *text = NULL;
                g_autofree char *text2 = NULL;

                g_test_message("canonical %s", canonical[i].input);
                ma = kp_multiaddr_new_from_string(canonical[i].input, &error);
                g_assert_no_error(error);
                text = kp_multiaddr_to_string(ma);
                g_assert_cmpstr(text, ==, canonical[i].canonical);
                again = kp_multiaddr_new_from_string(text, &error);
                g_assert_no_error(error);
                g_assert_true(kp_multiaddr_equal(ma, again));
                text2 = kp_multiaddr_to_string(again);
                g_assert_cmpstr(text2, ==, text);
        }
}

static void
test_components(void)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(KpMultiaddr) ma
            = kp_multiaddr_new_from_string("/dns6/a.b/tcp/7/p2p/" SPEC_PEER_SHA, &error);
        g_autoptr(GByteArray) peer = kp_test_unhex(SPEC_PEER_SHA_HEX);
        guint64 code;
        const guint8 *value;
        gsize len;

        g_assert_no_error(error);
        g_assert_cmpuint(kp_multiaddr_get_n_components(ma), ==, 3);
        kp_multiaddr_get_component(ma, 0, &code, &value, &len);
        g_assert_cmpuint(code, ==, KP_MULTIADDR_PROTO_DNS6);
        g_assert_cmpmem(value, len, "a.b", 3);
        kp_multiaddr_get_component(ma, 1, &code, &value, &len);
        g_assert_cmpuint(code, ==, KP_MULTIADDR_PROTO_TCP);
        g_assert_cmpmem(value, len, "\x00\x07", 2);
        kp_multiaddr_get_component(ma, 2, &code, &value, &len);
        g_assert_cmpuint(code, ==, KP_MULTIADDR_PROTO_P2P);
        g_assert_cmpmem(value, len, peer->data, peer->len);

        g_assert_cmpstr(kp_multiaddr_protocol_name(KP_MULTIADDR_PROTO_P2P), ==, "p2p");
        g_assert_cmpstr(kp_multiaddr_protocol_name(KP_MULTIADDR_PROTO_QUIC_V1), ==, "quic-v1");
        g_assert_cmpstr(kp_multiaddr_protocol_name(KP_MULTIADDR_PROTO_UDP), ==, "udp");
        g_assert_null(kp_multiaddr_protocol_name(17));
}

static void
test_codes(void)
{
        /* multiformats/multiaddr protocols.csv */
        g_assert_cmpint(KP_MULTIADDR_PROTO_IP4, ==, 4);
        g_assert_cmpint(KP_MULTIADDR_PROTO_TCP, ==, 6);
        g_assert_cmpint(KP_MULTIADDR_PROTO_IP6, ==, 41);
        g_assert_cmpint(KP_MULTIADDR_PROTO_DNS, ==, 53);
        g_assert_cmpint(KP_MULTIADDR_PROTO_DNS4, ==, 54);
        g_assert_cmpint(KP_MULTIADDR_PROTO_DNS6, ==, 55);
        g_assert_cmpint(KP_MULTIADDR_PROTO_DNSADDR, ==, 56);
        g_assert_cmpint(KP_MULTIADDR_PROTO_UDP, ==, 273);
        g_assert_cmpint(KP_MULTIADDR_PROTO_P2P, ==, 421);
        g_assert_cmpint(KP_MULTIADDR_PROTO_QUIC, ==, 460);
        g_assert_cmpint(KP_MULTIADDR_PROTO_QUIC_V1, ==, 461);
}

static void
test_peer_id(void)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(KpMultiaddr) ma
            = kp_multiaddr_new_from_string("/ip4/1.2.3.4/tcp/1/p2p/" SPEC_PEER_ED, &error);
        g_autoptr(KpMultiaddr) bare = NULL;
        g_autoptr(KpMultiaddr) plain = kp_multiaddr_new_from_string("/ip4/1.2.3.4/tcp/1", NULL);
        g_autoptr(KpMultiaddr) back = NULL;
        g_autoptr(KpMultiaddr) same = NULL;
        g_autoptr(KpMultiaddr) only_p2p = kp_multiaddr_new_from_string("/p2p/" SPEC_PEER_SHA, NULL);
        g_autoptr(GByteArray) want = kp_test_unhex(SPEC_PEER_ED_HEX);
        KpPeerId id, other, untouched;

        g_assert_no_error(error);
        g_assert_true(kp_multiaddr_get_peer_id(ma, &id, &error));
        g_assert_no_error(error);
        g_assert_cmpmem(id.bytes, id.len, want->data, want->len);

        memset(&untouched, 0xaa, sizeof untouched);
        g_assert_false(kp_multiaddr_get_peer_id(plain, &untouched, &error));
        kp_test_assert_error(error, KP_ERROR_NOT_FOUND, "no trailing /p2p");
        g_assert_cmpuint(untouched.len, ==, 0xaa);
        g_clear_error(&error);

        bare = kp_multiaddr_without_p2p(ma);
        g_assert_true(kp_multiaddr_equal(bare, plain));
        back = kp_multiaddr_encapsulate_p2p(bare, &id, &error);
        g_assert_no_error(error);
        g_assert_true(kp_multiaddr_equal(back, ma));
        same = kp_multiaddr_encapsulate_p2p(ma, &id, &error);
        g_assert_no_error(error);
        g_assert_true(kp_multiaddr_equal(same, ma));

        g_assert_true(kp_multiaddr_get_peer_id(only_p2p, &other, NULL));
        g_assert_null(kp_multiaddr_encapsulate_p2p(ma, &other, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_PEER_ID_MISMATCH);
        g_clear_error(&error);
        g_assert_null(kp_multiaddr_without_p2p(only_p2p));

        {
                g_autoptr(KpMultiaddr) copy = kp_multiaddr_without_p2p(plain);
                g_assert_true(kp_multiaddr_equal(copy, plain));
        }
        {
                /* A garbage peer id is refused, not embedded. */
                KpPeerId bad = { .len = 3, .bytes = { 0x13, 0x01, 0x00 } };
                g_assert_null(kp_multiaddr_encapsulate_p2p(plain, &bad, &error));
                kp_test_assert_error(error, KP_ERROR_UNSUPPORTED, "unsupported hash code 0x13");
        }
}

static void
test_encapsulate_limits(void)
{
        g_autoptr(GString) s = g_string_new(NULL);
        g_autoptr(KpMultiaddr) full = NULL;
        g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_string("/p2p/" SPEC_PEER_SHA, NULL);
        g_autoptr(GError) error = NULL;
        KpPeerId id;

        g_assert_true(kp_multiaddr_get_peer_id(ma, &id, NULL));
        for (guint i = 0; i < KP_MULTIADDR_MAX_COMPONENTS; i++)
                g_string_append(s, "/quic-v1");
        full = kp_multiaddr_new_from_string(s->str, &error);
        g_assert_no_error(error);
        g_assert_null(kp_multiaddr_encapsulate_p2p(full, &id, &error));
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "cannot append /p2p");
}

static void
test_tcp_endpoint(void)
{
        struct {
                const char *text;
                const char *host;
                guint16 port;
                KpMultiaddrHostKind kind;
        } ok[] = {
                { "/ip4/127.0.0.1/tcp/4001", "127.0.0.1", 4001, KP_MULTIADDR_HOST_IP4 },
                { "/ip6/0:0::1/tcp/65535/p2p/" SPEC_PEER_ED, "::1", 65535, KP_MULTIADDR_HOST_IP6 },
                { "/dns/example.com/tcp/1", "example.com", 1, KP_MULTIADDR_HOST_DNS },
                { "/dns4/example.com/tcp/2", "example.com", 2, KP_MULTIADDR_HOST_DNS4 },
                { "/dns6/example.com/tcp/3/p2p/" SPEC_PEER_SHA, "example.com", 3,
                  KP_MULTIADDR_HOST_DNS6 },
        };
        const char *bad[] = {
                "/ip4/127.0.0.1/udp/4001",
                "/ip4/127.0.0.1/udp/4001/quic-v1",
                "/dnsaddr/bootstrap.libp2p.io/p2p/" SPEC_PEER_SHA,
                "/ip4/127.0.0.1",
                "/p2p/" SPEC_PEER_SHA,
                "/tcp/1",
                "/ip4/127.0.0.1/tcp/1/quic",
                "/ip4/127.0.0.1/tcp/1/p2p/" SPEC_PEER_SHA "/p2p/" SPEC_PEER_ED,
        };

        for (gsize i = 0; i < G_N_ELEMENTS(ok); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_string(ok[i].text, &error);
                g_autoptr(KpMultiaddr) built = NULL;
                g_autoptr(KpMultiaddr) bare = NULL;
                g_autofree char *host = NULL;
                guint16 port = 0;
                KpMultiaddrHostKind kind = 0;

                g_assert_no_error(error);
                g_assert_true(kp_multiaddr_get_tcp_endpoint(ma, &host, &port, &kind, &error));
                g_assert_no_error(error);
                g_assert_cmpstr(host, ==, ok[i].host);
                g_assert_cmpuint(port, ==, ok[i].port);
                g_assert_cmpint(kind, ==, ok[i].kind);

                built = kp_multiaddr_new_tcp(kind, host, port, &error);
                g_assert_no_error(error);
                bare = kp_multiaddr_without_p2p(ma);
                g_assert_true(kp_multiaddr_equal(built, bare));
        }
        for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_string(bad[i], &error);
                char *host = (char *)"untouched";
                guint16 port = 7;

                g_assert_no_error(error);
                g_assert_false(kp_multiaddr_get_tcp_endpoint(ma, &host, &port, NULL, &error));
                kp_test_assert_error(error, KP_ERROR_UNSUPPORTED, "is not a TCP address");
                g_assert_cmpstr(host, ==, "untouched");
                g_assert_cmpuint(port, ==, 7);
        }
}

static void
test_new_tcp_errors(void)
{
        g_autoptr(GError) error = NULL;

        g_assert_null(kp_multiaddr_new_tcp(KP_MULTIADDR_HOST_IP4, "::1", 1, &error));
        kp_test_assert_error(error, KP_ERROR_INVALID, "ip4 address \"::1\" is not valid");
        g_clear_error(&error);
        g_assert_null(kp_multiaddr_new_tcp(KP_MULTIADDR_HOST_DNS4, "a/b", 1, &error));
        kp_test_assert_error(error, KP_ERROR_INVALID, "contains '/'");
        g_clear_error(&error);
        g_assert_null(kp_multiaddr_new_tcp(KP_MULTIADDR_HOST_DNS, "", 1, &error));
        kp_test_assert_error(error, KP_ERROR_INVALID, "empty dns name");
}

static void
test_copy(void)
{
        g_autoptr(KpMultiaddr) ma
            = kp_multiaddr_new_from_string("/ip6/::1/tcp/1/p2p/" SPEC_PEER_SHA, NULL);
        g_autoptr(KpMultiaddr) copy = kp_multiaddr_copy(ma);
        g_autoptr(KpMultiaddr) other = kp_multiaddr_new_from_string("/ip6/::1/tcp/2", NULL);
        g_autofree char *a = kp_multiaddr_to_string(ma);
        g_autofree char *b = NULL;

        g_clear_pointer(&ma, kp_multiaddr_free);
        b = kp_multiaddr_to_string(copy);
        g_assert_cmpstr(a, ==, b);
        g_assert_cmpuint(kp_multiaddr_get_n_components(copy), ==, 3);
        g_assert_false(kp_multiaddr_equal(copy, other));
}

static char *
dns_chain(const gsize *lens, gsize n)
{
        GString *s = g_string_new(NULL);

        for (gsize i = 0; i < n; i++) {
                g_autofree char *name = g_strnfill(lens[i], 'a');
                g_string_append_printf(s, "/dns/%s", name);
        }
        return g_string_free(s, FALSE);
}

static void
test_limits(void)
{
        /* 3 * (1 + 2 + 255) + (1 + 2 + 247) = 1024 bytes exactly. */
        const gsize fits[] = { 255, 255, 255, 247 };
        const gsize over[] = { 255, 255, 255, 248 };
        g_autofree char *fits_text = dns_chain(fits, G_N_ELEMENTS(fits));
        g_autofree char *over_text = dns_chain(over, G_N_ELEMENTS(over));
        g_autofree char *name256 = g_strnfill(256, 'a');
        g_autofree char *dns256 = g_strconcat("/dns/", name256, NULL);
        g_autoptr(GString) comps = g_string_new(NULL);
        g_autoptr(KpMultiaddr) ma = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GByteArray) bytes = NULL;
        gsize len;

        ma = kp_multiaddr_new_from_string(fits_text, &error);
        g_assert_no_error(error);
        kp_multiaddr_get_bytes(ma, &len);
        g_assert_cmpuint(len, ==, KP_MULTIADDR_MAX_BYTES);
        g_clear_pointer(&ma, kp_multiaddr_free);

        g_assert_null(kp_multiaddr_new_from_string(over_text, &error));
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "binary form exceeds 1024 bytes");
        g_assert_true(g_str_has_prefix(error->message, "invalid multiaddr \"/dns/aaaa"));
        g_clear_error(&error);

        /* The same in binary: 1024 accepted, 1025 refused. */
        bytes = g_byte_array_new();
        for (gsize i = 0; i < G_N_ELEMENTS(over); i++) {
                kp_varint_append(bytes, KP_MULTIADDR_PROTO_DNS);
                kp_varint_append(bytes, over[i]);
                for (gsize j = 0; j < over[i]; j++)
                        g_byte_array_append(bytes, (const guint8 *)"a", 1);
        }
        g_assert_cmpuint(bytes->len, ==, KP_MULTIADDR_MAX_BYTES + 1);
        g_assert_null(kp_multiaddr_new_from_bytes(bytes->data, bytes->len, &error));
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE,
                             "invalid multiaddr bytes: 1025 bytes exceed 1024");
        g_clear_error(&error);

        /* DNS names: 255 bytes fit, 256 do not. */
        dns256[strlen(dns256) - 1] = '\0';
        ma = kp_multiaddr_new_from_string(dns256, &error);
        g_assert_no_error(error);
        g_clear_pointer(&ma, kp_multiaddr_free);
        g_free(dns256);
        dns256 = g_strconcat("/dns/", name256, NULL);
        g_assert_null(kp_multiaddr_new_from_string(dns256, &error));
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "dns name of 256 bytes exceeds 255");
        g_clear_error(&error);

        /* Components: 16 fit, 17 do not. */
        for (guint i = 0; i < KP_MULTIADDR_MAX_COMPONENTS; i++)
                g_string_append(comps, "/tcp/1");
        ma = kp_multiaddr_new_from_string(comps->str, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(kp_multiaddr_get_n_components(ma), ==, KP_MULTIADDR_MAX_COMPONENTS);
        {
                const guint8 *b = kp_multiaddr_get_bytes(ma, &len);
                g_autoptr(GByteArray) more = g_byte_array_new();

                g_byte_array_append(more, b, (guint)len);
                g_byte_array_append(more, (const guint8 *)"\xcd\x03", 2);
                g_assert_null(kp_multiaddr_new_from_bytes(more->data, more->len, &error));
                kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "more than 16 components");
                g_clear_error(&error);
        }
        g_string_append(comps, "/quic-v1");
        g_assert_null(kp_multiaddr_new_from_string(comps->str, &error));
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "more than 16 components");
        g_clear_error(&error);

        /* A long bad value is not echoed in full. */
        {
                g_autofree char *junk = g_strnfill(3000, '0');
                g_autofree char *text = g_strconcat("/p2p/Qm", junk, NULL);

                g_assert_null(kp_multiaddr_new_from_string(text, &error));
                g_assert_error(error, KP_ERROR, KP_ERROR_TOO_LARGE);
                g_assert_cmpuint(strlen(error->message), <, 400);
                g_clear_error(&error);
        }

        /* Text length: KP_MULTIADDR_MAX_TEXT is looked at, one more is not. */
        {
                g_autofree char *text = g_strnfill(KP_MULTIADDR_MAX_TEXT + 1, '/');

                g_assert_null(kp_multiaddr_new_from_string(text, &error));
                kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "text of 4097 bytes exceeds 4096");
                /* The echo of hostile input is cut short. */
                g_assert_cmpuint(strlen(error->message), <, 300);
                g_clear_error(&error);
                text[KP_MULTIADDR_MAX_TEXT] = '\0';
                g_assert_null(kp_multiaddr_new_from_string(text, &error));
                kp_test_assert_error(error, KP_ERROR_INVALID, "empty protocol name");
        }
}

static const KpTestMalformed malformed_text[] = {
        { "", KP_ERROR_INVALID, "invalid multiaddr \"\": must start with \"/\"" },
        { "ip4/1.2.3.4", KP_ERROR_INVALID, "\"ip4/1.2.3.4\": must start with \"/\"" },
        { " /ip4/1.2.3.4", KP_ERROR_INVALID, "must start with \"/\"" },
        { "/", KP_ERROR_INVALID, "invalid multiaddr \"/\": empty multiaddr" },
        { "//", KP_ERROR_INVALID, "empty multiaddr" },
        { "/foo", KP_ERROR_UNSUPPORTED, "invalid multiaddr \"/foo\": unknown protocol \"foo\"" },
        { "/ip4/1.2.3.4/tcp/1/ws", KP_ERROR_UNSUPPORTED, "unknown protocol \"ws\"" },
        { "/IP4/1.2.3.4", KP_ERROR_UNSUPPORTED, "unknown protocol \"IP4\"" },
        { "/udp/1/quic-v1/1", KP_ERROR_UNSUPPORTED, "unknown protocol \"1\"" },
        { "/ip4/1.2.3", KP_ERROR_INVALID,
          "invalid multiaddr \"/ip4/1.2.3\": ip4 address \"1.2.3\" is not valid" },
        { "/ip4/256.0.0.1", KP_ERROR_INVALID, "ip4 address \"256.0.0.1\" is not valid" },
        { "/ip4/1.2.3.4.5", KP_ERROR_INVALID, "ip4 address \"1.2.3.4.5\" is not valid" },
        { "/ip4/::1", KP_ERROR_INVALID, "ip4 address \"::1\" is not valid" },
        { "/ip4/1.2.3.04", KP_ERROR_INVALID, "ip4 address \"1.2.3.04\" is not valid" },
        { "/ip4", KP_ERROR_INVALID, "invalid multiaddr \"/ip4\": missing value for ip4" },
        { "/ip4/", KP_ERROR_INVALID, "missing value for ip4" },
        { "/ip4/1.2.3.4/tcp", KP_ERROR_INVALID, "missing value for tcp" },
        { "/ip4/1.2.3.4/tcp/", KP_ERROR_INVALID, "missing value for tcp" },
        { "/ip4/1.2.3.4/tcp//", KP_ERROR_INVALID, "missing value for tcp" },
        { "/ipfs", KP_ERROR_INVALID, "missing value for p2p" },
        { "/ip4/1.2.3.4/tcp/99999", KP_ERROR_INVALID,
          "invalid multiaddr \"/ip4/1.2.3.4/tcp/99999\": port 99999 out of range" },
        { "/udp/65536", KP_ERROR_INVALID, "port 65536 out of range" },
        { "/tcp/99999999999999999999999", KP_ERROR_INVALID,
          "port 99999999999999999999999 out of range" },
        { "/tcp/-1", KP_ERROR_INVALID, "port \"-1\" is not valid" },
        { "/tcp/+1", KP_ERROR_INVALID, "port \"+1\" is not valid" },
        { "/tcp/8o", KP_ERROR_INVALID, "port \"8o\" is not valid" },
        { "/tcp/99999x", KP_ERROR_INVALID, "port \"99999x\" is not valid" },
        { "/tcp/ 1", KP_ERROR_INVALID, "port \" 1\" is not valid" },
        { "/ip6/::g", KP_ERROR_INVALID, "ip6 address \"::g\" is not valid" },
        { "/ip6/1.2.3.4", KP_ERROR_INVALID, "ip6 address \"1.2.3.4\" is not valid" },
        { "/ip6/fe80::1%eth0", KP_ERROR_INVALID, "ip6 address \"fe80::1%eth0\" is not valid" },
        { "/ip6/1:2:3:4:5:6:7:8:9", KP_ERROR_INVALID, "is not valid" },
        { "/ip6/[::1]", KP_ERROR_INVALID, "ip6 address \"[::1]\" is not valid" },
        { "/dns4//tcp/1", KP_ERROR_INVALID, "empty dns4 name" },
        { "/dns/", KP_ERROR_INVALID, "missing value for dns" },
        { "/dns//", KP_ERROR_INVALID, "empty dns name" },
        { "/dnsaddr/\xff", KP_ERROR_INVALID, "dnsaddr name is not valid UTF-8" },
        { "/ip4/1.2.3.4//tcp/1", KP_ERROR_INVALID, "empty protocol name" },
        { "/ip4/1.2.3.4//", KP_ERROR_INVALID, "empty protocol name" },
        { "/quic-v1//", KP_ERROR_INVALID, "empty protocol name" },
        { "/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx50", KP_ERROR_INVALID,
          "p2p value \"QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx50\": peer id: invalid "
          "base58btc character '0'" },
        { "/p2p/1", KP_ERROR_TRUNCATED, "p2p value \"1\": peer id: multihash: truncated" },
        { "/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5", KP_ERROR_UNSUPPORTED,
          "\": peer id: multihash: unsupported hash code 0x50" },
        { "/p2p/fabcd", KP_ERROR_UNSUPPORTED, "unsupported multibase prefix 'f'" },
        { "/p2p/bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy", KP_ERROR_INVALID,
          "CID codec 0x55 (raw) is not libp2p-key (0x72)" },
        { "/p2p/bajzbeibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy", KP_ERROR_UNSUPPORTED,
          "CID version 2, expected 1" },
        { "/p2p/b", KP_ERROR_TRUNCATED, "CID version: truncated varint" },
        { "/p2p/bAFZB", KP_ERROR_INVALID, "invalid base32 character 'A'" },
        /* 47 zero bytes: an empty identity multihash with 45 bytes after it */
        { "/p2p/11111111111111111111111111111111111111111111111", KP_ERROR_INVALID,
          "p2p value \"11111111111111111111111111111111111111111111111\": peer id: multihash: "
          "digest length 0 but 45 bytes follow" },
        /* 00 2b 08 03 12 27 5a...: an inline key one byte over the limit */
        { "/p2p/1EzV18BhCciEBEg7agiv7SEEdVs9XMLuh3xh6LjBeaXJwgAs1w6eqMK5Fc8PB", KP_ERROR_TOO_LARGE,
          "peer id: inline public key of 43 bytes exceeds 42" },
        /* 00 04 deadbeef: an identity multihash that is not a key */
        { "/p2p/1YsFvyU", KP_ERROR_INVALID, "peer id: inline public key: malformed protobuf" },
        { "/ip4/\xff", KP_ERROR_INVALID, "\"/ip4/\\377\": ip4 address \"\\377\" is not valid" },
        { "/tcp/\xc3\xa9", KP_ERROR_INVALID, "port \"\\303\\251\" is not valid" },
        { "/\x01", KP_ERROR_UNSUPPORTED, "unknown protocol \"\\001\"" },
        { "/ip4/1.2.3.4/tcp/1\"x", KP_ERROR_INVALID,
          "invalid multiaddr \"/ip4/1.2.3.4/tcp/1\\\"x\": port" },
};

/* Refusals quote the input, and stay printable UTF-8 whatever it was. */
static gboolean
new_from_text(const guint8 *data, gsize len, GError **error)
{
        g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_string((const char *)data, error);

        if (ma != NULL)
                return TRUE;
        g_assert_true(g_str_has_prefix((*error)->message, "invalid multiaddr \""));
        g_assert_true(g_utf8_validate((*error)->message, -1, NULL));
        return FALSE;
}

static void
test_malformed_text(void)
{
        kp_test_malformed_text(malformed_text, G_N_ELEMENTS(malformed_text), new_from_text);
}

static const KpTestMalformed malformed_bytes[] = {
        { "", KP_ERROR_INVALID, "invalid multiaddr bytes: empty multiaddr" },
        { "04", KP_ERROR_TRUNCATED,
          "invalid multiaddr bytes: truncated value of ip4 (4 bytes needed, 0 left)" },
        { "047f0000", KP_ERROR_TRUNCATED, "truncated value of ip4 (4 bytes needed, 3 left)" },
        { "29 0000", KP_ERROR_TRUNCATED, "truncated value of ip6 (16 bytes needed, 2 left)" },
        { "04 7f000001 06 01", KP_ERROR_TRUNCATED, "truncated value of tcp" },
        { "9102", KP_ERROR_TRUNCATED, "truncated value of udp" },
        { "63", KP_ERROR_UNSUPPORTED, "invalid multiaddr bytes: unknown protocol code 0x63" },
        { "11 0001", KP_ERROR_UNSUPPORTED, "unknown protocol code 0x11" },
        { "ffffffffffffffff7f", KP_ERROR_UNSUPPORTED, "unknown protocol code 0x7fffffffffffffff" },
        { "80", KP_ERROR_TRUNCATED, "protocol code at offset 0: truncated varint" },
        { "047f000001 a5", KP_ERROR_TRUNCATED, "protocol code at offset 5: truncated varint" },
        { "8400 7f000001", KP_ERROR_INVALID, "not minimally encoded" },
        { "ffffffffffffffffff01", KP_ERROR_TOO_LARGE, "varint longer than 9 bytes" },
        { "36", KP_ERROR_TRUNCATED, "length of dns4 value: truncated varint" },
        { "36 8000", KP_ERROR_INVALID, "length of dns4 value: varint is not minimally encoded" },
        { "36 00", KP_ERROR_INVALID, "empty dns4 name" },
        { "38 00", KP_ERROR_INVALID, "empty dnsaddr name" },
        { "36 05 61", KP_ERROR_TRUNCATED, "truncated value of dns4 (5 bytes needed, 1 left)" },
        { "35 ffffffffffffffff7f 61", KP_ERROR_TRUNCATED,
          "truncated value of dns (9223372036854775807 bytes needed, 1 left)" },
        { "36 03 612f62", KP_ERROR_INVALID, "dns4 name contains '/'" },
        { "37 02 fffe", KP_ERROR_INVALID, "dns6 name is not valid UTF-8" },
        { "36 02 6100", KP_ERROR_INVALID, "dns4 name is not valid UTF-8" },
        { "36 02 c328", KP_ERROR_INVALID, "dns4 name is not valid UTF-8" },
        { "a503 00", KP_ERROR_TRUNCATED, "invalid multiaddr bytes: p2p value: peer id: empty" },
        { "a503 02 1300", KP_ERROR_UNSUPPORTED,
          "p2p value: peer id: multihash: unsupported hash code 0x13" },
        { "a503 04 12020000", KP_ERROR_INVALID, "sha2-256 digest of 2 bytes, not 32" },
        { "a503 03 000200", KP_ERROR_TRUNCATED, "digest length 2 but 1 bytes follow" },
        { "a503 2d 002b "
          "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
          KP_ERROR_TOO_LARGE, "p2p value: peer id: inline public key of 43 bytes exceeds 42" },
        { "a503 06 0004deadbeef", KP_ERROR_INVALID,
          "p2p value: peer id: inline public key: malformed protobuf" },
        { "a503 22 " SPEC_PEER_SHA_HEX " 2a", KP_ERROR_UNSUPPORTED, "unknown protocol code 0x2a" },
};

static gboolean
new_from_bytes(const guint8 *data, gsize len, GError **error)
{
        g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_bytes(data, len, error);

        if (ma != NULL)
                return TRUE;
        g_assert_true(g_str_has_prefix((*error)->message, "invalid multiaddr bytes: "));
        return FALSE;
}

static void
test_malformed_bytes(void)
{
        kp_test_malformed_hex(malformed_bytes, G_N_ELEMENTS(malformed_bytes), new_from_bytes);
}

/* Every proper prefix of a valid binary multiaddr that ends inside a
 * component is refused; prefixes on a component boundary are valid. */
static void
test_truncations(void)
{
        g_autoptr(GByteArray) bytes = kp_test_unhex(
            "29 00000000000000000000000000000001 06 0001 36 03 616263 a503 22 " SPEC_PEER_SHA_HEX);
        const gsize boundaries[] = { 17, 20, 25, bytes->len };

        for (gsize len = 0; len <= bytes->len; len++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_bytes(bytes->data, len, &error);
                gboolean boundary = FALSE;

                for (gsize j = 0; j < G_N_ELEMENTS(boundaries); j++)
                        boundary |= len == boundaries[j];
                if (boundary) {
                        g_assert_no_error(error);
                        g_assert_nonnull(ma);
                } else {
                        g_assert_null(ma);
                        g_assert_nonnull(error);
                }
        }
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/multiaddr/codes", test_codes);
        g_test_add_func("/multiaddr/vectors", test_vectors);
        g_test_add_func("/multiaddr/canonical", test_canonical);
        g_test_add_func("/multiaddr/components", test_components);
        g_test_add_func("/multiaddr/peer-id", test_peer_id);
        g_test_add_func("/multiaddr/encapsulate-limits", test_encapsulate_limits);
        g_test_add_func("/multiaddr/tcp-endpoint", test_tcp_endpoint);
        g_test_add_func("/multiaddr/new-tcp-errors", test_new_tcp_errors);
        g_test_add_func("/multiaddr/copy", test_copy);
        g_test_add_func("/multiaddr/limits", test_limits);
        g_test_add_func("/multiaddr/malformed-text", test_malformed_text);
        g_test_add_func("/multiaddr/malformed-bytes", test_malformed_bytes);
        g_test_add_func("/multiaddr/truncations", test_truncations);
        return g_test_run();
}
