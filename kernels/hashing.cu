// Hashing kernels behind qtk.ops.hashing: Engram's n-gram multiplicative-XOR hash (DeepSeek,
// arXiv 2601.07372) for every order and head in one launch, and SimHash bucket codes (Charikar
// 2002). Both give exactly the torch references' numbers: ngram_hash reproduces
// ngram_hash_ref's int64 arithmetic bit for bit (products wrap modulo 2^64 like torch's int64,
// the result is the floor modulo of the signed value, as torch's `%`); simhash computes each
// x . plane in float32 and sets bit b when it is > 0, so it can differ from simhash_ref only where
// a dot product is within rounding error of zero.
//
// Macros injected by qtk/ops/cupy_loader.py:
//   ELEM_KIND   0 = float32, 1 = float16, 2 = bfloat16: element type of simhash's x and planes
//   SH_WARPS    warps per CTA in simhash
//   SH_VPW      vectors per warp per pass in simhash
//   SH_DCHUNK   dims of x staged in shared memory per pass in simhash
//
// Launch shapes:
//   ngram_hash  1-D, any grid (grid-stride over the B*T*K outputs), any block size; each thread
//               computes one output (b, t, k) from ids[b, t-n+1 .. t]
//   simhash     grid (any, 1), block SH_WARPS*32 (grid-stride over groups of SH_WARPS*SH_VPW
//               vectors); lane b of a warp owns planes b and b+32, a ballot assembles the code

#if ELEM_KIND == 0
typedef float elem_t;
#elif ELEM_KIND == 1 || ELEM_KIND == 2
typedef unsigned short elem_t;  // raw bits: no cuda_fp16.h / cuda_bf16.h needed under NVRTC
#else
#error "ELEM_KIND must be 0 (float32), 1 (float16) or 2 (bfloat16)"
#endif

static_assert(SH_WARPS >= 1 && SH_VPW >= 1 && SH_DCHUNK >= 1, "simhash tile sizes must be positive");
static_assert(4 * (SH_DCHUNK * 64 + SH_WARPS * SH_VPW * SH_DCHUNK) <= 48 * 1024, "simhash: static shared memory over 48 KiB");

__device__ __forceinline__ float to_float(elem_t x) {
#if ELEM_KIND == 0
    return x;
#elif ELEM_KIND == 1
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x));
    return f;
#else
    return __uint_as_float(((unsigned int)x) << 16);
#endif
}

// Floor modulo of the signed value a by p >= 1 (torch's int64 `%`), by a Barrett reduction, so
// no 64-bit division runs on the GPU: magic = floor((2^64 - 1) / p) >= (2^64 - p) / p, hence
// |a| * magic / 2^64 > |a| / p - 1 and q = umulhi(|a|, magic) is floor(|a| / p) or one less;
// one conditional subtraction finishes the remainder.
__device__ __forceinline__ long long floor_mod(long long a, unsigned long long p, unsigned long long magic) {
    const unsigned long long ua = a < 0 ? 0ull - (unsigned long long)a : (unsigned long long)a;
    unsigned long long r = ua - __umul64hi(ua, magic) * p;
    if (r >= p) r -= p;
    return (long long)(a < 0 && r != 0 ? p - r : r);
}

// out (B, T, K) int64: out[b, t, k] = floor_mod(XOR_{j < order[k]} (ids[b, t-j] + 1) * mult[k, j],
// size[k]), where ids before the start of the row contribute nothing. mult (K, max_order) int64;
// order (K) int32; size (K) int64 >= 1; magic (K) uint64 = floor((2^64 - 1) / size).
extern "C" __global__ void ngram_hash(const long long* __restrict__ ids, const long long* __restrict__ mult,
                                      const int* __restrict__ order, const long long* __restrict__ size,
                                      const unsigned long long* __restrict__ magic, long long* __restrict__ out,
                                      int T, int K, int max_order, long long total) {
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        const int kk = (int)(e % K);
        const long long bt = e / K;
        const int t = (int)(bt % T);
        const long long* row = ids + (bt - t);  // ids[b, 0]
        unsigned long long acc = 0ull;  // unsigned: wraps modulo 2^64 exactly like torch's int64
        for (int j = 0; j < order[kk] && j <= t; ++j)
            acc ^= ((unsigned long long)row[t - j] + 1ull) * (unsigned long long)mult[kk * max_order + j];
        out[e] = floor_mod((long long)acc, (unsigned long long)size[kk], magic[kk]);
    }
}

// codes (N) int64: bit b set when x[n] . planes[:, b] > 0. x (N, D), planes (D, r), r <= 62.
extern "C" __global__ void __launch_bounds__(SH_WARPS * 32)
simhash(const elem_t* __restrict__ x, const elem_t* __restrict__ planes, long long* __restrict__ codes,
        long long N, int D, int r) {
    constexpr int NT = SH_WARPS * 32, NV = SH_WARPS * SH_VPW;
    __shared__ float sPl[SH_DCHUNK * 64];  // planes[d0 + dd, b] at dd*64 + b, zero past r
    __shared__ float sX[NV * SH_DCHUNK];   // x[base + vv, d0 + dd] at vv*SH_DCHUNK + dd
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
    const bool one_chunk = D <= SH_DCHUNK;  // then the planes are loaded once per CTA

    for (long long base = (long long)blockIdx.x * NV; base < N; base += (long long)gridDim.x * NV) {
        float acc[SH_VPW][2];
#pragma unroll
        for (int vv = 0; vv < SH_VPW; ++vv) acc[vv][0] = acc[vv][1] = 0.f;
        for (int d0 = 0; d0 < D; d0 += SH_DCHUNK) {
            const int dn = min(SH_DCHUNK, D - d0);
            __syncthreads();  // the previous chunk is no longer read
            if (!one_chunk || base == (long long)blockIdx.x * NV) {
                for (int e = threadIdx.x; e < SH_DCHUNK * 64; e += NT) {
                    const int dd = e / 64, b = e % 64;
                    sPl[e] = (dd < dn && b < r) ? to_float(planes[(size_t)(d0 + dd) * r + b]) : 0.f;
                }
            }
            for (int e = threadIdx.x; e < NV * SH_DCHUNK; e += NT) {
                const int vv = e / SH_DCHUNK, dd = e % SH_DCHUNK;
                const long long n = base + vv;
                sX[e] = (n < N && dd < dn) ? to_float(x[(size_t)n * D + d0 + dd]) : 0.f;
            }
            __syncthreads();
#pragma unroll
            for (int vv = 0; vv < SH_VPW; ++vv) {
                const float* xr = sX + (w * SH_VPW + vv) * SH_DCHUNK;
                for (int dd = 0; dd < dn; ++dd) {
                    const float xv = xr[dd];
                    acc[vv][0] += xv * sPl[dd * 64 + lane];
                    acc[vv][1] += xv * sPl[dd * 64 + 32 + lane];
                }
            }
        }
#pragma unroll
        for (int vv = 0; vv < SH_VPW; ++vv) {
            const unsigned int lo = __ballot_sync(0xffffffffu, lane < r && acc[vv][0] > 0.f);
            const unsigned int hi = __ballot_sync(0xffffffffu, lane + 32 < r && acc[vv][1] > 0.f);
            const long long n = base + w * SH_VPW + vv;
            if (lane == 0 && n < N) codes[n] = (long long)(((unsigned long long)hi << 32) | lo);
        }
    }
}
