/* A manual clock behind include/hostvisor/evloop.h, for unit tests and fuzzers. */
#ifndef TESTS_FAKE_EVLOOP_H
#define TESTS_FAKE_EVLOOP_H

#include "hostvisor/evloop.h"

/* Moves the clock forward by ns, firing every timer that falls due, in deadline order. */
void fake_evloop_advance(struct evloop *loop, uint64_t ns);
/* Number of armed timers. */
int fake_evloop_pending(struct evloop *loop);
/* Fires the fd callback registered for fd as if epoll reported events. */
void fake_evloop_fire_fd(struct evloop *loop, int fd, uint32_t events);

#endif
