#ifndef RUNBOOK_CZEROMQ_SHIM_H
#define RUNBOOK_CZEROMQ_SHIM_H

#include <zmq.h>
#include <stdint.h>

// A stable socket option of libzmq 4.3 whose number zmq.h defines only with the draft API: a
// socket with a ZAP domain refuses peers when no ZAP handler answers, instead of letting them in.
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

// zmq_setsockopt and zmq_getsockopt take untyped pointers: one typed wrapper per value type.

static inline int runbook_zmq_set_int(void *socket, int option, int value) {
    return zmq_setsockopt(socket, option, &value, sizeof value);
}

static inline int runbook_zmq_set_int64(void *socket, int option, int64_t value) {
    return zmq_setsockopt(socket, option, &value, sizeof value);
}

static inline int runbook_zmq_set_bytes(void *socket, int option, const void *value, size_t length) {
    return zmq_setsockopt(socket, option, value, length);
}

static inline int runbook_zmq_get_int(void *socket, int option, int *value) {
    size_t length = sizeof *value;
    return zmq_getsockopt(socket, option, value, &length);
}

static inline int runbook_zmq_get_bytes(void *socket, int option, void *value, size_t *length) {
    return zmq_getsockopt(socket, option, value, length);
}

// A monitor event's first frame: a 16-bit event id then a 32-bit value, unaligned.
static inline uint16_t runbook_zmq_event_id(const void *frame) {
    uint16_t id;
    __builtin_memcpy(&id, frame, sizeof id);
    return id;
}

static inline uint32_t runbook_zmq_event_value(const void *frame) {
    uint32_t value;
    __builtin_memcpy(&value, (const char *)frame + 2, sizeof value);
    return value;
}

#endif
