/* unit.h: what every cmocka test includes first (cmocka needs these
 * headers before its own). */
#ifndef POSTHORN_TESTS_UNIT_H
#define POSTHORN_TESTS_UNIT_H

#include "base/base.h"

#include <setjmp.h>
#include <cmocka.h>

#endif
