/* Helpers shared by the unit tests. */
#pragma once

#include <glib.h>

#include "net/kp-host.h"

/* "0a1b..." -> bytes; spaces between bytes are skipped so that tables can
 * group fields. Aborts the test on malformed hex. */
GByteArray *kp_test_unhex(const char *hex);
/* kp_test_unhex() as immutable bytes. */
GBytes *kp_test_unhex_bytes(const char *hex);
/* Lower-case hex of @len bytes, for messages and for comparing to pinned hex. */
char *kp_test_hex(const guint8 *data, gsize len);
/* Asserts @bytes holds exactly @len bytes equal to @expected. */
void kp_test_assert_bytes(GBytes *bytes, const guint8 *expected, gsize len);
/* Asserts @error has @code in KP_ERROR and a message containing @substring. */
void kp_test_assert_error(const GError *error, int code, const char *substring);

/* One feed call of a sans-I/O machine, for kp_test_feed(). */
typedef gboolean (*KpTestFeedFunc)(gpointer machine, const guint8 *data, gsize len, GError **error);
/* Feeds @len bytes to @machine @chunk bytes per call (0: all at once), so a
 * test can check that a verdict does not depend on how the input is split;
 * stops at the first failing call and returns its result. */
gboolean kp_test_feed(KpTestFeedFunc feed, gpointer machine, const guint8 *data, gsize len,
                      gsize chunk, GError **error);

/* A malformed input and the error a decoder must give for it. */
typedef struct {
        const char *input;   /* hex for kp_test_malformed_hex(), else text */
        int code;            /* in KP_ERROR */
        const char *message; /* a distinctive substring of the message */
} KpTestMalformed;

/* A decoder under test: FALSE with @error set when it refuses @data. */
typedef gboolean (*KpTestDecodeFunc)(const guint8 *data, gsize len, GError **error);

/* Each case's input, unhexed, must be refused by @decode with its code and
 * message. */
void kp_test_malformed_hex(const KpTestMalformed *cases, gsize n_cases, KpTestDecodeFunc decode);
/* The same with each input passed as it is (@data is the NUL-terminated
 * input itself, @len its strlen). */
void kp_test_malformed_text(const KpTestMalformed *cases, gsize n_cases, KpTestDecodeFunc decode);

/* From this call on, each log message carrying the structured field @key
 * (equal to @value, unless that is NULL) is kept instead of written; others
 * are written as usual. */
void kp_test_capture_log(const char *key, const char *value);
/* The messages kept so far, in order (empty it with g_ptr_array_set_size). */
GPtrArray *kp_test_captured_log(void);
/* How many kept messages contain @a and, unless it is NULL, @b. */
guint kp_test_count_log_lines(const char *a, const char *b);

/* Makes @host listen on 127.0.0.1, any port; returns the port. */
guint16 kp_test_listen_loopback(KpHost *host);
/* @server's full address: /ip4/127.0.0.1/tcp/PORT/p2p/ITS-ID. */
KpMultiaddr *kp_test_server_target(KpHost *server, guint16 port);
/* Dials @target from @client, iterating the main context for at most 5 s;
 * asserts the connection is established. */
KpConnection *kp_test_dial(KpHost *client, const KpMultiaddr *target);
