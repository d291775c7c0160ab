/* libFuzzer harness for the LVM2 PV reader (formats/fs/lvm.c): the input
 * is the start of a 4 MiB PV (label, metadata area, text), the rest zeros.
 * Whatever the metadata says, every run kept must lie in the PV's extents,
 * runs must not overlap, and a linear LV must map whole onto the PV. */
#include "formats/fs/lvm.h"
#include "tests/fuzz/fuzz_fs.h"

static int check_piece(void *arg, uint64_t pv_off, uint64_t len)
{
    const struct vd_lvm_pv *pv = arg;
    if (len == 0 || pv_off < pv->pe_start || pv_off + len > pv->pe_start + pv->pe_count * pv->extent_size)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_volume vol = { data, size };
    struct vd_fs_source src = { fuzz_mem_pread, &vol, size > FUZZ_VOLUME_SIZE ? size : FUZZ_VOLUME_SIZE };
    static struct vd_lvm_pv pv;
    struct vd_error *err = NULL;
    if (vd_lvm_read(&src, &pv, &err) == 0) {
        uint64_t end = 0;
        for (int k = 0; k < pv.nseg; k++) {     /* sorted by PV offset */
            if (pv.seg[k].pv_offset < end || pv.seg[k].lv < 0 || pv.seg[k].lv >= pv.nlv)
                abort();
            end = pv.seg[k].pv_offset + pv.seg[k].length;
            check_piece(&pv, pv.seg[k].pv_offset, pv.seg[k].length);
        }
        for (int l = 0; l < pv.nlv; l++) {
            if (!pv.lv[l].linear_here)
                continue;
            if (vd_lvm_lv_to_pv(&pv, l, 0, pv.lv[l].size, check_piece, &pv) < 0)
                abort();
            struct vd_lvm_lv_ctx ctx;
            struct vd_fs_source lv;
            uint8_t buf[512];
            vd_lvm_lv_source(&lv, &ctx, &src, &pv, l);
            if (lv.size >= sizeof(buf) && lv.pread(lv.ctx, buf, sizeof(buf), lv.size - sizeof(buf), &err) < 0)
                abort();
        }
    }
    vd_error_free(err);
    return 0;
}
