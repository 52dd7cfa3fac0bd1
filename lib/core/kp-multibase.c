#include "core/kp-multibase.h"

#include <string.h>

#include "core/kp-error.h"

static const char base58_alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
static const char base32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

static gboolean
check_text_length(gsize len, GError **error)
{
        if (len > KP_MULTIBASE_MAX_TEXT) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "multibase text of %" G_GSIZE_FORMAT " characters exceeds %d", len,
                            KP_MULTIBASE_MAX_TEXT);
                return FALSE;
        }
        return TRUE;
}

char *
kp_base58btc_encode(const guint8 *data, gsize len)
{
        gsize zeros = 0, size, high;
        g_autofree guint8 *digits = NULL;
        GString *s;

        while (zeros < len && data[zeros] == 0)
                zeros++;
        /* log(256) / log(58) < 1.37 */
        size = (len - zeros) * 138 / 100 + 1;
        digits = g_malloc0(size);
        high = size;
        for (gsize i = zeros; i < len; i++) {
                guint carry = data[i];
                gsize j = size;
                while (j > high || carry != 0) {
                        j--;
                        carry += 256u * digits[j];
                        digits[j] = carry % 58;
                        carry /= 58;
                }
                high = j;
        }
        while (high < size && digits[high] == 0)
                high++;
        s = g_string_sized_new(zeros + size - high + 1);
        for (gsize i = 0; i < zeros; i++)
                g_string_append_c(s, '1');
        for (gsize i = high; i < size; i++)
                g_string_append_c(s, base58_alphabet[digits[i]]);
        return g_string_free(s, FALSE);
}

GBytes *
kp_base58btc_decode(const char *text, gsize len, GError **error)
{
        gsize zeros = 0, size, high;
        g_autofree guint8 *bytes = NULL;
        GByteArray *out;

        if (!check_text_length(len, error))
                return NULL;
        while (zeros < len && text[zeros] == '1')
                zeros++;
        /* log(58) / log(256) < 0.733 */
        size = (len - zeros) * 733 / 1000 + 1;
        bytes = g_malloc0(size);
        high = size;
        for (gsize i = zeros; i < len; i++) {
                const char *p = text[i] ? strchr(base58_alphabet, text[i]) : NULL;
                guint carry;
                gsize j = size;

                if (p == NULL) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "invalid base58btc character '%c' at offset %" G_GSIZE_FORMAT,
                                    g_ascii_isprint(text[i]) ? text[i] : '?', i);
                        return NULL;
                }
                carry = (guint)(p - base58_alphabet);
                while (j > high || carry != 0) {
                        j--;
                        carry += 58u * bytes[j];
                        bytes[j] = carry & 0xff;
                        carry >>= 8;
                }
                high = j;
        }
        while (high < size && bytes[high] == 0)
                high++;
        out = g_byte_array_sized_new((guint)(zeros + size - high));
        for (gsize i = 0; i < zeros; i++)
                g_byte_array_append(out, (const guint8 *)"\0", 1);
        g_byte_array_append(out, bytes + high, (guint)(size - high));
        return g_byte_array_free_to_bytes(out);
}

char *
kp_base32_encode(const guint8 *data, gsize len)
{
        GString *s = g_string_sized_new((len * 8 + 4) / 5 + 1);
        guint32 buffer = 0;
        guint bits = 0;

        for (gsize i = 0; i < len; i++) {
                buffer = (buffer << 8) | data[i];
                bits += 8;
                while (bits >= 5) {
                        g_string_append_c(s, base32_alphabet[(buffer >> (bits - 5)) & 31]);
                        bits -= 5;
                }
        }
        if (bits > 0)
                g_string_append_c(s, base32_alphabet[(buffer << (5 - bits)) & 31]);
        return g_string_free(s, FALSE);
}

GBytes *
kp_base32_decode(const char *text, gsize len, GError **error)
{
        GByteArray *out;
        guint32 buffer = 0;
        guint bits = 0;
        gsize rem;

        if (!check_text_length(len, error))
                return NULL;
        /* Unpadded RFC 4648 leaves 0, 2, 4, 5 or 7 characters in the last group. */
        rem = len % 8;
        if (rem == 1 || rem == 3 || rem == 6) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "invalid base32 length %" G_GSIZE_FORMAT, len);
                return NULL;
        }
        out = g_byte_array_sized_new((guint)(len * 5 / 8));
        for (gsize i = 0; i < len; i++) {
                const char *p = text[i] ? strchr(base32_alphabet, text[i]) : NULL;
                if (p == NULL) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "invalid base32 character '%c' at offset %" G_GSIZE_FORMAT,
                                    g_ascii_isprint(text[i]) ? text[i] : '?', i);
                        g_byte_array_unref(out);
                        return NULL;
                }
                buffer = (buffer << 5) | (guint32)(p - base32_alphabet);
                bits += 5;
                if (bits >= 8) {
                        guint8 b = (buffer >> (bits - 8)) & 0xff;
                        g_byte_array_append(out, &b, 1);
                        bits -= 8;
                }
        }
        /* Leftover bits must be zero, or two texts would decode to the same bytes. */
        if (bits > 0 && (buffer & ((1u << bits) - 1)) != 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "non-zero trailing bits in base32");
                g_byte_array_unref(out);
                return NULL;
        }
        return g_byte_array_free_to_bytes(out);
}

char *
kp_multibase_encode(KpMultibase base, const guint8 *data, gsize len)
{
        g_autofree char *body = NULL;

        switch (base) {
        case KP_MULTIBASE_BASE58BTC:
                body = kp_base58btc_encode(data, len);
                break;
        case KP_MULTIBASE_BASE32:
                body = kp_base32_encode(data, len);
                break;
        default:
                g_return_val_if_reached(NULL);
        }
        return g_strdup_printf("%c%s", (char)base, body);
}

GBytes *
kp_multibase_decode(const char *text, GError **error)
{
        gsize len = strlen(text);

        if (len == 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "empty multibase text");
                return NULL;
        }
        switch (text[0]) {
        case KP_MULTIBASE_BASE58BTC:
                return kp_base58btc_decode(text + 1, len - 1, error);
        case KP_MULTIBASE_BASE32:
                return kp_base32_decode(text + 1, len - 1, error);
        default:
                g_set_error(error, KP_ERROR, KP_ERROR_UNSUPPORTED,
                            "unsupported multibase prefix '%c'",
                            g_ascii_isprint(text[0]) ? text[0] : '?');
                return NULL;
        }
}
