/*
 * The user-mode NAT backend, "user[,hostfwd=tcp:HOSTPORT-:GUESTPORT]...[,restrict=on]": a
 * virtual Ethernet segment served by libslirp, which answers DHCP, ARP and DNS itself and turns
 * the guest's TCP and UDP into ordinary sockets of this process. No privilege is needed.
 *
 * Addresses (a project rule: only the benchmarking range 198.18.0.0/15, never 10/8, 172.16/12
 * or 192.168/16): network 198.18.64.0/24, gateway 198.18.64.2 (slirp's "host" address: a
 * connection to it goes to the host's 127.0.0.1), DNS 198.18.64.3, leases from 198.18.64.15.
 * No IPv6. hostfwd listens on 127.0.0.1 only and forwards to the guest's first lease.
 *
 * restrict=on is slirp's restricted mode: nothing the guest starts leaves slirp (its connections
 * are reset, even those to the gateway, and its DHCP lease names no router and no DNS server);
 * slirp's own DHCP/ARP still answer, and hostfwd still brings host connections in. That is what
 * tests want: a guest that cannot reach anything.
 *
 * Threads. libslirp is not thread-safe, so it is used on the I/O thread only (and at open and
 * close, while that thread does not run it):
 *  - a frame the device sends (on its vCPU thread) is copied into tx_queue under tx_lock and
 *    the tx timer, armed at "now", feeds it to slirp_input() on the I/O thread;
 *  - slirp's sockets are kept in an epoll set of our own (pollset_fd), which the event loop
 *    watches as one fd. On wake-up the classic slirp_pollfds_fill/poll pair runs with a zero
 *    poll(), and the set is brought up to date with what slirp now wants after every call into
 *    slirp. slirp's timeouts (TCP timers) and its notify callback arm poll_timer;
 *  - slirp hands frames for the guest to user_send_packet(), still on the I/O thread, which
 *    delivers them; those the receiver refuses wait in rx_held (bounded, in order) until
 *    net_backend_rx_ready() arms the rx timer.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <libslirp.h>

#include "hostvisor/log.h"
#include "hostvisor/net.h"

/* Frames from the guest not yet fed to slirp: beyond this the device is faster than the I/O
 * thread and frames are dropped (counted as tx_dropped), as a full NIC queue would. */
#define USER_TX_QUEUE_MAX 256
/* Frames for the guest held while its receive ring is full; TCP retransmits what is dropped. */
#define USER_RX_HOLD_MAX 128
/* Events taken from the epoll set per wake-up, to find registrations slirp no longer wants. */
#define USER_EPOLL_BATCH 64

struct user_frame {
	size_t len;
	uint8_t data[];
};

/* One entry of what slirp asked to poll, in slirp's index order. */
struct user_poll_list {
	struct pollfd *fds;
	int n, cap;
};

struct user_timer {
	struct user_net *user;
	struct timer *timer;
	SlirpTimerCb cb;
	void *cb_opaque;
};

struct user_net {
	struct net_backend be; /* first: the ops get &be and cast back */
	struct evloop *loop;
	Slirp *slirp;
	struct net_user_config cfg;

	int pollset_fd;
	bool pollset_watched;
	struct user_poll_list polled;  /* from the last slirp_pollfds_fill() */
	struct user_poll_list watched; /* what pollset_fd holds, sorted by fd */
	struct timer *poll_timer;
	uint64_t poll_deadline; /* when poll_timer fires; 0: not armed */
	bool servicing; /* in user_poll_service(): do not recurse into slirp */

	pthread_mutex_t tx_lock;
	struct user_frame *tx_queue[USER_TX_QUEUE_MAX];
	int tx_head, tx_count;
	struct timer *tx_timer;

	struct user_frame *rx_held[USER_RX_HOLD_MAX];
	int rx_head, rx_count;
	/* Set while a frame is being offered or held; read without a lock by user_rx_ready(). */
	atomic_bool want_resume;
	struct timer *rx_timer;
	uint64_t rx_dropped;
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

static struct user_net *to_user(struct net_backend *be)
{
	return (struct user_net *)be;
}

static struct user_frame *frame_copy(const struct iovec *iov, int iovcnt, size_t len)
{
	struct user_frame *f = malloc(sizeof(*f) + len);
	size_t off = 0;

	if (!f)
		return NULL;
	for (int i = 0; i < iovcnt && off < len; i++) {
		size_t chunk = iov[i].iov_len < len - off ? iov[i].iov_len : len - off;

		if (chunk)
			memcpy(f->data + off, iov[i].iov_base, chunk);
		off += chunk;
	}
	f->len = off;
	return f;
}

/* ---- slirp's sockets in our epoll set ---- */

static int poll_list_append(struct user_poll_list *l, int fd, short events)
{
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 16;
		struct pollfd *fds = realloc(l->fds, (size_t)cap * sizeof(*fds));

		if (!fds)
			return -ENOMEM;
		l->fds = fds;
		l->cap = cap;
	}
	l->fds[l->n] = (struct pollfd){ .fd = fd, .events = events };
	return l->n++;
}

static short slirp_to_poll_events(int events)
{
	short ev = 0;

	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	return ev; /* errors and hang-ups are always reported */
}

static int poll_to_slirp_events(short revents)
{
	int ev = 0;

	if (revents & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (revents & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (revents & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (revents & (POLLERR | POLLNVAL))
		ev |= SLIRP_POLL_ERR;
	if (revents & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

/* slirp_pollfds_fill's callback: returns the index slirp hands back to get_revents. */
static int user_add_poll(int fd, int events, void *opaque)
{
	struct user_net *user = opaque;
	int idx = poll_list_append(&user->polled, fd, slirp_to_poll_events(events));

	if (idx < 0)
		log_warn("net: user: out of memory polling slirp's sockets");
	return idx;
}

static int user_get_revents(int idx, void *opaque)
{
	struct user_net *user = opaque;

	if (idx < 0 || idx >= user->polled.n)
		return 0;
	return poll_to_slirp_events(user->polled.fds[idx].revents);
}

static int pollfd_by_fd(const void *a, const void *b)
{
	const struct pollfd *x = a, *y = b;

	return (x->fd > y->fd) - (x->fd < y->fd);
}

static const struct pollfd *watched_find(const struct user_poll_list *l, int fd)
{
	struct pollfd key = { .fd = fd };

	if (!l->n)
		return NULL;
	return bsearch(&key, l->fds, (size_t)l->n, sizeof(key), pollfd_by_fd);
}

static uint32_t poll_to_epoll_events(short events)
{
	uint32_t ev = 0;

	if (events & POLLIN)
		ev |= EPOLLIN;
	if (events & POLLOUT)
		ev |= EPOLLOUT;
	if (events & POLLPRI)
		ev |= EPOLLPRI;
	return ev;
}

/* ADD or MOD, whichever the kernel's view needs: slirp may close an fd (which leaves the set
 * by itself) and get the same number back for a new socket. */
static void pollset_set(struct user_net *user, int fd, short events, bool known)
{
	struct epoll_event ev = { .events = poll_to_epoll_events(events), .data.fd = fd };
	int op = known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (epoll_ctl(user->pollset_fd, op, fd, &ev) == 0)
		return;
	if (errno == ENOENT || errno == EEXIST) {
		op = op == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
		if (epoll_ctl(user->pollset_fd, op, fd, &ev) == 0)
			return;
	}
	log_debug("net: user: cannot watch slirp fd %d: %s", fd, strerror(errno));
}

/* Brings the epoll set to exactly what the last fill asked for. Both lists are sorted by fd. */
static void pollset_sync(struct user_net *user)
{
	struct user_poll_list next = { 0 };

	for (int i = 0; i < user->polled.n; i++) {
		/* One socket, one fd: duplicates would only merge their events. */
		if (poll_list_append(&next, user->polled.fds[i].fd, user->polled.fds[i].events) < 0)
			break;
	}
	if (next.n)
		qsort(next.fds, (size_t)next.n, sizeof(*next.fds), pollfd_by_fd);
	for (int i = 0; i < next.n; i++) {
		const struct pollfd *old = watched_find(&user->watched, next.fds[i].fd);

		if (!old || old->events != next.fds[i].events)
			pollset_set(user, next.fds[i].fd, next.fds[i].events, old != NULL);
	}
	for (int i = 0; i < user->watched.n; i++)
		if (!watched_find(&next, user->watched.fds[i].fd))
			epoll_ctl(user->pollset_fd, EPOLL_CTL_DEL, user->watched.fds[i].fd, NULL);
	free(user->watched.fds);
	user->watched = next;
}

/* What slirp wants polled now, in user->polled; its timeout (ms, UINT32_MAX: none). */
static void user_poll_fill(struct user_net *user, uint32_t *timeout_ms)
{
	*timeout_ms = UINT32_MAX;
	user->polled.n = 0;
	slirp_pollfds_fill(user->slirp, timeout_ms, user_add_poll, user);
}

/* Arms poll_timer for deadline unless it already fires earlier: pushing it back on every call
 * would starve slirp's TCP timers under steady traffic. */
static void poll_timer_arm(struct user_net *user, uint64_t deadline)
{
	if (user->poll_deadline && user->poll_deadline <= deadline)
		return;
	user->poll_deadline = deadline;
	timer_mod(user->poll_timer, deadline);
}

/*
 * Asks slirp what to watch and until when, after every call into slirp: slirp's own timeout
 * (at most a second; 2 ms while TCP has delayed ACKs) arms poll_timer.
 */
static void user_poll_refresh(struct user_net *user)
{
	uint32_t timeout_ms;

	user_poll_fill(user, &timeout_ms);
	pollset_sync(user);
	if (timeout_ms != UINT32_MAX)
		poll_timer_arm(user, evloop_now_ns(user->loop) + (uint64_t)timeout_ms * 1000000);
}

/* Drops registrations the kernel still reports but slirp no longer asks for. */
static void pollset_drop_stale(struct user_net *user)
{
	struct epoll_event ev[USER_EPOLL_BATCH];
	int n = epoll_wait(user->pollset_fd, ev, USER_EPOLL_BATCH, 0);

	for (int i = 0; i < n; i++)
		if (!watched_find(&user->watched, ev[i].data.fd))
			epoll_ctl(user->pollset_fd, EPOLL_CTL_DEL, ev[i].data.fd, NULL);
}

/* Lets slirp handle whatever its sockets and timers have for it. I/O thread only. */
static void user_poll_service(struct user_net *user)
{
	int ready, select_error = 0;
	uint32_t timeout_ms;

	if (user->servicing)
		return;
	user->servicing = true;
	pollset_drop_stale(user);
	/* A fresh fill: the indices get_revents sees must be those of this fill. */
	user_poll_fill(user, &timeout_ms);
	ready = user->polled.n ? poll(user->polled.fds, (nfds_t)user->polled.n, 0) : 0;
	if (ready < 0) {
		select_error = 1;
		for (int i = 0; i < user->polled.n; i++)
			user->polled.fds[i].revents = 0;
	}
	slirp_pollfds_poll(user->slirp, select_error, user_get_revents, user);
	user_poll_refresh(user);
	user->servicing = false;
}

static void user_on_pollset(void *opaque, uint32_t events)
{
	(void)events;
	user_poll_service(opaque);
}

static void user_on_poll_timer(void *opaque)
{
	struct user_net *user = opaque;

	user->poll_deadline = 0;
	user_poll_service(user);
}

/* ---- slirp's callbacks (all on the I/O thread) ---- */

static void rx_hold(struct user_net *user, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct user_frame *f;

	if (user->rx_count == USER_RX_HOLD_MAX) {
		user->rx_dropped++;
		return;
	}
	f = frame_copy(&iov, 1, len);
	if (!f) {
		user->rx_dropped++;
		return;
	}
	user->rx_held[(user->rx_head + user->rx_count) % USER_RX_HOLD_MAX] = f;
	user->rx_count++;
}

/*
 * A frame for the guest. want_resume is set before the offer, so that a receiver that refuses
 * and then (on another thread) makes room always finds it set. Frames queue behind held ones.
 */
static ssize_t user_send_packet(const void *buf, size_t len, void *opaque)
{
	struct user_net *user = opaque;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	atomic_store(&user->want_resume, true);
	if (user->rx_count || !net_backend_deliver(&user->be, &iov, 1, len)) {
		rx_hold(user, buf, len);
		return (ssize_t)len;
	}
	atomic_store(&user->want_resume, false);
	return (ssize_t)len;
}

/* What the guest did wrong is the guest's business: debug level, so it cannot flood the log. */
static void user_guest_error(const char *msg, void *opaque)
{
	(void)opaque;
	log_debug("net: user: guest error: %s", msg);
}

static int64_t user_clock_get_ns(void *opaque)
{
	struct user_net *user = opaque;

	return (int64_t)evloop_now_ns(user->loop);
}

static void user_on_slirp_timer(void *opaque)
{
	struct user_timer *ut = opaque;

	ut->cb(ut->cb_opaque);
	user_poll_refresh(ut->user);
}

static void *user_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct user_net *user = opaque;
	struct user_timer *ut = calloc(1, sizeof(*ut));

	if (!ut)
		return NULL;
	*ut = (struct user_timer){ .user = user, .cb = cb, .cb_opaque = cb_opaque };
	ut->timer = timer_new(user->loop, user_on_slirp_timer, ut);
	if (!ut->timer) {
		free(ut);
		return NULL;
	}
	return ut;
}

static void user_timer_free(void *timer, void *opaque)
{
	struct user_timer *ut = timer;

	(void)opaque;
	if (!ut)
		return;
	timer_free(ut->timer);
	free(ut);
}

/* expire_time is in milliseconds of clock_get_ns's clock. */
static void user_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct user_timer *ut = timer;

	(void)opaque;
	if (ut)
		timer_mod(ut->timer, expire_ms > 0 ? (uint64_t)expire_ms * 1000000 : 0);
}

/* The epoll set follows slirp_pollfds_fill; only a closing fd needs to leave it at once. */
static void user_register_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void user_unregister_poll_fd(int fd, void *opaque)
{
	struct user_net *user = opaque;

	epoll_ctl(user->pollset_fd, EPOLL_CTL_DEL, fd, NULL);
}

static void user_notify(void *opaque)
{
	struct user_net *user = opaque;

	poll_timer_arm(user, evloop_now_ns(user->loop));
}

static const SlirpCb user_slirp_callbacks = {
	.send_packet = user_send_packet,
	.guest_error = user_guest_error,
	.clock_get_ns = user_clock_get_ns,
	.timer_new = user_timer_new,
	.timer_free = user_timer_free,
	.timer_mod = user_timer_mod,
	.register_poll_fd = user_register_poll_fd,
	.unregister_poll_fd = user_unregister_poll_fd,
	.notify = user_notify,
};

/* ---- guest -> slirp ---- */

static int user_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct user_net *user = to_user(be);
	size_t len = iov_length(iov, iovcnt);
	struct user_frame *f;
	bool first;

	if (len == 0 || len > NET_MAX_FRAME)
		return -EINVAL;
	f = frame_copy(iov, iovcnt, len);
	if (!f)
		return -ENOMEM;
	pthread_mutex_lock(&user->tx_lock);
	if (user->tx_count == USER_TX_QUEUE_MAX) {
		pthread_mutex_unlock(&user->tx_lock);
		free(f);
		return -ENOBUFS;
	}
	user->tx_queue[(user->tx_head + user->tx_count) % USER_TX_QUEUE_MAX] = f;
	first = user->tx_count++ == 0;
	pthread_mutex_unlock(&user->tx_lock);
	/* The tx timer empties the whole queue, so only the first frame needs to arm it. */
	if (first)
		timer_mod(user->tx_timer, evloop_now_ns(user->loop));
	return 0;
}

static struct user_frame *tx_pop(struct user_net *user)
{
	struct user_frame *f = NULL;

	pthread_mutex_lock(&user->tx_lock);
	if (user->tx_count) {
		f = user->tx_queue[user->tx_head];
		user->tx_queue[user->tx_head] = NULL;
		user->tx_head = (user->tx_head + 1) % USER_TX_QUEUE_MAX;
		user->tx_count--;
	}
	pthread_mutex_unlock(&user->tx_lock);
	return f;
}

/*
 * The tx timer, on the I/O thread. Bounded, so a device that keeps sending cannot hold the I/O
 * thread here; what is left (it was queued behind a non-empty queue, which arms nothing) gets
 * another turn.
 */
static void user_on_tx(void *opaque)
{
	struct user_net *user = opaque;
	bool more;

	for (int i = 0; i < USER_TX_QUEUE_MAX; i++) {
		struct user_frame *f = tx_pop(user);

		if (!f)
			break;
		slirp_input(user->slirp, f->data, (int)f->len);
		free(f);
	}
	pthread_mutex_lock(&user->tx_lock);
	more = user->tx_count > 0;
	pthread_mutex_unlock(&user->tx_lock);
	if (more)
		timer_mod(user->tx_timer, evloop_now_ns(user->loop));
	user_poll_refresh(user);
}

/* ---- slirp -> guest, after the receiver made room ---- */

static void user_on_rx_resume(void *opaque)
{
	struct user_net *user = opaque;

	while (user->rx_count) {
		struct user_frame *f = user->rx_held[user->rx_head];
		struct iovec iov = { .iov_base = f->data, .iov_len = f->len };

		if (!net_backend_deliver(&user->be, &iov, 1, f->len))
			return; /* want_resume stays set: the next rx_ready comes back here */
		user->rx_held[user->rx_head] = NULL;
		user->rx_head = (user->rx_head + 1) % USER_RX_HOLD_MAX;
		user->rx_count--;
		free(f);
	}
	atomic_store(&user->want_resume, false);
}

static void user_rx_ready(struct net_backend *be)
{
	struct user_net *user = to_user(be);

	if (atomic_load(&user->want_resume))
		timer_mod(user->rx_timer, evloop_now_ns(user->loop));
}

static bool user_link_up(struct net_backend *be)
{
	(void)be;
	return true;
}

/* ---- open and close ---- */

static void user_free(struct user_net *user)
{
	if (user->slirp)
		slirp_cleanup(user->slirp); /* calls back unregister_poll_fd and timer_free */
	if (user->pollset_watched)
		evloop_del_fd(user->loop, user->pollset_fd);
	if (user->pollset_fd >= 0)
		close(user->pollset_fd);
	timer_free(user->poll_timer);
	timer_free(user->tx_timer);
	timer_free(user->rx_timer);
	for (struct user_frame *f; (f = tx_pop(user));)
		free(f);
	for (int i = 0; i < user->rx_count; i++)
		free(user->rx_held[(user->rx_head + i) % USER_RX_HOLD_MAX]);
	free(user->polled.fds);
	free(user->watched.fds);
	pthread_mutex_destroy(&user->tx_lock);
	free(user);
}

/* Call on the I/O thread, or after it stopped. */
static void user_close(struct net_backend *be)
{
	struct user_net *user = to_user(be);

	if (user->rx_dropped)
		log_info("net: user: %llu frames for the guest dropped while its ring was full",
			 (unsigned long long)user->rx_dropped);
	user_free(user);
}

static const struct net_backend_ops user_ops = {
	.send = user_send,
	.rx_ready = user_rx_ready,
	.link_up = user_link_up,
	.close = user_close,
};

static struct user_net *user_alloc(struct evloop *loop, const struct net_user_config *cfg)
{
	struct user_net *user = calloc(1, sizeof(*user));

	if (!user)
		return NULL;
	user->loop = loop;
	user->cfg = *cfg;
	user->be.ops = &user_ops;
	user->be.name = "user";
	user->pollset_fd = -1;
	atomic_init(&user->want_resume, false);
	pthread_mutex_init(&user->tx_lock, NULL);
	user->poll_timer = timer_new(loop, user_on_poll_timer, user);
	user->tx_timer = timer_new(loop, user_on_tx, user);
	user->rx_timer = timer_new(loop, user_on_rx_resume, user);
	user->pollset_fd = epoll_create1(EPOLL_CLOEXEC);
	if (!user->poll_timer || !user->tx_timer || !user->rx_timer || user->pollset_fd < 0) {
		user_free(user);
		return NULL;
	}
	return user;
}

static void user_slirp_config(SlirpConfig *sc, bool restricted)
{
	memset(sc, 0, sizeof(*sc));
	sc->version = 4;
	sc->restricted = restricted;
	sc->in_enabled = true;
	inet_pton(AF_INET, NET_USER_NETWORK, &sc->vnetwork);
	inet_pton(AF_INET, NET_USER_NETMASK, &sc->vnetmask);
	inet_pton(AF_INET, NET_USER_GATEWAY, &sc->vhost);
	inet_pton(AF_INET, NET_USER_DHCP_START, &sc->vdhcp_start);
	inet_pton(AF_INET, NET_USER_DNS, &sc->vnameserver);
	sc->in6_enabled = false;
	/* The gateway is the host's 127.0.0.1. */
	sc->disable_host_loopback = false;
	/* slirp's protocol helpers (FTP, IRC...) parse guest data unsafely. */
	sc->enable_emu = false;
}

static int user_add_hostfwds(struct user_net *user, char *err, size_t errlen)
{
	struct in_addr host, guest;

	inet_pton(AF_INET, "127.0.0.1", &host);
	inet_pton(AF_INET, NET_USER_DHCP_START, &guest);
	for (int i = 0; i < user->cfg.nhostfwd; i++) {
		const struct net_user_hostfwd *fwd = &user->cfg.hostfwd[i];

		errno = 0;
		if (slirp_add_hostfwd(user->slirp, fwd->udp, host, fwd->host_port, guest,
				      fwd->guest_port) == 0)
			continue;
		set_err(err, errlen,
			"net: user: hostfwd=%s:%u-:%u: cannot listen on 127.0.0.1:%u: %s",
			fwd->udp ? "udp" : "tcp", fwd->host_port, fwd->guest_port, fwd->host_port,
			errno ? strerror(errno) : "port in use?");
		return -EADDRINUSE;
	}
	return 0;
}

struct net_backend *net_user_open(struct evloop *loop, const struct net_user_config *cfg,
				  char *err, size_t errlen)
{
	struct user_net *user;
	SlirpConfig sc;
	int r;

	if (!loop || !cfg || cfg->nhostfwd < 0 || cfg->nhostfwd > NET_USER_MAX_HOSTFWD) {
		set_err(err, errlen, "net: user: bad configuration");
		return NULL;
	}
	user = user_alloc(loop, cfg);
	if (!user) {
		set_err(err, errlen, "net: user: out of memory");
		return NULL;
	}
	user_slirp_config(&sc, cfg->restricted);
	user->slirp = slirp_new(&sc, &user_slirp_callbacks, user);
	if (!user->slirp) {
		set_err(err, errlen, "net: user: libslirp refused the configuration");
		user_free(user);
		return NULL;
	}
	if (user_add_hostfwds(user, err, errlen) < 0) {
		user_free(user);
		return NULL;
	}
	r = evloop_add_fd(loop, user->pollset_fd, EPOLLIN, user_on_pollset, user);
	if (r < 0) {
		set_err(err, errlen, "net: user: the event loop cannot watch slirp: %s",
			strerror(-r));
		user_free(user);
		return NULL;
	}
	user->pollset_watched = true;
	user_poll_refresh(user);
	return &user->be;
}
