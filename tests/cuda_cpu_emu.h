// Runs the CUDA C kernels of kernels/*.cu on the CPU, for tests on machines without a GPU.
//
// Every CUDA thread of a block is a std::thread; blocks run one after another (the same threads,
// a barrier between blocks), so a function-local static is exactly one block's shared memory. __syncthreads is a barrier over
// the block, the warp intrinsics (__shfl_xor_sync, __ballot_sync) exchange values through a
// per-warp buffer between two warp barriers, atomicAdd is a compare-and-swap loop. What this
// cannot show: timing, bank conflicts, register limits, warp-synchronous code that omits a
// barrier (the kernels have none), and reads of shared memory a block never wrote (it holds zeros
// or the previous block's values, not garbage). Built with -fsanitize=address,undefined, it does
// catch out-of-bounds accesses to the arrays and misaligned float4/uint4/uint2 accesses, which
// the vector types' alignas makes undefined behaviour here as they are faults on a GPU.
#pragma once

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

using std::max;
using std::min;

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};
struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(16) uint4 {
    unsigned int x, y, z, w;
};
struct alignas(8) uint2 {
    unsigned int x, y;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

namespace emu {
struct Warp {
    std::unique_ptr<std::barrier<>> bar;
    float f[32];
    int i[32];
};
struct Block {
    std::unique_ptr<std::barrier<>> bar;
    std::vector<Warp> warps;
};
inline thread_local dim3 thread_idx, block_idx;
inline dim3 block_dim, grid_dim;
inline Block* block;

inline Warp& warp() { return block->warps[thread_idx.x / 32]; }

// Run kernel() for every thread of a grid of 1-D blocks (grid may be 2-D): one std::thread per
// thread of a block, which runs the blocks in turn with a block barrier between them.
inline void launch(dim3 grid, unsigned threads, const std::function<void()>& kernel) {
    grid_dim = grid;
    block_dim = dim3{threads, 1, 1};
    Block b;
    b.bar = std::make_unique<std::barrier<>>(threads);
    for (unsigned w = 0; w * 32 < threads; ++w) {
        b.warps.emplace_back();
        b.warps.back().bar = std::make_unique<std::barrier<>>(std::min(32u, threads - 32 * w));
    }
    block = &b;
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
        pool.emplace_back([=, &kernel, &b] {
            thread_idx = dim3{t, 0, 0};
            for (unsigned by = 0; by < grid.y; ++by)
                for (unsigned bx = 0; bx < grid.x; ++bx) {
                    block_idx = dim3{bx, by, 0};
                    kernel();
                    b.bar->arrive_and_wait();  // the next block reuses the statics (shared memory)
                }
        });
    for (auto& th : pool) th.join();
}
}  // namespace emu

#define threadIdx emu::thread_idx
#define blockIdx emu::block_idx
#define blockDim emu::block_dim
#define gridDim emu::grid_dim
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

// A thread that returns early would leave the block barrier waiting: the kernels only return
// early as a whole block, before any barrier.
inline void __syncthreads() { emu::block->bar->arrive_and_wait(); }

inline float __shfl_xor_sync(unsigned, float v, int lane_mask) {
    emu::Warp& w = emu::warp();
    const int lane = emu::thread_idx.x % 32;
    w.f[lane] = v;
    w.bar->arrive_and_wait();
    const float r = w.f[lane ^ lane_mask];
    w.bar->arrive_and_wait();
    return r;
}

inline unsigned int __ballot_sync(unsigned, int pred) {
    emu::Warp& w = emu::warp();
    const int lane = emu::thread_idx.x % 32;
    w.i[lane] = pred ? 1 : 0;
    w.bar->arrive_and_wait();
    unsigned int bits = 0;
    const unsigned n = std::min(32u, emu::block_dim.x - 32 * (emu::thread_idx.x / 32));
    for (unsigned l = 0; l < n; ++l) bits |= (unsigned)w.i[l] << l;
    w.bar->arrive_and_wait();
    return bits;
}

inline float atomicAdd(float* p, float v) {
    std::atomic_ref<float> a(*p);
    float old = a.load();
    while (!a.compare_exchange_weak(old, old + v)) {
    }
    return old;
}

inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
inline float __uint_as_float(unsigned int u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline unsigned int __float_as_uint(float f) {
    unsigned int u;
    std::memcpy(&u, &f, 4);
    return u;
}
