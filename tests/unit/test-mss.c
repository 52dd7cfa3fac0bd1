#include <string.h>

#include "core/kp-error.h"
#include "core/kp-mss.h"
#include "core/kp-varint.h"

#include "kp-test-util.h"

/* A string literal and its length, NULs included. */
#define S(x) x, sizeof(x) - 1

/* Appends a multistream message to a test buffer. */
static void
msg(GByteArray *buf, const char *line)
{
        kp_mss_encode_message(buf, line);
}

static void
append_str(GByteArray *buf, const char *s)
{
        g_byte_array_append(buf, (const guint8 *)s, (guint)strlen(s));
}

static void
take_into(KpMss *mss, GByteArray *wire)
{
        g_autoptr(GBytes) out = kp_mss_take_output(mss);
        gsize len = 0;
        const guint8 *data;

        if (out == NULL)
                return;
        data = g_bytes_get_data(out, &len);
        g_assert_cmpuint(len, >, 0);
        g_byte_array_append(wire, data, (guint)len);
}

static gboolean
feed_mss(gpointer mss, const guint8 *data, gsize len, GError **error)
{
        return kp_mss_feed(mss, data, len, NULL, error);
}

/* Feeds @wire to @mss in chunks of @chunk (0 = all at once) until it is no
 * longer negotiating; removes the consumed bytes from @wire. */
static void
feed_chunks(KpMss *mss, GByteArray *wire, gsize chunk, GError **error)
{
        gsize pos = 0;

        while (pos < wire->len && kp_mss_get_state(mss) == KP_MSS_NEGOTIATING) {
                gsize n = chunk == 0 ? wire->len - pos : MIN(chunk, wire->len - pos);
                gsize consumed = G_MAXSIZE;

                if (!kp_mss_feed(mss, wire->data + pos, n, &consumed, error))
                        return;
                g_assert_cmpuint(consumed, <=, n);
                if (kp_mss_get_state(mss) == KP_MSS_NEGOTIATING)
                        g_assert_cmpuint(consumed, ==, n);
                pos += consumed;
        }
        g_byte_array_remove_range(wire, 0, (guint)pos);
}

/* Runs a dialer and listener against each other through memory buffers.
 * Application data written once kp_mss_may_send() allows stays in the wire
 * buffers, so each side's leftover must be exactly the peer's app data. */
static void
pump(KpMss *dialer, KpMss *listener, gsize chunk, const char *dialer_app, const char *listener_app,
     GError **dialer_error, GError **listener_error)
{
        g_autoptr(GByteArray) d2l = g_byte_array_new();
        g_autoptr(GByteArray) l2d = g_byte_array_new();
        gboolean dialer_sent = FALSE, listener_sent = FALSE;

        for (guint round = 0; round < 64; round++) {
                take_into(dialer, d2l);
                take_into(listener, l2d);
                if (dialer_app != NULL && !dialer_sent && kp_mss_may_send(dialer)) {
                        append_str(d2l, dialer_app);
                        dialer_sent = TRUE;
                }
                if (listener_app != NULL && !listener_sent && kp_mss_may_send(listener)) {
                        append_str(l2d, listener_app);
                        listener_sent = TRUE;
                }
                if (kp_mss_get_state(listener) == KP_MSS_NEGOTIATING && d2l->len > 0)
                        feed_chunks(listener, d2l, chunk, listener_error);
                if (kp_mss_get_state(dialer) == KP_MSS_NEGOTIATING && l2d->len > 0)
                        feed_chunks(dialer, l2d, chunk, dialer_error);
                if (kp_mss_get_state(dialer) != KP_MSS_NEGOTIATING
                    && kp_mss_get_state(listener) != KP_MSS_NEGOTIATING)
                        break;
                if (kp_mss_get_state(dialer) == KP_MSS_FAILED
                    || kp_mss_get_state(listener) == KP_MSS_FAILED)
                        break;
        }
        /* a side that finished in the last round writes its data now */
        if (dialer_app != NULL && !dialer_sent && kp_mss_may_send(dialer))
                append_str(d2l, dialer_app);
        if (listener_app != NULL && !listener_sent && kp_mss_may_send(listener))
                append_str(l2d, listener_app);
        if (kp_mss_get_state(listener) == KP_MSS_DONE && dialer_app != NULL)
                g_assert_cmpmem(d2l->data, d2l->len, dialer_app, strlen(dialer_app));
        if (kp_mss_get_state(dialer) == KP_MSS_DONE && listener_app != NULL)
                g_assert_cmpmem(l2d->data, l2d->len, listener_app, strlen(listener_app));
}

static void
test_mss_vectors(void)
{
        g_autoptr(GByteArray) buf = g_byte_array_new();
        static const guint8 header[] = { 0x13, '/', 'm', 'u', 'l', 't', 'i', 's', 't', 'r',
                                         'e',  'a', 'm', '/', '1', '.', '0', '.', '0', '\n' };
        static const guint8 na[] = { 0x03, 0x6e, 0x61, 0x0a };
        static const guint8 ls[] = { 0x03, 0x6c, 0x73, 0x0a };

        msg(buf, "/multistream/1.0.0");
        g_assert_cmpmem(buf->data, buf->len, header, sizeof(header));
        g_byte_array_set_size(buf, 0);
        msg(buf, "na");
        g_assert_cmpmem(buf->data, buf->len, na, sizeof(na));
        g_byte_array_set_size(buf, 0);
        msg(buf, "ls");
        g_assert_cmpmem(buf->data, buf->len, ls, sizeof(ls));

        /* 127 bytes with the newline fit one varint byte; 128 need two */
        {
                g_autofree char *p126 = g_strnfill(126, 'a');
                g_autofree char *p127 = g_strnfill(127, 'a');
                g_byte_array_set_size(buf, 0);
                msg(buf, p126);
                g_assert_cmpuint(buf->len, ==, 128);
                g_assert_cmpuint(buf->data[0], ==, 0x7f);
                g_byte_array_set_size(buf, 0);
                msg(buf, p127);
                g_assert_cmpuint(buf->len, ==, 130);
                g_assert_cmpuint(buf->data[0], ==, 0x80);
                g_assert_cmpuint(buf->data[1], ==, 0x01);
                g_assert_cmpuint(buf->data[129], ==, '\n');
        }
}

static void
test_mss_initial_output(void)
{
        const char *dprotos[] = { "/noise", "/tls/1.0.0", NULL };
        const char *lprotos[] = { "/noise", NULL };
        g_autoptr(KpMss) dialer = kp_mss_new_dialer(dprotos, FALSE);
        g_autoptr(KpMss) listener = kp_mss_new_listener(lprotos);
        g_autoptr(GBytes) dout = NULL;
        g_autoptr(GBytes) lout = NULL;
        static const guint8 dexp[]
            = { 0x13, '/', 'm', 'u', 'l', 't',  'i',  's', 't', 'r', 'e', 'a', 'm', '/',
                '1',  '.', '0', '.', '0', '\n', 0x07, '/', 'n', 'o', 'i', 's', 'e', '\n' };

        dout = kp_mss_take_output(dialer);
        kp_test_assert_bytes(dout, dexp, sizeof(dexp));
        g_assert_null(kp_mss_take_output(dialer));
        lout = kp_mss_take_output(listener);
        kp_test_assert_bytes(lout, dexp, 20);
        g_assert_null(kp_mss_take_output(listener));

        g_assert_cmpint(kp_mss_get_state(dialer), ==, KP_MSS_NEGOTIATING);
        g_assert_null(kp_mss_get_protocol(dialer));
        g_assert_false(kp_mss_may_send(dialer));
        g_assert_false(kp_mss_may_send(listener));
}

static void
test_mss_negotiate_chunked(void)
{
        static const gsize chunks[] = { 0, 1, 2, 3, 5, 7, 19, 20, 21, 1000 };

        for (gsize i = 0; i < G_N_ELEMENTS(chunks); i++) {
                const char *dprotos[] = { "/yamux/1.0.0", NULL };
                const char *lprotos[] = { "/mplex/6.7.0", "/yamux/1.0.0", NULL };
                g_autoptr(KpMss) dialer = kp_mss_new_dialer(dprotos, FALSE);
                g_autoptr(KpMss) listener = kp_mss_new_listener(lprotos);
                g_autoptr(GError) derr = NULL;
                g_autoptr(GError) lerr = NULL;

                pump(dialer, listener, chunks[i], "dialer-app-data", "listener-app-data", &derr,
                     &lerr);
                g_assert_no_error(derr);
                g_assert_no_error(lerr);
                g_assert_cmpint(kp_mss_get_state(dialer), ==, KP_MSS_DONE);
                g_assert_cmpint(kp_mss_get_state(listener), ==, KP_MSS_DONE);
                g_assert_cmpstr(kp_mss_get_protocol(dialer), ==, "/yamux/1.0.0");
                g_assert_cmpstr(kp_mss_get_protocol(listener), ==, "/yamux/1.0.0");
                g_assert_true(kp_mss_may_send(dialer));
                g_assert_true(kp_mss_may_send(listener));
                g_assert_true(kp_mss_feed_eof(dialer, NULL));
                {
                        g_autofree char *taken = kp_mss_steal_protocol(listener);

                        g_assert_cmpstr(taken, ==, "/yamux/1.0.0");
                        g_assert_null(kp_mss_get_protocol(listener));
                }
        }
}

/* A dialer sharing its proposal list writes the same bytes as one that
 * copies it, and negotiates the same way, lazily or not. */
static void
test_mss_dialer_shared(void)
{
        const char *protos[] = { "/yamux/1.0.0", NULL };
        const char *lprotos[] = { "/mplex/6.7.0", "/yamux/1.0.0", NULL };
        g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);

        g_ptr_array_add(list, g_strdup("/yamux/1.0.0"));
        for (int lazy = 0; lazy <= 1; lazy++) {
                g_autoptr(KpMss) copying = kp_mss_new_dialer(protos, lazy);
                g_autoptr(KpMss) sharing = kp_mss_new_dialer_shared(list, lazy);
                g_autoptr(KpMss) listener = kp_mss_new_listener(lprotos);
                g_autoptr(GError) derr = NULL;
                g_autoptr(GError) lerr = NULL;
                const guint8 *a, *b;
                gsize alen = kp_mss_peek_output(copying, &a);
                gsize blen = kp_mss_peek_output(sharing, &b);

                g_assert_cmpmem(a, alen, b, blen);
                g_assert_cmpint(kp_mss_may_send(sharing), ==, lazy);
                pump(sharing, listener, 1000, "dialer-app-data", "listener-app-data", &derr, &lerr);
                g_assert_no_error(derr);
                g_assert_no_error(lerr);
                g_assert_cmpint(kp_mss_get_state(sharing), ==, KP_MSS_DONE);
                g_assert_cmpstr(kp_mss_get_protocol(sharing), ==, "/yamux/1.0.0");
        }
        /* the list is the caller's still */
        g_assert_cmpuint(list->len, ==, 1);
        g_assert_cmpstr(g_ptr_array_index(list, 0), ==, "/yamux/1.0.0");
}

static void
test_mss_na_fallback(void)
{
        static const gsize chunks[] = { 0, 1, 4 };

        for (gsize i = 0; i < G_N_ELEMENTS(chunks); i++) {
                const char *dprotos[] = { "/tls/1.0.0", "/quic", "/noise", NULL };
                const char *lprotos[] = { "/noise", NULL };
                g_autoptr(KpMss) dialer = kp_mss_new_dialer(dprotos, FALSE);
                g_autoptr(KpMss) listener = kp_mss_new_listener(lprotos);
                g_autoptr(GError) derr = NULL;
                g_autoptr(GError) lerr = NULL;

                pump(dialer, listener, chunks[i], NULL, "x", &derr, &lerr);
                g_assert_no_error(derr);
                g_assert_no_error(lerr);
                g_assert_cmpstr(kp_mss_get_protocol(dialer), ==, "/noise");
                g_assert_cmpstr(kp_mss_get_protocol(listener), ==, "/noise");
        }
}

static void
test_mss_na_wire(void)
{
        const char *dprotos[] = { "/tls/1.0.0", "/noise", NULL };
        g_autoptr(KpMss) dialer = kp_mss_new_dialer(dprotos, FALSE);
        g_autoptr(GByteArray) in = g_byte_array_new();
        g_autoptr(GBytes) out = NULL;
        g_autoptr(GError) error = NULL;
        static const guint8 exp[] = { 0x07, '/', 'n', 'o', 'i', 's', 'e', '\n' };
        gsize consumed = 0;

        g_bytes_unref(kp_mss_take_output(dialer));
        msg(in, KP_MSS_PROTOCOL_ID);
        msg(in, "na");
        g_assert_true(kp_mss_feed(dialer, in->data, in->len, &consumed, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(consumed, ==, in->len);
        out = kp_mss_take_output(dialer);
        kp_test_assert_bytes(out, exp, sizeof(exp));
        g_assert_cmpint(kp_mss_get_state(dialer), ==, KP_MSS_NEGOTIATING);
}

static void
test_mss_no_common(void)
{
        const char *dprotos[] = { "/a", "/b", NULL };
        const char *lprotos[] = { "/c", NULL };
        g_autoptr(KpMss) dialer = kp_mss_new_dialer(dprotos, FALSE);
        g_autoptr(KpMss) listener = kp_mss_new_listener(lprotos);
        g_autoptr(GError) derr = NULL;
        g_autoptr(GError) lerr = NULL;
        g_autoptr(GError) again = NULL;
        gsize consumed = 1234;

        pump(dialer, listener, 0, NULL, NULL, &derr, &lerr);
        g_assert_no_error(lerr);
        kp_test_assert_error(derr, KP_ERROR_NEGOTIATION, "no protocol in common: offered /a, /b");
        g_assert_cmpint(kp_mss_get_state(dialer), ==, KP_MSS_FAILED);
        g_assert_null(kp_mss_get_protocol(dialer));
        g_assert_false(kp_mss_may_send(dialer));
        /* the listener is still waiting for another proposal */
        g_assert_cmpint(kp_mss_get_state(listener), ==, KP_MSS_NEGOTIATING);

        /* a failed machine keeps failing with the same error */
        g_assert_false(kp_mss_feed(dialer, (const guint8 *)"x", 1, &consumed, &again));
        g_assert_error(again, KP_ERROR, KP_ERROR_NEGOTIATION);
        g_assert_cmpstr(again->message, ==, derr->message);
        g_assert_cmpuint(consumed, ==, 1234);
        g_clear_error(&again);
        g_assert_false(kp_mss_feed_eof(dialer, &again));
        g_assert_error(again, KP_ERROR, KP_ERROR_NEGOTIATION);
}

static void
test_mss_ls(void)
{
        const char *lprotos[] = { "/a", "/bb", NULL };
        g_autoptr(KpMss) listener = kp_mss_new_listener(lprotos);
        g_autoptr(GByteArray) in = g_byte_array_new();
        g_autoptr(GBytes) out = NULL;
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) listed = NULL;
        gsize consumed = 0, pos = 0, len = 0;
        const guint8 *data;
        g_autofree char *line = NULL;
        /* header, ls response, echo */
        static const guint8 exp_ls[]
            = { 0x0a, 0x03, '/', 'a', '\n', 0x04, '/', 'b', 'b', '\n', '\n' };

        msg(in, KP_MSS_PROTOCOL_ID);
        msg(in, "ls");
        msg(in, "/bb");
        g_assert_true(kp_mss_feed(listener, in->data, in->len, &consumed, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(consumed, ==, in->len);
        g_assert_cmpint(kp_mss_get_state(listener), ==, KP_MSS_DONE);
        g_assert_cmpstr(kp_mss_get_protocol(listener), ==, "/bb");

        out = kp_mss_take_output(listener);
        data = g_bytes_get_data(out, &len);
        g_assert_true(kp_mss_decode_message(data, len, &pos, &line, &error));
        g_assert_cmpstr(line, ==, KP_MSS_PROTOCOL_ID);
        g_assert_cmpuint(pos, ==, 20);
        g_assert_cmpmem(data + pos, sizeof(exp_ls), exp_ls, sizeof(exp_ls));
        listed = kp_mss_parse_ls(data + pos + 1, sizeof(exp_ls) - 1, &error);
        g_assert_no_error(error);
        g_assert_nonnull(listed);
        g_assert_cmpuint(g_strv_length(listed), ==, 2);
        g_assert_cmpstr(listed[0], ==, "/a");
        g_assert_cmpstr(listed[1], ==, "/bb");
        pos += sizeof(exp_ls);
        g_clear_pointer(&line, g_free);
        g_assert_true(kp_mss_decode_message(data, len, &pos, &line, &error));
        g_assert_cmpstr(line, ==, "/bb");
        g_assert_cmpuint(pos, ==, len);
}

/* A shared list: the listener keeps the array it was given, whatever its
 * owner does with its own reference; its output can be read in place. */
static void
test_mss_listener_shared(void)
{
        g_autoptr(GPtrArray) protos = g_ptr_array_new_null_terminated(2, g_free, TRUE);
        g_autoptr(KpMss) listener = NULL;
        g_autoptr(GByteArray) in = g_byte_array_new();
        g_autoptr(GByteArray) expected = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        const guint8 *data = NULL;
        gsize consumed = 0, len;

        g_ptr_array_add(protos, g_strdup("/a"));
        g_ptr_array_add(protos, g_strdup("/bb"));
        listener = kp_mss_new_listener_shared(protos);
        g_clear_pointer(&protos, g_ptr_array_unref);

        len = kp_mss_peek_output(listener, &data);
        msg(expected, KP_MSS_PROTOCOL_ID);
        g_assert_cmpmem(data, len, expected->data, expected->len);
        kp_mss_output_consumed(listener);
        g_assert_cmpuint(kp_mss_peek_output(listener, &data), ==, 0);

        msg(in, KP_MSS_PROTOCOL_ID);
        msg(in, "/c");
        msg(in, "/bb");
        append_str(in, "after");
        g_assert_true(kp_mss_feed(listener, in->data, in->len, &consumed, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(consumed, ==, in->len - 5);
        g_assert_cmpint(kp_mss_get_state(listener), ==, KP_MSS_DONE);
        g_assert_cmpstr(kp_mss_get_protocol(listener), ==, "/bb");
        g_byte_array_set_size(expected, 0);
        msg(expected, "na");
        msg(expected, "/bb");
        len = kp_mss_peek_output(listener, &data);
        g_assert_cmpmem(data, len, expected->data, expected->len);
}

static void
test_mss_ls_empty(void)
{
        const char *lprotos[] = { NULL };
        g_autoptr(KpMss) listener = kp_mss_new_listener(lprotos);
        g_autoptr(GByteArray) in = g_byte_array_new();
        g_autoptr(GBytes) out = NULL;
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) listed = NULL;
        static const guint8 exp_ls[] = { 0x01, '\n' };
        const guint8 *data;
        gsize len = 0;

        g_bytes_unref(kp_mss_take_output(listener));
        msg(in, KP_MSS_PROTOCOL_ID);
        msg(in, "ls");
        g_assert_true(kp_mss_feed(listener, in->data, in->len, NULL, &error));
        out = kp_mss_take_output(listener);
        kp_test_assert_bytes(out, exp_ls, sizeof(exp_ls));
        data = g_bytes_get_data(out, &len);
        listed = kp_mss_parse_ls(data + 1, len - 1, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(g_strv_length(listed), ==, 0);
}

static void
test_mss_parse_ls_bad(void)
{
        static const struct {
                const char *name;
                const guint8 *body;
                gsize len;
                KpError code;
                const char *substring;
        } cases[] = {
                { "empty", (const guint8 *)"", 0, KP_ERROR_INVALID, "newline" },
                { "no-final-newline", (const guint8 *)"\x03/a\nX", 5, KP_ERROR_INVALID, "newline" },
                { "entry-truncated", (const guint8 *)"\x05/a\n\n", 5, KP_ERROR_TRUNCATED,
                  "truncated" },
                { "entry-no-newline", (const guint8 *)"\x03/ab\n", 5, KP_ERROR_INVALID, "newline" },
                { "entry-no-slash",
                  (const guint8 *)"\x03"
                                  "ab\n\n",
                  5, KP_ERROR_INVALID, "invalid protocol id \"ab\"" },
                { "entry-nul", (const guint8 *)"\x03/\0\n\n", 5, KP_ERROR_INVALID, "NUL" },
                { "entry-oversize", (const guint8 *)"\x81\x08\n", 3, KP_ERROR_TOO_LARGE,
                  "1025 exceeds limit 1024" },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;
                g_auto(GStrv) listed = NULL;

                g_test_message("case %s", cases[i].name);
                listed = kp_mss_parse_ls(cases[i].body, cases[i].len, &error);
                g_assert_null(listed);
                kp_test_assert_error(error, (gint)cases[i].code, cases[i].substring);
                g_assert_true(
                    g_str_has_prefix(error->message, "multistream-select: ls response: "));
        }
}

static void
test_mss_bad_arguments(void)
{
        const char *two[] = { "/a", "/b", NULL };
        const char *none[] = { NULL };
        const char *bad_id[] = { "/a", "noslash", NULL };
        const char *bad_char[] = { "/a\n", NULL };

        g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*protocols[1] == NULL*");
        g_assert_null(kp_mss_new_dialer(two, TRUE));
        g_test_assert_expected_messages();
        g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*protocols[0] != NULL*");
        g_assert_null(kp_mss_new_dialer(none, FALSE));
        g_test_assert_expected_messages();
        g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*kp_mss_protocols_are_valid*");
        g_assert_null(kp_mss_new_dialer(bad_id, FALSE));
        g_test_assert_expected_messages();
        g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*kp_mss_protocols_are_valid*");
        g_assert_null(kp_mss_new_listener(bad_char));
        g_test_assert_expected_messages();
}

static void
test_mss_lazy(void)
{
        static const gsize chunks[] = { 0, 1, 2, 6 };

        for (gsize i = 0; i < G_N_ELEMENTS(chunks); i++) {
                const char *dprotos[] = { "/noise", NULL };
                const char *lprotos[] = { "/tls/1.0.0", "/noise", NULL };
                g_autoptr(KpMss) dialer = kp_mss_new_dialer(dprotos, TRUE);
                g_autoptr(KpMss) listener = kp_mss_new_listener(lprotos);
                g_autoptr(GError) derr = NULL;
                g_autoptr(GError) lerr = NULL;

                g_assert_true(kp_mss_may_send(dialer));
                g_assert_cmpstr(kp_mss_get_protocol(dialer), ==, "/noise");
                g_assert_cmpint(kp_mss_get_state(dialer), ==, KP_MSS_NEGOTIATING);
                pump(dialer, listener, chunks[i], "noise-msg-1", "noise-msg-2", &derr, &lerr);
                g_assert_no_error(derr);
                g_assert_no_error(lerr);
                g_assert_cmpint(kp_mss_get_state(dialer), ==, KP_MSS_DONE);
                g_assert_cmpint(kp_mss_get_state(listener), ==, KP_MSS_DONE);
                g_assert_cmpstr(kp_mss_get_protocol(dialer), ==, "/noise");
                g_assert_cmpstr(kp_mss_get_protocol(listener), ==, "/noise");
        }
}

/* Lazy dialer, by hand: header + proposal + app data reach the listener in one
 * read, and its header + echo + app data come back in one read. */
static void
test_mss_lazy_one_buffer(void)
{
        const char *protos[] = { "/noise", NULL };
        g_autoptr(KpMss) dialer = kp_mss_new_dialer(protos, TRUE);
        g_autoptr(KpMss) listener = kp_mss_new_listener(protos);
        g_autoptr(GByteArray) d2l = g_byte_array_new();
        g_autoptr(GByteArray) l2d = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        gsize consumed = 0;

        take_into(dialer, d2l);
        append_str(d2l, "HELLO");
        g_assert_true(kp_mss_feed(listener, d2l->data, d2l->len, &consumed, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(consumed, ==, 20 + 8);
        g_assert_cmpmem(d2l->data + consumed, d2l->len - consumed, "HELLO", 5);
        g_assert_cmpint(kp_mss_get_state(listener), ==, KP_MSS_DONE);

        /* feeding a finished machine consumes nothing */
        g_assert_true(kp_mss_feed(listener, d2l->data + consumed, 5, &consumed, &error));
        g_assert_cmpuint(consumed, ==, 0);

        take_into(listener, l2d);
        append_str(l2d, "WORLD");
        g_assert_true(kp_mss_feed(dialer, l2d->data, l2d->len, &consumed, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(consumed, ==, l2d->len - 5);
        g_assert_cmpmem(l2d->data + consumed, 5, "WORLD", 5);
        g_assert_cmpint(kp_mss_get_state(dialer), ==, KP_MSS_DONE);
        g_assert_null(kp_mss_take_output(dialer));
}

static void
test_mss_lazy_refused(void)
{
        const char *dprotos[] = { "/noise", NULL };
        const char *lprotos[] = { "/tls/1.0.0", NULL };
        g_autoptr(KpMss) dialer = kp_mss_new_dialer(dprotos, TRUE);
        g_autoptr(KpMss) listener = kp_mss_new_listener(lprotos);
        g_autoptr(GError) derr = NULL;
        g_autoptr(GError) lerr = NULL;

        pump(dialer, listener, 0, NULL, NULL, &derr, &lerr);
        g_assert_no_error(lerr);
        kp_test_assert_error(derr, KP_ERROR_NEGOTIATION, "no protocol in common: offered /noise");
        g_assert_false(kp_mss_may_send(dialer));
        g_assert_null(kp_mss_get_protocol(dialer));
}

static gboolean
match_prefix(const char *protocol, gpointer user_data)
{
        return g_str_has_prefix(protocol, user_data);
}

static void
test_mss_match_func(void)
{
        const char *dprotos[] = { "/other", "/kad/1.1.0", NULL };
        const char *lprotos[] = { "/ping", NULL };
        g_autoptr(KpMss) dialer = kp_mss_new_dialer(dprotos, FALSE);
        g_autoptr(KpMss) listener = kp_mss_new_listener(lprotos);
        g_autoptr(GError) derr = NULL;
        g_autoptr(GError) lerr = NULL;

        kp_mss_set_match_func(listener, match_prefix, g_strdup("/kad/"), g_free);
        pump(dialer, listener, 3, NULL, NULL, &derr, &lerr);
        g_assert_no_error(derr);
        g_assert_no_error(lerr);
        g_assert_cmpstr(kp_mss_get_protocol(listener), ==, "/kad/1.1.0");
}

/* A message that has exactly KP_MSS_MAX_MESSAGE bytes is accepted. */
static void
test_mss_max_message_boundary(void)
{
        const char *lprotos[] = { "/a", NULL };
        g_autoptr(KpMss) listener = kp_mss_new_listener(lprotos);
        g_autoptr(GByteArray) in = g_byte_array_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *longest = g_strnfill(KP_MSS_MAX_MESSAGE - 1, 'x');
        g_autofree char *too_long = g_strnfill(KP_MSS_MAX_MESSAGE, 'x');

        longest[0] = '/';
        too_long[0] = '/';
        g_assert_true(kp_mss_protocol_id_is_valid(longest));
        g_assert_false(kp_mss_protocol_id_is_valid(too_long));
        msg(in, KP_MSS_PROTOCOL_ID);
        msg(in, longest);
        g_assert_true(kp_mss_feed(listener, in->data, in->len, NULL, &error));
        g_assert_no_error(error);
        g_assert_cmpint(kp_mss_get_state(listener), ==, KP_MSS_NEGOTIATING);

        g_byte_array_set_size(in, 0);
        msg(in, too_long);
        g_assert_cmpuint(in->data[0], ==, 0x81);
        g_assert_cmpuint(in->data[1], ==, 0x08);
        /* refused as soon as the prefix is read, before the body */
        g_assert_false(kp_mss_feed(listener, in->data, 2, NULL, &error));
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "1025 exceeds limit 1024");
}

/* Feeds @listener a header, KP_MSS_MAX_ATTEMPTS refused proposals (every
 * other one "ls" when @alternate_ls) and then @last. */
static gboolean
feed_refusals(KpMss *listener, gboolean alternate_ls, const char *last, GError **error)
{
        g_autoptr(GByteArray) in = g_byte_array_new();

        msg(in, KP_MSS_PROTOCOL_ID);
        for (guint i = 0; i < KP_MSS_MAX_ATTEMPTS; i++)
                msg(in, alternate_ls && i % 2 ? "ls" : "/no");
        msg(in, last);
        return kp_mss_feed(listener, in->data, in->len, NULL, error);
}

static void
test_mss_attempts_boundary(void)
{
        const char *lprotos[] = { "/yes", NULL };

        for (guint with_ls = 0; with_ls < 2; with_ls++) {
                g_autoptr(KpMss) fits = kp_mss_new_listener(lprotos);
                g_autoptr(KpMss) over = kp_mss_new_listener(lprotos);
                g_autoptr(GError) error = NULL;

                /* KP_MSS_MAX_ATTEMPTS refusals (na or ls), then success, is fine */
                g_assert_true(feed_refusals(fits, with_ls, "/yes", &error));
                g_assert_no_error(error);
                g_assert_cmpint(kp_mss_get_state(fits), ==, KP_MSS_DONE);
                /* one more refusal fails */
                g_assert_false(feed_refusals(over, FALSE, with_ls ? "ls" : "/no", &error));
                kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "exceeded 16 rejected attempts");
                g_assert_cmpint(kp_mss_get_state(over), ==, KP_MSS_FAILED);
        }
}

static void
test_mss_eof(void)
{
        const char *protos[] = { "/a", NULL };
        static const struct {
                const char *input; /* fed before the EOF */
                gsize len;
                KpError code;
                const char *substring;
        } cases[] = {
                { S(""), KP_ERROR_CLOSED, "before negotiation finished" },
                { S("\x13/multi"), KP_ERROR_TRUNCATED, "6 of 19 bytes" },
                { S("\x81"), KP_ERROR_TRUNCATED, "length prefix" },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(KpMss) listener = kp_mss_new_listener(protos);
                g_autoptr(GError) error = NULL;

                g_assert_true(kp_mss_feed(listener, (const guint8 *)cases[i].input, cases[i].len,
                                          NULL, &error));
                g_assert_false(kp_mss_feed_eof(listener, &error));
                kp_test_assert_error(error, (gint)cases[i].code, cases[i].substring);
        }
}

typedef struct {
        const char *name;
        gboolean dialer;      /* else listener */
        gboolean with_header; /* a valid header precedes @input */
        const char *input;
        gsize len;
        KpError code;
        const char *substring;
} HostileCase;

static const HostileCase hostile_cases[] = {
        { "oversize", FALSE, FALSE, S("\x81\x08"), KP_ERROR_TOO_LARGE,
          "length 1025 exceeds limit 1024" },
        { "oversize-after-header", FALSE, TRUE, S("\xff\x7f"), KP_ERROR_TOO_LARGE,
          "16383 exceeds limit 1024" },
        { "oversize-3-byte-prefix", TRUE, FALSE, S("\x80\x80"), KP_ERROR_TOO_LARGE,
          "prefix longer than 2 bytes" },
        { "non-minimal-varint", FALSE, FALSE, S("\x93\x00"), KP_ERROR_INVALID,
          "not minimally encoded" },
        { "non-minimal-varint-dialer", TRUE, TRUE, S("\x83\x00"), KP_ERROR_INVALID,
          "not minimally encoded" },
        { "empty-message", FALSE, FALSE, S("\x00"), KP_ERROR_INVALID, "empty message" },
        { "missing-newline-header", FALSE, FALSE, S("\x13/multistream/1.0.0X"), KP_ERROR_INVALID,
          "does not end in a newline" },
        { "missing-newline-proposal", FALSE, TRUE, S("\x02/a"), KP_ERROR_INVALID,
          "does not end in a newline" },
        { "missing-newline-na", TRUE, TRUE, S("\x03nax"), KP_ERROR_INVALID,
          "does not end in a newline" },
        { "wrong-header-version", FALSE, FALSE, S("\x13/multistream/2.0.0\n"), KP_ERROR_NEGOTIATION,
          "received \"/multistream/2.0.0\"" },
        { "wrong-header-dialer", TRUE, FALSE, S("\x03na\n"), KP_ERROR_NEGOTIATION,
          "expected header \"/multistream/1.0.0\", received \"na\"" },
        { "wrong-header-escaped", FALSE, FALSE,
          S("\x05\x01"
            "b\"\\\n"),
          KP_ERROR_NEGOTIATION, "received \"\\x01b\\x22\\x5c\"" },
        { "header-only-newline", FALSE, FALSE, S("\x01\n"), KP_ERROR_NEGOTIATION, "received \"\"" },
        { "non-printable-proposal", FALSE, TRUE, S("\x04/a\x01\n"), KP_ERROR_INVALID,
          "non-printable byte 0x01 at offset 2" },
        { "embedded-newline", FALSE, TRUE, S("\x05/a\nb\n"), KP_ERROR_INVALID,
          "non-printable byte 0x0a" },
        { "utf8-proposal", FALSE, TRUE, S("\x05/\xc3\xa9x\n"), KP_ERROR_INVALID,
          "non-printable byte 0xc3" },
        { "non-printable-dialer", TRUE, TRUE, S("\x03/\x7f\n"), KP_ERROR_INVALID,
          "non-printable byte 0x7f" },
        { "proposal-without-slash", FALSE, TRUE, S("\x06hello\n"), KP_ERROR_PROTOCOL,
          "expected a protocol id or \"ls\" from dialer, received \"hello\"" },
        { "na-to-listener", FALSE, TRUE, S("\x03na\n"), KP_ERROR_PROTOCOL, "received \"na\"" },
        { "empty-proposal", FALSE, TRUE, S("\x01\n"), KP_ERROR_PROTOCOL, "received \"\"" },
        { "wrong-echo", TRUE, TRUE, S("\x03/b\n"), KP_ERROR_PROTOCOL,
          "expected \"/a\" or \"na\" from listener, received \"/b\"" },
        { "ls-to-dialer", TRUE, TRUE, S("\x03ls\n"), KP_ERROR_PROTOCOL, "received \"ls\"" },
        { "echo-prefix", TRUE, TRUE, S("\x04/ab\n"), KP_ERROR_PROTOCOL, "received \"/ab\"" },
        { "header-twice-dialer", TRUE, TRUE, S("\x13/multistream/1.0.0\n"), KP_ERROR_PROTOCOL,
          "received \"/multistream/1.0.0\"" },
        { "long-quote-cut", FALSE, FALSE,
          S("\x51/"
            "0123456789012345678901234567890123456789012345678901234567890123456789012345678\n"),
          KP_ERROR_NEGOTIATION, "\"... (80 bytes)" },
};

static void
test_mss_hostile(void)
{
        for (gsize i = 0; i < G_N_ELEMENTS(hostile_cases); i++) {
                const HostileCase *c = &hostile_cases[i];
                const char *protos[] = { "/a", NULL };
                g_autoptr(GByteArray) in = g_byte_array_new();

                g_test_message("case %s", c->name);
                if (c->with_header)
                        msg(in, KP_MSS_PROTOCOL_ID);
                g_byte_array_append(in, (const guint8 *)c->input, (guint)c->len);

                /* all at once, then byte at a time: same error */
                for (guint bytewise = 0; bytewise < 2; bytewise++) {
                        g_autoptr(KpMss) mss = c->dialer ? kp_mss_new_dialer(protos, FALSE)
                                                         : kp_mss_new_listener(protos);
                        g_autoptr(GError) error = NULL;

                        g_assert_false(
                            kp_test_feed(feed_mss, mss, in->data, in->len, bytewise, &error));
                        kp_test_assert_error(error, (gint)c->code, c->substring);
                        g_assert_true(g_str_has_prefix(error->message, "multistream-select: "));
                        g_assert_cmpint(kp_mss_get_state(mss), ==, KP_MSS_FAILED);
                }
        }
}

/* The error fires on the byte that proves it, not later: nothing after the
 * offending prefix is needed. */
static void
test_mss_oversize_no_buffering(void)
{
        const char *protos[] = { "/a", NULL };
        g_autoptr(KpMss) listener = kp_mss_new_listener(protos);
        g_autoptr(GError) error = NULL;
        gsize consumed = 0;

        g_assert_true(kp_mss_feed(listener, (const guint8 *)"\xff", 1, &consumed, &error));
        g_assert_cmpuint(consumed, ==, 1);
        g_assert_false(kp_mss_feed(listener, (const guint8 *)"\xff", 1, &consumed, &error));
        g_assert_error(error, KP_ERROR, KP_ERROR_TOO_LARGE);
}

static void
test_mss_decode_message(void)
{
        static const struct {
                const char *name;
                const char *input;
                gsize len;
                KpError code;
                const char *substring;
        } cases[] = {
                { "empty-buffer", S(""), KP_ERROR_TRUNCATED, "truncated varint" },
                { "truncated-body", S("\x05/ab\n"), KP_ERROR_TRUNCATED, "5 bytes truncated to 4" },
                { "no-newline", S("\x03/ab"), KP_ERROR_INVALID, "newline" },
                { "zero", S("\x00"), KP_ERROR_INVALID, "empty message" },
                { "non-minimal", S("\x83\x00"), KP_ERROR_INVALID, "not minimally encoded" },
                { "oversize", S("\x81\x08"), KP_ERROR_TOO_LARGE, "exceeds limit 1024" },
                { "nul", S("\x03/\0\n"), KP_ERROR_INVALID, "NUL" },
        };
        g_autoptr(GByteArray) buf = g_byte_array_new();
        g_autofree char *a = NULL;
        g_autofree char *b = NULL;
        gsize pos = 0;
        g_autoptr(GError) error = NULL;

        msg(buf, "/a");
        msg(buf, "na");
        g_assert_true(kp_mss_decode_message(buf->data, buf->len, &pos, &a, &error));
        g_assert_true(kp_mss_decode_message(buf->data, buf->len, &pos, &b, &error));
        g_assert_no_error(error);
        g_assert_cmpstr(a, ==, "/a");
        g_assert_cmpstr(b, ==, "na");
        g_assert_cmpuint(pos, ==, buf->len);

        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) err = NULL;
                g_autofree char *line = NULL;
                gsize p = 0;

                g_test_message("case %s", cases[i].name);
                g_assert_false(kp_mss_decode_message((const guint8 *)cases[i].input, cases[i].len,
                                                     &p, &line, &err));
                kp_test_assert_error(err, (gint)cases[i].code, cases[i].substring);
                g_assert_cmpuint(p, ==, 0);
                g_assert_null(line);
        }
}

static void
test_mss_protocol_id_valid(void)
{
        g_assert_true(kp_mss_protocol_id_is_valid("/"));
        g_assert_true(kp_mss_protocol_id_is_valid("/ipfs/id/1.0.0"));
        g_assert_true(kp_mss_protocol_id_is_valid("/with space"));
        g_assert_false(kp_mss_protocol_id_is_valid(NULL));
        g_assert_false(kp_mss_protocol_id_is_valid(""));
        g_assert_false(kp_mss_protocol_id_is_valid("na"));
        g_assert_false(kp_mss_protocol_id_is_valid("ls"));
        g_assert_false(kp_mss_protocol_id_is_valid("noslash"));
        g_assert_false(kp_mss_protocol_id_is_valid("/tab\there"));
        g_assert_false(kp_mss_protocol_id_is_valid("/nl\n"));
        g_assert_false(kp_mss_protocol_id_is_valid("/\x7f"));
        g_assert_false(kp_mss_protocol_id_is_valid("/\xc3\xa9"));
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/mss/vectors", test_mss_vectors);
        g_test_add_func("/mss/dialer-shared", test_mss_dialer_shared);
        g_test_add_func("/mss/initial-output", test_mss_initial_output);
        g_test_add_func("/mss/negotiate-chunked", test_mss_negotiate_chunked);
        g_test_add_func("/mss/na-fallback", test_mss_na_fallback);
        g_test_add_func("/mss/na-wire", test_mss_na_wire);
        g_test_add_func("/mss/no-common", test_mss_no_common);
        g_test_add_func("/mss/ls", test_mss_ls);
        g_test_add_func("/mss/ls-empty", test_mss_ls_empty);
        g_test_add_func("/mss/listener-shared", test_mss_listener_shared);
        g_test_add_func("/mss/parse-ls-bad", test_mss_parse_ls_bad);
        g_test_add_func("/mss/bad-arguments", test_mss_bad_arguments);
        g_test_add_func("/mss/lazy", test_mss_lazy);
        g_test_add_func("/mss/lazy-one-buffer", test_mss_lazy_one_buffer);
        g_test_add_func("/mss/lazy-refused", test_mss_lazy_refused);
        g_test_add_func("/mss/match-func", test_mss_match_func);
        g_test_add_func("/mss/max-message-boundary", test_mss_max_message_boundary);
        g_test_add_func("/mss/attempts-boundary", test_mss_attempts_boundary);
        g_test_add_func("/mss/eof", test_mss_eof);
        g_test_add_func("/mss/hostile", test_mss_hostile);
        g_test_add_func("/mss/oversize-no-buffering", test_mss_oversize_no_buffering);
        g_test_add_func("/mss/decode-message", test_mss_decode_message);
        g_test_add_func("/mss/protocol-id-valid", test_mss_protocol_id_valid);
        return g_test_run();
}
