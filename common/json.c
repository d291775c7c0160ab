/* JSON string escaping (see json.h). */
#include "common/json.h"

#include <stddef.h>
#include <stdint.h>

/* Length of the valid UTF-8 sequence at S (2..4), or 0 when the bytes
 * there are not one; *BAD: how many bytes the invalid sequence spans (its
 * maximal valid prefix, at least 1), replaced by one U+FFFD as Unicode
 * recommends. Ranges from RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF. */
static size_t utf8_sequence(const unsigned char *s, size_t *bad)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;     /* the second byte's range */
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        *bad = 1;
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        /* A NUL ends the string: it fails the range test, never read past. */
        if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xBF)) {
            *bad = i;
            return 0;
        }
    }
    return len;
}

void vd_json_string(FILE *out, const char *text)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    fputc('"', out);
    while (*s) {
        unsigned char c = *s;
        if (c >= 0x80) {
            size_t bad = 0, n = utf8_sequence(s, &bad);
            if (n) {
                fwrite(s, 1, n, out);
                s += n;
            } else {
                fputs("\\ufffd", out);
                s += bad;
            }
            continue;
        }
        s++;
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\b': fputs("\\b", out); break;
        case '\f': fputs("\\f", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (c < 0x20 || c == 0x7F)
                fprintf(out, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
            else
                fputc(c, out);
        }
    }
    fputc('"', out);
}
