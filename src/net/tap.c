/*
 * The TAP backend, "tap=NAME": whole Ethernet frames to and from a Linux TAP interface
 * (Documentation/networking/tuntap.rst). No packet-information prefix (IFF_NO_PI) and no
 * virtio-net header: the NIC models send whole frames.
 *
 * Threads. Reading runs on the I/O thread (the fd callback and the resume timer) under rx_lock,
 * which is held while the receiver runs (lock order rx_lock -> device lock). The device calls
 * net_backend_rx_ready() under its own lock, possibly on a vCPU thread, so tap_rx_ready() takes
 * no lock and calls nothing back: it only arms the resume timer. Sending (writev on the fd)
 * runs on the device's thread and touches no rx state.
 *
 * Flow control: a frame the receiver refuses is kept and the fd is taken out of the event loop,
 * so the kernel queues (and, past the interface's txqueuelen, drops) what follows; after
 * rx_ready the resume timer offers the kept frame again and watches the fd once it is taken.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hostvisor/log.h"
#include "hostvisor/net.h"

/* Frames read per readiness report, so one busy TAP cannot starve the rest of the loop. */
#define TAP_READS_PER_WAKEUP 64

struct tap {
	struct net_backend be; /* first: the ops get &be and cast back */
	struct evloop *loop;
	int fd;
	char ifname[IFNAMSIZ];
	char label[IFNAMSIZ + 8]; /* "tap:NAME", be.name points here */

	pthread_mutex_t rx_lock;
	bool watched;
	size_t held_len; /* bytes of the refused frame kept in buf; 0: none */
	/* Set while a frame is being offered or held; read without rx_lock by tap_rx_ready(). */
	atomic_bool want_resume;
	struct timer *resume_timer;
	bool read_error_logged;
	atomic_bool write_error_logged;
	uint8_t buf[NET_MAX_FRAME];
};

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

static struct tap *to_tap(struct net_backend *be)
{
	return (struct tap *)be;
}

/* ---- receive ---- */

static void tap_on_readable(void *opaque, uint32_t events);

static void tap_watch_locked(struct tap *tap)
{
	int r;

	if (tap->watched)
		return;
	r = evloop_add_fd(tap->loop, tap->fd, EPOLLIN, tap_on_readable, tap);
	if (r < 0) {
		log_warn("net: %s: cannot watch the TAP fd: %s", tap->label, strerror(-r));
		return;
	}
	tap->watched = true;
}

static void tap_unwatch_locked(struct tap *tap)
{
	if (!tap->watched)
		return;
	evloop_del_fd(tap->loop, tap->fd);
	tap->watched = false;
}

/*
 * Offers the n bytes in buf. want_resume is set before the offer, so that a receiver that
 * refuses and then (on another thread) makes room always finds it set. Returns true if taken.
 */
static bool tap_offer_locked(struct tap *tap, size_t n)
{
	struct iovec iov = { .iov_base = tap->buf, .iov_len = n };

	atomic_store(&tap->want_resume, true);
	if (!net_backend_deliver(&tap->be, &iov, 1, n)) {
		tap->held_len = n;
		tap_unwatch_locked(tap);
		return false;
	}
	tap->held_len = 0;
	atomic_store(&tap->want_resume, false);
	return true;
}

/* A read error other than "nothing there" (the interface was deleted: EBADFD) would repeat
 * on every wake-up: stop reading instead of spinning. */
static void tap_read_failed_locked(struct tap *tap, int error)
{
	if (!tap->read_error_logged)
		log_warn("net: %s: read: %s; no more frames from this TAP", tap->label,
			 strerror(error));
	tap->read_error_logged = true;
	tap_unwatch_locked(tap);
}

static void tap_on_readable(void *opaque, uint32_t events)
{
	struct tap *tap = opaque;

	(void)events;
	pthread_mutex_lock(&tap->rx_lock);
	for (int i = 0; i < TAP_READS_PER_WAKEUP && tap->watched && !tap->held_len; i++) {
		ssize_t n = read(tap->fd, tap->buf, sizeof(tap->buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			tap_read_failed_locked(tap, errno);
		if (n <= 0)
			break;
		if (!tap_offer_locked(tap, (size_t)n))
			break;
	}
	pthread_mutex_unlock(&tap->rx_lock);
}

/* The resume timer, on the I/O thread: offer the kept frame again, then read on. */
static void tap_on_resume(void *opaque)
{
	struct tap *tap = opaque;

	pthread_mutex_lock(&tap->rx_lock);
	if (tap->held_len && !tap_offer_locked(tap, tap->held_len)) {
		pthread_mutex_unlock(&tap->rx_lock);
		return;
	}
	atomic_store(&tap->want_resume, false);
	if (!tap->read_error_logged)
		tap_watch_locked(tap);
	pthread_mutex_unlock(&tap->rx_lock);
}

static void tap_rx_ready(struct net_backend *be)
{
	struct tap *tap = to_tap(be);

	if (atomic_load(&tap->want_resume))
		timer_mod(tap->resume_timer, evloop_now_ns(tap->loop));
}

/* ---- send ---- */

/* Never blocks: a full TAP queue (EAGAIN) drops the frame, the caller counts it. */
static int tap_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct tap *tap = to_tap(be);
	ssize_t n;

	if (iovcnt <= 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	do {
		n = writev(tap->fd, iov, iovcnt);
	} while (n < 0 && errno == EINTR);
	if (n >= 0)
		return 0;
	if (errno == EAGAIN)
		return -EAGAIN;
	/* EIO: the interface is down. Said once; every drop is counted. */
	if (!atomic_exchange(&tap->write_error_logged, true))
		log_warn("net: %s: write: %s; frames are dropped", tap->label, strerror(errno));
	return -errno;
}

static bool tap_link_up(struct net_backend *be)
{
	(void)be;
	return true;
}

/* Call on the I/O thread, or after it stopped. A TAP we created goes away with the fd. */
static void tap_close(struct net_backend *be)
{
	struct tap *tap = to_tap(be);

	timer_del(tap->resume_timer);
	pthread_mutex_lock(&tap->rx_lock);
	tap_unwatch_locked(tap);
	pthread_mutex_unlock(&tap->rx_lock);
	timer_free(tap->resume_timer);
	close(tap->fd);
	pthread_mutex_destroy(&tap->rx_lock);
	free(tap);
}

static const struct net_backend_ops tap_ops = {
	.send = tap_send,
	.rx_ready = tap_rx_ready,
	.link_up = tap_link_up,
	.close = tap_close,
};

/* ---- open ---- */

static int tap_open_tun(const char *ifname, char *err, size_t errlen)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT || errno == ENODEV || errno == ENXIO)
		set_err(err, errlen, "net: tap=%s: /dev/net/tun is missing (no TUN/TAP in this "
			"kernel? modprobe tun)", ifname);
	else
		set_err(err, errlen, "net: tap=%s: cannot open /dev/net/tun: %s", ifname,
			strerror(errno));
	return -1;
}

static void tap_explain_setiff_error(const char *ifname, int error, char *err, size_t errlen)
{
	switch (error) {
	case EBUSY:
		set_err(err, errlen, "net: tap=%s: the TAP device is busy (another program has it "
			"open)", ifname);
		break;
	case EPERM:
	case EACCES:
		set_err(err, errlen, "net: tap=%s: permission denied (creating a TAP needs "
			"CAP_NET_ADMIN; or make one for this user: ip tuntap add %s mode tap "
			"user $USER)", ifname, ifname);
		break;
	case EINVAL:
		set_err(err, errlen, "net: tap=%s: exists and is not a TAP device", ifname);
		break;
	default:
		set_err(err, errlen, "net: tap=%s: cannot attach: %s", ifname, strerror(error));
		break;
	}
}

static struct tap *tap_alloc(struct evloop *loop, int fd, const char *ifname)
{
	struct tap *tap = calloc(1, sizeof(*tap));

	if (!tap)
		return NULL;
	tap->resume_timer = timer_new(loop, tap_on_resume, tap);
	if (!tap->resume_timer) {
		free(tap);
		return NULL;
	}
	tap->loop = loop;
	tap->fd = fd;
	snprintf(tap->ifname, sizeof(tap->ifname), "%s", ifname);
	snprintf(tap->label, sizeof(tap->label), "tap:%s", tap->ifname);
	tap->be.ops = &tap_ops;
	tap->be.name = tap->label;
	atomic_init(&tap->want_resume, false);
	atomic_init(&tap->write_error_logged, false);
	pthread_mutex_init(&tap->rx_lock, NULL);
	return tap;
}

struct net_backend *net_tap_open(struct evloop *loop, const char *ifname, char *err,
				 size_t errlen)
{
	struct ifreq ifr;
	struct tap *tap;
	int fd;

	if (!loop || !ifname || !*ifname || strlen(ifname) >= IFNAMSIZ) {
		set_err(err, errlen, "net: tap=%s: not a valid interface name",
			ifname ? ifname : "");
		return NULL;
	}
	fd = tap_open_tun(ifname, err, errlen);
	if (fd < 0)
		return NULL;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		tap_explain_setiff_error(ifname, errno, err, errlen);
		close(fd);
		return NULL;
	}
	ifr.ifr_name[IFNAMSIZ - 1] = '\0';
	tap = tap_alloc(loop, fd, ifr.ifr_name);
	if (!tap) {
		set_err(err, errlen, "net: tap=%s: out of memory", ifname);
		close(fd);
		return NULL;
	}
	pthread_mutex_lock(&tap->rx_lock);
	tap_watch_locked(tap);
	pthread_mutex_unlock(&tap->rx_lock);
	if (!tap->watched) {
		set_err(err, errlen, "net: tap=%s: the event loop cannot watch it", ifname);
		tap_close(&tap->be);
		return NULL;
	}
	return &tap->be;
}
