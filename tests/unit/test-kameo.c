/* kameo 0.19 remote messaging: CBOR envelopes and MessagePack payloads.
 *
 * The vectors are derived by hand from the serde rules of
 * shared/specs/kameo-remote-0.19.md (cbor4ii 0.3 and rmp_serde):
 *  - an enum variant with data is a one-entry map {"Name": value} (a1 + key),
 *    a unit variant a text string; a struct a map with text keys in
 *    declaration order; Option::None null (f6); () the empty array (80);
 *  - Vec<u8> an array of unsigned integers: 0..23 in one byte, 24..255 as
 *    18 xx; ActorId a byte string [u64 LE seq][peer id];
 *  - Duration {"secs": u64, "nanos": u32};
 *  - text of length n < 24 has head 60+n; bstr 40+n, or 58 nn from 24.
 *  - MessagePack (to_vec_named): fixmap 8n, fixstr a0+n, then the
 *    smallest uint: positive fixint, cc u8, cd u16, ce u32, cf u64.
 * tests/interop/fixtures/kameo-vectors.json holds the same bytes (the test
 * checks it), which tests/interop/kameo-vectors.mjs decodes and re-encodes
 * with cbor-x and @msgpack/msgpack. */
#include <string.h>

#include "core/kp-error.h"
#include "core/kp-kameo.h"
#include "kp-test-util.h"

/* Text keys and values (head, then UTF-8). */
#define ASK                                                                                        \
        "a1"                                                                                       \
        "63"                                                                                       \
        "41736b" /* {"Ask": */
#define TELL                                                                                       \
        "a1"                                                                                       \
        "64"                                                                                       \
        "54656c6c" /* {"Tell": */
#define OK                                                                                         \
        "a1"                                                                                       \
        "62"                                                                                       \
        "4f6b" /* {"Ok": */
#define ERR                                                                                        \
        "a1"                                                                                       \
        "63"                                                                                       \
        "457272" /* {"Err": */
#define K_ACTOR_ID                                                                                 \
        "68"                                                                                       \
        "6163746f725f6964"
#define K_ARID                                                                                     \
        "6f"                                                                                       \
        "6163746f725f72656d6f74655f6964"
#define K_MRID                                                                                     \
        "71"                                                                                       \
        "6d6573736167655f72656d6f74655f6964"
#define K_PAYLOAD                                                                                  \
        "67"                                                                                       \
        "7061796c6f6164"
#define K_MAILBOX                                                                                  \
        "6f"                                                                                       \
        "6d61696c626f785f74696d656f7574"
#define K_REPLY                                                                                    \
        "6d"                                                                                       \
        "7265706c795f74696d656f7574"
#define K_IMMEDIATE                                                                                \
        "69"                                                                                       \
        "696d6d656469617465"
#define V_PING_ACTOR                                                                               \
        "70"                                                                                       \
        "6b70696e673a3a50696e674163746f72" /* "kping::PingActor" */
#define V_PING                                                                                     \
        "6b"                                                                                       \
        "6b70696e673a3a50696e67" /* "kping::Ping" */
/* bstr(8): sequence id 1, little endian, no peer id: a local actor */
#define V_ACTOR_LOCAL1                                                                             \
        "48"                                                                                       \
        "0100000000000000"
/* The Ed25519 peer id of the peer-id spec vector, 38 bytes. */
#define PEER "0024080112202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1336b"
/* bstr(46) = 58 2e: sequence id 258 (02 01 ...), then the peer id */
#define V_ACTOR_PEER258                                                                            \
        "582e"                                                                                     \
        "0201000000000000" PEER
/* Ping {seq: 1} = 81 a3 "seq" 01 as an array of six u8 */
#define V_PAYLOAD_PING1                                                                            \
        "86"                                                                                       \
        "1881"                                                                                     \
        "18a3"                                                                                     \
        "1873"                                                                                     \
        "1865"                                                                                     \
        "1871"                                                                                     \
        "01"
/* Ping {seq: 300} = 81 a3 "seq" cd 01 2c, eight u8 */
#define V_PAYLOAD_PING300                                                                          \
        "88"                                                                                       \
        "1881"                                                                                     \
        "18a3"                                                                                     \
        "1873"                                                                                     \
        "1865"                                                                                     \
        "1871"                                                                                     \
        "18cd"                                                                                     \
        "01"                                                                                       \
        "182c"
/* {"secs": 5, "nanos": 0} */
#define V_DUR_5S                                                                                   \
        "a2"                                                                                       \
        "64"                                                                                       \
        "73656373"                                                                                 \
        "05"                                                                                       \
        "65"                                                                                       \
        "6e616e6f73"                                                                               \
        "00"
/* {"secs": 1, "nanos": 500000000 = 1a 1dcd6500} */
#define V_DUR_1_5S                                                                                 \
        "a2"                                                                                       \
        "64"                                                                                       \
        "73656373"                                                                                 \
        "01"                                                                                       \
        "65"                                                                                       \
        "6e616e6f73"                                                                               \
        "1a1dcd6500"

/* Ask with seven fields in declaration order. */
#define ASK_REQUEST                                                                                \
        ASK "a7" K_ACTOR_ID V_ACTOR_LOCAL1 K_ARID V_PING_ACTOR K_MRID V_PING K_PAYLOAD             \
            V_PAYLOAD_PING1 K_MAILBOX "f6" K_REPLY V_DUR_5S K_IMMEDIATE "f4"
/* Tell: six fields, no reply_timeout. */
#define TELL_REQUEST                                                                               \
        TELL "a6" K_ACTOR_ID V_ACTOR_PEER258 K_ARID V_PING_ACTOR K_MRID V_PING K_PAYLOAD           \
            V_PAYLOAD_PING300 K_MAILBOX V_DUR_1_5S K_IMMEDIATE "f5"
/* Pong {seq: 1, total: 42} = 82 a3 "seq" 01 a5 "total" 2a, as 13 u8 */
#define ASK_OK_PONG                                                                                \
        ASK OK "8d"                                                                                \
               "1882"                                                                              \
               "18a3"                                                                              \
               "1873"                                                                              \
               "1865"                                                                              \
               "1871"                                                                              \
               "01"                                                                                \
               "18a5"                                                                              \
               "1874"                                                                              \
               "186f"                                                                              \
               "1874"                                                                              \
               "1861"                                                                              \
               "186c"                                                                              \
               "182a"

static GBytes *
unhex_bytes(const char *hex)
{
        GByteArray *a = kp_test_unhex(hex);

        return g_byte_array_free_to_bytes(a);
}

static char *
to_hex(GBytes *b)
{
        gsize len;
        const guint8 *d = g_bytes_get_data(b, &len);
        GString *s = g_string_new(NULL);

        for (gsize i = 0; i < len; i++)
                g_string_append_printf(s, "%02x", d[i]);
        return g_string_free(s, FALSE);
}

static void
assert_bytes_hex(GBytes *b, const char *hex)
{
        g_autofree char *got = to_hex(b);

        g_assert_cmpstr(got, ==, hex);
}

/* The JSON fixture the JS cross-check reads carries each vector too. */
static void
assert_in_fixture(const char *hex)
{
        static char *fixture = NULL;
        g_autofree char *needle = g_strdup_printf("\"hex\": \"%s\"", hex);

        if (fixture == NULL) {
                g_autofree char *path = g_build_filename(
                    g_getenv("KP_SOURCE_ROOT") != NULL ? g_getenv("KP_SOURCE_ROOT") : ".", "tests",
                    "interop", "fixtures", "kameo-vectors.json", NULL);
                g_autoptr(GError) error = NULL;
                g_assert_true(g_file_get_contents(path, &fixture, NULL, &error));
        }
        if (strstr(fixture, needle) == NULL)
                g_error("vector %s is missing from kameo-vectors.json", hex);
}

static KpKameoRequest *
decode_request_hex(const char *hex, GError **error)
{
        g_autoptr(GByteArray) a = kp_test_unhex(hex);

        return kp_kameo_request_decode(a->data, a->len, error);
}

static KpKameoResponse *
decode_response_hex(const char *hex, GError **error)
{
        g_autoptr(GByteArray) a = kp_test_unhex(hex);

        return kp_kameo_response_decode(a->data, a->len, error);
}

static void
test_request_ask(void)
{
        g_autoptr(KpKameoRequest) req = g_new0(KpKameoRequest, 1);
        g_autoptr(KpKameoRequest) back = NULL;
        g_autoptr(GBytes) enc = NULL;
        g_autoptr(GBytes) ping = kp_kameo_ping_encode(1);
        g_autoptr(GError) error = NULL;

        req->kind = KP_KAMEO_REQUEST_ASK;
        req->actor_seq = 1;
        req->actor_is_local = TRUE;
        req->actor_remote_id = g_strdup(KP_KAMEO_PING_ACTOR_REMOTE_ID);
        req->message_remote_id = g_strdup(KP_KAMEO_PING_MESSAGE_REMOTE_ID);
        req->payload = g_bytes_ref(ping);
        req->has_reply_timeout = TRUE;
        req->reply_timeout.secs = 5;
        enc = kp_kameo_request_encode(req, &error);
        g_assert_no_error(error);
        assert_bytes_hex(enc, ASK_REQUEST);
        assert_in_fixture(ASK_REQUEST);

        back = decode_request_hex(ASK_REQUEST, &error);
        g_assert_no_error(error);
        g_assert_cmpint(back->kind, ==, KP_KAMEO_REQUEST_ASK);
        g_assert_cmpuint(back->actor_seq, ==, 1);
        g_assert_true(back->actor_is_local);
        g_assert_cmpstr(back->actor_remote_id, ==, "kping::PingActor");
        g_assert_cmpstr(back->message_remote_id, ==, "kping::Ping");
        g_assert_true(g_bytes_equal(back->payload, ping));
        g_assert_false(back->has_mailbox_timeout);
        g_assert_true(back->has_reply_timeout);
        g_assert_cmpuint(back->reply_timeout.secs, ==, 5);
        g_assert_cmpuint(back->reply_timeout.nanos, ==, 0);
        g_assert_false(back->immediate);
}

static void
test_request_tell(void)
{
        g_autoptr(KpKameoRequest) req = g_new0(KpKameoRequest, 1);
        g_autoptr(KpKameoRequest) back = NULL;
        g_autoptr(GBytes) enc = NULL;
        g_autoptr(GBytes) enc2 = NULL;
        g_autoptr(GBytes) ping = kp_kameo_ping_encode(300);
        g_autoptr(GByteArray) peer = kp_test_unhex(PEER);
        g_autoptr(GError) error = NULL;

        req->kind = KP_KAMEO_REQUEST_TELL;
        req->actor_seq = 258;
        g_assert_true(kp_peer_id_from_bytes(peer->data, peer->len, &req->actor_peer, &error));
        req->actor_remote_id = g_strdup(KP_KAMEO_PING_ACTOR_REMOTE_ID);
        req->message_remote_id = g_strdup(KP_KAMEO_PING_MESSAGE_REMOTE_ID);
        req->payload = g_bytes_ref(ping);
        req->has_mailbox_timeout = TRUE;
        req->mailbox_timeout = (KpKameoDuration){ 1, 500000000 };
        /* a Tell has no reply_timeout field: this must not show */
        req->has_reply_timeout = TRUE;
        req->immediate = TRUE;
        enc = kp_kameo_request_encode(req, &error);
        g_assert_no_error(error);
        assert_bytes_hex(enc, TELL_REQUEST);
        assert_in_fixture(TELL_REQUEST);

        back = decode_request_hex(TELL_REQUEST, &error);
        g_assert_no_error(error);
        g_assert_cmpint(back->kind, ==, KP_KAMEO_REQUEST_TELL);
        g_assert_cmpuint(back->actor_seq, ==, 258);
        g_assert_false(back->actor_is_local);
        g_assert_true(kp_peer_id_equal(&back->actor_peer, &req->actor_peer));
        g_assert_true(back->has_mailbox_timeout);
        g_assert_cmpuint(back->mailbox_timeout.secs, ==, 1);
        g_assert_cmpuint(back->mailbox_timeout.nanos, ==, 500000000);
        g_assert_false(back->has_reply_timeout);
        g_assert_true(back->immediate);
        g_assert_true(g_bytes_equal(back->payload, ping));
        enc2 = kp_kameo_request_encode(back, &error);
        g_assert_true(g_bytes_equal(enc, enc2));
}

/* Big values take the long heads: seq 2^64-1 is eight ff bytes, secs 2^32
 * is 1b 00000001 00000000, nanos 999999999 is 1a 3b9ac9ff; an empty
 * payload is 80. */
static void
test_request_big_values(void)
{
        const char *hex = ASK "a7" K_ACTOR_ID "48"
                              "ffffffffffffffff" K_ARID "61"
                              "61" K_MRID "61"
                              "62" K_PAYLOAD "80" K_MAILBOX "a2"
                              "6473656373"
                              "1b0000000100000000"
                              "656e616e6f73"
                              "1a3b9ac9ff" K_REPLY "f6" K_IMMEDIATE "f5";
        g_autoptr(KpKameoRequest) req = g_new0(KpKameoRequest, 1);
        g_autoptr(KpKameoRequest) back = NULL;
        g_autoptr(GBytes) enc = NULL;
        g_autoptr(GError) error = NULL;

        req->kind = KP_KAMEO_REQUEST_ASK;
        req->actor_seq = G_MAXUINT64;
        req->actor_is_local = TRUE;
        req->actor_remote_id = g_strdup("a");
        req->message_remote_id = g_strdup("b");
        req->has_mailbox_timeout = TRUE;
        req->mailbox_timeout = (KpKameoDuration){ G_GUINT64_CONSTANT(4294967296), 999999999 };
        req->immediate = TRUE;
        enc = kp_kameo_request_encode(req, &error);
        g_assert_no_error(error);
        assert_bytes_hex(enc, hex);
        back = decode_request_hex(hex, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(back->actor_seq, ==, G_MAXUINT64);
        g_assert_cmpuint(back->mailbox_timeout.secs, ==, G_GUINT64_CONSTANT(4294967296));
        g_assert_cmpuint(g_bytes_get_size(back->payload), ==, 0);
}

static void
test_request_too_large(void)
{
        g_autoptr(KpKameoRequest) req = g_new0(KpKameoRequest, 1);
        g_autoptr(GBytes) enc = NULL;
        g_autoptr(GError) error = NULL;
        /* 524288 bytes >= 0x18 take two bytes each: just over 1 MiB. */
        g_autofree guint8 *big = g_malloc(KP_KAMEO_MAX_REQUEST / 2);

        memset(big, 0xaa, KP_KAMEO_MAX_REQUEST / 2);
        req->kind = KP_KAMEO_REQUEST_TELL;
        req->actor_is_local = TRUE;
        req->actor_remote_id = g_strdup("a");
        req->message_remote_id = g_strdup("b");
        req->payload = g_bytes_new(big, KP_KAMEO_MAX_REQUEST / 2);
        enc = kp_kameo_request_encode(req, &error);
        g_assert_null(enc);
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "exceeds limit 1048576");
        g_clear_error(&error);

        /* just under: 524280 such bytes plus the envelope fit */
        g_bytes_unref(req->payload);
        req->payload = g_bytes_new(big, KP_KAMEO_MAX_REQUEST / 2 - 100);
        enc = kp_kameo_request_encode(req, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_bytes_get_size(enc), <=, KP_KAMEO_MAX_REQUEST);
        {
                g_autoptr(KpKameoRequest) back = kp_kameo_request_decode(
                    g_bytes_get_data(enc, NULL), g_bytes_get_size(enc), &error);
                g_assert_no_error(error);
                g_assert_true(g_bytes_equal(back->payload, req->payload));
        }
}

/* Accepted as serde + cbor4ii accept it. */
static void
test_request_lenient(void)
{
        const struct {
                const char *what;
                const char *hex;
                guint64 seq;
                gboolean immediate;
                gboolean has_mailbox;
                guint64 mailbox_secs;
                guint32 mailbox_nanos;
        } cases[] = {
                { "keys reordered, Option fields missing, unknown key ignored",
                  ASK "a6" K_IMMEDIATE "f5" K_PAYLOAD "80"
                      "63"
                      "78797a" /* "xyz" */
                      "a1"
                      "01"
                      "9f"
                      "f6"
                      "c1"
                      "01"
                      "ff" /* ignored: {1: [_ null, tag(1) 1]} */
                  K_MRID V_PING K_ARID V_PING_ACTOR K_ACTOR_ID V_ACTOR_LOCAL1,
                  1, TRUE, FALSE, 0, 0 },
                { "indefinite map, strings and array; non-shortest heads",
                  ASK "bf" K_ACTOR_ID "5f"
                      "44"
                      "07000000"
                      "44"
                      "00000000"
                      "ff"
                      "7f"
                      "6f"
                      "6163746f725f72656d6f74655f6964"
                      "ff" /* key as chunked text */
                  V_PING_ACTOR K_MRID V_PING K_PAYLOAD "9f"
                      "1801"
                      "ff" K_IMMEDIATE "f4" K_MAILBOX "a2"
                      "656e616e6f73"
                      "1a3b9aca05" /* nanos 1e9+5 */
                      "6473656373"
                      "1b0000000000000002"
                      "ff",
                  7, FALSE, TRUE, 3, 5 },
                { "variant name as chunked text",
                  "a1"
                  "7f"
                  "62"
                  "4173"
                  "61"
                  "6b"
                  "ff" /* "As" "k" */
                  "a5" K_ACTOR_ID V_ACTOR_LOCAL1 K_ARID V_PING_ACTOR K_MRID V_PING K_PAYLOAD
                  "80" K_IMMEDIATE "f4",
                  1, FALSE, FALSE, 0, 0 },
                { "undefined is None; a Tell ignores reply_timeout",
                  TELL "a7" K_ACTOR_ID V_ACTOR_LOCAL1 K_ARID V_PING_ACTOR K_MRID V_PING K_PAYLOAD
                       "80" K_MAILBOX "f7" K_REPLY "37" /* any value: ignored */ K_IMMEDIATE "f4",
                  1, FALSE, FALSE, 0, 0 },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(KpKameoRequest) req = decode_request_hex(cases[i].hex, &error);

                g_test_message("%s", cases[i].what);
                g_assert_no_error(error);
                g_assert_cmpuint(req->actor_seq, ==, cases[i].seq);
                g_assert_cmpint(req->immediate, ==, cases[i].immediate);
                g_assert_cmpint(req->has_mailbox_timeout, ==, cases[i].has_mailbox);
                g_assert_cmpuint(req->mailbox_timeout.secs, ==, cases[i].mailbox_secs);
                g_assert_cmpuint(req->mailbox_timeout.nanos, ==, cases[i].mailbox_nanos);
                g_assert_false(req->has_reply_timeout);
                g_assert_cmpstr(req->actor_remote_id, ==, "kping::PingActor");
        }
}

/* A request whose payload and immediate values are spliced in. */
#define REQ_WITH(payload, immediate)                                                               \
        ASK "a5" K_ACTOR_ID V_ACTOR_LOCAL1 K_ARID V_PING_ACTOR K_MRID V_PING K_PAYLOAD payload     \
            K_IMMEDIATE immediate

static void
test_request_malformed(void)
{
        const struct {
                const char *hex;
                int code;
                const char *message;
        } cases[] = {
                { "", KP_ERROR_INVALID, "CBOR ends before SwarmRequest" },
                { ASK, KP_ERROR_INVALID, "CBOR ends before SwarmRequest::Ask" },
                { "a1"
                  "63"
                  "466f6f"
                  "a0",
                  KP_ERROR_INVALID, "unknown SwarmRequest variant 'Foo'" },
                { "a1"
                  "64"
                  "4c696e6b"
                  "a0",
                  KP_ERROR_UNSUPPORTED, "SwarmRequest::Link is not supported" },
                { "63"
                  "41736b",
                  KP_ERROR_INVALID, "SwarmRequest::Ask without its fields" },
                { "a2"
                  "63"
                  "41736b"
                  "a0"
                  "64"
                  "54656c6c"
                  "a0",
                  KP_ERROR_INVALID, "must be a one-entry map, got 2 entries" },
                { "bf"
                  "63"
                  "41736b"
                  "a0"
                  "ff",
                  KP_ERROR_INVALID,
                  "SwarmRequest must be a variant name or a one-entry map, got a map" },
                { ASK "80", KP_ERROR_INVALID, "SwarmRequest::Ask must be a map, got an array" },
                { REQ_WITH("46"
                           "81a373657101",
                           "f4"),
                  KP_ERROR_INVALID,
                  "payload must be an array of unsigned integers, got a byte string" },
                { REQ_WITH("81"
                           "190100",
                           "f4"),
                  KP_ERROR_INVALID, "payload element 0 is 256, over 255" },
                { REQ_WITH("82"
                           "01"
                           "20",
                           "f4"),
                  KP_ERROR_INVALID,
                  "payload element 1 must be an unsigned integer, got a negative integer" },
                { REQ_WITH("80", "01"), KP_ERROR_INVALID,
                  "immediate must be a bool, got an unsigned integer" },
                { ASK "a4" K_ACTOR_ID V_ACTOR_LOCAL1 K_ARID V_PING_ACTOR K_MRID V_PING K_PAYLOAD
                      "80",
                  KP_ERROR_INVALID, "missing field 'immediate' in SwarmRequest::Ask" },
                { ASK "a4" K_ARID V_PING_ACTOR K_MRID V_PING K_PAYLOAD "80" K_IMMEDIATE "f4",
                  KP_ERROR_INVALID, "missing field 'actor_id'" },
                { ASK "a6" K_ACTOR_ID V_ACTOR_LOCAL1 K_ARID V_PING_ACTOR K_MRID V_PING K_PAYLOAD
                      "80" K_IMMEDIATE "f4" K_IMMEDIATE "f5",
                  KP_ERROR_INVALID, "duplicate field 'immediate' in SwarmRequest::Ask" },
                { ASK "a5" K_ACTOR_ID "45"
                      "0100000000" K_ARID V_PING_ACTOR K_MRID V_PING K_PAYLOAD "80" K_IMMEDIATE
                      "f4",
                  KP_ERROR_INVALID, "actor_id of 5 bytes is shorter than its 8-byte sequence id" },
                { ASK "a5" K_ACTOR_ID "4b"
                      "0100000000000000"
                      "abcdef" K_ARID V_PING_ACTOR K_MRID V_PING K_PAYLOAD "80" K_IMMEDIATE "f4",
                  KP_ERROR_INVALID, "actor_id: peer id" },
                { ASK "a5" K_ACTOR_ID V_ACTOR_LOCAL1 K_ARID
                      "c0" V_PING_ACTOR K_MRID V_PING K_PAYLOAD "80" K_IMMEDIATE "f4",
                  KP_ERROR_INVALID, "actor_remote_id must be a text string, got a tag" },
                { ASK "a5" K_ACTOR_ID V_ACTOR_LOCAL1 K_ARID V_PING_ACTOR K_MRID "62"
                      "c328" K_PAYLOAD "80" K_IMMEDIATE "f4",
                  KP_ERROR_INVALID, "message_remote_id is not valid UTF-8" },
                { ASK "a5" K_ACTOR_ID V_ACTOR_LOCAL1 K_ARID "62"
                      "6100" K_MRID V_PING K_PAYLOAD "80" K_IMMEDIATE "f4",
                  KP_ERROR_INVALID, "actor_remote_id contains a NUL byte" },
                /* a NUL is named whatever else is wrong, even after bad UTF-8 */
                { ASK "a5" K_ACTOR_ID V_ACTOR_LOCAL1 K_ARID "63"
                      "ff6100" K_MRID V_PING K_PAYLOAD "80" K_IMMEDIATE "f4",
                  KP_ERROR_INVALID, "actor_remote_id contains a NUL byte" },
                { ASK "a1"
                      "01"
                      "f4",
                  KP_ERROR_INVALID,
                  "a request field name must be a text string, got an unsigned integer" },
                { ASK "a6" K_ACTOR_ID V_ACTOR_LOCAL1 K_ARID V_PING_ACTOR K_MRID V_PING K_PAYLOAD
                      "80" K_IMMEDIATE "f4" K_MAILBOX "a2"
                      "6473656373"
                      "fa3f800000"
                      "656e616e6f73"
                      "00",
                  KP_ERROR_INVALID, "Duration secs must be an unsigned integer, got a float" },
                { ASK "a6" K_ACTOR_ID V_ACTOR_LOCAL1 K_ARID V_PING_ACTOR K_MRID V_PING K_PAYLOAD
                      "80" K_IMMEDIATE "f4" K_REPLY "a2"
                      "6473656373"
                      "00"
                      "656e616e6f73"
                      "1b0000000100000000",
                  KP_ERROR_INVALID, "Duration nanos is 4294967296, over 4294967295" },
                { ASK "a6" K_ACTOR_ID V_ACTOR_LOCAL1 K_ARID V_PING_ACTOR K_MRID V_PING K_PAYLOAD
                      "80" K_IMMEDIATE "f4" K_REPLY "a1"
                      "6178"
                      "00",
                  KP_ERROR_INVALID, "unknown Duration field 'x' in reply_timeout" },
                { ASK "a6" K_ACTOR_ID V_ACTOR_LOCAL1 K_ARID V_PING_ACTOR K_MRID V_PING K_PAYLOAD
                      "80" K_IMMEDIATE "f4" K_REPLY "a1"
                      "6473656373"
                      "00",
                  KP_ERROR_INVALID, "missing field 'nanos' in reply_timeout" },
                { ASK "a6" K_ACTOR_ID V_ACTOR_LOCAL1 K_ARID V_PING_ACTOR K_MRID V_PING K_PAYLOAD
                      "80" K_IMMEDIATE "f4" K_MAILBOX "a2"
                      "6473656373"
                      "1bffffffffffffffff"
                      "656e616e6f73"
                      "1a3b9aca00",
                  KP_ERROR_INVALID, "mailbox_timeout overflows a Duration" },
                { REQ_WITH("80", "f4") "00", KP_ERROR_INVALID,
                  "1 trailing bytes after the request" },
                { ASK "a1"
                      "61"
                      "78"
                      "9b"
                      "ffffffffffffffff",
                  KP_ERROR_INVALID, "CBOR ends before an unknown request field" },
                { ASK "a1"
                      "61"
                      "78"
                      "5b"
                      "ffffffffffffffff",
                  KP_ERROR_INVALID, "CBOR truncated in an unknown request field" },
                { ASK "a1"
                      "61"
                      "78"
                      "1c",
                  KP_ERROR_INVALID, "malformed CBOR in an unknown" },
                { ASK "a1"
                      "61"
                      "78"
                      "5f"
                      "61"
                      "78"
                      "ff",
                  KP_ERROR_INVALID,
                  "an unknown request field must be a string chunk, got a text string" },
                { ASK "bf"
                      "ff"
                      "00",
                  KP_ERROR_INVALID, "missing field 'actor_id'" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(KpKameoRequest) req = NULL;

                g_test_message("case %u: %s", i, cases[i].message);
                req = decode_request_hex(cases[i].hex, &error);
                g_assert_null(req);
                kp_test_assert_error(error, cases[i].code, cases[i].message);
        }
}

static void
test_request_limits(void)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GByteArray) deep = kp_test_unhex(ASK "a1"
                                                       "61"
                                                       "78");
        g_autoptr(KpKameoRequest) req = NULL;
        g_autofree guint8 *big = g_malloc0(KP_KAMEO_MAX_REQUEST + 1);

        /* 63 nested arrays in an ignored value still parse (up to the end
         * of input); 64 do not. */
        for (guint i = 0; i < KP_KAMEO_MAX_DEPTH; i++)
                g_byte_array_append(deep, (const guint8 *)"\x81", 1);
        g_byte_array_append(deep, (const guint8 *)"\x00", 1);
        req = kp_kameo_request_decode(deep->data, deep->len, &error);
        kp_test_assert_error(error, KP_ERROR_INVALID, "exceeds depth 64");
        g_clear_error(&error);
        /* one fewer level: the nesting is fine, the request lacks fields */
        g_byte_array_remove_index(deep, deep->len - 2);
        req = kp_kameo_request_decode(deep->data, deep->len, &error);
        kp_test_assert_error(error, KP_ERROR_INVALID, "missing field 'actor_id'");
        g_clear_error(&error);

        req = kp_kameo_request_decode(big, KP_KAMEO_MAX_REQUEST + 1, &error);
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE,
                             "request of 1048577 bytes exceeds limit 1048576");
        g_clear_error(&error);
        /* at the limit the size is fine (and the zeros are not a request) */
        req = kp_kameo_request_decode(big, KP_KAMEO_MAX_REQUEST, &error);
        kp_test_assert_error(error, KP_ERROR_INVALID, "SwarmRequest must be");
}

typedef struct {
        const char *hex;
        KpKameoResponseKind kind;
        gboolean ok;
        KpKameoSendError error;
        const char *arid;
        const char *mrid;
        const char *text;
        const char *bytes_hex; /* reply or handler_error */
} ResponseVector;

static void
check_response_vector(const ResponseVector *v)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(KpKameoResponse) resp = g_new0(KpKameoResponse, 1);
        g_autoptr(KpKameoResponse) back = NULL;
        g_autoptr(GBytes) enc = NULL;

        resp->kind = v->kind;
        resp->ok = v->ok;
        resp->error = v->error;
        resp->actor_remote_id = g_strdup(v->arid);
        resp->message_remote_id = g_strdup(v->mrid);
        resp->text = g_strdup(v->text);
        if (v->bytes_hex != NULL) {
                if (v->ok)
                        resp->reply = unhex_bytes(v->bytes_hex);
                else
                        resp->handler_error = unhex_bytes(v->bytes_hex);
        }
        enc = kp_kameo_response_encode(resp, &error);
        g_assert_no_error(error);
        assert_bytes_hex(enc, v->hex);

        back = decode_response_hex(v->hex, &error);
        g_assert_no_error(error);
        g_assert_cmpint(back->kind, ==, v->kind);
        g_assert_cmpint(back->ok, ==, v->ok);
        if (!v->ok)
                g_assert_cmpint(back->error, ==, v->error);
        g_assert_cmpstr(back->actor_remote_id, ==, v->arid);
        g_assert_cmpstr(back->message_remote_id, ==, v->mrid);
        g_assert_cmpstr(back->text, ==, v->text);
        if (v->bytes_hex != NULL)
                assert_bytes_hex(v->ok ? back->reply : back->handler_error, v->bytes_hex);
}

#define ERR_UNIT(head, hexname, e)                                                                 \
        {                                                                                          \
                ASK ERR head hexname, KP_KAMEO_RESPONSE_ASK, FALSE, e, NULL, NULL, NULL, NULL      \
        }
#define ERR_TEXT(head, hexname, e)                                                                 \
        {                                                                                          \
                ASK ERR "a1" head hexname "64"                                                     \
                        "626f6f6d",                                                                \
                    KP_KAMEO_RESPONSE_ASK, FALSE, e, NULL, NULL, "boom", NULL                      \
        }

static void
test_response_vectors(void)
{
        const ResponseVector vectors[] = {
                { ASK_OK_PONG, KP_KAMEO_RESPONSE_ASK, TRUE, 0, NULL, NULL, NULL,
                  "82a373657101a5746f74616c2a" },
                /* Tell's Ok(()) is the empty array */
                { TELL OK "80", KP_KAMEO_RESPONSE_TELL, TRUE, 0, NULL, NULL, NULL, NULL },
                { "a1"
                  "64"
                  "4c696e6b" OK "80",
                  KP_KAMEO_RESPONSE_LINK, TRUE, 0, NULL, NULL, NULL, NULL },
                /* unit variants: {"Ask": {"Err": "Name"}} */
                ERR_UNIT("6f", "4163746f724e6f7452756e6e696e67",
                         KP_KAMEO_SEND_ERROR_ACTOR_NOT_RUNNING),
                ERR_UNIT("6c", "4163746f7253746f70706564", KP_KAMEO_SEND_ERROR_ACTOR_STOPPED),
                ERR_UNIT("6c", "4261644163746f7254797065", KP_KAMEO_SEND_ERROR_BAD_ACTOR_TYPE),
                ERR_UNIT("6b", "4d61696c626f7846756c6c", KP_KAMEO_SEND_ERROR_MAILBOX_FULL),
                ERR_UNIT("6c", "5265706c7954696d656f7574", KP_KAMEO_SEND_ERROR_REPLY_TIMEOUT),
                ERR_UNIT("74", "537761726d4e6f74426f6f747374726170706564",
                         KP_KAMEO_SEND_ERROR_SWARM_NOT_BOOTSTRAPPED),
                ERR_UNIT("6b", "4469616c4661696c757265", KP_KAMEO_SEND_ERROR_DIAL_FAILURE),
                ERR_UNIT("6e", "4e6574776f726b54696d656f7574", KP_KAMEO_SEND_ERROR_NETWORK_TIMEOUT),
                ERR_UNIT("70", "436f6e6e656374696f6e436c6f736564",
                         KP_KAMEO_SEND_ERROR_CONNECTION_CLOSED),
                ERR_UNIT("74", "556e737570706f7274656450726f746f636f6c73",
                         KP_KAMEO_SEND_ERROR_UNSUPPORTED_PROTOCOLS),
                { TELL ERR "6f"
                           "4163746f724e6f7452756e6e696e67",
                  KP_KAMEO_RESPONSE_TELL, FALSE, KP_KAMEO_SEND_ERROR_ACTOR_NOT_RUNNING, NULL, NULL,
                  NULL, NULL },
                /* struct variants: {"UnknownActor": {"actor_remote_id": ...}} */
                { ASK ERR "a1"
                          "6c"
                          "556e6b6e6f776e4163746f72"
                          "a1" K_ARID V_PING_ACTOR,
                  KP_KAMEO_RESPONSE_ASK, FALSE, KP_KAMEO_SEND_ERROR_UNKNOWN_ACTOR,
                  "kping::PingActor", NULL, NULL, NULL },
                { ASK ERR "a1"
                          "6e"
                          "556e6b6e6f776e4d657373616765"
                          "a2" K_ARID V_PING_ACTOR K_MRID V_PING,
                  KP_KAMEO_RESPONSE_ASK, FALSE, KP_KAMEO_SEND_ERROR_UNKNOWN_MESSAGE,
                  "kping::PingActor", "kping::Ping", NULL, NULL },
                /* HandlerError(Vec<u8>): msgpack "boom" = a4 626f6f6d as five u8 */
                { ASK ERR "a1"
                          "6c"
                          "48616e646c65724572726f72"
                          "85"
                          "18a4"
                          "1862"
                          "186f"
                          "186f"
                          "186d",
                  KP_KAMEO_RESPONSE_ASK, FALSE, KP_KAMEO_SEND_ERROR_HANDLER_ERROR, NULL, NULL, NULL,
                  "a4626f6f6d" },
                /* newtype String variants: {"Name": "boom"} */
                ERR_TEXT("70", "53657269616c697a654d657373616765",
                         KP_KAMEO_SEND_ERROR_SERIALIZE_MESSAGE),
                ERR_TEXT("72", "446573657269616c697a654d657373616765",
                         KP_KAMEO_SEND_ERROR_DESERIALIZE_MESSAGE),
                ERR_TEXT("6e", "53657269616c697a655265706c79", KP_KAMEO_SEND_ERROR_SERIALIZE_REPLY),
                ERR_TEXT("75", "53657269616c697a6548616e646c65724572726f72",
                         KP_KAMEO_SEND_ERROR_SERIALIZE_HANDLER_ERROR),
                ERR_TEXT("77", "446573657269616c697a6548616e646c65724572726f72",
                         KP_KAMEO_SEND_ERROR_DESERIALIZE_HANDLER_ERROR),
                /* {"OutboundFailure": "DialFailure"}: no Result layer */
                { "a1"
                  "6f"
                  "4f7574626f756e644661696c757265"
                  "6b"
                  "4469616c4661696c757265",
                  KP_KAMEO_RESPONSE_OUTBOUND_FAILURE, FALSE, KP_KAMEO_SEND_ERROR_DIAL_FAILURE, NULL,
                  NULL, NULL, NULL },
        };
        gboolean covered[KP_KAMEO_SEND_ERROR_LAST] = { FALSE };

        for (guint i = 0; i < G_N_ELEMENTS(vectors); i++) {
                g_test_message("vector %u: %s", i, vectors[i].hex);
                check_response_vector(&vectors[i]);
                assert_in_fixture(vectors[i].hex);
                if (!vectors[i].ok)
                        covered[vectors[i].error] = TRUE;
        }
        /* every RemoteSendError variant has a vector */
        for (guint i = 0; i < KP_KAMEO_SEND_ERROR_LAST; i++) {
                g_assert_nonnull(kp_kameo_send_error_to_string(i));
                if (!covered[i])
                        g_error("no vector for %s", kp_kameo_send_error_to_string(i));
        }
        g_assert_null(kp_kameo_send_error_to_string(KP_KAMEO_SEND_ERROR_LAST));
}

static void
test_response_encode_errors(void)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(KpKameoResponse) tell = kp_kameo_response_new_error(
            KP_KAMEO_RESPONSE_TELL, KP_KAMEO_SEND_ERROR_HANDLER_ERROR);
        g_autoptr(KpKameoResponse) notext = kp_kameo_response_new_error(
            KP_KAMEO_RESPONSE_ASK, KP_KAMEO_SEND_ERROR_DESERIALIZE_MESSAGE);
        g_autoptr(KpKameoResponse) ok = kp_kameo_response_new_ask_ok(NULL);
        g_autoptr(GBytes) enc = NULL;

        enc = kp_kameo_response_encode(tell, &error);
        g_assert_null(enc);
        kp_test_assert_error(error, KP_ERROR_INVALID, "HandlerError is only valid in an Ask");
        g_clear_error(&error);
        enc = kp_kameo_response_encode(notext, &error);
        kp_test_assert_error(error, KP_ERROR_INVALID, "DeserializeMessage needs its text");
        g_clear_error(&error);
        /* an empty Ask reply: {"Ask": {"Ok": []}} */
        enc = kp_kameo_response_encode(ok, &error);
        g_assert_no_error(error);
        assert_bytes_hex(enc, ASK OK "80");
}

/* Error text longer than the room an encoder reserves for a response's
 * heads and names: the buffer grows, the bytes are the same. */
static void
test_response_long_text(void)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(KpKameoResponse) resp = kp_kameo_response_new_error(
            KP_KAMEO_RESPONSE_ASK, KP_KAMEO_SEND_ERROR_SERIALIZE_MESSAGE);
        g_autoptr(KpKameoResponse) back = NULL;
        g_autoptr(GBytes) enc = NULL;
        g_autoptr(GString) hex
            = g_string_new(ASK ERR "a1"
                                   "70"
                                   "53657269616c697a654d657373616765" /* SerializeMessage */
                                   "79012c");

        resp->text = g_malloc(301);
        memset(resp->text, 'x', 300);
        resp->text[300] = '\0';
        for (guint i = 0; i < 300; i++)
                g_string_append(hex, "78");
        enc = kp_kameo_response_encode(resp, &error);
        g_assert_no_error(error);
        assert_bytes_hex(enc, hex->str);
        back = kp_kameo_response_decode(g_bytes_get_data(enc, NULL), g_bytes_get_size(enc), &error);
        g_assert_no_error(error);
        g_assert_false(back->ok);
        g_assert_cmpint(back->error, ==, KP_KAMEO_SEND_ERROR_SERIALIZE_MESSAGE);
        g_assert_cmpstr(back->text, ==, resp->text);
}

static void
test_response_malformed(void)
{
        const struct {
                const char *hex;
                const char *message;
        } cases[] = {
                { "", "CBOR ends before SwarmResponse" },
                { "a1"
                  "63"
                  "466f6f"
                  "f6",
                  "unknown SwarmResponse variant 'Foo'" },
                { "64"
                  "54656c6c",
                  "SwarmResponse::Tell without its value" },
                { TELL "a1"
                       "65"
                       "4d61796265"
                       "80",
                  "unknown Result variant 'Maybe'" },
                { TELL "62"
                       "4f6b",
                  "Result::Ok without its value" },
                { TELL OK "9fff", "Result::Ok of SwarmResponse::Tell must be () (0x80)" },
                { TELL OK "f6", "must be () (0x80)" },
                { ASK OK "f6", "the Ask reply must be an array of unsigned integers, got null" },
                { TELL ERR "a1"
                           "6c"
                           "48616e646c65724572726f72"
                           "80",
                  "HandlerError is only valid in an Ask response" },
                { ASK ERR "a1"
                          "6f"
                          "4163746f724e6f7452756e6e696e67"
                          "f6",
                  "RemoteSendError::ActorNotRunning carries no value" },
                { ASK ERR "72"
                          "446573657269616c697a654d657373616765",
                  "RemoteSendError::DeserializeMessage without its value" },
                { ASK ERR "62"
                          "496f",
                  "unknown RemoteSendError variant 'Io'" },
                { ASK ERR "a1"
                          "6e"
                          "556e6b6e6f776e4d657373616765"
                          "a1" K_ARID V_PING_ACTOR,
                  "missing field 'message_remote_id' in RemoteSendError::UnknownMessage" },
                { ASK ERR "a1"
                          "6c"
                          "556e6b6e6f776e4163746f72"
                          "a2" K_ARID V_PING_ACTOR K_ARID V_PING_ACTOR,
                  "duplicate field 'actor_remote_id'" },
                { ASK ERR "a1"
                          "70"
                          "53657269616c697a654d657373616765"
                          "01",
                  "SerializeMessage must be a text string, got an unsigned integer" },
                { TELL OK "80"
                          "80",
                  "1 trailing bytes after the response" },
                { "a1"
                  "6f"
                  "4f7574626f756e644661696c757265"
                  "a1"
                  "63"
                  "457272"
                  "f6",
                  "unknown RemoteSendError variant 'Err'" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(KpKameoResponse) resp = NULL;

                g_test_message("case %u: %s", i, cases[i].message);
                resp = decode_response_hex(cases[i].hex, &error);
                g_assert_null(resp);
                kp_test_assert_error(error, KP_ERROR_INVALID, cases[i].message);
        }
        {
                g_autoptr(GError) error = NULL;
                g_autofree guint8 *big = g_malloc0(KP_KAMEO_MAX_RESPONSE + 1);
                g_autoptr(KpKameoResponse) resp
                    = kp_kameo_response_decode(big, KP_KAMEO_MAX_RESPONSE + 1, &error);
                g_assert_null(resp);
                kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "exceeds limit 10485760");
        }
}

/* rmp_serde to_vec_named: fixmap, fixstr keys, smallest uint. */
static void
test_msgpack_vectors(void)
{
        const struct {
                guint64 seq;
                const char *hex;
        } pings[] = {
                { 0, "81"
                     "a3736571"
                     "00" },
                { 1, "81"
                     "a3736571"
                     "01" },
                { 127, "81"
                       "a3736571"
                       "7f" }, /* last positive fixint */
                { 128, "81"
                       "a3736571"
                       "cc80" }, /* uint8 */
                { 300, "81"
                       "a3736571"
                       "cd012c" }, /* uint16 */
                { 65536, "81"
                         "a3736571"
                         "ce00010000" }, /* uint32 */
                { G_GUINT64_CONSTANT(4294967296), "81"
                                                  "a3736571"
                                                  "cf0000000100000000" },
        };
        const struct {
                guint64 seq, total;
                const char *hex;
        } pongs[] = {
                { 1, 42,
                  "82"
                  "a3736571"
                  "01"
                  "a5746f74616c"
                  "2a" },
                { 300, 70000,
                  "82"
                  "a3736571"
                  "cd012c"
                  "a5746f74616c"
                  "ce00011170" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(pings); i++) {
                g_autoptr(GBytes) enc = kp_kameo_ping_encode(pings[i].seq);
                g_autoptr(GByteArray) raw = kp_test_unhex(pings[i].hex);
                g_autoptr(GError) error = NULL;
                guint64 seq = 1234;

                assert_bytes_hex(enc, pings[i].hex);
                assert_in_fixture(pings[i].hex);
                g_assert_true(kp_kameo_ping_decode(raw->data, raw->len, &seq, &error));
                g_assert_no_error(error);
                g_assert_cmpuint(seq, ==, pings[i].seq);
        }
        for (guint i = 0; i < G_N_ELEMENTS(pongs); i++) {
                g_autoptr(GBytes) enc = kp_kameo_pong_encode(pongs[i].seq, pongs[i].total);
                g_autoptr(GByteArray) raw = kp_test_unhex(pongs[i].hex);
                g_autoptr(GError) error = NULL;
                guint64 seq = 0, total = 0;

                assert_bytes_hex(enc, pongs[i].hex);
                assert_in_fixture(pongs[i].hex);
                g_assert_true(kp_kameo_pong_decode(raw->data, raw->len, &seq, &total, &error));
                g_assert_cmpuint(seq, ==, pongs[i].seq);
                g_assert_cmpuint(total, ==, pongs[i].total);
        }
        {
                g_autoptr(GBytes) enc = kp_kameo_pong_encode(G_MAXUINT64, G_MAXUINT64);
                guint64 seq = 0, total = 0;

                assert_bytes_hex(enc, "82a3736571cfffffffffffffffffa5746f74616ccfffffffffffffffff");
                g_assert_true(kp_kameo_pong_decode(g_bytes_get_data(enc, NULL),
                                                   g_bytes_get_size(enc), &seq, &total, NULL));
                g_assert_cmpuint(seq, ==, G_MAXUINT64);
                g_assert_cmpuint(total, ==, G_MAXUINT64);
        }
}

static void
test_msgpack_lenient(void)
{
        const struct {
                const char *hex;
                guint64 seq, total;
        } cases[] = {
                { "92"
                  "05"
                  "06",
                  5, 6 }, /* array form */
                { "82"
                  "a5746f74616c"
                  "06"
                  "a3736571"
                  "05",
                  5, 6 }, /* reordered */
                { "83"
                  "a178"
                  "c0"
                  "a3736571"
                  "05"
                  "a5746f74616c"
                  "06",
                  5, 6 }, /* unknown key */
                { "82"
                  "00"
                  "05"
                  "01"
                  "06",
                  5, 6 }, /* field indices */
                { "82"
                  "c403736571"
                  "05"
                  "a5746f74616c"
                  "06",
                  5, 6 }, /* bin key */
                { "82"
                  "a3736571"
                  "d005"
                  "a5746f74616c"
                  "d3000000000000000f",
                  5, 15 }, /* ints */
                { "82"
                  "a3736571"
                  "cc05"
                  "a5746f74616c"
                  "06",
                  5, 6 }, /* not shortest */
                { "83"
                  "02"
                  "93c0c0c0"
                  "a3736571"
                  "05"
                  "a5746f74616c"
                  "06",
                  5, 6 }, /* index 2 */
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GByteArray) raw = kp_test_unhex(cases[i].hex);
                g_autoptr(GError) error = NULL;
                guint64 seq = 0, total = 0;

                g_test_message("case %u", i);
                g_assert_true(kp_kameo_pong_decode(raw->data, raw->len, &seq, &total, &error));
                g_assert_no_error(error);
                g_assert_cmpuint(seq, ==, cases[i].seq);
                g_assert_cmpuint(total, ==, cases[i].total);
        }
        {
                g_autoptr(GByteArray) raw = kp_test_unhex("91"
                                                          "09");
                guint64 seq = 0;

                g_assert_true(kp_kameo_ping_decode(raw->data, raw->len, &seq, NULL));
                g_assert_cmpuint(seq, ==, 9);
        }
}

static void
test_msgpack_malformed(void)
{
        const struct {
                const char *hex;
                const char *message;
        } cases[] = {
                { "", "kping::Ping: kameo: MessagePack truncated at offset 0" },
                { "a3736571", "kping::Ping must be a map or an array" },
                { "80", "missing field 'seq' in kping::Ping" },
                { "81"
                  "a3736571"
                  "ff",
                  "kping::Ping 'seq' is negative" },
                { "81"
                  "a3736571"
                  "cb3ff0000000000000",
                  "'seq' must be an unsigned integer" },
                { "81"
                  "a3736571"
                  "c0",
                  "'seq' must be an unsigned integer" },
                { "92"
                  "01"
                  "02",
                  "kping::Ping as an array must have 1 elements, got 2" },
                { "90", "as an array must have 1 elements, got 0" },
                { "82"
                  "a3736571"
                  "01"
                  "a3736571"
                  "02",
                  "duplicate field 'seq' in kping::Ping" },
                { "81"
                  "c0"
                  "01",
                  "kping::Ping map key must be a string" },
                { "dd"
                  "ffffffff",
                  "container of 4294967295 objects at offset 0 exceeds the input" },
                { "df"
                  "00010000"
                  "00",
                  "container of 131072 objects" },
                { "81"
                  "a3736571"
                  "c1",
                  "MessagePack byte 0xc1 (never used) at offset 5" },
                { "81"
                  "a3736571"
                  "01"
                  "00",
                  "1 trailing bytes after the MessagePack value" },
                { "81"
                  "a37365",
                  "MessagePack truncated at offset 2" },
                { "81"
                  "a3736571"
                  "cd01",
                  "MessagePack truncated at offset 6" },
                { "81"
                  "a178"
                  "db"
                  "ffffffff",
                  "MessagePack truncated" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GByteArray) raw = kp_test_unhex(cases[i].hex);
                g_autoptr(GError) error = NULL;
                guint64 seq = 77;

                g_test_message("case %u: %s", i, cases[i].message);
                g_assert_false(kp_kameo_ping_decode(raw->data, raw->len, &seq, &error));
                kp_test_assert_error(error, KP_ERROR_INVALID, cases[i].message);
                g_assert_cmpuint(seq, ==, 77);
        }
}

static void
test_msgpack_limits(void)
{
        g_autoptr(GByteArray) deep = g_byte_array_new();
        g_autoptr(GByteArray) many = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        guint64 seq = 0;
        const guint8 arr16[] = { 0xdc, 0xff, 0xff };

        /* nesting: 1-element arrays */
        for (guint i = 0; i < 40; i++)
                g_byte_array_append(deep, (const guint8 *)"\x91", 1);
        g_byte_array_append(deep, (const guint8 *)"\x00", 1);
        g_assert_false(kp_kameo_ping_decode(deep->data, deep->len, &seq, &error));
        kp_test_assert_error(error, KP_ERROR_INVALID, "MessagePack nesting exceeds depth");
        g_clear_error(&error);

        /* 65535 + 65535 + 2 objects: over KP_KAMEO_MSGPACK_MAX_ITEMS */
        g_byte_array_append(many, (const guint8 *)"\x92", 1);
        for (guint j = 0; j < 2; j++) {
                g_byte_array_append(many, arr16, sizeof(arr16));
                for (guint i = 0; i < 0xffff; i++)
                        g_byte_array_append(many, (const guint8 *)"\x00", 1);
        }
        g_assert_false(kp_kameo_ping_decode(many->data, many->len, &seq, &error));
        kp_test_assert_error(error, KP_ERROR_INVALID, "more than 65536 objects");
        g_clear_error(&error);
        /* [[0 x 65534]] is exactly 65536 objects: refused for its shape only */
        g_byte_array_set_size(many, 1 + sizeof(arr16) + 0xfffe);
        many->data[0] = 0x91;
        many->data[3] = 0xfe;
        g_assert_false(kp_kameo_ping_decode(many->data, many->len, &seq, &error));
        kp_test_assert_error(error, KP_ERROR_INVALID, "'seq' must be an unsigned integer");
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/kameo/request/ask", test_request_ask);
        g_test_add_func("/kameo/request/tell", test_request_tell);
        g_test_add_func("/kameo/request/big-values", test_request_big_values);
        g_test_add_func("/kameo/request/too-large", test_request_too_large);
        g_test_add_func("/kameo/request/lenient", test_request_lenient);
        g_test_add_func("/kameo/request/malformed", test_request_malformed);
        g_test_add_func("/kameo/request/limits", test_request_limits);
        g_test_add_func("/kameo/response/vectors", test_response_vectors);
        g_test_add_func("/kameo/response/encode-errors", test_response_encode_errors);
        g_test_add_func("/kameo/response/long-text", test_response_long_text);
        g_test_add_func("/kameo/response/malformed", test_response_malformed);
        g_test_add_func("/kameo/msgpack/vectors", test_msgpack_vectors);
        g_test_add_func("/kameo/msgpack/lenient", test_msgpack_lenient);
        g_test_add_func("/kameo/msgpack/malformed", test_msgpack_malformed);
        g_test_add_func("/kameo/msgpack/limits", test_msgpack_limits);
        return g_test_run();
}
