#include <string.h>

#include "core/kp-error.h"
#include "core/kp-varint.h"

#include "kp-test-util.h"

typedef struct {
        guint64 value;
        const char *hex;
} Vector;

/* multiformats/unsigned-varint README examples, plus the boundaries. */
static const Vector vectors[] = {
        { 0, "00" },       { 1, "01" },         { 127, "7f" },
        { 128, "8001" },   { 255, "ff01" },     { 300, "ac02" },
        { 16383, "ff7f" }, { 16384, "808001" }, { G_MAXINT64, "ffffffffffffffff7f" },
};

static void
test_varint_vectors(void)
{
        for (gsize i = 0; i < G_N_ELEMENTS(vectors); i++) {
                g_autoptr(GByteArray) want = kp_test_unhex(vectors[i].hex);
                g_autoptr(GByteArray) appended = g_byte_array_new();
                guint8 buf[KP_VARINT_MAX_BYTES];
                gsize n = kp_varint_encode(vectors[i].value, buf);
                guint64 value = 0;
                gsize pos = 0;
                g_autoptr(GError) error = NULL;

                g_assert_cmpmem(buf, n, want->data, want->len);
                g_assert_cmpuint(kp_varint_size(vectors[i].value), ==, want->len);
                kp_varint_append(appended, vectors[i].value);
                g_assert_cmpmem(appended->data, appended->len, want->data, want->len);

                g_assert_cmpint(kp_varint_decode(want->data, want->len, &value, &error), ==,
                                (gssize)want->len);
                g_assert_no_error(error);
                g_assert_cmpuint(value, ==, vectors[i].value);

                /* Bytes after the varint are left alone. */
                g_byte_array_append(want, (const guint8 *)"\xff\x00", 2);
                value = 0;
                g_assert_true(kp_varint_read(want->data, want->len, &pos, &value, &error));
                g_assert_no_error(error);
                g_assert_cmpuint(pos, ==, n);
                g_assert_cmpuint(value, ==, vectors[i].value);
        }
}

static void
test_varint_max(void)
{
        guint8 buf[KP_VARINT_MAX_BYTES];

        g_assert_cmpuint(KP_VARINT_MAX_VALUE, ==, G_MAXINT64);
        g_assert_cmpuint(kp_varint_encode(KP_VARINT_MAX_VALUE, buf), ==, 9);
        g_assert_cmpuint(kp_varint_size(KP_VARINT_MAX_VALUE), ==, 9);
        g_assert_cmpuint(kp_varint_size((guint64)1 << 56), ==, 9);
        g_assert_cmpuint(kp_varint_size(((guint64)1 << 56) - 1), ==, 8);
}

static void
test_varint_streaming(void)
{
        /* Every proper prefix of a valid varint is "need more bytes". */
        g_autoptr(GByteArray) bytes = kp_test_unhex("ffffffffffffffff7f");

        for (gsize len = 0; len < bytes->len; len++) {
                guint64 value = 42;
                g_autoptr(GError) error = NULL;

                g_assert_cmpint(kp_varint_decode(bytes->data, len, &value, &error), ==, 0);
                g_assert_no_error(error);
                g_assert_cmpuint(value, ==, 42);
        }
}

static const KpTestMalformed malformed[] = {
        /* Non-minimal: a zero final byte after a continuation. */
        { "8000", KP_ERROR_INVALID, "not minimally encoded" },
        { "8100", KP_ERROR_INVALID, "not minimally encoded" },
        { "ff8000", KP_ERROR_INVALID, "not minimally encoded" },
        /* 2^63 needs ten bytes; nine continuation bytes are already too many. */
        { "80808080808080808001", KP_ERROR_TOO_LARGE, "longer than 9 bytes" },
        { "ffffffffffffffffff", KP_ERROR_TOO_LARGE, "longer than 9 bytes" },
        { "ffffffffffffffffff01", KP_ERROR_TOO_LARGE, "longer than 9 bytes" },
        /* Truncated: only kp_varint_read() treats this as an error. */
        { "80", KP_ERROR_TRUNCATED, "truncated varint" },
        { "", KP_ERROR_TRUNCATED, "truncated varint" },
        { "ffff", KP_ERROR_TRUNCATED, "truncated varint" },
};

/* A refused varint leaves the position and the value untouched. */
static gboolean
read_untouched(const guint8 *data, gsize len, GError **error)
{
        guint64 value = 42;
        gsize pos = 0;
        gboolean ok = kp_varint_read(data, len, &pos, &value, error);

        if (!ok) {
                g_assert_cmpuint(pos, ==, 0);
                g_assert_cmpuint(value, ==, 42);
        }
        return ok;
}

static void
test_varint_malformed(void)
{
        kp_test_malformed_hex(malformed, G_N_ELEMENTS(malformed), read_untouched);

        /* kp_varint_decode() refuses the same with the same code, except that
         * a truncated varint only means "need more bytes" there. */
        for (gsize i = 0; i < G_N_ELEMENTS(malformed); i++) {
                g_autoptr(GByteArray) bytes = kp_test_unhex(malformed[i].input);
                g_autoptr(GError) error = NULL;
                gboolean truncated = malformed[i].code == KP_ERROR_TRUNCATED;
                guint64 value = 42;

                g_test_message("kp_varint_decode %s", malformed[i].input);
                g_assert_cmpint(kp_varint_decode(bytes->data, bytes->len, &value, &error), ==,
                                truncated ? 0 : -1);
                if (truncated)
                        g_assert_no_error(error);
                else
                        g_assert_error(error, KP_ERROR, malformed[i].code);
                g_assert_cmpuint(value, ==, 42);
        }
}

static void
test_varint_read_advances(void)
{
        g_autoptr(GByteArray) bytes = kp_test_unhex("01ac0280808001");
        guint64 expect[] = { 1, 300, 1u << 21 };
        gsize pos = 0;

        for (gsize i = 0; i < G_N_ELEMENTS(expect); i++) {
                guint64 value;
                g_autoptr(GError) error = NULL;

                g_assert_true(kp_varint_read(bytes->data, bytes->len, &pos, &value, &error));
                g_assert_no_error(error);
                g_assert_cmpuint(value, ==, expect[i]);
        }
        g_assert_cmpuint(pos, ==, bytes->len);
}

static void
test_varint_round_trip(void)
{
        for (guint shift = 0; shift < 63; shift++) {
                guint64 base = (guint64)1 << shift;
                guint64 values[] = { base - 1, base, base + 1 };

                for (gsize i = 0; i < G_N_ELEMENTS(values); i++) {
                        guint8 buf[KP_VARINT_MAX_BYTES];
                        gsize n = kp_varint_encode(values[i], buf);
                        guint64 value = 0;

                        g_assert_cmpint(kp_varint_decode(buf, n, &value, NULL), ==, (gssize)n);
                        g_assert_cmpuint(value, ==, values[i]);
                        g_assert_cmpuint(kp_varint_size(values[i]), ==, n);
                }
        }
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/varint/vectors", test_varint_vectors);
        g_test_add_func("/varint/max", test_varint_max);
        g_test_add_func("/varint/streaming", test_varint_streaming);
        g_test_add_func("/varint/malformed", test_varint_malformed);
        g_test_add_func("/varint/read-advances", test_varint_read_advances);
        g_test_add_func("/varint/round-trip", test_varint_round_trip);
        return g_test_run();
}
