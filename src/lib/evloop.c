/*
 * The I/O thread's event loop: epoll over backend fds, one timerfd for all timers (a sorted
 * list is enough for the few dozen timers a PC has), and an eventfd to wake the loop when
 * another thread changes timers or asks it to stop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "hostvisor/evloop.h"
#include "hostvisor/log.h"

#define EVLOOP_MAX_FDS 64

struct timer {
	struct evloop *loop;
	timer_cb cb;
	void *opaque;
	uint64_t deadline;
	bool armed;
	struct timer *next; /* in the armed list, sorted by deadline */
};

struct fd_watch {
	int fd;
	fd_cb cb;
	void *opaque;
	bool used;
};

struct evloop {
	int epfd, timerfd, wakefd;
	pthread_mutex_t lock; /* timers and watches */
	struct timer *armed;
	uint64_t timerfd_deadline; /* what the timerfd is set to; 0 = disarmed */
	struct fd_watch watch[EVLOOP_MAX_FDS];
	bool stop;
};

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t evloop_now_ns(struct evloop *loop)
{
	(void)loop;
	return monotonic_ns();
}

static void wake(struct evloop *loop)
{
	uint64_t one = 1;

	if (write(loop->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("evloop: wake: %s", strerror(errno));
}

struct evloop *evloop_create(void)
{
	struct evloop *loop = calloc(1, sizeof(*loop));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!loop)
		return NULL;
	pthread_mutex_init(&loop->lock, NULL);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	loop->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->epfd < 0 || loop->timerfd < 0 || loop->wakefd < 0)
		goto fail;
	ev.data.fd = loop->timerfd;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->timerfd, &ev) < 0)
		goto fail;
	ev.data.fd = loop->wakefd;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0)
		goto fail;
	return loop;
fail:
	evloop_destroy(loop);
	return NULL;
}

void evloop_destroy(struct evloop *loop)
{
	if (!loop)
		return;
	if (loop->epfd >= 0)
		close(loop->epfd);
	if (loop->timerfd >= 0)
		close(loop->timerfd);
	if (loop->wakefd >= 0)
		close(loop->wakefd);
	pthread_mutex_destroy(&loop->lock);
	free(loop);
}

struct timer *timer_new(struct evloop *loop, timer_cb cb, void *opaque)
{
	struct timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->loop = loop;
	t->cb = cb;
	t->opaque = opaque;
	return t;
}

/* Caller holds the lock. */
static void unlink_timer(struct timer *t)
{
	struct timer **pp = &t->loop->armed;

	while (*pp && *pp != t)
		pp = &(*pp)->next;
	if (*pp)
		*pp = t->next;
	t->next = NULL;
	t->armed = false;
}

void timer_free(struct timer *t)
{
	if (!t)
		return;
	timer_del(t);
	free(t);
}

void timer_mod(struct timer *t, uint64_t deadline_ns)
{
	struct evloop *loop = t->loop;
	struct timer **pp;
	bool earliest;

	pthread_mutex_lock(&loop->lock);
	if (t->armed)
		unlink_timer(t);
	t->deadline = deadline_ns;
	t->armed = true;
	pp = &loop->armed;
	while (*pp && (*pp)->deadline <= deadline_ns)
		pp = &(*pp)->next;
	t->next = *pp;
	*pp = t;
	earliest = loop->armed == t &&
		   (loop->timerfd_deadline == 0 || deadline_ns < loop->timerfd_deadline);
	pthread_mutex_unlock(&loop->lock);
	/* Only a new earliest deadline needs the loop to reprogram its timerfd. */
	if (earliest)
		wake(loop);
}

void timer_del(struct timer *t)
{
	pthread_mutex_lock(&t->loop->lock);
	if (t->armed)
		unlink_timer(t);
	pthread_mutex_unlock(&t->loop->lock);
}

bool timer_pending(struct timer *t)
{
	bool armed;

	pthread_mutex_lock(&t->loop->lock);
	armed = t->armed;
	pthread_mutex_unlock(&t->loop->lock);
	return armed;
}

static struct fd_watch *find_watch(struct evloop *loop, int fd)
{
	for (int i = 0; i < EVLOOP_MAX_FDS; i++)
		if (loop->watch[i].used && loop->watch[i].fd == fd)
			return &loop->watch[i];
	return NULL;
}

int evloop_add_fd(struct evloop *loop, int fd, uint32_t events, fd_cb cb, void *opaque)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	int rc = -ENOSPC;

	pthread_mutex_lock(&loop->lock);
	for (int i = 0; i < EVLOOP_MAX_FDS; i++) {
		if (loop->watch[i].used)
			continue;
		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			rc = -errno;
			break;
		}
		loop->watch[i] = (struct fd_watch){ .fd = fd, .cb = cb, .opaque = opaque, .used = true };
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&loop->lock);
	return rc;
}

int evloop_mod_fd(struct evloop *loop, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void evloop_del_fd(struct evloop *loop, int fd)
{
	struct fd_watch *w;

	pthread_mutex_lock(&loop->lock);
	w = find_watch(loop, fd);
	if (w) {
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
		w->used = false;
	}
	pthread_mutex_unlock(&loop->lock);
}

/* Runs every timer that is due; each callback runs without the loop lock held. */
static void run_due_timers(struct evloop *loop)
{
	/* Bounded: a timer re-armed in the past by its own callback runs again next round. */
	for (int n = 0; n < 1024; n++) {
		struct timer *t;
		timer_cb cb;
		void *opaque;

		pthread_mutex_lock(&loop->lock);
		t = loop->armed;
		if (!t || t->deadline > monotonic_ns()) {
			pthread_mutex_unlock(&loop->lock);
			return;
		}
		unlink_timer(t);
		cb = t->cb;
		opaque = t->opaque;
		pthread_mutex_unlock(&loop->lock);
		cb(opaque);
	}
}

static void program_timerfd(struct evloop *loop)
{
	struct itimerspec its = { 0 };
	uint64_t deadline;

	pthread_mutex_lock(&loop->lock);
	deadline = loop->armed ? loop->armed->deadline : 0;
	loop->timerfd_deadline = deadline;
	pthread_mutex_unlock(&loop->lock);
	if (deadline) {
		its.it_value.tv_sec = (time_t)(deadline / 1000000000ull);
		its.it_value.tv_nsec = (long)(deadline % 1000000000ull);
	}
	timerfd_settime(loop->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void dispatch_fd(struct evloop *loop, int fd, uint32_t events)
{
	struct fd_watch *w;
	fd_cb cb = NULL;
	void *opaque = NULL;
	uint64_t drain;

	if (fd == loop->timerfd || fd == loop->wakefd) {
		if (read(fd, &drain, sizeof(drain)) < 0 && errno != EAGAIN)
			log_warn("evloop: read: %s", strerror(errno));
		return;
	}
	pthread_mutex_lock(&loop->lock);
	w = find_watch(loop, fd);
	if (w) {
		cb = w->cb;
		opaque = w->opaque;
	}
	pthread_mutex_unlock(&loop->lock);
	if (cb)
		cb(opaque, events);
}

int evloop_run(struct evloop *loop)
{
	struct epoll_event ev[16];

	while (!__atomic_load_n(&loop->stop, __ATOMIC_ACQUIRE)) {
		int n;

		run_due_timers(loop);
		program_timerfd(loop);
		n = epoll_wait(loop->epfd, ev, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++)
			dispatch_fd(loop, ev[i].data.fd, ev[i].events);
	}
	/* The stop request is consumed, so the loop can run again after a guest reboot. */
	__atomic_store_n(&loop->stop, false, __ATOMIC_RELEASE);
	return 0;
}

void evloop_stop(struct evloop *loop)
{
	__atomic_store_n(&loop->stop, true, __ATOMIC_RELEASE);
	wake(loop);
}
