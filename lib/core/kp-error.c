#include "core/kp-error.h"

G_DEFINE_QUARK(kp - error - quark, kp_error)
