/* Helpers shared by the unit tests. */
#pragma once

#include <glib.h>

/* "0a1b..." -> bytes; aborts the test on malformed hex. */
GByteArray *kp_test_unhex(const char *hex);
/* Asserts @error has @code in KP_ERROR and a message containing @substring. */
void kp_test_assert_error(const GError *error, int code, const char *substring);
