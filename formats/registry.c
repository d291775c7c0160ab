/* Every format driver, in probe order. Raw comes last: it bids 1 for
 * anything, so any format with a magic number outbids it. A new format is
 * one line here (see shared/ARCHITECTURE.md). */
#include "formats/format.h"

const struct vd_format *const vd_formats[] = {
    &vd_format_vhd,
    &vd_format_qcow2,
    &vd_format_vdi,
    &vd_format_raw,
    NULL,
};
