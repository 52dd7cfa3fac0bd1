/* kpingd logging: GLib structured logging, to journald with fields when
 * stderr is the journal, else one readable line per message on stderr. */
#pragma once

#include <glib.h>

/* Stable MESSAGE_IDs of key events (see systemd/kpingd.catalog). */
#define KPINGD_MID_STARTED    "6a1c5b0e2f8d4b1c9e3a7d5f0b2c4e61"
#define KPINGD_MID_LISTENING  "0d7e3c9a1b5f4e2d8c6a0b9f7e1d3c52"
#define KPINGD_MID_CONNECTED  "c3b1f8e2a7d94c6e9b0f5a2d1e8c7b43"
#define KPINGD_MID_HANDSHAKE  "9f2e4d6c8b0a4e1f3d5c7b9a1e3f5d74"
#define KPINGD_MID_REGISTERED "7b2d9e4f6a8c4b0d9e1f3a5c7b9d1e26"
#define KPINGD_MID_STOPPING   "4e6d8c0b2a9f4d7e1c3b5a7f9e0d2c85"
#define KPINGD_MID_STOPPED    "da808fbbde394830a69b2a5fee5f4908"

void kpingd_log_init(GLogLevelFlags max_level);
/* FALSE when a message at @level would be dropped: skip building it. */
gboolean kpingd_log_enabled(GLogLevelFlags level);
gboolean kpingd_log_parse_level(const char *text, GLogLevelFlags *ret_level);
