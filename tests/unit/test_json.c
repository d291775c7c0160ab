/* common/json: valid UTF-8 (non-ASCII names) passes through unchanged,
 * invalid bytes become U+FFFD, control characters are escaped; the output
 * is always valid JSON whatever the input bytes. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"

/* vd_json_string(TEXT) as a malloc'd string. */
static char *escape(const char *text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    vd_json_string(f, text);
    assert_int_equal(fclose(f), 0);
    return buf;
}

#define assert_escape(in, want)                 \
    do {                                        \
        char *got_ = escape(in);                \
        assert_string_equal(got_, want);        \
        free(got_);                             \
    } while (0)

static void ascii_and_specials(void **state)
{
    (void)state;
    assert_escape("disk.vhd", "\"disk.vhd\"");
    assert_escape("", "\"\"");
    assert_escape(NULL, "\"\"");
    assert_escape("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
    assert_escape("C:\\WINNT\\system32", "\"C:\\\\WINNT\\\\system32\"");
}

static void control_characters(void **state)
{
    (void)state;
    assert_escape("a\nb\tc\rd\be\ff", "\"a\\nb\\tc\\rd\\be\\ff\"");
    assert_escape("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
    assert_escape("\x1b[2J", "\"\\u001b[2J\"");
}

/* Every length of valid sequence, the edges of each range. */
static void valid_utf8_unchanged(void **state)
{
    (void)state;
    assert_escape("d\xc3\xa9j\xc3\xa0 vu.vhd", "\"d\xc3\xa9j\xc3\xa0 vu.vhd\"");        /* déjà vu */
    assert_escape("\xd0\xb4\xd0\xb8\xd1\x81\xd0\xba", "\"\xd0\xb4\xd0\xb8\xd1\x81\xd0\xba\""); /* диск */
    assert_escape("\xe7\xa3\x81\xe7\x9b\x98", "\"\xe7\xa3\x81\xe7\x9b\x98\"");          /* 磁盘 */
    assert_escape("\xf0\x9f\x92\xbe", "\"\xf0\x9f\x92\xbe\"");                          /* U+1F4BE */
    assert_escape("\xc2\x80\xdf\xbf", "\"\xc2\x80\xdf\xbf\"");                          /* U+0080, U+07FF */
    assert_escape("\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf",
                  "\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\"");            /* U+0800, D7FF, E000, FFFF */
    assert_escape("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", "\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\""); /* U+10000, 10FFFF */
}

/* One U+FFFD per maximal invalid subpart (Unicode's recommended practice). */
static void invalid_bytes_replaced(void **state)
{
    (void)state;
    assert_escape("caf\xe9.vhd", "\"caf\\ufffd.vhd\"");                 /* Latin-1 é */
    assert_escape("\x80\xbf", "\"\\ufffd\\ufffd\"");                    /* lone continuations */
    assert_escape("\xc0\xaf", "\"\\ufffd\\ufffd\"");                    /* overlong '/' */
    assert_escape("\xc1\xbf", "\"\\ufffd\\ufffd\"");
    assert_escape("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");         /* overlong, 3 bytes */
    assert_escape("\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    assert_escape("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");         /* surrogate D800 */
    assert_escape("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* above U+10FFFF */
    assert_escape("\xf5\xff\xfe", "\"\\ufffd\\ufffd\\ufffd\"");
    assert_escape("\xe2\x82", "\"\\ufffd\"");                           /* truncated at the end */
    assert_escape("\xe2\x82x", "\"\\ufffdx\"");                         /* truncated before ASCII */
    assert_escape("\xf0\x9f\x92", "\"\\ufffd\"");
    assert_escape("\xc3\xc3\xa9", "\"\\ufffd\xc3\xa9\"");               /* a lead then a valid é */
    assert_escape("a\xc3", "\"a\\ufffd\"");
}

/* Every string of up to 3 bytes over an alphabet of interesting bytes:
 * the result is valid UTF-8 with no raw control character, and what is
 * valid UTF-8 in the input comes out unchanged. */
static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!len || i + len > n)
            return false;
        unsigned cp = len == 1 ? c : c & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const unsigned min[] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

static void exhaustive_short_strings(void **state)
{
    (void)state;
    static const unsigned char alphabet[] = { 'a', '"', '\\', 0x01, 0x7F, 0x80, 0x9F, 0xA0, 0xBF,
                                              0xC2, 0xC3, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4,
                                              0xF5, 0xFF };
    const size_t na = sizeof(alphabet);
    for (size_t n = 1; n <= 3; n++) {
        size_t total = 1;
        for (size_t k = 0; k < n; k++)
            total *= na;
        for (size_t idx = 0; idx < total; idx++) {
            unsigned char in[4];
            size_t x = idx;
            for (size_t k = 0; k < n; k++, x /= na)
                in[k] = alphabet[x % na];
            in[n] = 0;
            char *out = escape((const char *)in);
            size_t len = strlen(out);
            assert_true(valid_utf8((const unsigned char *)out, len));
            for (size_t k = 0; k < len; k++)
                assert_true((unsigned char)out[k] >= 0x20 && out[k] != 0x7F);
            if (valid_utf8(in, n) && !memchr(in, '"', n) && !memchr(in, '\\', n) &&
                !memchr(in, 0x01, n) && !memchr(in, 0x7F, n)) {
                assert_int_equal(len, n + 2);
                assert_memory_equal(out + 1, in, n);
            }
            free(out);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ascii_and_specials),
        cmocka_unit_test(control_characters),
        cmocka_unit_test(valid_utf8_unchanged),
        cmocka_unit_test(invalid_bytes_replaced),
        cmocka_unit_test(exhaustive_short_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
