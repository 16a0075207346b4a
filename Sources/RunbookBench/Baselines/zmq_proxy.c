/* The baseline of the telemetry bridge benchmark: libzmq's own proxy between the same socket
 * types and high-water marks as the bridge (PULL in, PUB out), with nothing else to do.
 * Usage: zmq_proxy IN_ENDPOINT OUT_ENDPOINT */
#include <stdio.h>
#include <zmq.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s IN_ENDPOINT OUT_ENDPOINT\n", argv[0]);
        return 2;
    }
    void *context = zmq_ctx_new();
    void *in = zmq_socket(context, ZMQ_PULL);
    void *out = zmq_socket(context, ZMQ_PUB);
    int receive = 100000, send = 100000;
    zmq_setsockopt(in, ZMQ_RCVHWM, &receive, sizeof receive);
    zmq_setsockopt(out, ZMQ_SNDHWM, &send, sizeof send);
    if (zmq_bind(in, argv[1]) != 0 || zmq_bind(out, argv[2]) != 0) {
        fprintf(stderr, "bind: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    zmq_proxy(in, out, NULL);
    return 0;
}
