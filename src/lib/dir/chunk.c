/* Blobs larger than one RPC body (maps up to 5 MiB, diffs, votes) travel in slices of
 * SH_DIR_CHUNK_BYTES (docs/directory.md "Protocol"). The first reply names the blob by its
 * BLAKE2b-256 digest and size; the caller asks for the following slices of that digest, so a
 * server that moved to a newer map meanwhile either still has the old blob or says NOT_FOUND,
 * and the caller starts again. The caller appends slices strictly in order and checks the
 * digest when the last one arrives. */
#include "dir/rpc.h"

#include <sodium.h>
#include <string.h>

#include "util/err.h"

int sh__dir_chunk_slice(const uint8_t *blob, size_t len, const uint8_t digest[static SH_DIR_HASH_BYTES],
                        const sh__dir_blob_req *req, size_t chunk_bytes, sh__dir_chunk *chunk)
{
    size_t n;

    if (req->has_digest && sodium_memcmp(req->digest, digest, SH_DIR_HASH_BYTES) != 0)
        return sh_err_set(SH_ERR_NOT_FOUND, "that blob is no longer served; start again");
    if (req->offset >= len)
        return sh_err_set(SH_ERR_RANGE, "offset %llu is past the end of the %zu-byte blob",
                          (unsigned long long)req->offset, len);
    n = len - (size_t)req->offset;
    if (n > chunk_bytes)
        n = chunk_bytes;
    chunk->present = true;
    chunk->total = len;
    chunk->offset = req->offset;
    memcpy(chunk->digest, digest, SH_DIR_HASH_BYTES);
    chunk->data = blob + req->offset;
    chunk->len = n;
    return SH_OK;
}

void sh__dir_assembly_init(sh__dir_assembly *a, size_t max)
{
    memset(a, 0, sizeof *a);
    sh_buf_init(&a->data);
    a->max = max;
}

void sh__dir_assembly_free(sh__dir_assembly *a)
{
    sh_buf_free(&a->data);
    a->started = false;
    a->total = 0;
}

int sh__dir_assembly_add(sh__dir_assembly *a, const sh__dir_chunk *c)
{
    uint8_t got[SH_DIR_HASH_BYTES];
    int rc;

    if (!c->present)
        return sh_err_set(SH_ERR_PROTOCOL, "the reply carries no slice of the blob");
    if (c->total > a->max)
        return sh_err_set(SH_ERR_LIMIT, "a blob of %llu bytes is over the %zu-byte limit",
                          (unsigned long long)c->total, a->max);
    if (!a->started) {
        a->started = true;
        a->total = c->total;
        memcpy(a->digest, c->digest, SH_DIR_HASH_BYTES);
    } else if (c->total != a->total || memcmp(c->digest, a->digest, SH_DIR_HASH_BYTES) != 0) {
        return sh_err_set(SH_ERR_PROTOCOL, "a slice of another blob arrived");
    }
    if (c->offset != a->data.len || c->len > a->total - a->data.len)
        return sh_err_set(SH_ERR_PROTOCOL, "a slice at offset %llu arrived where %zu was expected",
                          (unsigned long long)c->offset, a->data.len);
    rc = sh_buf_append(&a->data, c->data, c->len);
    if (rc != SH_OK || !sh__dir_assembly_complete(a))
        return rc;
    sh__dir_hash(got, a->data.data, a->data.len);
    if (memcmp(got, a->digest, SH_DIR_HASH_BYTES) != 0)
        return sh_err_set(SH_ERR_CHECKSUM, "the %zu bytes received do not match the blob's digest",
                          a->data.len);
    return SH_OK;
}

bool sh__dir_assembly_complete(const sh__dir_assembly *a)
{
    return a->started && a->data.len == a->total;
}

void sh__dir_assembly_next(const sh__dir_assembly *a, sh__dir_blob_req *req)
{
    memset(req, 0, sizeof *req);
    if (!a->started)
        return;
    req->has_digest = true;
    memcpy(req->digest, a->digest, SH_DIR_HASH_BYTES);
    req->offset = a->data.len;
}
