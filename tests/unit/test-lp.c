/* Varint-length-prefixed message reader. */
#include <string.h>

#include "core/kp-error.h"
#include "core/kp-lp.h"
#include "kp-test-util.h"

/* Feeds @data in chunks of @chunk bytes; returns the messages joined by '|'. */
static char *
read_all(const guint8 *data, gsize len, gsize chunk, gsize max, GError **error)
{
        KpLpReader reader;
        GString *out = g_string_new(NULL);

        kp_lp_reader_init(&reader, max);
        for (gsize off = 0; off < len;) {
                gsize n = MIN(chunk, len - off);
                while (n > 0) {
                        g_autoptr(GBytes) msg = NULL;
                        gsize used = 0;
                        if (!kp_lp_reader_feed(&reader, data + off, n, &used, &msg, error)) {
                                kp_lp_reader_clear(&reader);
                                g_string_free(out, TRUE);
                                return NULL;
                        }
                        if (msg != NULL) {
                                gsize mlen;
                                const char *m = g_bytes_get_data(msg, &mlen);
                                g_string_append_len(out, m, (gssize)mlen);
                                g_string_append_c(out, '|');
                        }
                        g_assert_cmpuint(used, <=, n);
                        off += used;
                        n -= used;
                }
        }
        g_assert_false(kp_lp_reader_has_partial(&reader));
        kp_lp_reader_clear(&reader);
        return g_string_free(out, FALSE);
}

static void
test_lp_chunkings(void)
{
        g_autoptr(GByteArray) wire = g_byte_array_new();
        g_autofree char *big = g_strnfill(300, 'x');
        g_autofree char *want = g_strdup_printf("hello||%s|end|", big);

        kp_lp_append(wire, (const guint8 *)"hello", 5);
        kp_lp_append(wire, NULL, 0);
        kp_lp_append(wire, (const guint8 *)big, 300);
        kp_lp_append(wire, (const guint8 *)"end", 3);
        /* 300 needs a two-byte prefix: ac 02. */
        g_assert_cmpuint(wire->data[7], ==, 0xac);
        g_assert_cmpuint(wire->data[8], ==, 0x02);
        for (gsize chunk = 1; chunk <= wire->len; chunk++) {
                g_autoptr(GError) error = NULL;
                g_autofree char *got = read_all(wire->data, wire->len, chunk, 1024, &error);
                g_assert_no_error(error);
                g_assert_cmpstr(got, ==, want);
        }
}

static void
test_lp_limit_boundary(void)
{
        g_autoptr(GByteArray) ok = g_byte_array_new();
        g_autoptr(GByteArray) over = g_byte_array_new();
        g_autofree char *body = g_strnfill(101, 'y');
        g_autoptr(GError) error = NULL;
        g_autofree char *got = NULL;

        kp_lp_append(ok, (const guint8 *)body, 100);
        got = read_all(ok->data, ok->len, 7, 100, &error);
        g_assert_no_error(error);
        g_assert_nonnull(got);
        /* One byte over: refused from the prefix alone, one byte at a time too. */
        kp_lp_append(over, (const guint8 *)body, 101);
        g_assert_null(read_all(over->data, 1, 1, 100, &error));
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "exceeds limit 100");
}

static void
test_lp_bad_prefix(void)
{
        static const guint8 non_minimal[] = { 0x85, 0x00, 'a', 'b' };
        static const guint8 too_long[]
            = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
        g_autoptr(GError) e1 = NULL;
        g_autoptr(GError) e2 = NULL;

        g_assert_null(read_all(non_minimal, sizeof non_minimal, 1, 100, &e1));
        kp_test_assert_error(e1, KP_ERROR_INVALID, "not minimally encoded");
        g_assert_null(read_all(too_long, sizeof too_long, 3, G_MAXSIZE, &e2));
        kp_test_assert_error(e2, KP_ERROR_TOO_LARGE, "varint longer than 9 bytes");
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/lp/chunkings", test_lp_chunkings);
        g_test_add_func("/lp/limit-boundary", test_lp_limit_boundary);
        g_test_add_func("/lp/bad-prefix", test_lp_bad_prefix);
        return g_test_run();
}
