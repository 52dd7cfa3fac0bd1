#include "kp-test-util.h"

#include <string.h>

#include "core/kp-error.h"

GByteArray *
kp_test_unhex(const char *hex)
{
        GByteArray *out = g_byte_array_new();

        for (gsize i = 0; hex[i] != '\0'; i++) {
                int hi, lo;
                guint8 b;

                if (hex[i] == ' ')
                        continue;
                hi = g_ascii_xdigit_value(hex[i]);
                lo = g_ascii_xdigit_value(hex[i + 1]);
                g_assert_cmpint(hi, >=, 0);
                g_assert_cmpint(lo, >=, 0);
                b = (guint8)(hi << 4 | lo);
                g_byte_array_append(out, &b, 1);
                i++;
        }
        return out;
}

GBytes *
kp_test_unhex_bytes(const char *hex)
{
        return g_byte_array_free_to_bytes(kp_test_unhex(hex));
}

char *
kp_test_hex(const guint8 *data, gsize len)
{
        GString *out = g_string_sized_new(2 * len);

        for (gsize i = 0; i < len; i++)
                g_string_append_printf(out, "%02x", data[i]);
        return g_string_free(out, FALSE);
}

void
kp_test_assert_bytes(GBytes *bytes, const guint8 *expected, gsize len)
{
        gsize got_len = 0;
        const guint8 *got;

        g_assert_nonnull(bytes);
        got = g_bytes_get_data(bytes, &got_len);
        g_assert_cmpmem(got, got_len, expected, len);
}

void
kp_test_assert_error(const GError *error, int code, const char *substring)
{
        g_assert_nonnull(error);
        if (error->domain != KP_ERROR || error->code != code
            || strstr(error->message, substring) == NULL)
                g_error("expected KP_ERROR code %d containing \"%s\", got %s code %d: %s", code,
                        substring, g_quark_to_string(error->domain), error->code, error->message);
}

gboolean
kp_test_feed(KpTestFeedFunc feed, gpointer machine, const guint8 *data, gsize len, gsize chunk,
             GError **error)
{
        if (chunk == 0)
                return feed(machine, data, len, error);
        for (gsize pos = 0; pos < len; pos += chunk) {
                if (!feed(machine, data + pos, MIN(chunk, len - pos), error))
                        return FALSE;
        }
        return TRUE;
}

static void
check_malformed(const KpTestMalformed *c, const guint8 *data, gsize len, KpTestDecodeFunc decode)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *shown = g_strescape(c->input, NULL);

        g_test_message("malformed \"%s\"", shown);
        if (decode(data, len, &error))
                g_error("\"%s\" was accepted, expected KP_ERROR code %d containing \"%s\"", shown,
                        c->code, c->message);
        kp_test_assert_error(error, c->code, c->message);
}

void
kp_test_malformed_hex(const KpTestMalformed *cases, gsize n_cases, KpTestDecodeFunc decode)
{
        for (gsize i = 0; i < n_cases; i++) {
                g_autoptr(GByteArray) bytes = kp_test_unhex(cases[i].input);

                check_malformed(&cases[i], bytes->data, bytes->len, decode);
        }
}

void
kp_test_malformed_text(const KpTestMalformed *cases, gsize n_cases, KpTestDecodeFunc decode)
{
        for (gsize i = 0; i < n_cases; i++)
                check_malformed(&cases[i], (const guint8 *)cases[i].input, strlen(cases[i].input),
                                decode);
}

guint16
kp_test_listen_loopback(KpHost *host)
{
        g_autoptr(KpMultiaddr) any = kp_multiaddr_new_from_string("/ip4/127.0.0.1/tcp/0", NULL);
        g_autoptr(GPtrArray) bound = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *host_text = NULL;
        KpMultiaddrHostKind kind;
        guint16 port = 0;

        g_assert_true(kp_host_listen(host, any, &error));
        g_assert_no_error(error);
        bound = kp_host_get_listen_addrs(host);
        g_assert_true(
            kp_multiaddr_get_tcp_endpoint(bound->pdata[0], &host_text, &port, &kind, NULL));
        return port;
}

KpMultiaddr *
kp_test_server_target(KpHost *server, guint16 port)
{
        g_autofree char *text = g_strdup_printf("/ip4/127.0.0.1/tcp/%u", port);
        g_autoptr(KpMultiaddr) addr = kp_multiaddr_new_from_string(text, NULL);

        return kp_multiaddr_encapsulate_p2p(addr, kp_host_get_peer_id(server), NULL);
}

static void
on_test_dialled(GObject *source, GAsyncResult *result, gpointer user_data)
{
        GAsyncResult **ret = user_data;

        *ret = g_object_ref(result);
}

KpConnection *
kp_test_dial(KpHost *client, const KpMultiaddr *target)
{
        g_autoptr(GError) error = NULL;
        GAsyncResult *result = NULL;
        KpConnection *conn;
        gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

        kp_host_dial_async(client, target, NULL, on_test_dialled, &result);
        while (result == NULL && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, TRUE);
        g_assert_nonnull(result);
        conn = kp_host_dial_finish(client, result, &error);
        g_object_unref(result);
        g_assert_no_error(error);
        g_assert_nonnull(conn);
        return conn;
}

static GPtrArray *captured_log;
static const char *capture_key;
static const char *capture_value;

static GLogWriterOutput
capture_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
        const char *message = NULL;
        gboolean match = FALSE;

        for (gsize i = 0; i < n_fields; i++) {
                if (g_str_equal(fields[i].key, capture_key))
                        match = capture_value == NULL
                                || g_strcmp0(fields[i].value, capture_value) == 0;
                else if (g_str_equal(fields[i].key, "MESSAGE"))
                        message = fields[i].value;
        }
        if (!match || message == NULL)
                return g_log_writer_default(level, fields, n_fields, user_data);
        g_ptr_array_add(captured_log, g_strdup(message));
        return G_LOG_WRITER_HANDLED;
}

void
kp_test_capture_log(const char *key, const char *value)
{
        capture_key = key;
        capture_value = value;
        captured_log = g_ptr_array_new_with_free_func(g_free);
        g_log_set_writer_func(capture_writer, NULL, NULL);
}

GPtrArray *
kp_test_captured_log(void)
{
        return captured_log;
}

guint
kp_test_count_log_lines(const char *a, const char *b)
{
        guint n = 0;

        for (guint i = 0; i < captured_log->len; i++) {
                const char *line = captured_log->pdata[i];
                if (strstr(line, a) != NULL && (b == NULL || strstr(line, b) != NULL))
                        n++;
        }
        return n;
}
