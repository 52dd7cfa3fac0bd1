#include "core/kp-varint.h"

#include "core/kp-error.h"

gssize
kp_varint_decode(const guint8 *buf, gsize len, guint64 *ret_value, GError **error)
{
        guint64 value = 0;

        for (gsize i = 0; i < len; i++) {
                if (i == KP_VARINT_MAX_BYTES) {
                        g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                                    "varint longer than %d bytes", KP_VARINT_MAX_BYTES);
                        return -1;
                }
                value |= (guint64)(buf[i] & 0x7f) << (7 * i);
                if ((buf[i] & 0x80) == 0) {
                        /* A zero last byte after the first means the value fit in
                         * fewer bytes: the spec forbids that encoding. */
                        if (buf[i] == 0 && i > 0) {
                                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                            "varint is not minimally encoded");
                                return -1;
                        }
                        *ret_value = value;
                        return (gssize)i + 1;
                }
        }
        if (len >= KP_VARINT_MAX_BYTES) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE, "varint longer than %d bytes",
                            KP_VARINT_MAX_BYTES);
                return -1;
        }
        return 0;
}

gboolean
kp_varint_read(const guint8 *buf, gsize len, gsize *pos, guint64 *ret_value, GError **error)
{
        guint64 value;
        gssize n;

        g_return_val_if_fail(*pos <= len, FALSE);
        /* An empty buffer may be NULL: no pointer arithmetic on it. */
        if (*pos == len) {
                g_set_error(error, KP_ERROR, KP_ERROR_TRUNCATED, "truncated varint");
                return FALSE;
        }
        n = kp_varint_decode(buf + *pos, len - *pos, &value, error);
        if (n < 0)
                return FALSE;
        if (n == 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_TRUNCATED, "truncated varint");
                return FALSE;
        }
        *pos += (gsize)n;
        *ret_value = value;
        return TRUE;
}

gsize
kp_varint_encode(guint64 value, guint8 out[KP_VARINT_MAX_BYTES])
{
        gsize n = 0;

        g_return_val_if_fail(value <= KP_VARINT_MAX_VALUE, 0);
        do {
                guint8 b = value & 0x7f;
                value >>= 7;
                out[n++] = b | (value ? 0x80 : 0);
        } while (value);
        return n;
}

gsize
kp_varint_size(guint64 value)
{
        gsize n = 1;

        while (value >>= 7)
                n++;
        return n;
}

void
kp_varint_append(GByteArray *out, guint64 value)
{
        guint8 tmp[KP_VARINT_MAX_BYTES];
        gsize n = kp_varint_encode(value, tmp);

        g_byte_array_append(out, tmp, (guint)n);
}
