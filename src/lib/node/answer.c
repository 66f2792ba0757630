/* Answers of the storage API (proto/storage.proto): decoding on the client side, with every
 * size checked (a node is not trusted to send well-formed answers). Field 1 of every answer is
 * the node's clock, so sh_node_answer_time reads it from any of them. */
#include <stdlib.h>
#include <string.h>

#include "node/request.h"
#include "storage.pb-c.h"
#include "util/err.h"
#include "wire/pb.h"

int sh_node_answer_time(const uint8_t *body, size_t len, int64_t *node_time_ms,
                        uint32_t *pow_bits)
{
    /* Any answer decodes as an ErrorResponse: field 1 is the time in all of them, and the
     * other fields are skipped as unknown. */
    Shoal__Storage__ErrorResponse *m =
        shoal__storage__error_response__unpack(NULL, len, body);

    if (m == NULL)
        return sh_err_set(SH_ERR_FORMAT, "the node's answer is not a valid storage answer");
    *node_time_ms = m->node_time_ms > INT64_MAX ? 0 : (int64_t)m->node_time_ms;
    if (pow_bits != NULL)
        *pow_bits = m->pow_bits;
    shoal__storage__error_response__free_unpacked(m, NULL);
    return SH_OK;
}

int sh_node_stored_parse(const uint8_t *body, size_t len, sh_node_stored *out)
{
    Shoal__Storage__StoreResponse *m;
    int rc = sh_wire_unpack(&shoal__storage__store_response__descriptor, body, len,
                            "store answer", (ProtobufCMessage **)&m);

    if (rc != SH_OK)
        return rc;
    if ((rc = sh_wire_need_len(m->hash, SH_STORE_HASH_BYTES, "the stored hash")) == SH_OK) {
        if (m->outcome < SH_STORE_STORED || m->outcome > SH_STORE_SUPERSEDED ||
            m->expiry_ms > INT64_MAX) {
            rc = sh_err_set(SH_ERR_FORMAT, "the store answer's outcome or expiry is out of range");
        } else {
            memcpy(out->hash, m->hash.data, SH_STORE_HASH_BYTES);
            out->outcome = (sh_store_outcome)m->outcome;
            out->expiry_ms = (int64_t)m->expiry_ms;
        }
    }
    sh_wire_free(m);
    return rc;
}

void sh_node_page_free(sh_node_page *p)
{
    free(p->msgs);
    sh_buf_free(&p->arena);
    memset(p, 0, sizeof *p);
}

static int page_message(sh_node_page *out, size_t i, const Shoal__Storage__Message *m,
                        const uint8_t owner[static 33], int16_t ns, size_t *offset)
{
    sh_store_msg *msg = &out->msgs[i];

    if (m->hash.len != SH_STORE_HASH_BYTES || m->timestamp_ms > INT64_MAX ||
        m->expiry_ms > INT64_MAX || m->data.len > SH_STORE_MAX_DATA_BYTES)
        return sh_err_set(SH_ERR_FORMAT, "message %zu of the page is malformed", i);
    memcpy(msg->owner, owner, SH_STORE_OWNER_BYTES);
    msg->ns = ns;
    memcpy(msg->hash, m->hash.data, SH_STORE_HASH_BYTES);
    msg->timestamp_ms = (int64_t)m->timestamp_ms;
    msg->expiry_ms = (int64_t)m->expiry_ms;
    msg->data_len = m->data.len;
    if (m->data.len != 0)
        memcpy(out->arena.data + *offset, m->data.data, m->data.len);
    msg->data = (const uint8_t *)(uintptr_t)*offset; /* made a pointer once the arena is final */
    *offset += m->data.len;
    return SH_OK;
}

static int page_fill(sh_node_page *out, const Shoal__Storage__RetrieveResponse *m,
                     const uint8_t owner[static 33], int16_t ns)
{
    size_t total = 0, offset = 0;
    uint8_t *p;
    int rc;

    if (m->n_messages > SH_STORE_PAGE_MAX_COUNT)
        return sh_err_set(SH_ERR_FORMAT, "the page has %zu messages, over the limit", m->n_messages);
    for (size_t i = 0; i < m->n_messages; i++)
        total += m->messages[i]->data.len;
    if ((rc = sh_buf_extend(&out->arena, total, &p)) != SH_OK)
        return rc;
    if (m->n_messages != 0 && (out->msgs = calloc(m->n_messages, sizeof *out->msgs)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a page");
    for (size_t i = 0; i < m->n_messages; i++)
        if ((rc = page_message(out, i, m->messages[i], owner, ns, &offset)) != SH_OK)
            return rc;
    for (size_t i = 0; i < m->n_messages; i++)
        out->msgs[i].data = out->msgs[i].data_len != 0
                                ? out->arena.data + (uintptr_t)out->msgs[i].data
                                : NULL;
    out->count = m->n_messages;
    if (m->next != NULL) {
        if (m->next->timestamp_ms > INT64_MAX ||
            (m->next->hash.len != SH_STORE_HASH_BYTES && m->next->hash.len != 0))
            return sh_err_set(SH_ERR_FORMAT, "the page's next cursor is malformed");
        out->next.timestamp_ms = (int64_t)m->next->timestamp_ms;
        if (m->next->hash.len != 0)
            memcpy(out->next.hash, m->next->hash.data, SH_STORE_HASH_BYTES);
    }
    out->more = m->more;
    return SH_OK;
}

int sh_node_page_parse(const uint8_t *body, size_t len, const uint8_t owner[static 33], int16_t ns,
                       sh_node_page *out)
{
    Shoal__Storage__RetrieveResponse *m;
    int rc;

    memset(out, 0, sizeof *out);
    sh_buf_init(&out->arena);
    rc = sh_wire_unpack(&shoal__storage__retrieve_response__descriptor, body, len,
                        "retrieve answer", (ProtobufCMessage **)&m);
    if (rc != SH_OK)
        return rc;
    rc = page_fill(out, m, owner, ns);
    sh_wire_free(m);
    if (rc != SH_OK)
        sh_node_page_free(out);
    return rc;
}

void sh_node_changed_free(sh_node_changed *c)
{
    free(c->deleted);
    free(c->expiries);
    memset(c, 0, sizeof *c);
}

int sh_node_changed_parse(const uint8_t *body, size_t len, sh_node_method method,
                          sh_node_changed *out)
{
    const ProtobufCMessageDescriptor *d = method == SH_NODE_DELETE
                                              ? &shoal__storage__delete_response__descriptor
                                              : &shoal__storage__expire_response__descriptor;
    ProtobufCMessage *m;
    size_t n;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = sh_wire_unpack(d, body, len, "delete or expire answer", &m)) != SH_OK)
        return rc;
    if (method == SH_NODE_DELETE) {
        Shoal__Storage__DeleteResponse *r = (Shoal__Storage__DeleteResponse *)m;
        n = out->n = r->n_deleted;
        out->count = r->count;
        if (n > SH_STORE_MAX_HASHES_PER_REQUEST)
            rc = sh_err_set(SH_ERR_FORMAT, "the answer lists too many hashes");
        else if (n != 0 && (out->deleted = calloc(n, sizeof *out->deleted)) == NULL)
            rc = sh_err_set(SH_ERR_NOMEM, "out of memory for an answer");
        for (size_t i = 0; rc == SH_OK && i < n; i++)
            out->deleted[i] = r->deleted[i];
    } else {
        Shoal__Storage__ExpireResponse *r = (Shoal__Storage__ExpireResponse *)m;
        n = out->n = r->n_expiries;
        out->count = r->count;
        if (n > SH_STORE_MAX_HASHES_PER_REQUEST)
            rc = sh_err_set(SH_ERR_FORMAT, "the answer lists too many hashes");
        else if (n != 0 && (out->expiries = calloc(n, sizeof *out->expiries)) == NULL)
            rc = sh_err_set(SH_ERR_NOMEM, "out of memory for an answer");
        for (size_t i = 0; rc == SH_OK && i < n; i++)
            out->expiries[i] = r->expiries[i] > INT64_MAX ? 0 : (int64_t)r->expiries[i];
    }
    sh_wire_free(m);
    if (rc != SH_OK)
        sh_node_changed_free(out);
    return rc;
}

int sh_node_info_parse(const uint8_t *body, size_t len, sh_node_info *out)
{
    Shoal__Storage__InfoResponse *m;
    int rc = sh_wire_unpack(&shoal__storage__info_response__descriptor, body, len, "info answer",
                            (ProtobufCMessage **)&m);

    if (rc != SH_OK)
        return rc;
    memset(out, 0, sizeof *out);
    if (m->identity_key.len != 32 || m->link_key.len != 32 ||
        strlen(m->version) >= sizeof out->version) {
        rc = sh_err_set(SH_ERR_FORMAT, "the info answer's keys or version are malformed");
    } else {
        strcpy(out->version, m->version);
        memcpy(out->identity_key, m->identity_key.data, 32);
        memcpy(out->link_key, m->link_key.data, 32);
        out->pow_bits = m->pow_bits;
        out->max_data_bytes = m->max_data_bytes;
        out->max_msgs_per_ns = m->max_msgs_per_ns;
        out->max_bytes_per_ns = m->max_bytes_per_ns;
        out->max_clock_skew_ms = m->max_clock_skew_ms;
        out->max_future_ms = m->max_future_ms;
        out->max_wait_ms = m->max_wait_ms;
        out->page_max_count = m->page_max_count;
        out->page_max_bytes = m->page_max_bytes;
        out->max_hashes = m->max_hashes;
    }
    sh_wire_free(m);
    return rc;
}

int sh_node_stats_parse(const uint8_t *body, size_t len, sh_buf *out)
{
    Shoal__Storage__StatsResponse *m;
    int rc = sh_wire_unpack(&shoal__storage__stats_response__descriptor, body, len,
                            "stats answer", (ProtobufCMessage **)&m);

    if (rc != SH_OK)
        return rc;
    rc = sh_buf_append(out, m->text, strlen(m->text) + 1);
    sh_wire_free(m);
    return rc;
}
