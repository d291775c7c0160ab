/* libFuzzer harness for the p2v wire protocol: an arbitrary byte stream is
 * cut into frames exactly as a connection reads them (header checked, then
 * a body of the announced length) and every frame is decoded; a decoded
 * message must encode back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "p2v/proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t enc[P2V_ENCODE_BUF];
    while (size >= P2V_HEADER_SIZE) {
        enum p2v_msg_type type;
        int len = p2v_header_decode(data, &type, NULL);
        if (len < 0 || (size_t)len > size - P2V_HEADER_SIZE)
            break;
        const uint8_t *body = data + P2V_HEADER_SIZE;
        struct p2v_msg m;
        if (p2v_msg_decode(type, body, (size_t)len, &m, NULL) == 0) {
            const uint8_t *tail;
            size_t tail_len;
            size_t n = p2v_msg_encode(&m, enc, &tail, &tail_len);
            /* ERROR text is sanitised on decode, so only its length holds. */
            if (n + tail_len != P2V_HEADER_SIZE + (size_t)len)
                abort();
            if (type != P2V_MSG_ERROR &&
                (memcmp(enc + P2V_HEADER_SIZE, body, n - P2V_HEADER_SIZE) != 0 ||
                 (tail_len && memcmp(tail, body + (n - P2V_HEADER_SIZE), tail_len) != 0)))
                abort();
        }
        data += P2V_HEADER_SIZE + (size_t)len;
        size -= P2V_HEADER_SIZE + (size_t)len;
    }
    return 0;
}
