/* Size limits of the RPC envelopes in proto/rpc.proto (RpcRequest, RpcResponse), shared by every
 * module that sends or serves calls. A body of SH_RPC_MAX_BODY_BYTES must hold the largest onion
 * packet (the 256 KiB payload bucket plus its header), and a whole envelope is bounded so that a
 * receiver can cap reassembly before it has parsed anything. */
#ifndef SH_WIRE_RPC_H
#define SH_WIRE_RPC_H

#define SH_RPC_MAX_BODY_BYTES (512u * 1024u)
/* Method names: 1 to 64 characters from [a-z0-9_.-]. */
#define SH_RPC_MAX_METHOD_BYTES 64u
/* Longer error messages are cut to this length by the sender and rejected by the receiver. */
#define SH_RPC_MAX_ERROR_MESSAGE_BYTES 256u
/* Every call has a deadline between 1 ms and 10 minutes (long-polls stay well under it). */
#define SH_RPC_MAX_DEADLINE_MS (10u * 60u * 1000u)
/* Room for everything but the body: field tags, varints (10 bytes at most each), the method or
 * error message with its length. */
#define SH_RPC_ENVELOPE_OVERHEAD_BYTES 1024u
#define SH_RPC_MAX_ENVELOPE_BYTES (SH_RPC_MAX_BODY_BYTES + SH_RPC_ENVELOPE_OVERHEAD_BYTES)

/* Largest onion packet the RPC layer must carry: the 256 KiB payload bucket and headroom for the
 * Sphinx header (overview.md "Onion routing"). */
#define SH_RPC_ONION_PACKET_ROOM_BYTES (256u * 1024u + 16u * 1024u)

_Static_assert(SH_RPC_MAX_BODY_BYTES >= SH_RPC_ONION_PACKET_ROOM_BYTES,
               "an RPC body must hold the largest onion packet");
/* id, status/deadline: tag + 10-byte varint each; method or message: tag + 2-byte length + text;
 * body: tag + 4-byte length. */
_Static_assert(SH_RPC_ENVELOPE_OVERHEAD_BYTES >=
                   2 * (1 + 10) + (1 + 2 + SH_RPC_MAX_ERROR_MESSAGE_BYTES) + (1 + 4),
               "the envelope overhead must cover every field but the body");
_Static_assert(SH_RPC_MAX_ERROR_MESSAGE_BYTES >= SH_RPC_MAX_METHOD_BYTES,
               "the overhead bound above uses the longer of the two strings");

#endif
