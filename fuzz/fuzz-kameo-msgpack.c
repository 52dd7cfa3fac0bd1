/* kping::Ping and its reply, MessagePack. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"

#include "core/kp-kameo.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        guint64 seq = 0, total = 0, seq2 = 0, total2 = 0;

        if (kp_kameo_ping_decode(data, size, &seq, NULL)) {
                g_autoptr(GBytes) enc = kp_kameo_ping_encode(seq);

                if (!kp_kameo_ping_decode(g_bytes_get_data(enc, NULL), g_bytes_get_size(enc), &seq2,
                                          NULL)
                    || seq2 != seq)
                        abort();
        }
        if (kp_kameo_pong_decode(data, size, &seq, &total, NULL)) {
                g_autoptr(GBytes) enc = kp_kameo_pong_encode(seq, total);

                if (!kp_kameo_pong_decode(g_bytes_get_data(enc, NULL), g_bytes_get_size(enc), &seq2,
                                          &total2, NULL)
                    || seq2 != seq || total2 != total)
                        abort();
        }
        return 0;
}
