/* The ICU converter entry points Debian's libxml2 references (encoding.c),
 * as stubs that report "no such converter": linked into the static agent
 * ahead of the libraries, they keep libicuuc/libicudata (30 MB of tables)
 * and the C++ runtime out of it. The agent only writes its manifest in
 * UTF-8, which libxml2 handles without any converter; for another encoding
 * libxml2 tries iconv first and would only then reach ucnv_open. */
#include <stddef.h>
#include <unicode/ucnv.h>
#include <unicode/ucnv_err.h>

UConverter *ucnv_open(const char *name, UErrorCode *err)
{
    if (err && *err <= U_ZERO_ERROR)
        *err = U_FILE_ACCESS_ERROR;
    return NULL;
}

void ucnv_close(UConverter *cnv)
{
}

void ucnv_setToUCallBack(UConverter *cnv, UConverterToUCallback action, const void *context,
                         UConverterToUCallback *old_action, const void **old_context, UErrorCode *err)
{
    if (err && *err <= U_ZERO_ERROR)
        *err = U_UNSUPPORTED_ERROR;
}

void ucnv_setFromUCallBack(UConverter *cnv, UConverterFromUCallback action, const void *context,
                           UConverterFromUCallback *old_action, const void **old_context, UErrorCode *err)
{
    if (err && *err <= U_ZERO_ERROR)
        *err = U_UNSUPPORTED_ERROR;
}

void ucnv_convertEx(UConverter *target_cnv, UConverter *source_cnv, char **target, const char *target_limit,
                    const char **source, const char *source_limit, UChar *pivot_start, UChar **pivot_source,
                    UChar **pivot_target, const UChar *pivot_limit, UBool reset, UBool flush, UErrorCode *err)
{
    if (err && *err <= U_ZERO_ERROR)
        *err = U_UNSUPPORTED_ERROR;
}

void UCNV_FROM_U_CALLBACK_STOP(const void *context, UConverterFromUnicodeArgs *args, const UChar *units,
                               int32_t length, UChar32 code_point, UConverterCallbackReason reason, UErrorCode *err)
{
}

void UCNV_TO_U_CALLBACK_STOP(const void *context, UConverterToUnicodeArgs *args, const char *units,
                             int32_t length, UConverterCallbackReason reason, UErrorCode *err)
{
}
