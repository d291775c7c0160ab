/* common/progress: the meter's line (sizes, percentage, rate, ETA), and
 * silence when nobody asked or nobody watches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/progress.h"

static void human_sizes(void **state)
{
    (void)state;
    char b[32];
    vd_human_size(0, b, sizeof(b));
    assert_string_equal(b, "0 B");
    vd_human_size(1023, b, sizeof(b));
    assert_string_equal(b, "1023 B");
    vd_human_size(4ull << 30, b, sizeof(b));
    assert_string_equal(b, "4 GiB");
    vd_human_size(3ull << 19, b, sizeof(b));
    assert_string_equal(b, "1.5 MiB");
    vd_human_size(UINT64_MAX, b, sizeof(b));
    assert_string_equal(b, "16777216 TiB");
}

static void line_rate_and_eta(void **state)
{
    (void)state;
    struct vd_progress p = { .total = 4ull << 30, .start = 100.0 };
    char line[160];
    /* 1 GiB in 10 s: 102 MiB/s, 3 GiB left: 30 s. */
    vd_progress_line(&p, 1ull << 30, 110.0, line, sizeof(line));
    assert_string_equal(line, "1 GiB / 4 GiB (25.0%)  102 MiB/s  ETA 0:00:30");
    /* Done: no ETA. */
    vd_progress_line(&p, 4ull << 30, 120.0, line, sizeof(line));
    assert_string_equal(line, "4 GiB / 4 GiB (100.0%)  205 MiB/s");
    /* Nothing yet, or no time passed: no rate, no ETA. */
    vd_progress_line(&p, 0, 100.0, line, sizeof(line));
    assert_string_equal(line, "0 B / 4 GiB (0.0%)  0 B/s");
    /* An empty job is complete. */
    struct vd_progress e = { .total = 0, .start = 1.0 };
    vd_progress_line(&e, 0, 2.0, line, sizeof(line));
    assert_string_equal(line, "0 B / 0 B (100.0%)  0 B/s");
    /* Hours, and a buffer too small is cut, not overrun. */
    vd_progress_line(&p, 1ull << 20, 101.0, line, sizeof(line));
    assert_string_equal(line, "1 MiB / 4 GiB (0.0%)  1 MiB/s  ETA 1:08:15");
    char small[12];
    vd_progress_line(&p, 1ull << 30, 110.0, small, sizeof(small));
    assert_string_equal(small, "1 GiB / 4 G");
}

static void silent_unless_wanted_and_watched(void **state)
{
    (void)state;
    struct vd_progress p;
    vd_progress_start(&p, false, true, 100);
    assert_false(p.enabled);
    vd_progress_start(&p, true, false, 100);
    assert_int_equal(p.enabled, isatty(STDERR_FILENO));
    vd_progress_start(&p, true, true, 100);
    assert_true(p.enabled);
    assert_true(p.interval > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(human_sizes),
        cmocka_unit_test(line_rate_and_eta),
        cmocka_unit_test(silent_unless_wanted_and_watched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
