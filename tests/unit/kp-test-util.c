#include "kp-test-util.h"

#include <string.h>

#include "core/kp-error.h"

GByteArray *
kp_test_unhex(const char *hex)
{
        GByteArray *out = g_byte_array_new();

        g_assert_cmpuint(strlen(hex) % 2, ==, 0);
        for (gsize i = 0; hex[i] != '\0'; i += 2) {
                int hi = g_ascii_xdigit_value(hex[i]);
                int lo = g_ascii_xdigit_value(hex[i + 1]);
                guint8 b;

                g_assert_cmpint(hi, >=, 0);
                g_assert_cmpint(lo, >=, 0);
                b = (guint8)(hi << 4 | lo);
                g_byte_array_append(out, &b, 1);
        }
        return out;
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
