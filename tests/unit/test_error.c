/* common/error: first error wins, prefixes compose, NULL errp is allowed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "common/error.h"

static void test_first_error_wins(void **state)
{
    struct vd_error *err = NULL;
    assert_int_equal(vd_error_set(&err, -EIO, "first %d", 1), -EIO);
    assert_int_equal(vd_error_set(&err, -EINVAL, "second"), -EINVAL);
    assert_non_null(err);
    assert_int_equal(err->code, -EIO);
    assert_string_equal(err->msg, "first 1");
    vd_error_free(err);
}

static void test_prefix_and_errno(void **state)
{
    struct vd_error *err = NULL;
    vd_error_set_errno(&err, -ENOENT, "cannot open '%s'", "a.vhd");
    vd_error_prefix(&err, "parent of '%s'", "b.vhd");
    assert_string_equal(err->msg, "parent of 'b.vhd': cannot open 'a.vhd': No such file or directory");
    vd_error_clear(&err);
    assert_null(err);
}

static void test_null_errp(void **state)
{
    assert_int_equal(vd_error_set(NULL, -EIO, "ignored"), -EIO);
    vd_error_prefix(NULL, "ignored");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_prefix_and_errno),
        cmocka_unit_test(test_null_errp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
