/* Kademlia RPC messages and the kameo registration value. */
#include <string.h>

#include "core/kp-error.h"
#include "core/kp-kad-message.h"
#include "core/kp-kameo-registration.h"
#include "core/kp-peer-id.h"
#include "core/kp-varint.h"
#include "kp-test-util.h"

static void
sample_peer_id(guint8 seed_byte, KpPeerId *ret)
{
        guint8 seed[KP_ED25519_SEED_BYTES] = { seed_byte };
        g_autoptr(KpKeypair) kp = kp_keypair_new_from_seed(seed);

        kp_peer_id_from_public_key(kp_keypair_get_public_key(kp), ret);
}

static KpKadMessage *
decode_hex(const char *hex, GError **error)
{
        g_autoptr(GByteArray) buf = kp_test_unhex(hex);

        return kp_kad_message_decode(buf->data, buf->len, error);
}

static void
test_kad_round_trip(void)
{
        g_autoptr(KpKadMessage) msg = kp_kad_message_new(KP_KAD_GET_VALUE, (const guint8 *)"k", 1);
        g_autoptr(KpKadMessage) back = NULL;
        g_autoptr(GBytes) wire = NULL;
        g_autoptr(GBytes) key = g_bytes_new_static("/kping/a", 8);
        g_autoptr(GBytes) value = g_bytes_new_static("hello", 5);
        g_autoptr(GError) error = NULL;
        g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_string("/ip4/127.0.0.1/tcp/4001", NULL);
        KpPeerId a, b;
        KpKadPeer *p;
        gsize len;
        const guint8 *data;

        sample_peer_id(1, &a);
        sample_peer_id(2, &b);
        msg->record = kp_kad_record_new(key, value);
        msg->record->time_received = g_strdup("2026-11-25T00:00:00Z");
        msg->record->has_publisher = TRUE;
        msg->record->publisher = a;
        msg->record->has_ttl = TRUE;
        msg->record->ttl = 3600;
        p = kp_kad_peer_new(&a);
        kp_kad_peer_add_addr(p, ma);
        kp_kad_peer_add_addr(p, ma); /* duplicates collapse */
        p->connection = KP_KAD_CONNECTED;
        g_ptr_array_add(msg->closer_peers, p);
        g_ptr_array_add(msg->provider_peers, kp_kad_peer_new(&b));

        wire = kp_kad_message_encode(msg, &error);
        g_assert_no_error(error);
        data = g_bytes_get_data(wire, &len);
        back = kp_kad_message_decode(data, len, &error);
        g_assert_no_error(error);
        g_assert_cmpint(back->type, ==, KP_KAD_GET_VALUE);
        g_assert_true(g_bytes_equal(back->key, msg->key));
        g_assert_true(g_bytes_equal(back->record->key, key));
        g_assert_true(g_bytes_equal(back->record->value, value));
        g_assert_cmpstr(back->record->time_received, ==, "2026-11-25T00:00:00Z");
        g_assert_true(back->record->has_publisher);
        g_assert_true(kp_peer_id_equal(&back->record->publisher, &a));
        g_assert_cmpuint(back->record->ttl, ==, 3600);
        g_assert_cmpuint(back->closer_peers->len, ==, 1);
        p = back->closer_peers->pdata[0];
        g_assert_true(kp_peer_id_equal(&p->id, &a));
        g_assert_cmpuint(p->addrs->len, ==, 1);
        g_assert_true(kp_multiaddr_equal(p->addrs->pdata[0], ma));
        g_assert_cmpint(p->connection, ==, KP_KAD_CONNECTED);
        g_assert_cmpuint(back->provider_peers->len, ==, 1);
        g_assert_true(kp_peer_id_equal(&((KpKadPeer *)back->provider_peers->pdata[0])->id, &b));
}

/* Hand-derived bytes. */
static void
test_kad_vectors(void)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(KpKadMessage) ping = NULL;
        g_autoptr(KpKadMessage) empty = NULL;
        g_autoptr(KpKadMessage) js = NULL;
        g_autoptr(GBytes) wire = NULL;
        g_autoptr(KpKadMessage) out = kp_kad_message_new(KP_KAD_PING, NULL, 0);

        /* type = PING (field 1, varint 5) */
        ping = decode_hex("0805", &error);
        g_assert_no_error(error);
        g_assert_cmpint(ping->type, ==, KP_KAD_PING);
        g_assert_null(ping->key);
        g_assert_null(ping->record);
        wire = kp_kad_message_encode(out, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_bytes_get_size(wire), ==, 2);
        g_assert_cmpmem(g_bytes_get_data(wire, NULL), 2, "\x08\x05", 2);

        /* proto3 leaves out a zero type: an empty message is PUT_VALUE */
        empty = kp_kad_message_decode((const guint8 *)"", 0, &error);
        g_assert_no_error(error);
        g_assert_cmpint(empty->type, ==, KP_KAD_PUT_VALUE);

        /* PUT_VALUE, key "a", record {key "a", value "b", author(3) "x",
         * signature(4) "y", timeReceived(5) "t"} plus clusterLevelRaw and
         * an unknown field 99: all of it read, the unknown parts ignored */
        js = decode_hex("0800"
                        "120161"
                        "1a0f0a0161120162"
                        "1a0178"
                        "220179"
                        "2a0174"
                        "5000"
                        "9806"
                        "07",
                        &error);
        g_assert_no_error(error);
        g_assert_cmpint(js->type, ==, KP_KAD_PUT_VALUE);
        g_assert_cmpmem(g_bytes_get_data(js->record->key, NULL), 1, "a", 1);
        g_assert_cmpmem(g_bytes_get_data(js->record->value, NULL), 1, "b", 1);
        g_assert_cmpstr(js->record->time_received, ==, "t");
        g_assert_false(js->record->has_publisher);
}

static void
test_kad_drops_bad_peers(void)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(KpKadMessage) msg = NULL;

        /* FIND_NODE with closerPeers: one with id "zz" (not a multihash),
         * one without id, one with an identity-hash id 00 00 (empty key is
         * not a valid PublicKey) */
        msg = decode_hex("0804"
                         "42040a027a7a"
                         "4200"
                         "42040a020000",
                         &error);
        g_assert_no_error(error);
        g_assert_cmpuint(msg->closer_peers->len, ==, 0);
        g_assert_cmpuint(msg->n_dropped_peers, ==, 3);
}

static void
test_kad_malformed(void)
{
        g_autoptr(GString) many = g_string_new("0804");
        g_autoptr(GString) long_key = g_string_new("0801128808");
        struct {
                const char *hex;
                int code;
                const char *msg;
        } cases[] = {
                { "08", KP_ERROR_INVALID, "malformed protobuf" },
                { "0806", KP_ERROR_INVALID, "unknown message type 6" },
                { "08ffffffff0f", KP_ERROR_INVALID, "unknown message type -1" },
                { "1a032a01ff", KP_ERROR_INVALID, "timeReceived is not UTF-8" },
                { "1a", KP_ERROR_INVALID, "malformed" },
                { NULL, KP_ERROR_TOO_LARGE, "65 closerPeers exceed limit 64" },
                { NULL, KP_ERROR_TOO_LARGE, "key of 1032 bytes exceeds limit 1024" },
        };
        g_autofree guint8 *huge = g_malloc0(KP_KAD_MAX_MESSAGE + 1);
        g_autoptr(GError) error = NULL;
        g_autoptr(KpKadMessage) big = NULL;

        for (guint i = 0; i < 65; i++)
                g_string_append(many, "4200");
        cases[5].hex = many->str;
        for (guint i = 0; i < 1032; i++)
                g_string_append(long_key, "61");
        cases[6].hex = long_key->str;
        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) e = NULL;
                g_autoptr(KpKadMessage) msg = decode_hex(cases[i].hex, &e);
                g_assert_null(msg);
                kp_test_assert_error(e, cases[i].code, cases[i].msg);
        }
        /* exactly at the limit is decoded (as a run of zero bytes it is a
         * malformed protobuf, so the size check must come first to differ) */
        big = kp_kad_message_decode(huge, KP_KAD_MAX_MESSAGE + 1, &error);
        g_assert_null(big);
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE,
                             "message of 16385 bytes exceeds limit 16384");
}

/* The limits themselves are accepted. */
static void
test_kad_at_limits(void)
{
        g_autoptr(GString) peers = g_string_new("0804");
        g_autoptr(GString) key = g_string_new("0801128008");
        g_autoptr(GError) error = NULL;
        g_autoptr(KpKadMessage) a = NULL;
        g_autoptr(KpKadMessage) b = NULL;
        g_autoptr(GByteArray) pb = NULL;
        g_autoptr(GByteArray) kb = NULL;

        for (guint i = 0; i < KP_KAD_MAX_PEERS; i++)
                g_string_append(peers, "4200");
        pb = kp_test_unhex(peers->str);
        a = kp_kad_message_decode(pb->data, pb->len, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(a->n_dropped_peers, ==, KP_KAD_MAX_PEERS);
        for (guint i = 0; i < KP_KAD_MAX_KEY; i++)
                g_string_append(key, "61");
        kb = kp_test_unhex(key->str);
        b = kp_kad_message_decode(kb->data, kb->len, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_bytes_get_size(b->key), ==, KP_KAD_MAX_KEY);
}

static void
test_kad_encode_limit(void)
{
        g_autofree guint8 *value = g_malloc0(KP_KAD_MAX_MESSAGE);
        g_autoptr(GBytes) key = g_bytes_new_static("k", 1);
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) wire = NULL;
        g_autoptr(GBytes) ok = NULL;
        g_autoptr(KpKadMessage) msg = kp_kad_message_new(KP_KAD_PUT_VALUE, NULL, 0);
        g_autoptr(KpKadMessage) back = NULL;
        gsize fixed;

        /* type(2) + record tag/len(1+2) + key(3) + value tag/len(1+2) */
        fixed = 2 + 3 + 3 + 3;
        msg->record = kp_kad_record_new(
            key, g_bytes_new_take(g_steal_pointer(&value), KP_KAD_MAX_MESSAGE - fixed));
        g_bytes_unref(msg->record->value); /* the line above took a ref too */
        ok = kp_kad_message_encode(msg, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_bytes_get_size(ok), ==, KP_KAD_MAX_MESSAGE);
        back = kp_kad_message_decode(g_bytes_get_data(ok, NULL), g_bytes_get_size(ok), &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_bytes_get_size(back->record->value), ==, KP_KAD_MAX_MESSAGE - fixed);

        g_clear_pointer(&msg->key, g_bytes_unref);
        msg->key = g_bytes_new_static("k", 1);
        wire = kp_kad_message_encode(msg, &error);
        g_assert_null(wire);
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE,
                             "PUT_VALUE message of 16387 bytes exceeds limit 16384");
}

/* Appends protobuf field @field (length-delimited) holding @data. */
static void
append_bytes_field(GByteArray *out, guint field, const guint8 *data, gsize len)
{
        kp_varint_append(out, field << 3 | 2);
        kp_varint_append(out, len);
        g_byte_array_append(out, data, len);
}

/* A FIND_NODE answer as go and js send it on a public network: @n_peers
 * peers, each with @n_addrs long addresses (kping keeps 16 of them). */
static GByteArray *
find_node_response(guint n_peers, guint n_addrs)
{
        GByteArray *out = g_byte_array_new();

        kp_varint_append(out, 1 << 3 | 0);
        kp_varint_append(out, KP_KAD_FIND_NODE);
        for (guint i = 0; i < n_peers; i++) {
                g_autoptr(GByteArray) peer = g_byte_array_new();
                KpPeerId id;
                sample_peer_id((guint8)(i + 1), &id);
                append_bytes_field(peer, 1, id.bytes, id.len);
                for (guint j = 0; j < n_addrs; j++) {
                        g_autofree char *text = g_strdup_printf(
                            "/ip6/2001:db8:1234:5678:9abc:def0:1234:5678/tcp/%u", 4001 + j);
                        g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_string(text, NULL);
                        gsize ma_len;
                        const guint8 *ma_bytes = kp_multiaddr_get_bytes(ma, &ma_len);
                        append_bytes_field(peer, 2, ma_bytes, ma_len);
                }
                append_bytes_field(out, 8, peer->data, peer->len);
        }
        return out;
}

/* Responses may be larger than requests (up to KP_KAD_MAX_RESPONSE): js and
 * go answer FIND_NODE with every address of k peers, which passes 16 KiB. */
static void
test_kad_response_limit(void)
{
        /* k = 20 peers */
        g_autoptr(GByteArray) big = find_node_response(20, 40);
        g_autoptr(GError) error = NULL;
        g_autoptr(KpKadMessage) msg = NULL;
        g_autofree guint8 *huge = g_malloc0(KP_KAD_MAX_RESPONSE + 1);

        g_assert_cmpuint(big->len, >, KP_KAD_MAX_MESSAGE);
        g_assert_cmpuint(big->len, <, KP_KAD_MAX_RESPONSE);
        /* as a request it is refused */
        msg = kp_kad_message_decode(big->data, big->len, &error);
        g_assert_null(msg);
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "message of");
        g_clear_error(&error);
        /* as a response it is read, 16 addresses a peer kept */
        msg = kp_kad_message_decode_response(big->data, big->len, &error);
        g_assert_no_error(error);
        g_assert_cmpint(msg->type, ==, KP_KAD_FIND_NODE);
        g_assert_cmpuint(msg->closer_peers->len, ==, 20);
        g_assert_cmpuint(((KpKadPeer *)msg->closer_peers->pdata[19])->addrs->len, ==,
                         KP_KAD_MAX_ADDRS_PER_PEER);
        g_clear_pointer(&msg, kp_kad_message_free);
        /* the boundary: zero bytes are a malformed protobuf, so TOO_LARGE
         * one over the limit and INVALID at it show the size check */
        msg = kp_kad_message_decode_response(huge, KP_KAD_MAX_RESPONSE + 1, &error);
        g_assert_null(msg);
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE,
                             "kad: response of 262145 bytes exceeds limit 262144");
        g_clear_error(&error);
        msg = kp_kad_message_decode_response(huge, KP_KAD_MAX_RESPONSE, &error);
        g_assert_null(msg);
        kp_test_assert_error(error, KP_ERROR_INVALID, "malformed protobuf");
}

static void
test_kameo_registration(void)
{
        g_autoptr(GBytes) value = NULL;
        g_autoptr(KpKameoRegistration) reg = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *key = NULL;
        g_autofree char *name = NULL;
        g_autofree char *peer_text = NULL;
        KpPeerId id, parsed;
        const guint8 *data;
        gsize len;

        sample_peer_id(3, &id);
        value = kp_kameo_registration_encode(0x0102030405060708ULL, &id, "kping::PingActor");
        data = g_bytes_get_data(value, &len);
        g_assert_cmpuint(len, ==, 1 + 8 + 38 + 16);
        g_assert_cmpuint(data[0], ==, 38);
        g_assert_cmpuint(data[1], ==, 0x08); /* little endian */
        g_assert_cmpmem(data + 9, 6, "\x00\x24\x08\x01\x12\x20", 6);
        reg = kp_kameo_registration_decode(data, len, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(reg->actor_seq, ==, 0x0102030405060708ULL);
        g_assert_true(kp_peer_id_equal(&reg->peer_id, &id));
        g_assert_cmpstr(reg->remote_id, ==, "kping::PingActor");

        key = kp_kameo_meta_key("ping", &id);
        peer_text = kp_peer_id_to_string(&id);
        g_assert_true(g_str_has_prefix(key, "ping:meta:12D3KooW"));
        g_assert_true(kp_kameo_meta_key_parse((const guint8 *)key, strlen(key), &name, &parsed));
        g_assert_cmpstr(name, ==, "ping");
        g_assert_true(kp_peer_id_equal(&parsed, &id));
        {
                g_autofree char *nested = g_strdup_printf("a:meta:b:meta:%s", peer_text);
                g_autofree char *n2 = NULL;
                g_assert_true(
                    kp_kameo_meta_key_parse((const guint8 *)nested, strlen(nested), &n2, NULL));
                g_assert_cmpstr(n2, ==, "a:meta:b");
        }
        g_assert_false(kp_kameo_meta_key_parse((const guint8 *)"ping", 4, NULL, NULL));
        g_assert_false(kp_kameo_meta_key_parse((const guint8 *)"ping:meta:xyz", 13, NULL, NULL));
        {
                g_autofree char *no_name = g_strdup_printf(":meta:%s", peer_text);
                g_assert_false(
                    kp_kameo_meta_key_parse((const guint8 *)no_name, strlen(no_name), NULL, NULL));
        }
}

static void
test_kameo_registration_malformed(void)
{
        struct {
                const char *hex;
                int code;
                const char *msg;
        } cases[] = {
                { "", KP_ERROR_TRUNCATED, "0 bytes, need at least 9" },
                { "260102030405060708", KP_ERROR_TRUNCATED, "peer id of 38 bytes runs past" },
                { "02010203040506070800ff", KP_ERROR_INVALID, "bad peer id" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GByteArray) buf = kp_test_unhex(cases[i].hex);
                g_autoptr(GError) e = NULL;
                g_autoptr(KpKameoRegistration) reg
                    = kp_kameo_registration_decode(buf->data, buf->len, &e);
                g_assert_null(reg);
                kp_test_assert_error(e, cases[i].code, cases[i].msg);
        }
        {
                KpPeerId id;
                g_autoptr(GBytes) v = NULL;
                g_autoptr(GByteArray) bad = g_byte_array_new();
                g_autoptr(GError) e = NULL;
                g_autoptr(KpKameoRegistration) reg = NULL;
                g_autofree guint8 *huge = g_malloc0(KP_KAMEO_REGISTRATION_MAX + 1);

                sample_peer_id(4, &id);
                v = kp_kameo_registration_encode(1, &id, "x");
                g_byte_array_append(bad, g_bytes_get_data(v, NULL), g_bytes_get_size(v));
                g_byte_array_append(bad, (const guint8 *)"\xff", 1);
                reg = kp_kameo_registration_decode(bad->data, bad->len, &e);
                g_assert_null(reg);
                kp_test_assert_error(e, KP_ERROR_INVALID, "remote_id is not UTF-8");
                g_clear_error(&e);
                reg = kp_kameo_registration_decode(huge, KP_KAMEO_REGISTRATION_MAX + 1, &e);
                g_assert_null(reg);
                kp_test_assert_error(e, KP_ERROR_TOO_LARGE, "65537 bytes exceed limit 65536");
        }
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/kad/round-trip", test_kad_round_trip);
        g_test_add_func("/kad/vectors", test_kad_vectors);
        g_test_add_func("/kad/drops-bad-peers", test_kad_drops_bad_peers);
        g_test_add_func("/kad/malformed", test_kad_malformed);
        g_test_add_func("/kad/at-limits", test_kad_at_limits);
        g_test_add_func("/kad/encode-limit", test_kad_encode_limit);
        g_test_add_func("/kad/response-limit", test_kad_response_limit);
        g_test_add_func("/kameo/registration", test_kameo_registration);
        g_test_add_func("/kameo/registration-malformed", test_kameo_registration_malformed);
        return g_test_run();
}
