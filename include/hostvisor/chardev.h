/*
 * Character backends for serial ports: "stdio" (the terminal in raw mode, restored on every exit
 * path), "file:PATH" (output only), "unix:PATH" (a listening UNIX stream socket; one client at a
 * time), "null". Input arrives on the event loop thread and is offered to a receiver, which takes
 * what it has room for; the backend stops reading until chardev_input_ready() says there is room.
 */
#ifndef HOSTVISOR_CHARDEV_H
#define HOSTVISOR_CHARDEV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hostvisor/evloop.h"

struct chardev;

/* Returns bytes taken (0..len). */
typedef size_t (*chardev_receive_fn)(void *opaque, const uint8_t *buf, size_t len);

/* NULL on error with one clear line in err. */
struct chardev *chardev_open(struct evloop *loop, const char *spec, char *err, size_t errlen);
void chardev_close(struct chardev *chr);

/*
 * Added for the uart helper: a backend over file descriptors the caller already has (an inherited
 * fd, a socketpair in tests). Takes ownership: chardev_close closes them (once if equal). in_fd or
 * out_fd may be -1 (no input / output dropped). End of file on in_fd stops input for good.
 */
struct chardev *chardev_open_fd(struct evloop *loop, int in_fd, int out_fd);
/* Added: bytes of output dropped so far (stalled reader, no unix client, write errors). */
uint64_t chardev_dropped_bytes(struct chardev *chr);

/* Never blocks the vCPU for long: output that cannot be written now is dropped and counted. */
ssize_t chardev_write(struct chardev *chr, const void *buf, size_t len);
void chardev_set_receiver(struct chardev *chr, chardev_receive_fn fn, void *opaque);
void chardev_input_ready(struct chardev *chr);

/* stdio only: the user typed the quit sequence (Ctrl-A x); called on the event loop thread. */
void chardev_set_quit_handler(struct chardev *chr, void (*quit)(void *opaque), void *opaque);

#endif
