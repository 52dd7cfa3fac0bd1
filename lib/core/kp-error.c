#include "core/kp-error.h"

G_DEFINE_QUARK(kp - error - quark, kp_error)

gboolean
kp_error_check_range(const char *name, guint value, guint min, guint max, GError **error)
{
        if (value >= min && value <= max)
                return TRUE;
        g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "%s is %u, not within %u .. %u", name, value,
                    min, max);
        return FALSE;
}
