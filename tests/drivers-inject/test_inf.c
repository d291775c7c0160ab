/* INF and txtsetup.oem parsing: decorations, strings, comments,
 * continuation lines, case-insensitivity, AddReg HKR, and hostile input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "drivers-inject/inf.h"

static const char storage_inf[] =
    "; a storage driver package\r\n"
    "[version]\r\n"
    "Signature=\"$Windows NT$\"\r\n"
    "Class = SCSIAdapter ; comment after a value\r\n"
    "ClassGUID={4D36E97B-E325-11CE-BFC1-08002BE10318}\r\n"
    "[DestinationDirs]\r\n"
    "DefaultDestDir = 12\r\n"
    "[MANUFACTURER]\r\n"
    "%Mfg% = Models, NTx86.5.1, NTamd64\r\n"
    "[Models]\r\n"
    "%Desc% = Inst2k, PCI\\VEN_1000&DEV_0030\r\n"
    "[Models.NTx86]\r\n"
    "%Desc% = Inst, PCI\\VEN_1000&DEV_0030&SUBSYS_00000000, \\\r\n"
    "   PCI\\VEN_1000&DEV_0030\r\n"
    "[Inst2k]\r\n"
    "CopyFiles = Files\r\n"
    "[Inst2k.Services]\r\n"
    "AddService = oldsvc, 0x00000002, Svc\r\n"
    "[inst.ntx86]\r\n"
    "CopyFiles = Files, @extra.dll\r\n"
    "[Inst.NTx86.Services]\r\n"
    "AddService = lsi_scsi, 0x00000002, Svc, EventLog\r\n"
    "[Svc]\r\n"
    "ServiceType = 1\r\n"
    "StartType = 3\r\n"
    "ErrorControl = 1\r\n"
    "ServiceBinary = %12%\\lsi_scsi.sys\r\n"
    "LoadOrderGroup = SCSI Miniport\r\n"
    "AddReg = Reg\r\n"
    "[Reg]\r\n"
    "HKR, \"Parameters\\PnpInterface\", \"5\", 0x00010001, 1\r\n"
    "HKR, \"Parameters\", \"BusType\", 0x00010001, 0x00000001\r\n"
    "HKLM, \"Software\\Vendor\", \"x\", 0, \"ignored\"\r\n"
    "[Files]\r\n"
    "lsi_scsi.sys\r\n"
    "[Strings]\r\n"
    "Mfg = \"LSI \"\"Logic\"\"\"\r\n"
    "Desc = \"LSI Ultra320; not a comment\"\r\n";

static void test_inf_xp_decorated(void **state)
{
    struct inf_driver *d;
    int n;
    struct vd_error *err = NULL;
    assert_int_equal(inf_parse("t.inf", storage_inf, strlen(storage_inf), 5, 1, &d, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].service, "lsi_scsi");
    assert_string_equal(d[0].binary, "lsi_scsi.sys");
    assert_string_equal(d[0].group, "SCSI Miniport");
    assert_string_equal(d[0].description, "LSI Ultra320; not a comment");
    assert_int_equal(d[0].start, 3);
    assert_int_equal(d[0].n_hwids, 2);
    assert_string_equal(d[0].hwids[0], "PCI\\VEN_1000&DEV_0030&SUBSYS_00000000");
    assert_string_equal(d[0].hwids[1], "PCI\\VEN_1000&DEV_0030");
    assert_int_equal(d[0].n_regs, 2);
    assert_string_equal(d[0].regs[0].subkey, "Parameters\\PnpInterface");
    assert_string_equal(d[0].regs[0].name, "5");
    assert_int_equal(d[0].regs[0].type, 4);
    assert_int_equal(d[0].regs[0].data[0], 1);
    assert_int_equal(d[0].n_files, 2);
    assert_string_equal(d[0].files[0].name, "lsi_scsi.sys");
    assert_string_equal(d[0].files[0].dest, "system32\\drivers");
    assert_string_equal(d[0].files[1].name, "extra.dll");
    free(d);
}

static void test_inf_2000_undecorated(void **state)
{
    struct inf_driver *d;
    int n;
    assert_int_equal(inf_parse("t.inf", storage_inf, strlen(storage_inf), 5, 0, &d, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].service, "oldsvc");
    assert_int_equal(d[0].n_hwids, 1);
    free(d);
}

static void test_inf_other_class(void **state)
{
    static const char net[] = "[Version]\nClass=Net\n[Manufacturer]\nx=M\n[M]\nd=I,PCI\\VEN_1\n";
    struct inf_driver *d;
    int n;
    assert_int_equal(inf_parse("n.inf", net, strlen(net), 5, 1, &d, &n, NULL), 0);
    assert_int_equal(n, 0);
    free(d);
}

static void test_inf_malformed(void **state)
{
    static const char bad[] = "[Version\nClass=SCSIAdapter\n";
    struct inf_driver *d;
    int n;
    struct vd_error *err = NULL;
    assert_int_equal(inf_parse("bad.inf", bad, strlen(bad), 5, 1, &d, &n, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "bad.inf:1"));
    vd_error_free(err);
    /* NULs, unterminated quotes and a dangling continuation do not crash. */
    static const char junk[] = "[Version]\nClass=\"hdc\n\0\0[Manufacturer]\n=\\";
    assert_int_equal(inf_parse("j.inf", junk, sizeof(junk), 5, 1, &d, &n, NULL), 0);
    free(d);
}

static void test_txtsetup(void **state)
{
    static const char oem[] =
        "[Disks]\n"
        "d1 = \"Adaptec disk\",\\aac.sys,\\\n"
        "[Defaults]\nscsi = aac_xp\n"
        "[scsi]\naac_xp = \"Adaptec RAID (XP)\"\n"
        "[Files.scsi.aac_xp]\n"
        "driver = d1, aac.sys, aac\n"
        "inf = d1, aac.inf\n"
        "[HardwareIds.scsi.aac_xp]\n"
        "id = \"PCI\\VEN_9005&DEV_0285\", \"aac\"\n"
        "id = \"PCI\\VEN_1028&DEV_0002\", \"aac\"\n"
        "[Config.aac]\n"
        "value = Parameters\\PnpInterface, 5, REG_DWORD, 1\n";
    struct inf_driver *d;
    int n;
    assert_int_equal(txtsetup_parse("txtsetup.oem", oem, strlen(oem), &d, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].service, "aac");
    assert_string_equal(d[0].binary, "aac.sys");
    assert_int_equal(d[0].n_hwids, 2);
    assert_string_equal(d[0].hwids[1], "PCI\\VEN_1028&DEV_0002");
    assert_int_equal(d[0].n_regs, 1);
    assert_int_equal(d[0].regs[0].type, 4);
    assert_int_equal(d[0].regs[0].data[0], 1);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inf_xp_decorated),
        cmocka_unit_test(test_inf_2000_undecorated),
        cmocka_unit_test(test_inf_other_class),
        cmocka_unit_test(test_inf_malformed),
        cmocka_unit_test(test_txtsetup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
