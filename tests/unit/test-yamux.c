#include <string.h>

#include "core/kp-error.h"
#include "core/kp-yamux.h"

#include "kp-test-util.h"

/* helpers */

static void
append_frame(GByteArray *buf, guint8 type, guint16 flags, guint32 id, guint32 length)
{
        KpYamuxHeader h = { 0, type, flags, id, length };
        guint8 hdr[KP_YAMUX_HEADER_SIZE];

        kp_yamux_header_encode(&h, hdr);
        g_byte_array_append(buf, hdr, sizeof(hdr));
}

static void
append_data(GByteArray *buf, guint16 flags, guint32 id, const void *data, guint32 len)
{
        append_frame(buf, KP_YAMUX_TYPE_DATA, flags, id, len);
        g_byte_array_append(buf, data, len);
}

/* Takes and returns everything the session has queued. */
static GByteArray *
take_output(KpYamuxSession *s)
{
        const guint8 *data = NULL;
        gsize n = kp_yamux_session_pending_output(s, &data);
        GByteArray *out = g_byte_array_new();

        g_byte_array_append(out, data, n);
        kp_yamux_session_output_consumed(s, n);
        return out;
}

static void
assert_output(KpYamuxSession *s, const guint8 *expected, gsize len)
{
        g_autoptr(GByteArray) out = take_output(s);

        g_assert_cmpmem(out->data, out->len, expected, len);
}

static void
assert_no_output(KpYamuxSession *s)
{
        g_assert_cmpuint(kp_yamux_session_pending_output(s, NULL), ==, 0);
}

static void
discard_output(KpYamuxSession *s)
{
        kp_yamux_session_output_consumed(s, kp_yamux_session_pending_output(s, NULL));
}

static void
feed_ok(KpYamuxSession *s, const guint8 *data, gsize len)
{
        g_autoptr(GError) error = NULL;

        g_assert_true(kp_yamux_session_feed(s, data, len, 0, &error));
        g_assert_no_error(error);
}

static gboolean
feed_session(gpointer session, const guint8 *data, gsize len, GError **error)
{
        return kp_yamux_session_feed(session, data, len, 0, error);
}

/* Moves output between the two sessions until both are quiet. */
static void
pump_chunked(KpYamuxSession *a, KpYamuxSession *b, gsize chunk)
{
        for (;;) {
                gboolean moved = FALSE;
                KpYamuxSession *pair[2][2] = { { a, b }, { b, a } };

                for (guint i = 0; i < 2; i++) {
                        g_autoptr(GByteArray) out = take_output(pair[i][0]);

                        for (gsize off = 0; off < out->len; off += chunk)
                                feed_ok(pair[i][1], out->data + off, MIN(chunk, out->len - off));
                        if (out->len > 0)
                                moved = TRUE;
                }
                if (!moved)
                        return;
        }
}

static void
pump(KpYamuxSession *a, KpYamuxSession *b)
{
        pump_chunked(a, b, G_MAXSIZE);
}

static void
expect_event(KpYamuxSession *s, KpYamuxEventKind kind, guint32 stream_id, KpYamuxEvent *ret_ev)
{
        KpYamuxEvent ev = { 0 };

        g_assert_true(kp_yamux_session_next_event(s, &ev));
        g_assert_cmpint(ev.kind, ==, kind);
        g_assert_cmpuint(ev.stream_id, ==, stream_id);
        if (ret_ev != NULL)
                *ret_ev = ev;
}

static void
expect_no_event(KpYamuxSession *s)
{
        KpYamuxEvent ev;

        g_assert_false(kp_yamux_session_next_event(s, &ev));
}

static void
drain_events(KpYamuxSession *s)
{
        KpYamuxEvent ev;

        while (kp_yamux_session_next_event(s, &ev))
                ;
}

static void
write_all(KpYamuxSession *s, guint32 id, const char *text)
{
        g_autoptr(GError) error = NULL;
        gssize n = kp_yamux_stream_write(s, id, (const guint8 *)text, strlen(text), &error);

        g_assert_no_error(error);
        g_assert_cmpint(n, ==, (gssize)strlen(text));
}

static void
assert_read(KpYamuxSession *s, guint32 id, const char *text)
{
        g_autoptr(GError) error = NULL;
        guint8 buf[256];
        gssize n = kp_yamux_stream_read(s, id, buf, sizeof(buf), &error);

        g_assert_no_error(error);
        g_assert_cmpmem(buf, n, text, strlen(text));
}

static KpYamuxStreamState
get_state(KpYamuxSession *s, guint32 id)
{
        KpYamuxStreamState state = KP_YAMUX_STREAM_STATE_OPEN;

        g_assert_true(kp_yamux_stream_get_state(s, id, &state));
        return state;
}

static const guint8 go_away_protocol[] = { 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

/* tests */

static void
test_header_vectors(void)
{
        KpYamuxHeader h = { 0, KP_YAMUX_TYPE_WINDOW_UPDATE, 0x0102, 0x01020304, 0xa0b0c0d0 };
        const guint8 expected[]
            = { 0x00, 0x01, 0x01, 0x02, 0x01, 0x02, 0x03, 0x04, 0xa0, 0xb0, 0xc0, 0xd0 };
        guint8 out[KP_YAMUX_HEADER_SIZE];
        KpYamuxHeader back;

        kp_yamux_header_encode(&h, out);
        g_assert_cmpmem(out, sizeof(out), expected, sizeof(expected));
        kp_yamux_header_decode(out, &back);
        g_assert_cmpuint(back.version, ==, 0);
        g_assert_cmpuint(back.type, ==, KP_YAMUX_TYPE_WINDOW_UPDATE);
        g_assert_cmpuint(back.flags, ==, 0x0102);
        g_assert_cmpuint(back.stream_id, ==, 0x01020304);
        g_assert_cmpuint(back.length, ==, 0xa0b0c0d0);
        g_assert_cmpint(KP_YAMUX_INITIAL_WINDOW, ==, 256 * 1024);
}

static void
test_session_vectors(void)
{
        g_autoptr(KpYamuxSession) client = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
        g_autoptr(KpYamuxSession) server = kp_yamux_session_new(KP_YAMUX_ROLE_SERVER);
        g_autoptr(GError) error = NULL;
        guint32 opaque = 0;
        guint32 id;
        /* DATA, SYN, stream 1, "hi" */
        const guint8 syn_data[] = { 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 'h', 'i' };
        /* WINDOW_UPDATE, SYN|FIN, stream 3, delta 0 */
        const guint8 syn_fin[] = { 0, 1, 0, 5, 0, 0, 0, 3, 0, 0, 0, 0 };
        /* WINDOW_UPDATE, ACK, stream 1, delta 0 */
        const guint8 ack[] = { 0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0 };
        const guint8 ping[] = { 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1 };
        const guint8 go_away[] = { 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

        id = kp_yamux_session_open_stream(client, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(id, ==, 1);
        /* the SYN waits for the first frame */
        assert_no_output(client);
        write_all(client, id, "hi");
        assert_output(client, syn_data, sizeof(syn_data));

        id = kp_yamux_session_open_stream(client, &error);
        g_assert_cmpuint(id, ==, 3);
        g_assert_true(kp_yamux_stream_close(client, id, &error));
        assert_output(client, syn_fin, sizeof(syn_fin));

        feed_ok(server, syn_data, sizeof(syn_data));
        g_assert_cmpint(kp_yamux_stream_write(server, 1, NULL, 0, &error), ==, 0);
        g_assert_no_error(error);
        assert_output(server, ack, sizeof(ack));
        g_assert_true(kp_yamux_stream_is_acked(server, 1));
        /* the ACK goes out once */
        g_assert_cmpint(kp_yamux_stream_write(server, 1, NULL, 0, &error), ==, 0);
        assert_no_output(server);

        g_assert_true(kp_yamux_session_ping(client, 0, &opaque, &error));
        g_assert_cmpuint(opaque, ==, 1);
        assert_output(client, ping, sizeof(ping));

        kp_yamux_session_go_away(client, KP_YAMUX_GO_AWAY_INTERNAL_ERROR);
        kp_yamux_session_go_away(client, KP_YAMUX_GO_AWAY_NORMAL);
        assert_output(client, go_away, sizeof(go_away));
}

static void
test_echo(void)
{
        g_autoptr(KpYamuxSession) client = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
        g_autoptr(KpYamuxSession) server = kp_yamux_session_new(KP_YAMUX_ROLE_SERVER);
        g_autoptr(GError) error = NULL;
        KpYamuxEvent ev;
        int marker = 0;
        guint32 id;

        id = kp_yamux_session_open_stream(client, &error);
        g_assert_no_error(error);
        g_assert_true(kp_yamux_stream_set_user_data(client, id, &marker));
        write_all(client, id, "hello");
        pump(client, server);

        expect_event(server, KP_YAMUX_EVENT_STREAM_OPENED, id, NULL);
        expect_event(server, KP_YAMUX_EVENT_STREAM_READABLE, id, NULL);
        expect_no_event(server);
        g_assert_false(kp_yamux_stream_is_acked(server, id));
        g_assert_cmpuint(kp_yamux_stream_get_readable(server, id), ==, 5);
        assert_read(server, id, "hello");
        write_all(server, id, "hello");
        g_assert_true(kp_yamux_stream_close(server, id, &error));
        g_assert_cmpint(get_state(server, id), ==, KP_YAMUX_STREAM_STATE_LOCAL_CLOSED);
        pump(client, server);

        expect_event(client, KP_YAMUX_EVENT_STREAM_READABLE, id, &ev);
        g_assert_true(ev.user_data == &marker);
        expect_event(client, KP_YAMUX_EVENT_STREAM_CLOSED_BY_PEER, id, NULL);
        g_assert_true(kp_yamux_stream_is_acked(client, id));
        g_assert_false(kp_yamux_stream_is_eof(client, id));
        assert_read(client, id, "hello");
        g_assert_true(kp_yamux_stream_is_eof(client, id));
        g_assert_cmpint(get_state(client, id), ==, KP_YAMUX_STREAM_STATE_REMOTE_CLOSED);
        g_assert_true(kp_yamux_stream_close(client, id, &error));
        g_assert_cmpint(get_state(client, id), ==, KP_YAMUX_STREAM_STATE_CLOSED);
        pump(client, server);
        expect_event(server, KP_YAMUX_EVENT_STREAM_CLOSED_BY_PEER, id, NULL);
        g_assert_cmpint(get_state(server, id), ==, KP_YAMUX_STREAM_STATE_CLOSED);

        kp_yamux_stream_release(client, id);
        kp_yamux_stream_release(server, id);
        assert_no_output(client);
        assert_no_output(server);
        g_assert_cmpuint(kp_yamux_session_get_n_streams(client), ==, 0);
        g_assert_cmpuint(kp_yamux_session_get_n_streams(server), ==, 0);
        g_assert_false(kp_yamux_stream_get_state(client, id, NULL));
        expect_no_event(client);
        expect_no_event(server);
}

static void
test_both_directions(void)
{
        g_autoptr(KpYamuxSession) client = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
        g_autoptr(KpYamuxSession) server = kp_yamux_session_new(KP_YAMUX_ROLE_SERVER);
        g_autoptr(GError) error = NULL;
        guint32 s1, s2, c1, c2;

        s1 = kp_yamux_session_open_stream(server, &error);
        c1 = kp_yamux_session_open_stream(client, &error);
        s2 = kp_yamux_session_open_stream(server, &error);
        c2 = kp_yamux_session_open_stream(client, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(s1, ==, 2);
        g_assert_cmpuint(s2, ==, 4);
        g_assert_cmpuint(c1, ==, 1);
        g_assert_cmpuint(c2, ==, 3);

        write_all(server, s1, "from server 2");
        write_all(client, c1, "from client 1");
        write_all(server, s2, "from server 4");
        write_all(client, c2, "from client 3");
        pump(client, server);

        expect_event(client, KP_YAMUX_EVENT_STREAM_OPENED, s1, NULL);
        expect_event(client, KP_YAMUX_EVENT_STREAM_READABLE, s1, NULL);
        expect_event(client, KP_YAMUX_EVENT_STREAM_OPENED, s2, NULL);
        expect_event(client, KP_YAMUX_EVENT_STREAM_READABLE, s2, NULL);
        expect_event(server, KP_YAMUX_EVENT_STREAM_OPENED, c1, NULL);
        expect_event(server, KP_YAMUX_EVENT_STREAM_READABLE, c1, NULL);
        expect_event(server, KP_YAMUX_EVENT_STREAM_OPENED, c2, NULL);
        expect_event(server, KP_YAMUX_EVENT_STREAM_READABLE, c2, NULL);
        assert_read(client, s1, "from server 2");
        assert_read(client, s2, "from server 4");
        assert_read(server, c1, "from client 1");
        assert_read(server, c2, "from client 3");

        write_all(client, s1, "reply to 2");
        write_all(server, c2, "reply to 3");
        pump(client, server);
        assert_read(server, s1, "reply to 2");
        assert_read(client, c2, "reply to 3");
        g_assert_true(kp_yamux_stream_is_acked(server, s1));
        g_assert_true(kp_yamux_stream_is_acked(client, c2));
        g_assert_false(kp_yamux_stream_is_acked(server, s2));
        g_assert_cmpuint(kp_yamux_session_get_n_streams(client), ==, 4);
        g_assert_cmpuint(kp_yamux_session_get_n_streams(server), ==, 4);
}

/* Sends @total bytes client -> server, the reader taking @read_chunk at a time,
 * feeding in @feed_chunk pieces; checks every byte and that the sender had to
 * wait for window updates. */
static void
transfer(gsize total, gsize read_chunk, gsize feed_chunk)
{
        g_autoptr(KpYamuxSession) client = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
        g_autoptr(KpYamuxSession) server = kp_yamux_session_new(KP_YAMUX_ROLE_SERVER);
        g_autoptr(GError) error = NULL;
        g_autofree guint8 *src = g_malloc(total);
        g_autofree guint8 *dst = g_malloc(total);
        g_autofree guint8 *chunk = g_malloc(read_chunk);
        gsize sent = 0, received = 0;
        guint blocked = 0, writable = 0;
        guint32 id;

        for (gsize i = 0; i < total; i++)
                src[i] = (guint8)(i * 7 + (i >> 8));
        id = kp_yamux_session_open_stream(client, &error);
        g_assert_no_error(error);

        while (received < total) {
                KpYamuxEvent ev;

                if (sent < total) {
                        gssize n
                            = kp_yamux_stream_write(client, id, src + sent, total - sent, &error);
                        g_assert_no_error(error);
                        g_assert_cmpint(n, >=, 0);
                        sent += (gsize)n;
                        if (sent < total)
                                blocked++;
                }
                pump_chunked(client, server, feed_chunk);
                g_assert_cmpuint(kp_yamux_session_get_buffered(server), <=,
                                 KP_YAMUX_INITIAL_WINDOW);
                for (;;) {
                        gssize n = kp_yamux_stream_read(server, id, chunk, read_chunk, &error);

                        g_assert_no_error(error);
                        if (n == 0)
                                break;
                        memcpy(dst + received, chunk, (gsize)n);
                        received += (gsize)n;
                }
                pump_chunked(client, server, feed_chunk);
                while (kp_yamux_session_next_event(client, &ev)) {
                        if (ev.kind == KP_YAMUX_EVENT_STREAM_WRITABLE)
                                writable++;
                }
                drain_events(server);
        }
        g_assert_cmpmem(src, total, dst, total);
        g_assert_cmpuint(blocked, >, 0);
        g_assert_cmpuint(writable, >, 0);
}

static void
test_window_exhaustion(void)
{
        transfer(4 * KP_YAMUX_INITIAL_WINDOW + 12345, 7000, G_MAXSIZE);
}

static void
test_byte_at_a_time(void)
{
        g_autoptr(KpYamuxSession) client = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
        g_autoptr(KpYamuxSession) server = kp_yamux_session_new(KP_YAMUX_ROLE_SERVER);
        g_autoptr(GError) error = NULL;
        guint32 opaque = 0;
        KpYamuxEvent ev;
        guint32 id;

        id = kp_yamux_session_open_stream(client, &error);
        write_all(client, id, "ping?");
        g_assert_true(kp_yamux_session_ping(client, 10, &opaque, &error));
        pump_chunked(client, server, 1);
        expect_event(server, KP_YAMUX_EVENT_STREAM_OPENED, id, NULL);
        expect_event(server, KP_YAMUX_EVENT_STREAM_READABLE, id, NULL);
        assert_read(server, id, "ping?");
        write_all(server, id, "pong!");
        g_assert_true(kp_yamux_stream_close(server, id, &error));
        pump_chunked(client, server, 1);
        expect_event(client, KP_YAMUX_EVENT_PING_ACK, 0, &ev);
        g_assert_cmpuint(ev.ping_opaque, ==, opaque);
        expect_event(client, KP_YAMUX_EVENT_STREAM_READABLE, id, NULL);
        expect_event(client, KP_YAMUX_EVENT_STREAM_CLOSED_BY_PEER, id, NULL);
        assert_read(client, id, "pong!");

        /* and across several window updates */
        transfer(KP_YAMUX_INITIAL_WINDOW + 50000, 3000, 1);
}

/* SYN/ACK/FIN/RST are honoured on WINDOW_UPDATE as well as DATA. */
static void
test_flags_on_window_update(void)
{
        g_autoptr(KpYamuxSession) server = kp_yamux_session_new(KP_YAMUX_ROLE_SERVER);
        g_autoptr(KpYamuxSession) client = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
        g_autoptr(GByteArray) in = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        guint8 buf[4];
        guint32 id;

        /* SYN on a DATA frame with payload */
        append_data(in, KP_YAMUX_FLAG_SYN, 1, "abc", 3);
        /* SYN on a WINDOW_UPDATE, then FIN on a WINDOW_UPDATE */
        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_SYN, 3, 0);
        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_FIN, 3, 0);
        /* RST on a WINDOW_UPDATE */
        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_RST, 1, 0);
        /* SYN and FIN on one DATA frame with payload */
        append_data(in, KP_YAMUX_FLAG_SYN | KP_YAMUX_FLAG_FIN, 5, "xyz", 3);
        feed_ok(server, in->data, in->len);

        expect_event(server, KP_YAMUX_EVENT_STREAM_OPENED, 1, NULL);
        expect_event(server, KP_YAMUX_EVENT_STREAM_READABLE, 1, NULL);
        expect_event(server, KP_YAMUX_EVENT_STREAM_OPENED, 3, NULL);
        expect_event(server, KP_YAMUX_EVENT_STREAM_CLOSED_BY_PEER, 3, NULL);
        expect_event(server, KP_YAMUX_EVENT_STREAM_RESET, 1, NULL);
        expect_event(server, KP_YAMUX_EVENT_STREAM_OPENED, 5, NULL);
        expect_event(server, KP_YAMUX_EVENT_STREAM_READABLE, 5, NULL);
        expect_event(server, KP_YAMUX_EVENT_STREAM_CLOSED_BY_PEER, 5, NULL);
        expect_no_event(server);
        g_assert_cmpint(get_state(server, 1), ==, KP_YAMUX_STREAM_STATE_RESET);
        g_assert_cmpint(kp_yamux_stream_read(server, 1, buf, sizeof(buf), &error), ==, -1);
        kp_test_assert_error(error, KP_ERROR_CLOSED, "stream 1 was reset");
        g_clear_error(&error);
        g_assert_cmpint(get_state(server, 3), ==, KP_YAMUX_STREAM_STATE_REMOTE_CLOSED);
        g_assert_true(kp_yamux_stream_is_eof(server, 3));
        g_assert_cmpint(get_state(server, 5), ==, KP_YAMUX_STREAM_STATE_REMOTE_CLOSED);
        assert_read(server, 5, "xyz");
        g_assert_true(kp_yamux_stream_is_eof(server, 5));
        assert_no_output(server);

        /* ACK and a window delta on one WINDOW_UPDATE */
        id = kp_yamux_session_open_stream(client, &error);
        write_all(client, id, "x");
        g_byte_array_set_size(in, 0);
        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_ACK, id, 1000);
        g_assert_false(kp_yamux_stream_is_acked(client, id));
        feed_ok(client, in->data, in->len);
        g_assert_true(kp_yamux_stream_is_acked(client, id));
        g_assert_cmpuint(kp_yamux_stream_get_send_window(client, id), ==,
                         KP_YAMUX_INITIAL_WINDOW - 1 + 1000);
        /* and a RST answering our SYN */
        id = kp_yamux_session_open_stream(client, &error);
        write_all(client, id, "x");
        g_byte_array_set_size(in, 0);
        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_RST, id, 0);
        feed_ok(client, in->data, in->len);
        expect_event(client, KP_YAMUX_EVENT_STREAM_RESET, id, NULL);
        g_assert_cmpint(kp_yamux_stream_write(client, id, (const guint8 *)"y", 1, &error), ==, -1);
        kp_test_assert_error(error, KP_ERROR_CLOSED, "was reset");
}

static void
test_ping(void)
{
        g_autoptr(KpYamuxSession) client = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
        g_autoptr(KpYamuxSession) server = kp_yamux_session_new(KP_YAMUX_ROLE_SERVER);
        g_autoptr(GByteArray) in = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        const guint8 ack[] = { 0, 2, 0, 2, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef };
        g_autoptr(GByteArray) out = NULL;
        guint32 opaque = 0;
        KpYamuxEvent ev;

        append_frame(in, KP_YAMUX_TYPE_PING, KP_YAMUX_FLAG_SYN, 0, 0xdeadbeef);
        feed_ok(server, in->data, in->len);
        assert_output(server, ack, sizeof(ack));
        expect_no_event(server);

        g_assert_true(kp_yamux_session_ping(client, 1000, &opaque, &error));
        g_assert_no_error(error);
        out = take_output(client);
        feed_ok(server, out->data, out->len);
        g_byte_array_unref(out);
        out = take_output(server);
        g_assert_true(kp_yamux_session_feed(client, out->data, out->len, 1500, &error));
        expect_event(client, KP_YAMUX_EVENT_PING_ACK, 0, &ev);
        g_assert_cmpuint(ev.ping_opaque, ==, opaque);
        g_assert_cmpint(ev.ping_sent_us, ==, 1000);
        g_assert_cmpint(ev.ping_received_us, ==, 1500);
        g_assert_cmpint(ev.rtt_us, ==, 500);
        /* a repeated or unsolicited ACK is ignored */
        feed_ok(client, out->data, out->len);
        expect_no_event(client);

        for (guint i = 0; i < KP_YAMUX_MAX_PENDING_PINGS; i++)
                g_assert_true(kp_yamux_session_ping(client, 0, NULL, &error));
        g_assert_false(kp_yamux_session_ping(client, 0, NULL, &error));
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "16 pings");
}

static void
test_go_away(void)
{
        g_autoptr(KpYamuxSession) client = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
        g_autoptr(KpYamuxSession) server = kp_yamux_session_new(KP_YAMUX_ROLE_SERVER);
        g_autoptr(GByteArray) in = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        const guint8 go_away[] = { 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
        const guint8 rst[] = { 0, 1, 0, 8, 0, 0, 0, 2, 0, 0, 0, 0 };
        g_autoptr(GByteArray) out = NULL;
        KpYamuxEvent ev;
        guint32 id;

        id = kp_yamux_session_open_stream(client, &error);
        write_all(client, id, "before");
        pump(client, server);
        drain_events(server);

        kp_yamux_session_go_away(client, KP_YAMUX_GO_AWAY_NORMAL);
        out = take_output(client);
        g_assert_cmpmem(out->data, out->len, go_away, sizeof(go_away));
        feed_ok(server, out->data, out->len);
        expect_event(server, KP_YAMUX_EVENT_GO_AWAY_RECEIVED, 0, &ev);
        g_assert_cmpuint(ev.go_away_code, ==, KP_YAMUX_GO_AWAY_NORMAL);
        /* only once */
        feed_ok(server, out->data, out->len);
        expect_no_event(server);

        g_assert_cmpuint(kp_yamux_session_open_stream(server, &error), ==, 0);
        kp_test_assert_error(error, KP_ERROR_CLOSED, "peer's GO_AWAY");
        g_clear_error(&error);
        g_assert_cmpuint(kp_yamux_session_open_stream(client, &error), ==, 0);
        kp_test_assert_error(error, KP_ERROR_CLOSED, "our GO_AWAY");
        g_clear_error(&error);

        /* existing streams carry on */
        assert_read(server, id, "before");
        write_all(server, id, "after");
        write_all(client, id, "after too");
        pump(client, server);
        assert_read(client, id, "after");
        assert_read(server, id, "after too");

        /* a SYN after our GO_AWAY is refused */
        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_SYN, 2, 0);
        feed_ok(client, in->data, in->len);
        assert_output(client, rst, sizeof(rst));
        drain_events(client);
        expect_no_event(client);
        g_assert_false(kp_yamux_stream_get_state(client, 2, NULL));
}

static void
syn_stream(KpYamuxSession *s, guint32 id)
{
        g_autoptr(GByteArray) in = g_byte_array_new();

        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_SYN, id, 0);
        feed_ok(s, in->data, in->len);
}

static void
test_stream_limit(void)
{
        g_autoptr(KpYamuxSession) server = kp_yamux_session_new(KP_YAMUX_ROLE_SERVER);
        g_autoptr(GByteArray) in = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        guint32 id = 1;
        guint8 rst[KP_YAMUX_HEADER_SIZE];
        KpYamuxHeader h = { 0, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_RST, 0, 0 };

        for (guint i = 0; i < KP_YAMUX_MAX_STREAMS; i++, id += 2) {
                syn_stream(server, id);
                /* accepted, so that the backlog limit does not kick in first */
                g_assert_cmpint(kp_yamux_stream_write(server, id, NULL, 0, &error), ==, 0);
                g_assert_no_error(error);
        }
        g_assert_cmpuint(kp_yamux_session_get_n_streams(server), ==, KP_YAMUX_MAX_STREAMS);
        g_clear_pointer(&in, g_byte_array_unref);
        in = take_output(server);
        g_assert_cmpuint(in->len, ==, KP_YAMUX_MAX_STREAMS * KP_YAMUX_HEADER_SIZE);
        drain_events(server);

        syn_stream(server, id);
        h.stream_id = id;
        kp_yamux_header_encode(&h, rst);
        assert_output(server, rst, sizeof(rst));
        expect_no_event(server);
        g_assert_cmpuint(kp_yamux_session_get_n_streams(server), ==, KP_YAMUX_MAX_STREAMS);
        /* data the peer sent before seeing the RST is dropped quietly */
        g_byte_array_set_size(in, 0);
        append_data(in, 0, id, "late", 4);
        feed_ok(server, in->data, in->len);
        g_assert_cmpuint(kp_yamux_session_get_buffered(server), ==, 0);
        expect_no_event(server);

        /* our own opens hit the same limit */
        g_assert_cmpuint(kp_yamux_session_open_stream(server, &error), ==, 0);
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "limit 256");
        g_clear_error(&error);

        /* a released slot can be used again */
        kp_yamux_stream_release(server, 1);
        g_clear_pointer(&in, g_byte_array_unref);
        in = take_output(server); /* the RST for stream 1 */
        syn_stream(server, id + 2);
        expect_event(server, KP_YAMUX_EVENT_STREAM_OPENED, id + 2, NULL);
}

/* A configured limit: exactly @max streams, the next SYN is reset and
 * counted as refused; both ends of the allowed range are accepted. */
static void
test_stream_limit_configured(void)
{
        g_autoptr(KpYamuxSession) server = kp_yamux_session_new(KP_YAMUX_ROLE_SERVER);
        g_autoptr(GByteArray) out = NULL;
        g_autoptr(GError) error = NULL;
        const guint max = 3;
        guint32 id = 1;

        g_assert_cmpuint(kp_yamux_session_get_max_streams(server), ==, KP_YAMUX_MAX_STREAMS);
        kp_yamux_session_set_max_streams(server, KP_YAMUX_MAX_STREAMS_MAX);
        g_assert_cmpuint(kp_yamux_session_get_max_streams(server), ==, KP_YAMUX_MAX_STREAMS_MAX);
        kp_yamux_session_set_max_streams(server, KP_YAMUX_MAX_STREAMS_MIN);
        g_assert_cmpuint(kp_yamux_session_get_max_streams(server), ==, KP_YAMUX_MAX_STREAMS_MIN);
        kp_yamux_session_set_max_streams(server, max);
        for (guint i = 0; i < max; i++, id += 2) {
                syn_stream(server, id);
                expect_event(server, KP_YAMUX_EVENT_STREAM_OPENED, id, NULL);
        }
        g_assert_cmpuint(kp_yamux_session_get_n_refused(server), ==, 0);
        syn_stream(server, id);
        expect_no_event(server);
        g_assert_cmpuint(kp_yamux_session_get_n_refused(server), ==, 1);
        g_assert_cmpuint(kp_yamux_session_get_n_streams(server), ==, max);
        g_assert_cmpuint(kp_yamux_session_open_stream(server, &error), ==, 0);
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "limit 3");
        g_clear_error(&error);
        /* a released slot is usable again */
        kp_yamux_stream_release(server, 1);
        out = take_output(server);
        syn_stream(server, id + 2);
        expect_event(server, KP_YAMUX_EVENT_STREAM_OPENED, id + 2, NULL);
        g_assert_cmpuint(kp_yamux_session_get_n_refused(server), ==, 1);
}

static void
test_ack_backlog(void)
{
        g_autoptr(KpYamuxSession) server = kp_yamux_session_new(KP_YAMUX_ROLE_SERVER);
        g_autoptr(GError) error = NULL;
        guint32 id = 1;

        /* room for more streams than the backlog, so that the backlog refuses */
        kp_yamux_session_set_max_streams(server, 2 * KP_YAMUX_MAX_ACK_BACKLOG);
        for (guint i = 0; i < KP_YAMUX_MAX_ACK_BACKLOG; i++, id += 2)
                syn_stream(server, id);
        assert_no_output(server);
        syn_stream(server, id);
        {
                g_autoptr(GByteArray) out = take_output(server);
                KpYamuxHeader h;

                g_assert_cmpuint(out->len, ==, KP_YAMUX_HEADER_SIZE);
                kp_yamux_header_decode(out->data, &h);
                g_assert_cmpuint(h.flags, ==, KP_YAMUX_FLAG_RST);
                g_assert_cmpuint(h.stream_id, ==, id);
        }
        /* accepting one makes room */
        g_assert_cmpint(kp_yamux_stream_write(server, 1, NULL, 0, &error), ==, 0);
        g_clear_pointer(&error, g_error_free);
        discard_output(server);
        syn_stream(server, id + 2);
        assert_no_output(server);
        g_assert_cmpuint(kp_yamux_session_get_n_streams(server), ==, KP_YAMUX_MAX_ACK_BACKLOG + 1);
}

typedef struct {
        const char *name;
        void (*build)(GByteArray *in);
        gint code;
        const char *message;
} HostileCase;

static void
build_huge_frame(GByteArray *in)
{
        append_frame(in, KP_YAMUX_TYPE_DATA, KP_YAMUX_FLAG_SYN, 1, 104857600);
}

static void
build_bad_version(GByteArray *in)
{
        KpYamuxHeader h = { 1, KP_YAMUX_TYPE_PING, KP_YAMUX_FLAG_SYN, 0, 1 };
        guint8 hdr[KP_YAMUX_HEADER_SIZE];

        kp_yamux_header_encode(&h, hdr);
        g_byte_array_append(in, hdr, sizeof(hdr));
}

static void
build_bad_type(GByteArray *in)
{
        append_frame(in, 4, 0, 0, 0);
}

static void
build_data_unknown_stream(GByteArray *in)
{
        append_data(in, 0, 7, "abc", 3);
}

static void
build_window_update_unknown_stream(GByteArray *in)
{
        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, 0, 9, 10);
}

static void
build_data_unknown_local_stream(GByteArray *in)
{
        /* even ids are the server's own; it never opened stream 8 */
        append_data(in, 0, 8, "abc", 3);
}

static void
build_data_stream_zero(GByteArray *in)
{
        append_data(in, 0, 0, "abc", 3);
}

static void
build_window_overflow(GByteArray *in)
{
        g_autofree guint8 *chunk = g_malloc0(KP_YAMUX_MAX_SEND_FRAME);

        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_SYN, 1, 0);
        for (guint i = 0; i < KP_YAMUX_INITIAL_WINDOW / KP_YAMUX_MAX_SEND_FRAME; i++)
                append_data(in, 0, 1, chunk, KP_YAMUX_MAX_SEND_FRAME);
        append_data(in, 0, 1, "!", 1);
}

static void
build_send_window_overflow(GByteArray *in)
{
        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_SYN, 1,
                     G_MAXUINT32 - KP_YAMUX_INITIAL_WINDOW);
        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, 0, 1, 1);
}

static void
build_data_after_fin(GByteArray *in)
{
        append_data(in, KP_YAMUX_FLAG_SYN, 1, "ab", 2);
        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_FIN, 1, 0);
        append_data(in, 0, 1, "c", 1);
}

static void
build_ping_on_stream(GByteArray *in)
{
        append_frame(in, KP_YAMUX_TYPE_PING, KP_YAMUX_FLAG_SYN, 1, 0);
}

static void
build_ping_no_flags(GByteArray *in)
{
        append_frame(in, KP_YAMUX_TYPE_PING, 0, 0, 0);
}

static void
build_go_away_on_stream(GByteArray *in)
{
        append_frame(in, KP_YAMUX_TYPE_GO_AWAY, 0, 3, 0);
}

static void
build_syn_our_parity(GByteArray *in)
{
        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_SYN, 2, 0);
}

static void
build_syn_reuse(GByteArray *in)
{
        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_SYN, 5, 0);
        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_SYN, 3, 0);
}

static void
build_syn_ack(GByteArray *in)
{
        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_SYN | KP_YAMUX_FLAG_ACK, 1, 0);
}

static void
build_ack_inbound(GByteArray *in)
{
        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_SYN, 1, 0);
        append_frame(in, KP_YAMUX_TYPE_DATA, KP_YAMUX_FLAG_ACK, 1, 0);
}

static void
build_ping_flood(GByteArray *in)
{
        for (guint i = 0; i <= KP_YAMUX_MAX_OUTPUT_BACKLOG / KP_YAMUX_HEADER_SIZE; i++)
                append_frame(in, KP_YAMUX_TYPE_PING, KP_YAMUX_FLAG_SYN, 0, i);
}

static const HostileCase hostile_cases[] = {
        { "huge-frame", build_huge_frame, KP_ERROR_TOO_LARGE,
          "DATA frame length 104857600 exceeds limit 262144" },
        { "bad-version", build_bad_version, KP_ERROR_UNSUPPORTED, "unsupported version 1" },
        { "bad-type", build_bad_type, KP_ERROR_PROTOCOL, "unknown frame type 4" },
        { "data-unknown-stream", build_data_unknown_stream, KP_ERROR_PROTOCOL,
          "DATA frame on unknown stream 7" },
        { "window-update-unknown-stream", build_window_update_unknown_stream, KP_ERROR_PROTOCOL,
          "WINDOW_UPDATE frame on unknown stream 9" },
        { "data-unknown-local-stream", build_data_unknown_local_stream, KP_ERROR_PROTOCOL,
          "DATA frame on unknown stream 8" },
        { "data-stream-zero", build_data_stream_zero, KP_ERROR_PROTOCOL, "DATA frame on stream 0" },
        { "window-overflow", build_window_overflow, KP_ERROR_PROTOCOL,
          "DATA frame of 1 bytes exceeds the receive window 0 of stream 1" },
        { "send-window-overflow", build_send_window_overflow, KP_ERROR_PROTOCOL,
          "WINDOW_UPDATE of 1 overflows the send window 4294967295 of stream 1" },
        { "data-after-fin", build_data_after_fin, KP_ERROR_PROTOCOL, "DATA on stream 1 after FIN" },
        { "ping-on-stream", build_ping_on_stream, KP_ERROR_PROTOCOL, "PING on stream 1" },
        { "ping-no-flags", build_ping_no_flags, KP_ERROR_PROTOCOL, "exactly one of SYN and ACK" },
        { "go-away-on-stream", build_go_away_on_stream, KP_ERROR_PROTOCOL, "GO_AWAY on stream 3" },
        { "syn-our-parity", build_syn_our_parity, KP_ERROR_PROTOCOL,
          "SYN on stream 2, which has our parity" },
        { "syn-reuse", build_syn_reuse, KP_ERROR_PROTOCOL, "SYN reuses stream id 3" },
        { "syn-ack", build_syn_ack, KP_ERROR_PROTOCOL, "SYN and ACK together on stream 1" },
        { "ack-inbound", build_ack_inbound, KP_ERROR_PROTOCOL,
          "ACK on stream 1, which the peer opened" },
        { "ping-flood", build_ping_flood, KP_ERROR_TOO_LARGE,
          "exceeds limit 4194304: the peer is not reading" },
};

static void
run_hostile(const HostileCase *c, gboolean bytewise)
{
        g_autoptr(KpYamuxSession) server = kp_yamux_session_new(KP_YAMUX_ROLE_SERVER);
        g_autoptr(GByteArray) in = g_byte_array_new();
        g_autoptr(GByteArray) out = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GError) again = NULL;
        KpYamuxEvent ev;

        g_test_message("case %s, %s", c->name, bytewise ? "byte at a time" : "all at once");
        c->build(in);
        g_assert_false(
            kp_test_feed(feed_session, server, in->data, in->len, bytewise ? 1 : 0, &error));
        kp_test_assert_error(error, c->code, c->message);

        /* a GO_AWAY with the protocol error code ends the output */
        out = take_output(server);
        g_assert_cmpuint(out->len, >=, sizeof(go_away_protocol));
        g_assert_cmpmem(out->data + out->len - sizeof(go_away_protocol), sizeof(go_away_protocol),
                        go_away_protocol, sizeof(go_away_protocol));

        while (kp_yamux_session_next_event(server, &ev) && ev.kind != KP_YAMUX_EVENT_SESSION_ERROR)
                ;
        g_assert_cmpint(ev.kind, ==, KP_YAMUX_EVENT_SESSION_ERROR);
        g_assert_true(ev.error == kp_yamux_session_get_error(server));
        g_assert_error(kp_yamux_session_get_error(server), KP_ERROR, c->code);

        /* the session stays failed */
        g_assert_false(kp_yamux_session_feed(server, in->data, 1, 0, &again));
        g_assert_error(again, KP_ERROR, c->code);
        g_clear_error(&again);
        g_assert_cmpuint(kp_yamux_session_open_stream(server, &again), ==, 0);
        kp_test_assert_error(again, KP_ERROR_CLOSED, "session failed");
        assert_no_output(server);
}

static void
test_hostile(void)
{
        for (guint i = 0; i < G_N_ELEMENTS(hostile_cases); i++) {
                run_hostile(&hostile_cases[i], FALSE);
                /* byte-at-a-time gives the same verdict (the flood is slow) */
                if (hostile_cases[i].build != build_ping_flood)
                        run_hostile(&hostile_cases[i], TRUE);
        }
}

/* The 100 MB header is refused on its twelfth byte, before any buffering. */
static void
test_huge_frame_no_buffering(void)
{
        g_autoptr(KpYamuxSession) server = kp_yamux_session_new(KP_YAMUX_ROLE_SERVER);
        g_autoptr(GByteArray) in = g_byte_array_new();
        g_autoptr(GError) error = NULL;

        build_huge_frame(in);
        g_byte_array_set_size(in, 1024);
        feed_ok(server, in->data, 11);
        g_assert_false(kp_yamux_session_feed(server, in->data + 11, in->len - 11, 0, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_TOO_LARGE);
        g_assert_cmpuint(kp_yamux_session_get_buffered(server), ==, 0);
        g_assert_cmpuint(kp_yamux_session_get_n_streams(server), ==, 0);
}

static void
test_slow_reader(void)
{
        g_autoptr(KpYamuxSession) client = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
        g_autoptr(KpYamuxSession) server = kp_yamux_session_new(KP_YAMUX_ROLE_SERVER);
        g_autoptr(GError) error = NULL;
        g_autofree guint8 *data = g_malloc0(1024 * 1024);
        g_autofree guint8 *sink = g_malloc(KP_YAMUX_INITIAL_WINDOW);
        gsize accepted = 0;
        KpYamuxEvent ev;
        guint32 id;
        gssize n;

        id = kp_yamux_session_open_stream(client, &error);
        for (guint i = 0; i < 8; i++) {
                n = kp_yamux_stream_write(client, id, data, 1024 * 1024, &error);
                g_assert_no_error(error);
                accepted += (gsize)n;
                pump(client, server);
        }
        g_assert_cmpuint(accepted, ==, 262144);
        g_assert_cmpuint(kp_yamux_stream_get_send_window(client, id), ==, 0);
        g_assert_cmpuint(kp_yamux_stream_get_readable(server, id), ==, KP_YAMUX_INITIAL_WINDOW);
        g_assert_cmpuint(kp_yamux_session_get_buffered(server), ==, KP_YAMUX_INITIAL_WINDOW);
        expect_no_event(client);

        /* less than half a window read: no update yet */
        n = kp_yamux_stream_read(server, id, sink, KP_YAMUX_INITIAL_WINDOW / 2 - 1, &error);
        g_assert_cmpint(n, ==, KP_YAMUX_INITIAL_WINDOW / 2 - 1);
        assert_no_output(server);
        /* the next byte returns half a window of credit */
        n = kp_yamux_stream_read(server, id, sink, 1, &error);
        g_assert_cmpint(n, ==, 1);
        pump(client, server);
        expect_event(client, KP_YAMUX_EVENT_STREAM_WRITABLE, id, NULL);
        expect_no_event(client);
        g_assert_cmpuint(kp_yamux_stream_get_send_window(client, id), ==,
                         KP_YAMUX_INITIAL_WINDOW / 2);
        n = kp_yamux_stream_write(client, id, data, 1024 * 1024, &error);
        g_assert_cmpint(n, ==, KP_YAMUX_INITIAL_WINDOW / 2);
        pump(client, server);
        g_assert_cmpuint(kp_yamux_session_get_buffered(server), ==, KP_YAMUX_INITIAL_WINDOW);

        /* peek + consume drains it all and frees the buffer */
        {
                const guint8 *p = NULL;
                gsize avail = kp_yamux_stream_peek(server, id, &p);

                g_assert_cmpuint(avail, ==, KP_YAMUX_INITIAL_WINDOW);
                g_assert_nonnull(p);
                kp_yamux_stream_consume(server, id, avail);
                g_assert_cmpuint(kp_yamux_stream_peek(server, id, &p), ==, 0);
                g_assert_cmpuint(kp_yamux_session_get_buffered(server), ==, 0);
        }
        pump(client, server);
        while (kp_yamux_session_next_event(client, &ev))
                g_assert_cmpint(ev.kind, ==, KP_YAMUX_EVENT_STREAM_WRITABLE);
        g_assert_cmpuint(kp_yamux_stream_get_send_window(client, id), ==, KP_YAMUX_INITIAL_WINDOW);
}

/* With the host not draining output, writes stop at the high-water mark and
 * resume once it is written out. */
static void
test_output_high_water(void)
{
        g_autoptr(KpYamuxSession) client = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
        g_autoptr(GError) error = NULL;
        g_autofree guint8 *data = g_malloc0(KP_YAMUX_INITIAL_WINDOW);
        guint32 ids[6];
        gsize total = 0;
        KpYamuxEvent ev;

        for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
                ids[i] = kp_yamux_session_open_stream(client, &error);
                total += (gsize)kp_yamux_stream_write(client, ids[i], data, KP_YAMUX_INITIAL_WINDOW,
                                                      &error);
                g_assert_no_error(error);
        }
        g_assert_cmpuint(total, <=, KP_YAMUX_OUTPUT_HIGH_WATER);
        g_assert_cmpuint(total, <, G_N_ELEMENTS(ids) * KP_YAMUX_INITIAL_WINDOW);
        g_assert_cmpuint(kp_yamux_session_pending_output(client, NULL), <=,
                         KP_YAMUX_OUTPUT_HIGH_WATER + 100 * KP_YAMUX_HEADER_SIZE);
        expect_no_event(client);
        g_clear_pointer(&data, g_free);
        discard_output(client);
        /* the streams that were cut short, each once, in no particular order */
        for (guint i = 3; i < G_N_ELEMENTS(ids); i++) {
                g_assert_true(kp_yamux_session_next_event(client, &ev));
                g_assert_cmpint(ev.kind, ==, KP_YAMUX_EVENT_STREAM_WRITABLE);
                g_assert_cmpuint(ev.stream_id, >=, ids[3]);
                g_assert_cmpuint(ev.stream_id, <=, ids[5]);
                g_assert_true(kp_yamux_stream_set_user_data(client, ev.stream_id, &ids[i]));
        }
        expect_no_event(client);
        for (guint i = 3; i < G_N_ELEMENTS(ids); i++)
                g_assert_nonnull(kp_yamux_stream_get_user_data(client, ids[i]));
}

/* Credit that comes back while the output queue is full wakes the writer only
 * once the queue has drained. */
static void
test_window_reopens_under_full_output(void)
{
        g_autoptr(KpYamuxSession) client = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
        g_autoptr(GByteArray) in = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        g_autofree guint8 *data = g_malloc0(KP_YAMUX_INITIAL_WINDOW + 1);
        guint32 a, b, c;

        a = kp_yamux_session_open_stream(client, &error);
        b = kp_yamux_session_open_stream(client, &error);
        c = kp_yamux_session_open_stream(client, &error);
        g_assert_cmpint(kp_yamux_stream_write(client, a, data, KP_YAMUX_INITIAL_WINDOW + 1, &error),
                        ==, KP_YAMUX_INITIAL_WINDOW);
        g_assert_cmpint(kp_yamux_stream_write(client, b, data, KP_YAMUX_INITIAL_WINDOW, &error), ==,
                        KP_YAMUX_INITIAL_WINDOW);
        g_assert_cmpint(kp_yamux_stream_write(client, c, data, KP_YAMUX_INITIAL_WINDOW, &error), ==,
                        KP_YAMUX_INITIAL_WINDOW);
        g_assert_no_error(error);
        g_assert_cmpuint(kp_yamux_session_pending_output(client, NULL), >=,
                         KP_YAMUX_OUTPUT_HIGH_WATER / 2);

        append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_ACK, a, 100);
        feed_ok(client, in->data, in->len);
        expect_no_event(client);
        discard_output(client);
        expect_event(client, KP_YAMUX_EVENT_STREAM_WRITABLE, a, NULL);
        expect_no_event(client);
        g_assert_cmpint(kp_yamux_stream_write(client, a, data, 1000, &error), ==, 100);
}

static void
test_release(void)
{
        g_autoptr(KpYamuxSession) client = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
        g_autoptr(KpYamuxSession) server = kp_yamux_session_new(KP_YAMUX_ROLE_SERVER);
        g_autoptr(GError) error = NULL;
        g_autofree guint8 *big = g_malloc0(KP_YAMUX_INITIAL_WINDOW);
        const guint8 rst[] = { 0, 1, 0, 8, 0, 0, 0, 3, 0, 0, 0, 0 };
        gsize sent = 0;
        guint32 id;

        /* closed then released: lingers until the peer's FIN, stays graceful */
        id = kp_yamux_session_open_stream(client, &error);
        write_all(client, id, "request");
        g_assert_true(kp_yamux_stream_close(client, id, &error));
        pump(client, server);
        kp_yamux_stream_release(client, id);
        assert_no_output(client);
        g_assert_false(kp_yamux_stream_get_state(client, id, NULL));
        g_assert_cmpuint(kp_yamux_session_get_n_streams(client), ==, 1);
        /* the peer answers with more than a window; credit keeps flowing */
        while (sent < 2 * KP_YAMUX_INITIAL_WINDOW) {
                gssize n = kp_yamux_stream_write(server, id, big, KP_YAMUX_INITIAL_WINDOW, &error);

                g_assert_no_error(error);
                sent += (gsize)n;
                pump(client, server);
        }
        g_assert_cmpuint(kp_yamux_session_get_buffered(client), ==, 0);
        expect_no_event(client);
        g_assert_true(kp_yamux_stream_close(server, id, &error));
        pump(client, server);
        g_assert_cmpuint(kp_yamux_session_get_n_streams(client), ==, 0);
        g_assert_cmpint(get_state(server, id), ==, KP_YAMUX_STREAM_STATE_CLOSED);
        expect_no_event(client);

        /* released while open: RST */
        id = kp_yamux_session_open_stream(client, &error);
        write_all(client, id, "x");
        discard_output(client);
        kp_yamux_stream_release(client, id);
        assert_output(client, rst, sizeof(rst));
        g_assert_cmpuint(kp_yamux_session_get_n_streams(client), ==, 0);
        g_assert_cmpint(kp_yamux_stream_write(client, id, big, 1, &error), ==, -1);
        kp_test_assert_error(error, KP_ERROR_NOT_FOUND, "no stream 3");
        g_clear_error(&error);
        /* frames the peer had in flight are ignored */
        {
                g_autoptr(GByteArray) in = g_byte_array_new();

                append_data(in, KP_YAMUX_FLAG_ACK, id, "late", 4);
                append_frame(in, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_FIN, id, 100);
                feed_ok(client, in->data, in->len);
        }
        expect_no_event(client);

        /* reset before the SYN went out: nothing on the wire */
        id = kp_yamux_session_open_stream(client, &error);
        g_assert_true(kp_yamux_stream_reset(client, id, &error));
        assert_no_output(client);
        g_assert_cmpint(get_state(client, id), ==, KP_YAMUX_STREAM_STATE_RESET);
        kp_yamux_stream_release(client, id);
        assert_no_output(client);

        /* queued events of a released stream are dropped */
        id = kp_yamux_session_open_stream(server, &error);
        write_all(server, id, "x");
        pump(client, server);
        kp_yamux_stream_release(client, id);
        expect_no_event(client);
}

static void
test_stream_errors(void)
{
        g_autoptr(KpYamuxSession) client = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
        g_autoptr(GError) error = NULL;
        guint8 buf[4];
        guint32 id;

        id = kp_yamux_session_open_stream(client, &error);
        g_assert_true(kp_yamux_stream_close(client, id, &error));
        g_assert_true(kp_yamux_stream_close(client, id, &error));
        g_assert_cmpint(kp_yamux_stream_write(client, id, buf, 1, &error), ==, -1);
        kp_test_assert_error(error, KP_ERROR_CLOSED, "stream 1 is closed for writing");
        g_clear_error(&error);
        g_assert_cmpint(kp_yamux_stream_read(client, 99, buf, sizeof(buf), &error), ==, -1);
        g_assert_error(error, KP_ERROR, KP_ERROR_NOT_FOUND);
        g_clear_error(&error);
        g_assert_false(kp_yamux_stream_close(client, 99, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_NOT_FOUND);
        g_clear_error(&error);
        g_assert_false(kp_yamux_stream_reset(client, 99, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_NOT_FOUND);
        g_clear_error(&error);
        g_assert_cmpint(kp_yamux_stream_read(client, id, buf, sizeof(buf), &error), ==, 0);
        g_assert_no_error(error);
        g_assert_false(kp_yamux_stream_set_user_data(client, 99, buf));
        g_assert_null(kp_yamux_stream_get_user_data(client, 99));
}

/* Writes to a stream whose last frame is still in the output join that
 * frame: a stream's negotiation and its first message make one frame. The
 * FIN always has a frame of its own (js-libp2p-yamux drops data that comes
 * with it). */
static void
test_coalesce(void)
{
        g_autoptr(KpYamuxSession) client = kp_yamux_session_new(KP_YAMUX_ROLE_CLIENT);
        g_autoptr(KpYamuxSession) server = kp_yamux_session_new(KP_YAMUX_ROLE_SERVER);
        g_autoptr(GByteArray) expected = g_byte_array_new();
        g_autoptr(GByteArray) out = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree guint8 *big = g_malloc0(KP_YAMUX_MAX_SEND_FRAME);
        KpYamuxHeader h;
        const guint8 *data;
        guint32 a, b;

        /* open, two writes, FIN: one DATA frame, then the FIN */
        a = kp_yamux_session_open_stream(client, &error);
        g_assert_no_error(error);
        write_all(client, a, "abc");
        write_all(client, a, "de");
        g_assert_true(kp_yamux_stream_close(client, a, &error));
        append_data(expected, KP_YAMUX_FLAG_SYN, a, "abcde", 5);
        append_frame(expected, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_FIN, a, 0);
        out = take_output(client);
        g_assert_cmpmem(out->data, out->len, expected->data, expected->len);
        feed_ok(server, out->data, out->len);
        expect_event(server, KP_YAMUX_EVENT_STREAM_OPENED, a, NULL);
        expect_event(server, KP_YAMUX_EVENT_STREAM_READABLE, a, NULL);
        g_assert_cmpuint(kp_yamux_stream_peek(server, a, &data), ==, 5);
        g_assert_cmpmem(data, 5, "abcde", 5);
        expect_event(server, KP_YAMUX_EVENT_STREAM_CLOSED_BY_PEER, a, NULL);
        g_clear_pointer(&out, g_byte_array_unref);

        /* the answer: the ACK rides on its one DATA frame */
        write_all(server, a, "o");
        write_all(server, a, "k");
        g_assert_true(kp_yamux_stream_close(server, a, &error));
        g_byte_array_set_size(expected, 0);
        append_data(expected, KP_YAMUX_FLAG_ACK, a, "ok", 2);
        append_frame(expected, KP_YAMUX_TYPE_WINDOW_UPDATE, KP_YAMUX_FLAG_FIN, a, 0);
        assert_output(server, expected->data, expected->len);

        /* a frame partly taken by the host is on its way: nothing joins it */
        b = kp_yamux_session_open_stream(client, &error);
        write_all(client, b, "xy");
        g_assert_cmpuint(kp_yamux_session_pending_output(client, NULL), ==, 14);
        kp_yamux_session_output_consumed(client, 1);
        write_all(client, b, "z");
        g_byte_array_set_size(expected, 0);
        append_data(expected, KP_YAMUX_FLAG_SYN, b, "xy", 2);
        append_data(expected, 0, b, "z", 1);
        out = take_output(client);
        g_assert_cmpmem(out->data, out->len, expected->data + 1, expected->len - 1);
        g_clear_pointer(&out, g_byte_array_unref);

        /* another stream's frame in between: a frame of its own */
        a = kp_yamux_session_open_stream(client, &error);
        write_all(client, a, "1");
        write_all(client, b, "2");
        write_all(client, a, "3");
        g_byte_array_set_size(expected, 0);
        append_data(expected, KP_YAMUX_FLAG_SYN, a, "1", 1);
        append_data(expected, 0, b, "2", 1);
        append_data(expected, 0, a, "3", 1);
        assert_output(client, expected->data, expected->len);

        /* a frame stops growing at KP_YAMUX_MAX_SEND_FRAME */
        g_assert_cmpint(kp_yamux_stream_write(client, b, big, KP_YAMUX_MAX_SEND_FRAME - 1, &error),
                        ==, KP_YAMUX_MAX_SEND_FRAME - 1);
        write_all(client, b, "ab");
        out = take_output(client);
        g_assert_cmpuint(out->len, ==, 2 * KP_YAMUX_HEADER_SIZE + KP_YAMUX_MAX_SEND_FRAME + 1);
        kp_yamux_header_decode(out->data, &h);
        g_assert_cmpuint(h.length, ==, KP_YAMUX_MAX_SEND_FRAME - 1);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/yamux/header-vectors", test_header_vectors);
        g_test_add_func("/yamux/session-vectors", test_session_vectors);
        g_test_add_func("/yamux/echo", test_echo);
        g_test_add_func("/yamux/coalesce", test_coalesce);
        g_test_add_func("/yamux/both-directions", test_both_directions);
        g_test_add_func("/yamux/window-exhaustion", test_window_exhaustion);
        g_test_add_func("/yamux/byte-at-a-time", test_byte_at_a_time);
        g_test_add_func("/yamux/flags-on-window-update", test_flags_on_window_update);
        g_test_add_func("/yamux/ping", test_ping);
        g_test_add_func("/yamux/go-away", test_go_away);
        g_test_add_func("/yamux/stream-limit", test_stream_limit);
        g_test_add_func("/yamux/stream-limit-configured", test_stream_limit_configured);
        g_test_add_func("/yamux/ack-backlog", test_ack_backlog);
        g_test_add_func("/yamux/hostile", test_hostile);
        g_test_add_func("/yamux/huge-frame-no-buffering", test_huge_frame_no_buffering);
        g_test_add_func("/yamux/slow-reader", test_slow_reader);
        g_test_add_func("/yamux/output-high-water", test_output_high_water);
        g_test_add_func("/yamux/window-reopens-under-full-output",
                        test_window_reopens_under_full_output);
        g_test_add_func("/yamux/release", test_release);
        g_test_add_func("/yamux/stream-errors", test_stream_errors);
        return g_test_run();
}
