/* One GError domain for all of libkping. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KP_ERROR (kp_error_quark())
GQuark kp_error_quark(void);

typedef enum {
        KP_ERROR_FAILED,           /* anything not listed below */
        KP_ERROR_INVALID,          /* malformed input */
        KP_ERROR_TRUNCATED,        /* input ended before the value did */
        KP_ERROR_TOO_LARGE,        /* over a named limit */
        KP_ERROR_UNSUPPORTED,      /* well formed, but not something kping handles */
        KP_ERROR_PEER_ID_MISMATCH, /* the remote proved another identity */
        KP_ERROR_CRYPTO,           /* a signature, MAC or key agreement failed */
        KP_ERROR_PROTOCOL,         /* the peer broke a protocol rule */
        KP_ERROR_NEGOTIATION,      /* no protocol in common */
        KP_ERROR_CLOSED,           /* the other side went away */
        KP_ERROR_TIMEOUT,
        KP_ERROR_PERMISSION, /* a file's mode or owner is unsafe */
        KP_ERROR_NOT_FOUND,
        KP_ERROR_IO,
} KpError;

/* TRUE when @min <= @value <= @max; else FALSE with KP_ERROR_INVALID
 * "NAME is VALUE, not within MIN .. MAX": the check of every named limit a
 * caller can set. */
gboolean kp_error_check_range(const char *name, guint value, guint min, guint max, GError **error);

G_END_DECLS
