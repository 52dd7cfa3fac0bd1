/* Feeds arbitrary bytes to a yamux session in chunks while a host, driven by
 * the events and a small PRNG, accepts, reads, echoes, opens, closes, resets,
 * pings and releases streams.
 *
 * Input: one configuration byte (bit 0: client role; bits 1-7: chunk size - 1),
 * then the bytes the peer sends. */
#include <stdint.h>
#include <string.h>

#include "core/kp-error.h"
#include "core/kp-yamux.h"

static guint32
next_rand(guint32 *state)
{
        *state = *state * 1103515245u + 12345u;
        return *state >> 16;
}

static void
host_act(KpYamuxSession *s, guint32 *rng, gint64 now)
{
        KpYamuxEvent ev;
        guint8 buf[512];

        while (kp_yamux_session_next_event(s, &ev)) {
                guint32 r = next_rand(rng);
                gssize n;

                switch (ev.kind) {
                case KP_YAMUX_EVENT_STREAM_OPENED:
                        g_assert(kp_yamux_stream_set_user_data(s, ev.stream_id, s));
                        if (r % 4 == 0)
                                kp_yamux_stream_release(s, ev.stream_id);
                        else if (r % 4 == 1)
                                g_assert(kp_yamux_stream_write(s, ev.stream_id, NULL, 0, NULL)
                                         >= -1);
                        break;
                case KP_YAMUX_EVENT_STREAM_READABLE:
                        g_assert(ev.user_data == NULL || ev.user_data == s);
                        n = kp_yamux_stream_read(s, ev.stream_id, buf, 1 + r % sizeof(buf), NULL);
                        if (n > 0)
                                (void)kp_yamux_stream_write(s, ev.stream_id, buf, (gsize)n, NULL);
                        break;
                case KP_YAMUX_EVENT_STREAM_WRITABLE:
                        memset(buf, 'w', sizeof(buf));
                        (void)kp_yamux_stream_write(s, ev.stream_id, buf, sizeof(buf), NULL);
                        break;
                case KP_YAMUX_EVENT_STREAM_CLOSED_BY_PEER:
                        (void)kp_yamux_stream_close(s, ev.stream_id, NULL);
                        if (r % 2 == 0)
                                kp_yamux_stream_release(s, ev.stream_id);
                        break;
                case KP_YAMUX_EVENT_STREAM_RESET:
                        kp_yamux_stream_release(s, ev.stream_id);
                        break;
                case KP_YAMUX_EVENT_PING_ACK:
                        g_assert(ev.rtt_us >= 0);
                        break;
                case KP_YAMUX_EVENT_GO_AWAY_RECEIVED:
                        break;
                case KP_YAMUX_EVENT_SESSION_ERROR:
                        g_assert(ev.error != NULL);
                        break;
                default:
                        g_assert_not_reached();
                }
        }

        switch (next_rand(rng) % 8) {
        case 0: {
                guint32 id = kp_yamux_session_open_stream(s, NULL);

                if (id != 0)
                        (void)kp_yamux_stream_write(s, id, (const guint8 *)"hello", 5, NULL);
                break;
        }
        case 1:
                (void)kp_yamux_session_ping(s, now, NULL, NULL);
                break;
        case 2: {
                /* the id may or may not exist */
                guint32 id = next_rand(rng) % 16;
                guint32 what = next_rand(rng) % 4;

                if (what == 0)
                        (void)kp_yamux_stream_close(s, id, NULL);
                else if (what == 1)
                        (void)kp_yamux_stream_reset(s, id, NULL);
                else if (what == 2)
                        kp_yamux_stream_release(s, id);
                else if (kp_yamux_stream_get_readable(s, id) > 0)
                        kp_yamux_stream_consume(s, id, 1);
                break;
        }
        case 3:
                if (next_rand(rng) % 16 == 0)
                        kp_yamux_session_go_away(s, KP_YAMUX_GO_AWAY_NORMAL);
                break;
        default:
                break;
        }

        /* the peer reads most of the time, not always */
        if (next_rand(rng) % 4 != 0) {
                gsize pending = kp_yamux_session_pending_output(s, NULL);

                kp_yamux_session_output_consumed(s, pending - pending / 4);
        }

        g_assert(kp_yamux_session_get_n_streams(s) <= KP_YAMUX_MAX_STREAMS);
        g_assert(kp_yamux_session_get_buffered(s)
                 <= (gsize)KP_YAMUX_MAX_STREAMS * KP_YAMUX_INITIAL_WINDOW);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        g_autoptr(KpYamuxSession) s = NULL;
        guint32 rng;
        gsize chunk;
        gsize pos = 1;
        gint64 now = 0;

        if (size < 1)
                return 0;
        s = kp_yamux_session_new((data[0] & 1) ? KP_YAMUX_ROLE_CLIENT : KP_YAMUX_ROLE_SERVER);
        chunk = (gsize)(data[0] >> 1) + 1;
        rng = data[0] ^ (guint32)size;
        while (pos < size) {
                gsize n = MIN(chunk, size - pos);
                g_autoptr(GError) error = NULL;
                gboolean ok = kp_yamux_session_feed(s, data + pos, n, now, &error);

                g_assert(ok == (error == NULL));
                g_assert(ok == (kp_yamux_session_get_error(s) == NULL));
                pos += n;
                now += 100;
                host_act(s, &rng, now);
                if (!ok)
                        break;
        }
        return 0;
}
