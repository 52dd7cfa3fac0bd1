/* Identify messages and the length-prefixed reader that carries them. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"

#include "core/kp-identify.h"
#include "core/kp-lp.h"

static void
fuzz_lp(const uint8_t *data, size_t size)
{
        KpLpReader reader;
        gsize chunk = size > 0 ? (data[0] % 7) + 1 : 1;

        kp_lp_reader_init(&reader, KP_IDENTIFY_MAX_MESSAGE);
        for (gsize off = 0; off < size;) {
                g_autoptr(GBytes) msg = NULL;
                gsize used = 0, n = MIN(chunk, size - off);
                if (!kp_lp_reader_feed(&reader, data + off, n, &used, &msg, NULL))
                        break;
                if (used == 0 && msg == NULL)
                        abort();
                off += used;
        }
        kp_lp_reader_clear(&reader);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        g_autoptr(KpIdentifyInfo) info = kp_identify_decode(data, size, NULL);

        if (info != NULL) {
                g_autoptr(GBytes) again = kp_identify_encode(info);
                g_autoptr(KpIdentifyInfo) back = NULL;
                gsize len;
                const guint8 *bytes = g_bytes_get_data(again, &len);

                /* What we accept we can re-encode and accept again. */
                back = kp_identify_decode(bytes, len, NULL);
                if (back == NULL)
                        abort();
        }
        fuzz_lp(data, size);
        return 0;
}
