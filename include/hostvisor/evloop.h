/*
 * The I/O thread's event loop: file descriptors (epoll) and timers (one timerfd), DESIGN.md
 * section 5. Device models take time only from here, so unit tests can run them on a fake clock
 * (tests/unit/fake_evloop.c implements this same header with a manual clock).
 *
 * Timer callbacks and fd callbacks run on the I/O thread. A callback takes its device's lock.
 * A timer callback may still run once just after timer_del() when it was already being
 * dispatched; callbacks therefore re-check their device state under the device lock.
 */
#ifndef HOSTVISOR_EVLOOP_H
#define HOSTVISOR_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

struct evloop;
struct timer;

typedef void (*timer_cb)(void *opaque);
typedef void (*fd_cb)(void *opaque, uint32_t events);

struct evloop *evloop_create(void);
void evloop_destroy(struct evloop *loop);

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC in the VM, manual in tests). */
uint64_t evloop_now_ns(struct evloop *loop);

struct timer *timer_new(struct evloop *loop, timer_cb cb, void *opaque);
void timer_free(struct timer *t);
/* Arms (or re-arms) the timer to fire once at the absolute time deadline_ns. */
void timer_mod(struct timer *t, uint64_t deadline_ns);
void timer_del(struct timer *t);
bool timer_pending(struct timer *t);

/* Watches fd for epoll events (EPOLLIN, ...); 0 or negative errno. */
int evloop_add_fd(struct evloop *loop, int fd, uint32_t events, fd_cb cb, void *opaque);
int evloop_mod_fd(struct evloop *loop, int fd, uint32_t events);
void evloop_del_fd(struct evloop *loop, int fd);

/* Runs the loop on the calling thread until evloop_stop(), which it consumes so that it can
 * run again; returns 0 or negative errno. */
int evloop_run(struct evloop *loop);
/* Safe from any thread and from signal-free contexts; the loop returns soon after. */
void evloop_stop(struct evloop *loop);

#endif
