/*
 * trace/crc32c.h: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, initial value and
 * final xor 0xFFFFFFFF; crc32c("123456789") = 0xE3069283), the checksum of every chunk and
 * header of a heaplab.trace/1 file.
 *
 * Shared by the recorder (shim/), which must not allocate or call anything that might, and
 * the reader, so it is a header of static functions. x86-64 CPUs with SSE4.2 compute it with
 * the crc32 instruction (8 bytes per instruction, about 0.4 cycle per byte); elsewhere a
 * 16-entry table is used, two lookups per byte.
 */
#ifndef HEAPLAB_TRACE_CRC32C_H
#define HEAPLAB_TRACE_CRC32C_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static const uint32_t crc32c_nibble[16] = {
    0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
    0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9, 0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

/* Table version: continue the (non-inverted) register `c` over data[0..n). */
static inline uint32_t crc32c_soft(uint32_t c, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        c = (c >> 4) ^ crc32c_nibble[c & 15];
        c = (c >> 4) ^ crc32c_nibble[c & 15];
    }
    return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static inline uint32_t crc32c_hw(uint32_t c, const uint8_t *p,
                                                                   size_t n)
{
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c64 = __builtin_ia32_crc32di(c64, w);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
    while (n--)
        c = __builtin_ia32_crc32qi(c, *p++);
    return c;
}

/* 1 when the CPU has SSE4.2. cpuid runs once per process (it traps in a VM); the cached
 * answer is a relaxed atomic so concurrent first calls are well defined. */
static inline int crc32c_have_hw(void)
{
    static _Atomic int state; /* 0 unknown, 1 no, 2 yes */
    int s = atomic_load_explicit(&state, memory_order_relaxed);
    if (s == 0) {
        __builtin_cpu_init();
        s = __builtin_cpu_supports("sse4.2") ? 2 : 1;
        atomic_store_explicit(&state, s, memory_order_relaxed);
    }
    return s == 2;
}
#endif

/* Extend `crc`, the CRC-32C of some bytes, over data[0..n) (crc = 0 to start). */
static inline uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
#if defined(__x86_64__)
    if (crc32c_have_hw()) return ~crc32c_hw(~crc, p, n);
#endif
    return ~crc32c_soft(~crc, p, n);
}

/* CRC-32C of data[0..n). */
static inline uint32_t crc32c(const void *data, size_t n)
{
    return crc32c_extend(0, data, n);
}

#endif
