/* The host side of an emulated network card: the -nic option, the user-mode
 * stack (libslirp: DHCP, DNS, host forwards) or a TAP device, and the pcap
 * dump of every frame. A card (vmm/hw/pcnet.c) opens one backend, hands it
 * the frames the guest sends, and gets the frames for the guest through a
 * callback; the backend's sockets are polled from the machine's run loop. */
#ifndef VMM_NET_H
#define VMM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct machine;

#define NET_MAX_HOSTFWD 8
#define NET_FRAME_MAX 1536      /* the largest frame either side passes on */

enum net_kind { NET_NONE = 0, NET_USER, NET_TAP };

struct net_hostfwd {
    bool udp;
    uint32_t host_addr, guest_addr;     /* host byte order; 0: any / the DHCP address */
    uint16_t host_port, guest_port;
};

/* What `-nic KIND,model=M,...` asks for. */
struct net_config {
    enum net_kind kind;
    char model[16];             /* "pcnet" */
    uint8_t mac[6];
    char ifname[16];            /* tap: the interface, "" for the kernel's choice */
    char bootfile[128];         /* user: the boot file name DHCP offers, "" none */
    char netdev_id[32];         /* -netdev id=, "" with -nic */
    bool device;                /* the card came from -device */
    char device_netdev[32];     /* its netdev= */
    struct net_hostfwd fwd[NET_MAX_HOSTFWD];
    int n_fwd;
    const char *dump_path;      /* --net-dump FILE.pcap, NULL: none */
};

/* Parses a -nic argument ("user,model=pcnet,hostfwd=tcp::2222-:22",
 * "tap,ifname=tap0", "none"). Returns 0 or -EINVAL with *errp naming the
 * part that is wrong. */
int net_parse_nic(const char *spec, struct net_config *c, struct vd_error **errp);

/* The Ethernet CRC-32 register over B[0..N) (reflected, initial all ones,
 * not inverted): ~ of it is the FCS, its top 6 bits the multicast hash. */
uint32_t net_crc32(const uint8_t *b, size_t n);

/* QEMU's other spelling: -netdev TYPE,id=ID,... (the backend) and
 * -device pcnet|tulip,netdev=ID[,mac=...] (the card), in either order;
 * net_config_check then says whether the two go together. */
int net_parse_netdev(const char *spec, struct net_config *c, struct vd_error **errp);
int net_parse_device(const char *spec, struct net_config *c, struct vd_error **errp);
int net_config_check(const struct net_config *c, struct vd_error **errp);

/* True when the card MODEL is the one the configuration asks for. */
bool net_wants_model(const struct net_config *c, const char *model);

struct net_backend;
typedef void net_receive_fn(void *opaque, const uint8_t *frame, size_t len);

/* Opens the backend C describes and hooks its polling into M's run loop;
 * frames for the guest go to RX(OPAQUE, ...). */
int net_backend_open(struct net_backend **out, struct machine *m, const struct net_config *c,
                     net_receive_fn *rx, void *opaque, struct vd_error **errp);
/* A frame the guest sent (without its FCS). */
void net_backend_send(struct net_backend *b, const uint8_t *frame, size_t len);
void net_backend_close(struct net_backend *b);

/* Waits up to TIMEOUT_NS for host traffic and handles it (0: only what is
 * ready now); the machine's host_poll hook. */
void net_backend_poll(void *opaque, uint64_t timeout_ns);

#endif
