/*
 * Fake event loop: time moves only when a test calls fake_evloop_advance(). Single-threaded.
 * At most a bounded number of firings per advance, so a device that re-arms a timer in the past
 * forever makes the test fail instead of hang.
 */
#include <errno.h>
#include <stdlib.h>

#include "fake_evloop.h"

#define FAKE_MAX_TIMERS 64
#define FAKE_MAX_FDS 16
#define FAKE_MAX_FIRINGS_PER_ADVANCE 1000000

struct timer {
	struct evloop *loop;
	timer_cb cb;
	void *opaque;
	uint64_t deadline;
	bool armed;
};

struct fake_fd {
	int fd;
	uint32_t events;
	fd_cb cb;
	void *opaque;
};

struct evloop {
	uint64_t now;
	struct timer *timers[FAKE_MAX_TIMERS];
	struct fake_fd fds[FAKE_MAX_FDS];
	int nfds;
};

struct evloop *evloop_create(void)
{
	struct evloop *loop = calloc(1, sizeof(*loop));

	if (loop)
		loop->now = 1000000000ull; /* not zero, so "deadline 0" bugs show */
	return loop;
}

void evloop_destroy(struct evloop *loop)
{
	free(loop);
}

uint64_t evloop_now_ns(struct evloop *loop)
{
	return loop->now;
}

struct timer *timer_new(struct evloop *loop, timer_cb cb, void *opaque)
{
	for (int i = 0; i < FAKE_MAX_TIMERS; i++) {
		if (loop->timers[i])
			continue;
		loop->timers[i] = calloc(1, sizeof(struct timer));
		if (!loop->timers[i])
			return NULL;
		*loop->timers[i] = (struct timer){ .loop = loop, .cb = cb, .opaque = opaque };
		return loop->timers[i];
	}
	return NULL;
}

void timer_free(struct timer *t)
{
	if (!t)
		return;
	for (int i = 0; i < FAKE_MAX_TIMERS; i++)
		if (t->loop->timers[i] == t)
			t->loop->timers[i] = NULL;
	free(t);
}

void timer_mod(struct timer *t, uint64_t deadline_ns)
{
	t->deadline = deadline_ns;
	t->armed = true;
}

void timer_del(struct timer *t)
{
	t->armed = false;
}

bool timer_pending(struct timer *t)
{
	return t->armed;
}

static struct timer *earliest_due(struct evloop *loop, uint64_t until)
{
	struct timer *best = NULL;

	for (int i = 0; i < FAKE_MAX_TIMERS; i++) {
		struct timer *t = loop->timers[i];
		if (t && t->armed && t->deadline <= until && (!best || t->deadline < best->deadline))
			best = t;
	}
	return best;
}

void fake_evloop_advance(struct evloop *loop, uint64_t ns)
{
	uint64_t until = loop->now + ns;

	for (int n = 0; n < FAKE_MAX_FIRINGS_PER_ADVANCE; n++) {
		struct timer *t = earliest_due(loop, until);
		if (!t)
			break;
		if (t->deadline > loop->now)
			loop->now = t->deadline;
		t->armed = false;
		t->cb(t->opaque);
	}
	loop->now = until;
}

int fake_evloop_pending(struct evloop *loop)
{
	int n = 0;

	for (int i = 0; i < FAKE_MAX_TIMERS; i++)
		if (loop->timers[i] && loop->timers[i]->armed)
			n++;
	return n;
}

int evloop_add_fd(struct evloop *loop, int fd, uint32_t events, fd_cb cb, void *opaque)
{
	if (loop->nfds >= FAKE_MAX_FDS)
		return -ENOSPC;
	loop->fds[loop->nfds++] = (struct fake_fd){ fd, events, cb, opaque };
	return 0;
}

int evloop_mod_fd(struct evloop *loop, int fd, uint32_t events)
{
	for (int i = 0; i < loop->nfds; i++) {
		if (loop->fds[i].fd == fd) {
			loop->fds[i].events = events;
			return 0;
		}
	}
	return -ENOENT;
}

void evloop_del_fd(struct evloop *loop, int fd)
{
	for (int i = 0; i < loop->nfds; i++) {
		if (loop->fds[i].fd == fd) {
			loop->fds[i] = loop->fds[--loop->nfds];
			return;
		}
	}
}

void fake_evloop_fire_fd(struct evloop *loop, int fd, uint32_t events)
{
	for (int i = 0; i < loop->nfds; i++)
		if (loop->fds[i].fd == fd)
			loop->fds[i].cb(loop->fds[i].opaque, events);
}

int evloop_run(struct evloop *loop)
{
	(void)loop;
	return -ENOSYS;
}

void evloop_stop(struct evloop *loop)
{
	(void)loop;
}
