/* JSON output shared by every tool that has --output=json. */
#ifndef COMMON_JSON_H
#define COMMON_JSON_H

#include <stdio.h>

/* TEXT as a JSON string literal, quotes included, on OUT. Valid UTF-8
 * (file names, guest names) passes through unchanged; each invalid
 * sequence (a Latin-1 byte, a truncated or overlong sequence, a surrogate)
 * becomes U+FFFD, so the output is always valid JSON; control characters
 * are escaped. NULL is written as "". */
void vd_json_string(FILE *out, const char *text);

#endif
