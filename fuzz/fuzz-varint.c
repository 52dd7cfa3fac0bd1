/* Decodes a stream of varints; every one decoded must re-encode to the very
 * bytes it came from (the decoder accepts minimal encodings only). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/kp-varint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        gsize pos = 0;

        while (pos < size) {
                guint64 value = 0;
                guint8 out[KP_VARINT_MAX_BYTES];
                gssize n = kp_varint_decode(data + pos, size - pos, &value, NULL);
                gsize written;

                if (n <= 0)
                        break;
                if (value > KP_VARINT_MAX_VALUE)
                        abort();
                written = kp_varint_encode(value, out);
                if (written != (gsize)n || kp_varint_size(value) != written
                    || memcmp(out, data + pos, written) != 0)
                        abort();
                pos += (gsize)n;
        }
        return 0;
}
