/* Decodes the input as multibase text; a text that decodes must be the one
 * encoding of its bytes (canonical: no padding, zero trailing bits). Also
 * encodes the raw input and checks it decodes back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/kp-multibase.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const char *text, gsize len)
{
        g_autoptr(GBytes) bytes = NULL;
        g_autofree char *again = NULL;
        const guint8 *buf;
        gsize buf_len;

        bytes = kp_multibase_decode(text, NULL);
        if (bytes == NULL)
                return;
        buf = g_bytes_get_data(bytes, &buf_len);
        again = kp_multibase_encode((KpMultibase)text[0], buf, buf_len);
        if (strlen(again) != len || memcmp(again, text, len) != 0)
                abort();
}

static void
check_bytes(KpMultibase base, const guint8 *data, gsize size)
{
        g_autofree char *text = kp_multibase_encode(base, data, size);
        g_autoptr(GBytes) back = kp_multibase_decode(text, NULL);

        if (back == NULL || g_bytes_get_size(back) != size
            || (size > 0 && memcmp(g_bytes_get_data(back, NULL), data, size) != 0))
                abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        g_autofree char *text = g_strndup((const char *)data, size);

        check_text(text, strlen(text));
        /* The decoders take explicit lengths too: NUL must be refused. */
        if (size > 0) {
                g_autoptr(GBytes) a = kp_base58btc_decode((const char *)data, size, NULL);
                g_autoptr(GBytes) b = kp_base32_decode((const char *)data, size, NULL);

                if (memchr(data, '\0', size) != NULL && (a != NULL || b != NULL))
                        abort();
        }
        /* Encoding is quadratic for base58; decoding bounds the text anyway. */
        if (size <= 512) {
                check_bytes(KP_MULTIBASE_BASE58BTC, data, size);
                check_bytes(KP_MULTIBASE_BASE32, data, size);
        }
        return 0;
}
