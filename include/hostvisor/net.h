/*
 * Network backends (DESIGN.md section 5): what a NIC model sends frames to and receives them
 * from. A backend is a small vtable; src/net/ has the real ones (tap, user), unit tests make
 * their own. The generic layer (src/net/backend.c) tees every frame into a pcap capture when
 * one is attached.
 *
 * Threads: net_backend_send() is called by the device (usually on a vCPU thread, under the
 * device's lock) and never blocks for long. Received frames are delivered on the I/O thread
 * through the device's receiver, which either takes the frame (copies it into guest memory)
 * or refuses it because it has no room: then the backend keeps that frame, stops reading, and
 * delivers it again after the device calls net_backend_rx_ready() (no drop on a full ring).
 */
#ifndef HOSTVISOR_NET_H
#define HOSTVISOR_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "hostvisor/evloop.h"

#define NET_MAX_FRAME 65550 /* largest frame a backend delivers (TAP MTU 65521 + header) */
#define ETH_ALEN 6

struct net_backend;
struct pcap_writer;

/* Returns true if the device took the frame (len bytes in iov), false to have it held. */
typedef bool (*net_receive_fn)(void *opaque, const struct iovec *iov, int iovcnt, size_t len);

struct net_backend_ops {
	/* One frame; 0, or negative errno when it was dropped (counted by the caller). */
	int (*send)(struct net_backend *be, const struct iovec *iov, int iovcnt);
	/* The receiver has room again: deliver held frames and resume reading. */
	void (*rx_ready)(struct net_backend *be);
	bool (*link_up)(struct net_backend *be);
	void (*close)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	const char *name;       /* for messages and statistics: "tap:hv0", "user" */
	net_receive_fn receive; /* set by the device */
	void *receive_opaque;
	struct pcap_writer *capture; /* optional; owned by the backend */
	uint64_t tx_frames, tx_bytes, tx_dropped;
	uint64_t rx_frames, rx_bytes;
};

/* Parses a backend spec from --net and opens it: "tap=NAME", "user[,hostfwd=PROTO:HOSTPORT-:GUESTPORT]".
 * NULL with one clear line in err on failure, leaving nothing behind. */
struct net_backend *net_backend_open(struct evloop *loop, const char *spec, char *err,
				     size_t errlen);
void net_backend_close(struct net_backend *be);

/* For the device. */
void net_backend_set_receiver(struct net_backend *be, net_receive_fn fn, void *opaque);
int net_backend_send(struct net_backend *be, const struct iovec *iov, int iovcnt);
void net_backend_rx_ready(struct net_backend *be);
bool net_backend_link_up(struct net_backend *be);

/* For backend implementations: hands a received frame to the device (and the capture). */
bool net_backend_deliver(struct net_backend *be, const struct iovec *iov, int iovcnt, size_t len);

/* Starts writing every frame, both directions, to a pcap file (tshark -r reads it). */
int net_backend_capture(struct net_backend *be, const char *path, char *err, size_t errlen);

/* Size of the frame in an iovec. */
size_t iov_length(const struct iovec *iov, int iovcnt);

/*
 * The backends net_backend_open() dispatches to; the spec is parsed there, so these take it
 * checked. Both return NULL with one clear line in err on failure.
 */

/* "tap=NAME": attaches to the TAP interface NAME, creating it when we may (CAP_NET_ADMIN). */
struct net_backend *net_tap_open(struct evloop *loop, const char *ifname, char *err,
				 size_t errlen);

/*
 * "user[,hostfwd=tcp:HOSTPORT-:GUESTPORT]...[,restrict=on]": NAT to the host through libslirp.
 * The virtual network is NET_USER_NETWORK/24 (inside 198.18.0.0/15, the benchmarking range):
 * the gateway (which is the host: connections to it go to 127.0.0.1), the DNS forwarder, and
 * DHCP leases from NET_USER_DHCP_START. hostfwd listens on 127.0.0.1:HOSTPORT only.
 */
#define NET_USER_NETWORK "198.18.64.0"
#define NET_USER_NETMASK "255.255.255.0"
#define NET_USER_GATEWAY "198.18.64.2"
#define NET_USER_DNS "198.18.64.3"
#define NET_USER_DHCP_START "198.18.64.15"
#define NET_USER_MAX_HOSTFWD 16

struct net_user_hostfwd {
	bool udp;
	uint16_t host_port, guest_port;
};

struct net_user_config {
	bool restricted; /* slirp's restricted mode: no connection from the guest leaves slirp */
	int nhostfwd;
	struct net_user_hostfwd hostfwd[NET_USER_MAX_HOSTFWD];
};

struct net_backend *net_user_open(struct evloop *loop, const struct net_user_config *cfg,
				  char *err, size_t errlen);

#endif
