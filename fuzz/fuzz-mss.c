/* Feeds arbitrary bytes to a multistream-select dialer or listener, once in
 * one piece and once in chunks whose sizes derive from the input, and checks
 * that both runs agree exactly: chunking must never change the outcome.
 *
 * Input: byte 0 picks the machine (bit 0: dialer, bit 1: lazy dialer,
 * bit 2: listener match function), byte 1 seeds the chunk sizes; the rest is
 * what the peer sends. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "core/kp-mss.h"

typedef struct {
        KpMssState state;
        gsize consumed;
        GByteArray *output;
        char *protocol;
        GError *error;
        gboolean eof_ok;
} Outcome;

static gboolean
match_kad(const char *protocol, gpointer user_data)
{
        return g_str_has_prefix(protocol, "/kad/");
}

static KpMss *
make_machine(guint8 mode)
{
        static const char *const dialer_protos[] = { "/a", "/noise", NULL };
        static const char *const lazy_protos[] = { "/noise", NULL };
        static const char *const listener_protos[] = { "/a", "/noise", "/yamux/1.0.0", NULL };
        KpMss *mss;

        if (mode & 1)
                return kp_mss_new_dialer((mode & 2) ? lazy_protos : dialer_protos, (mode & 2) != 0);
        mss = kp_mss_new_listener(listener_protos);
        if (mode & 4)
                kp_mss_set_match_func(mss, match_kad, NULL, NULL);
        return mss;
}

static void
drain(KpMss *mss, GByteArray *output)
{
        g_autoptr(GBytes) out = kp_mss_take_output(mss);

        if (out != NULL) {
                gsize len = 0;
                const guint8 *data = g_bytes_get_data(out, &len);
                g_assert(len > 0);
                g_byte_array_append(output, data, (guint)len);
        }
}

static void
run(guint8 mode, guint32 seed, const guint8 *data, gsize size, Outcome *o)
{
        g_autoptr(KpMss) mss = make_machine(mode);
        gsize pos = 0;

        o->output = g_byte_array_new();
        drain(mss, o->output);
        while (pos < size) {
                gsize n = size - pos;
                gsize consumed = G_MAXSIZE;

                if (seed != 0) {
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        n = MIN(n, 1 + seed % 24);
                }
                if (!kp_mss_feed(mss, data + pos, n, &consumed, &o->error)) {
                        g_autoptr(GError) again = NULL;
                        g_assert(consumed == G_MAXSIZE);
                        g_assert(o->error != NULL);
                        g_assert(kp_mss_get_state(mss) == KP_MSS_FAILED);
                        g_assert(!kp_mss_feed(mss, data, size, NULL, &again));
                        g_assert(g_error_matches(again, o->error->domain, o->error->code));
                        break;
                }
                g_assert(consumed <= n);
                if (kp_mss_get_state(mss) == KP_MSS_NEGOTIATING)
                        g_assert(consumed == n);
                pos += consumed;
                drain(mss, o->output);
                if (kp_mss_get_state(mss) == KP_MSS_DONE)
                        break;
        }
        drain(mss, o->output);
        o->state = kp_mss_get_state(mss);
        o->consumed = pos;
        o->protocol = g_strdup(kp_mss_get_protocol(mss));
        if (o->state == KP_MSS_DONE) {
                gsize consumed = G_MAXSIZE;
                g_assert(o->protocol != NULL && kp_mss_protocol_id_is_valid(o->protocol));
                g_assert(kp_mss_may_send(mss));
                g_assert(kp_mss_feed(mss, data, size, &consumed, NULL) && consumed == 0);
        }
        o->eof_ok = kp_mss_feed_eof(mss, NULL);
        g_assert(o->eof_ok == (o->state == KP_MSS_DONE));
}

static void
outcome_clear(Outcome *o)
{
        g_byte_array_unref(o->output);
        g_free(o->protocol);
        g_clear_error(&o->error);
}

static void
fuzz_helpers(const guint8 *data, gsize size)
{
        g_auto(GStrv) listed = kp_mss_parse_ls(data, size, NULL);
        gsize pos = 0;

        for (guint i = 0; listed != NULL && listed[i] != NULL; i++)
                g_assert(kp_mss_protocol_id_is_valid(listed[i]));
        for (;;) {
                g_autofree char *line = NULL;
                gsize before = pos;
                if (!kp_mss_decode_message(data, size, &pos, &line, NULL)) {
                        g_assert(pos == before);
                        break;
                }
                g_assert(pos > before && pos <= size);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Outcome whole = { 0 }, chunked = { 0 };
        guint8 mode;
        guint32 seed;

        if (size < 2)
                return 0;
        mode = data[0];
        seed = 0x9e3779b9u ^ data[1];
        data += 2;
        size -= 2;

        fuzz_helpers(data, size);
        run(mode, 0, data, size, &whole);
        run(mode, seed, data, size, &chunked);

        g_assert(whole.state == chunked.state);
        if (whole.state != KP_MSS_FAILED)
                g_assert(whole.consumed == chunked.consumed);
        g_assert(whole.output->len == chunked.output->len
                 && memcmp(whole.output->data, chunked.output->data, whole.output->len) == 0);
        g_assert(g_strcmp0(whole.protocol, chunked.protocol) == 0);
        g_assert((whole.error == NULL) == (chunked.error == NULL));
        if (whole.error != NULL) {
                g_assert(whole.error->code == chunked.error->code);
                g_assert(strcmp(whole.error->message, chunked.error->message) == 0);
        }
        outcome_clear(&whole);
        outcome_clear(&chunked);
        return 0;
}
