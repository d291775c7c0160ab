/* Virtual Server 2005 / Virtual PC: a .vmc, the UTF-16 XML <preferences>
 * document both read, with typed leaves (type="integer", "string",
 * "bytes"). IDE disks by relative path next to the .vmc, the DEC 21140
 * NIC with the original MAC. */
#include <errno.h>
#include <string.h>

#include <libxml/tree.h>

#include "migrate/migrate.h"

#define XC(s) ((const xmlChar *)(s))

static xmlNode *leaf(xmlNode *parent, const char *name, const char *type, const char *value)
{
    xmlNode *n = xmlNewChild(parent, NULL, XC(name), NULL);
    xmlNodeAddContent(n, XC(value));
    xmlNewProp(n, XC("type"), XC(type));
    return n;
}

static xmlNode *with_id(xmlNode *parent, const char *name, int id)
{
    char num[16];
    snprintf(num, sizeof(num), "%d", id);
    xmlNode *n = xmlNewChild(parent, NULL, XC(name), NULL);
    xmlNewProp(n, XC("id"), XC(num));
    return n;
}

int mig_write_virtualserver(const struct mig_vm *vm, const char *outdir, char *def, size_t def_len,
                            struct vd_error **errp)
{
    snprintf(def, def_len, "%s.vmc", vm->name);
    char num[32];
    xmlDoc *doc = xmlNewDoc(XC("1.0"));
    xmlNode *root = xmlNewNode(NULL, XC("preferences"));
    xmlDocSetRootElement(doc, root);
    leaf(root, "version", "string", "2.0");
    xmlNode *hw = xmlNewChild(root, NULL, XC("hardware"), NULL);
    xmlNode *mem = xmlNewChild(hw, NULL, XC("memory"), NULL);
    snprintf(num, sizeof(num), "%llu", (unsigned long long)vm->memory_mib);
    leaf(mem, "ram_size", "integer", num);
    xmlNode *pci = xmlNewChild(hw, NULL, XC("pci_bus"), NULL);
    xmlNode *ide = xmlNewChild(pci, NULL, XC("ide_adapter"), NULL);
    for (int c = 0; c < 2; c++) {
        xmlNode *ctl = NULL;
        for (int i = c * 2; i < vm->n_disks && i < c * 2 + 2; i++) {
            if (!ctl)
                ctl = with_id(ide, "ide_controller", c);
            xmlNode *loc = with_id(ctl, "location", i % 2);
            leaf(loc, "drive_type", "integer", "1");     /* 1 hard disk, 2 CD */
            xmlNode *pn = xmlNewChild(loc, NULL, XC("pathname"), NULL);
            char rel[300];
            snprintf(rel, sizeof(rel), ".\\%s", vm->disks[i].file);
            leaf(pn, "absolute", "string", vm->disks[i].file);
            leaf(pn, "relative", "string", rel);
        }
    }
    xmlNode *eth = xmlNewChild(pci, NULL, XC("ethernet_adapter"), NULL);
    snprintf(num, sizeof(num), "%d", vm->n_nics);
    leaf(eth, "controller_count", "integer", num);
    for (int i = 0; i < vm->n_nics; i++) {
        xmlNode *c = with_id(eth, "ethernet_controller", i);
        char mac[13] = "";
        for (int j = 0, k = 0; vm->nics[i].mac[j] && k < 12; j++)
            if (vm->nics[i].mac[j] != ':') {
                char ch = vm->nics[i].mac[j];
                mac[k++] = (char)(ch >= 'a' && ch <= 'f' ? ch - 32 : ch);
            }
        leaf(c, "ethernet_card_address", "bytes", mac);
        xmlNode *net = xmlNewChild(c, NULL, XC("virtual_network"), NULL);
        leaf(net, "name", "string", vm->network);
    }
    xmlNode *settings = xmlNewChild(root, NULL, XC("settings"), NULL);
    leaf(settings, "configuration_name", "string", vm->name);
    xmlNode *notes = xmlNewChild(settings, NULL, XC("notes"), NULL);
    char text[420];
    snprintf(text, sizeof(text), "p2v migrate: %s%s%s", vm->product[0] ? vm->product : vm->os,
             vm->hal[0] ? ", HAL " : "", vm->hal);
    leaf(notes, "text", "string", text);

    char tmp[4400], path[4400];
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", outdir, def);
    snprintf(path, sizeof(path), "%s/%s", outdir, def);
    int n = xmlSaveFormatFileEnc(tmp, doc, "UTF-16", 1);
    xmlFreeDoc(doc);
    if (n < 0) {
        remove(tmp);
        return vd_error_set(errp, -EIO, "cannot write %s", tmp);
    }
    if (rename(tmp, path) != 0)
        return vd_error_set_errno(errp, -errno, "cannot rename %s to %s", tmp, path);
    return 0;
}
