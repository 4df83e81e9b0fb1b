/*
 * The generic part of the network backends (include/hostvisor/net.h): the --net backend spec,
 * the calls a NIC model makes, frame counters and the pcap tee.
 *
 * Threads. net_backend_send() runs on the device's thread (a vCPU, under the device lock), so the
 * tx counters are written there only; net_backend_deliver() runs on the I/O thread and owns the
 * rx counters. The capture writer has its own lock, as both directions write to it.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/net.h"
#include "hostvisor/pcap.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

size_t iov_length(const struct iovec *iov, int iovcnt)
{
	size_t len = 0;

	if (!iov)
		return 0;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - len)
			return SIZE_MAX;
		len += iov[i].iov_len;
	}
	return len;
}

/* ---- spec parsing ---- */

/* Linux refuses names that are empty, too long, "." or "..", or contain '/', ':' or spaces. */
static int check_ifname(const char *name, char *err, size_t errlen)
{
	if (!*name) {
		set_err(err, errlen, "net: tap needs an interface name (tap=NAME)");
		return -EINVAL;
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strpbrk(name, "/: \t\n,=")) {
		set_err(err, errlen, "net: tap=%s: not a valid interface name", name);
		return -EINVAL;
	}
	if (strlen(name) >= IFNAMSIZ) {
		set_err(err, errlen, "net: tap=%s: interface name longer than %d characters", name,
			IFNAMSIZ - 1);
		return -EINVAL;
	}
	return 0;
}

/* A decimal port 1..65535 spanning exactly [s, end). */
static int parse_port(const char *s, const char *end, uint16_t *port)
{
	unsigned long v = 0;

	if (s == end || end - s > 5)
		return -EINVAL;
	for (const char *p = s; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/*
 * PROTO:HOSTPORT-:GUESTPORT, where PROTO is tcp or udp. The host side is always 127.0.0.1 (an
 * empty host address, "tcp::2222-:22", is accepted for those used to that form) and the guest
 * side is the guest's DHCP address.
 */
static int parse_hostfwd(const char *val, struct net_user_hostfwd *fwd)
{
	const char *p, *dash;

	if (strncmp(val, "tcp:", 4) == 0)
		fwd->udp = false;
	else if (strncmp(val, "udp:", 4) == 0)
		fwd->udp = true;
	else
		return -EINVAL;
	p = val + 4;
	if (*p == ':')
		p++;
	dash = strchr(p, '-');
	if (!dash || dash[1] != ':')
		return -EINVAL;
	if (parse_port(p, dash, &fwd->host_port) < 0)
		return -EINVAL;
	return parse_port(dash + 2, dash + 2 + strlen(dash + 2), &fwd->guest_port);
}

static int add_hostfwd(struct net_user_config *cfg, const char *val, char *err, size_t errlen)
{
	struct net_user_hostfwd fwd;

	if (parse_hostfwd(val, &fwd) < 0) {
		set_err(err, errlen,
			"net: user: bad hostfwd '%s' (use hostfwd=tcp:HOSTPORT-:GUESTPORT, ports "
			"1-65535)",
			val);
		return -EINVAL;
	}
	if (cfg->nhostfwd >= NET_USER_MAX_HOSTFWD) {
		set_err(err, errlen, "net: user: at most %d hostfwd options", NET_USER_MAX_HOSTFWD);
		return -E2BIG;
	}
	for (int i = 0; i < cfg->nhostfwd; i++) {
		if (cfg->hostfwd[i].udp == fwd.udp && cfg->hostfwd[i].host_port == fwd.host_port) {
			set_err(err, errlen, "net: user: host port %s:%u is forwarded twice",
				fwd.udp ? "udp" : "tcp", fwd.host_port);
			return -EINVAL;
		}
	}
	cfg->hostfwd[cfg->nhostfwd++] = fwd;
	return 0;
}

static int parse_user_option(struct net_user_config *cfg, const char *opt, char *err,
			     size_t errlen)
{
	if (strncmp(opt, "hostfwd=", 8) == 0)
		return add_hostfwd(cfg, opt + 8, err, errlen);
	if (strcmp(opt, "restrict=on") == 0 || strcmp(opt, "restrict=off") == 0) {
		cfg->restricted = strcmp(opt, "restrict=on") == 0;
		return 0;
	}
	if (strncmp(opt, "restrict=", 9) == 0) {
		set_err(err, errlen, "net: user: restrict takes on or off, not '%s'", opt + 9);
		return -EINVAL;
	}
	set_err(err, errlen,
		"net: user: unknown option '%s' (use hostfwd=tcp:HOSTPORT-:GUESTPORT or "
		"restrict=on|off)",
		opt);
	return -EINVAL;
}

/* opts is what follows "user": empty, or ",OPT[,OPT]...". */
static int parse_user_options(const char *opts, struct net_user_config *cfg, char *err,
			      size_t errlen)
{
	char *copy, *save = NULL, *opt;
	int r = 0;

	memset(cfg, 0, sizeof(*cfg));
	if (!*opts)
		return 0;
	if (opts[0] != ',' || !opts[1] || strstr(opts, ",,") || opts[strlen(opts) - 1] == ',') {
		set_err(err, errlen, "net: user%s: empty option", opts);
		return -EINVAL;
	}
	copy = strdup(opts + 1);
	if (!copy) {
		set_err(err, errlen, "net: user: out of memory");
		return -ENOMEM;
	}
	for (opt = strtok_r(copy, ",", &save); opt && r == 0; opt = strtok_r(NULL, ",", &save))
		r = parse_user_option(cfg, opt, err, errlen);
	free(copy);
	return r;
}

struct net_backend *net_backend_open(struct evloop *loop, const char *spec, char *err,
				     size_t errlen)
{
	struct net_user_config cfg;

	if (!loop || !spec || !*spec) {
		set_err(err, errlen, "net: no backend given (use tap=NAME or user)");
		return NULL;
	}
	if (strncmp(spec, "tap=", 4) == 0) {
		if (check_ifname(spec + 4, err, errlen) < 0)
			return NULL;
		return net_tap_open(loop, spec + 4, err, errlen);
	}
	if (strcmp(spec, "tap") == 0 || strncmp(spec, "tap,", 4) == 0) {
		set_err(err, errlen, "net: tap needs an interface name (tap=NAME)");
		return NULL;
	}
	if (strncmp(spec, "user", 4) == 0 && (spec[4] == '\0' || spec[4] == ',')) {
		if (parse_user_options(spec + 4, &cfg, err, errlen) < 0)
			return NULL;
		return net_user_open(loop, &cfg, err, errlen);
	}
	set_err(err, errlen,
		"net: unknown backend '%s' (use tap=NAME or "
		"user[,hostfwd=tcp:HOSTPORT-:GUESTPORT][,restrict=on])",
		spec);
	return NULL;
}

/* Call on the I/O thread, or after it stopped, with the device no longer sending. */
void net_backend_close(struct net_backend *be)
{
	struct pcap_writer *capture;

	if (!be)
		return;
	capture = be->capture;
	be->capture = NULL;
	be->ops->close(be);
	pcap_close(capture);
}

/* ---- the device's side ---- */

/*
 * Frames held while no receiver was set are offered as soon as one is, through the backend's
 * usual resume path (never from this thread).
 */
void net_backend_set_receiver(struct net_backend *be, net_receive_fn fn, void *opaque)
{
	if (!be)
		return;
	be->receive_opaque = opaque;
	be->receive = fn;
	if (fn)
		net_backend_rx_ready(be);
}

int net_backend_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	size_t len;
	int r;

	if (!be)
		return -EINVAL;
	len = iov_length(iov, iovcnt);
	if (iovcnt < 0 || len == 0 || len > NET_MAX_FRAME) {
		be->tx_dropped++;
		return -EINVAL;
	}
	/* Captured before the backend sees it: the capture shows what the guest sent. */
	if (be->capture)
		pcap_write(be->capture, iov, iovcnt, len);
	r = be->ops->send(be, iov, iovcnt);
	if (r < 0) {
		be->tx_dropped++;
		return r;
	}
	be->tx_frames++;
	be->tx_bytes += len;
	return 0;
}

void net_backend_rx_ready(struct net_backend *be)
{
	if (be && be->ops->rx_ready)
		be->ops->rx_ready(be);
}

bool net_backend_link_up(struct net_backend *be)
{
	if (!be)
		return false;
	return be->ops->link_up ? be->ops->link_up(be) : true;
}

/* ---- the backend's side ---- */

/* A frame the receiver refuses is not captured: it is captured when it is taken. */
bool net_backend_deliver(struct net_backend *be, const struct iovec *iov, int iovcnt, size_t len)
{
	if (!be || !be->receive)
		return false;
	if (!be->receive(be->receive_opaque, iov, iovcnt, len))
		return false;
	be->rx_frames++;
	be->rx_bytes += len;
	if (be->capture)
		pcap_write(be->capture, iov, iovcnt, len);
	return true;
}

int net_backend_capture(struct net_backend *be, const char *path, char *err, size_t errlen)
{
	struct pcap_writer *w;

	if (!be) {
		set_err(err, errlen, "capture: no network backend");
		return -EINVAL;
	}
	if (be->capture) {
		set_err(err, errlen, "capture: %s: %s already has a capture file", path ? path : "",
			be->name);
		return -EBUSY;
	}
	w = pcap_open(path, err, errlen);
	if (!w)
		return -EIO;
	be->capture = w;
	return 0;
}
