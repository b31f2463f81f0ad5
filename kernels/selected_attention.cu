// Block-sparse ("selected") attention: the selected branch of NSA (DeepSeek, Native Sparse
// Attention, arXiv 2502.11089, section 3.3.2), forward and backward, flash-style (online softmax,
// no Tq x Tk matrix, float32 accumulation). Contract of qtk.ops.sparse_attention.selected_attention_ref:
// q (B, H, Tq, D); k, v (B, Hkv, Tk, D); queries are the last Tq of the Tk positions; block_idx
// (B, Hkv, Qb, n) int32 lists the key blocks [blk*block_size, (blk+1)*block_size) that each of the
// Qb query blocks (Lq = Tq / Qb queries each) attends to, causally; -1 = unused slot; no repeats.
// All G = H / Hkv query heads of a GQA group share the selection, so a CTA owns the rows
// (query t, head h) of one selection unit and loads each selected K/V tile once for all of them.
//
// Macros injected by qtk/ops/cupy_loader.py (all required):
//   ELEM_KIND   0 = float32, 1 = float16, 2 = bfloat16: element type of q, k, v, out, dout, dq
//   HEAD_DIM    D: a multiple of 8, at most 128
//   TPR         threads per row (per key in the dK/dV kernel): a power of two dividing 32
//   BLOCK_M     rows (query, head) per CTA in sel_attn_fwd and sel_attn_bwd_dq
//   BLOCK_N     keys per shared-memory tile in sel_attn_fwd
//   DQ_BLOCK_N  keys per shared-memory tile in sel_attn_bwd_dq
//   KV_KEYS     keys per CTA in sel_attn_bwd_dkv
//   KV_ROWS     query rows per shared-memory tile in sel_attn_bwd_dkv
//
// Launch shapes (a selection unit has rows = Lq * G, ordered (t, h): row r is query
// t = unit*Lq + r/G of head h = hk*G + r%G):
//   sel_attn_fwd, sel_attn_bwd_dq  grid (Qb * ceil(rows / BLOCK_M), B * Hkv), block BLOCK_M * TPR
//   sel_attn_bwd_dkv               grid (n_items, ceil(block_size / KV_KEYS)), block KV_KEYS * TPR
// Tensors are contiguous with 16-byte aligned data; lse and delta are float32 (B, H, Tq); lse is
// in base 2 (log2 of the softmax denominator of the base-2 scores q.k * scale * log2(e)), -inf
// for a query that sees no key.
//
// Backward: dQ is computed query-centric (sel_attn_bwd_dq, the forward's layout, no atomics),
// dK/dV key-centric (sel_attn_bwd_dkv). A key block's contributions come from the queries that
// selected it, an irregular inverse of block_idx: the host builds it as a CSR list (sorted units
// per key block) cut into work items of at most `chunk` units. Each CTA accumulates its keys' dK/dV
// over its chunk in registers and adds them with one float atomicAdd per element at the end. That
// is why not "atomics from the query side": NSA always selects block 0 and the local blocks, so
// every query would hit the same few addresses (one atomic per key, dim and query); chunking keeps
// the atomics to one per key, dim and chunk, and splitting long lists (block 0's has every query)
// into chunks keeps one CTA from serialising them.

#if ELEM_KIND == 0
typedef float elem_t;
#define VEC 4  // elements in one 16-byte load
#elif ELEM_KIND == 1 || ELEM_KIND == 2
typedef unsigned short elem_t;  // raw bits: no cuda_fp16.h / cuda_bf16.h needed under NVRTC
#define VEC 8
#else
#error "ELEM_KIND must be 0 (float32), 1 (float16) or 2 (bfloat16)"
#endif

static_assert(HEAD_DIM % 8 == 0 && HEAD_DIM >= 8 && HEAD_DIM <= 128, "HEAD_DIM: a multiple of 8 in [8, 128]");
static_assert(TPR >= 1 && TPR <= 32 && 32 % TPR == 0, "TPR must divide 32 (a row's lanes stay in one warp)");
static_assert(BLOCK_N % TPR == 0 && DQ_BLOCK_N % TPR == 0 && KV_ROWS % TPR == 0, "tiles split evenly over a row's lanes");
static_assert((BLOCK_M * TPR) % 32 == 0 && (KV_KEYS * TPR) % 32 == 0, "whole warps: the shuffles use a full mask");

#define LD (HEAD_DIM + 4)            // float row stride of a tile: 16-byte rows, conflict-free float4 reads
#define NCH (HEAD_DIM / 4)           // float4 chunks in a row
#define CPT ((NCH + TPR - 1) / TPR)  // chunks per lane in the O / dQ / dK / dV accumulators
#define FULL_MASK 0xffffffffu
#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f
#define NEG_INF (__uint_as_float(0xff800000u))

static_assert(4 * (BLOCK_M * LD + 2 * BLOCK_N * LD + BLOCK_M * (BLOCK_N + 1)) <= 48 * 1024,
              "sel_attn_fwd: static shared memory over 48 KiB");
static_assert(4 * (2 * BLOCK_M * LD + 2 * DQ_BLOCK_N * LD + BLOCK_M * (DQ_BLOCK_N + 1)) <= 48 * 1024,
              "sel_attn_bwd_dq: static shared memory over 48 KiB");
static_assert(4 * (2 * KV_KEYS * LD + 2 * KV_ROWS * LD + 2 * KV_KEYS * (KV_ROWS + 1) + 3 * KV_ROWS) <= 48 * 1024,
              "sel_attn_bwd_dkv: static shared memory over 48 KiB");

// ---------------------------------------------------------------- element conversion and I/O
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

__device__ __forceinline__ elem_t from_float(float f) {
#if ELEM_KIND == 0
    return f;
#elif ELEM_KIND == 1
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
#else
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);  // NaN stays NaN
    u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even, as torch does
    return (unsigned short)(u >> 16);
#endif
}

// VEC consecutive elements (16 bytes, 16-byte aligned) -> dst[0..VEC) as floats times mul.
__device__ __forceinline__ void load_vec(const elem_t* __restrict__ src, float* dst, float mul) {
#if ELEM_KIND == 0
    const float4 a = *reinterpret_cast<const float4*>(src);
    dst[0] = a.x * mul; dst[1] = a.y * mul; dst[2] = a.z * mul; dst[3] = a.w * mul;
#else
    const uint4 a = *reinterpret_cast<const uint4*>(src);
    const unsigned int w[4] = {a.x, a.y, a.z, a.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {  // little-endian: the lower address is the low half
        dst[2 * i] = to_float((elem_t)(w[i] & 0xffffu)) * mul;
        dst[2 * i + 1] = to_float((elem_t)(w[i] >> 16)) * mul;
    }
#endif
}

// 4 consecutive elements (8- or 16-byte aligned) <-> float4.
__device__ __forceinline__ float4 load4(const elem_t* __restrict__ src) {
#if ELEM_KIND == 0
    return *reinterpret_cast<const float4*>(src);
#else
    const uint2 a = *reinterpret_cast<const uint2*>(src);
    return make_float4(to_float((elem_t)(a.x & 0xffffu)), to_float((elem_t)(a.x >> 16)),
                       to_float((elem_t)(a.y & 0xffffu)), to_float((elem_t)(a.y >> 16)));
#endif
}

__device__ __forceinline__ void store4(elem_t* __restrict__ dst, float4 v) {
#if ELEM_KIND == 0
    *reinterpret_cast<float4*>(dst) = v;
#else
    uint2 w;
    w.x = (unsigned int)from_float(v.x) | ((unsigned int)from_float(v.y) << 16);
    w.y = (unsigned int)from_float(v.z) | ((unsigned int)from_float(v.w) << 16);
    *reinterpret_cast<uint2*>(dst) = w;
#endif
}

__device__ __forceinline__ float dot4(float4 a, float4 b) { return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w; }

// Dot product of two padded float rows in shared memory.
__device__ __forceinline__ float row_dot(const float* __restrict__ a, const float* __restrict__ b) {
    const float4* a4 = reinterpret_cast<const float4*>(a);
    const float4* b4 = reinterpret_cast<const float4*>(b);
    float acc = 0.f;
#pragma unroll
    for (int i = 0; i < NCH; ++i) acc += dot4(a4[i], b4[i]);
    return acc;
}

// Sum / max over the TPR lanes of one row (consecutive lanes of one warp).
__device__ __forceinline__ float row_sum(float x) {
#pragma unroll
    for (int off = TPR / 2; off > 0; off >>= 1) x += __shfl_xor_sync(FULL_MASK, x, off);
    return x;
}

__device__ __forceinline__ float row_max(float x) {
#pragma unroll
    for (int off = TPR / 2; off > 0; off >>= 1) x = fmaxf(x, __shfl_xor_sync(FULL_MASK, x, off));
    return x;
}

// Which query row of a selection unit is where.
struct Rows {
    int b, hk, unit, H, G, Lq, Tq, offset, rows;
    __device__ __forceinline__ bool valid(int r) const { return r < rows; }
    __device__ __forceinline__ int t(int r) const { return unit * Lq + r / G; }
    // index of row r in a (B, H, Tq) array; times HEAD_DIM for a (B, H, Tq, D) one
    __device__ __forceinline__ size_t index(int r) const { return (size_t)(b * H + hk * G + r % G) * Tq + t(r); }
    __device__ __forceinline__ int qpos(int r) const { return valid(r) ? offset + t(r) : -1; }  // -1: sees no key
};

// Tile rows [0, ROWS) (stride LD) from ROWS consecutive rows of src; zeros past n_valid.
template <int ROWS, int NT>
__device__ __forceinline__ void load_tile(float* __restrict__ tile, const elem_t* __restrict__ src, int n_valid) {
    constexpr int PER_ROW = HEAD_DIM / VEC;
    for (int e = threadIdx.x; e < ROWS * PER_ROW; e += NT) {
        const int row = e / PER_ROW, col = (e % PER_ROW) * VEC;
        float vals[VEC];
        if (row < n_valid) {
            load_vec(src + (size_t)row * HEAD_DIM + col, vals, 1.f);
        } else {
#pragma unroll
            for (int i = 0; i < VEC; ++i) vals[i] = 0.f;
        }
        float4* dst = reinterpret_cast<float4*>(tile + row * LD + col);
#pragma unroll
        for (int i = 0; i < VEC / 4; ++i) dst[i] = make_float4(vals[4 * i], vals[4 * i + 1], vals[4 * i + 2], vals[4 * i + 3]);
    }
}

// Tile rows [0, ROWS) from the query rows row0 + i of a unit (times mul); zeros for rows past the unit.
template <int ROWS, int NT>
__device__ __forceinline__ void load_query_rows(float* __restrict__ tile, const elem_t* __restrict__ src,
                                                Rows m, int row0, float mul) {
    constexpr int PER_ROW = HEAD_DIM / VEC;
    for (int e = threadIdx.x; e < ROWS * PER_ROW; e += NT) {
        const int row = e / PER_ROW, col = (e % PER_ROW) * VEC;
        float vals[VEC];
        if (m.valid(row0 + row)) {
            load_vec(src + m.index(row0 + row) * HEAD_DIM + col, vals, mul);
        } else {
#pragma unroll
            for (int i = 0; i < VEC; ++i) vals[i] = 0.f;
        }
        float4* dst = reinterpret_cast<float4*>(tile + row * LD + col);
#pragma unroll
        for (int i = 0; i < VEC / 4; ++i) dst[i] = make_float4(vals[4 * i], vals[4 * i + 1], vals[4 * i + 2], vals[4 * i + 3]);
    }
}

// ---------------------------------------------------------------- forward
// Each row (query, head) is owned by TPR consecutive lanes: lane j computes the scores of keys
// j, j+TPR, ... of each tile and holds the output dims of chunks j, j+TPR, ... (4 floats each).
extern "C" __global__ void __launch_bounds__(BLOCK_M * TPR)
sel_attn_fwd(const elem_t* __restrict__ q, const elem_t* __restrict__ k, const elem_t* __restrict__ v,
             const int* __restrict__ block_idx, elem_t* __restrict__ out, float* __restrict__ lse,
             int H, int Hkv, int Tq, int Tk, int Qb, int n_sel, int block_size, float scale_log2) {
    constexpr int NT = BLOCK_M * TPR, SPT = BLOCK_N / TPR, LP = BLOCK_N + 1;
    __shared__ __align__(16) float sQ[BLOCK_M * LD];
    __shared__ __align__(16) float sK[BLOCK_N * LD];
    __shared__ __align__(16) float sV[BLOCK_N * LD];
    __shared__ float sP[BLOCK_M * LP];

    const int G = H / Hkv, Lq = Tq / Qb, rows = Lq * G, tiles = (rows + BLOCK_M - 1) / BLOCK_M;
    const int bh = blockIdx.y, unit = blockIdx.x / tiles, row0 = (blockIdx.x % tiles) * BLOCK_M;
    const Rows m{bh / Hkv, bh % Hkv, unit, H, G, Lq, Tq, Tk - Tq, rows};
    const int r = threadIdx.x / TPR, j = threadIdx.x % TPR;
    const int qpos = m.qpos(row0 + r);
    const int max_qpos = m.qpos(min(row0 + BLOCK_M, rows) - 1);  // rows are ordered by query

    load_query_rows<BLOCK_M, NT>(sQ, q, m, row0, scale_log2);  // scores come out in base 2
    const int* sel = block_idx + ((size_t)bh * Qb + unit) * n_sel;
    const elem_t* kh = k + (size_t)bh * Tk * HEAD_DIM;
    const elem_t* vh = v + (size_t)bh * Tk * HEAD_DIM;

    float4 o[CPT];
#pragma unroll
    for (int c = 0; c < CPT; ++c) o[c] = make_float4(0.f, 0.f, 0.f, 0.f);
    float m_run = NEG_INF, l_part = 0.f;  // running max (same in all lanes of a row), this lane's share of the sum

    for (int s = 0; s < n_sel; ++s) {
        const int blk = sel[s];  // the same for the whole CTA: the branches below do not diverge
        if (blk < 0 || (long long)blk * block_size >= Tk || blk * block_size > max_qpos) continue;
        const int k_begin = blk * block_size, k_end = min(k_begin + block_size, Tk);
        for (int kt = k_begin; kt < k_end; kt += BLOCK_N) {
            const int nk = min(BLOCK_N, k_end - kt);
            __syncthreads();  // the previous tile's sK, sV, sP are no longer read (and sQ is written)
            load_tile<BLOCK_N, NT>(sK, kh + (size_t)kt * HEAD_DIM, nk);
            load_tile<BLOCK_N, NT>(sV, vh + (size_t)kt * HEAD_DIM, nk);
            __syncthreads();

            float sc[SPT];
            float t_max = NEG_INF;
#pragma unroll
            for (int i = 0; i < SPT; ++i) {
                const int c = j + i * TPR;
                const bool vis = c < nk && kt + c <= qpos;
                sc[i] = vis ? row_dot(sQ + r * LD, sK + c * LD) : NEG_INF;
                t_max = fmaxf(t_max, sc[i]);
            }
            const float m_new = fmaxf(m_run, row_max(t_max));
            const bool none = m_new == NEG_INF;  // nothing visible yet: keep everything at zero
            const float alpha = none ? 1.f : exp2f(m_run - m_new);
            float p_sum = 0.f;
#pragma unroll
            for (int i = 0; i < SPT; ++i) {
                const float p = none ? 0.f : exp2f(sc[i] - m_new);
                p_sum += p;
                sP[r * LP + j + i * TPR] = p;
            }
            l_part = l_part * alpha + p_sum;
            m_run = m_new;
#pragma unroll
            for (int c = 0; c < CPT; ++c) { o[c].x *= alpha; o[c].y *= alpha; o[c].z *= alpha; o[c].w *= alpha; }
            __syncthreads();  // the row's probabilities are in sP

            for (int c = 0; c < nk; ++c) {
                const float p = sP[r * LP + c];
                const float4* vrow = reinterpret_cast<const float4*>(sV + c * LD);
#pragma unroll
                for (int cc = 0; cc < CPT; ++cc) {
                    const int ch = j + cc * TPR;
                    if (ch < NCH) {
                        const float4 vv = vrow[ch];
                        o[cc].x += p * vv.x; o[cc].y += p * vv.y; o[cc].z += p * vv.z; o[cc].w += p * vv.w;
                    }
                }
            }
        }
    }

    const float l = row_sum(l_part);
    if (m.valid(row0 + r)) {
        const size_t row = m.index(row0 + r);
        const float inv = l > 0.f ? 1.f / l : 0.f;  // a query that sees no key gets zeros
#pragma unroll
        for (int cc = 0; cc < CPT; ++cc) {
            const int ch = j + cc * TPR;
            if (ch < NCH)
                store4(out + row * HEAD_DIM + 4 * ch, make_float4(o[cc].x * inv, o[cc].y * inv, o[cc].z * inv, o[cc].w * inv));
        }
        if (j == 0) lse[row] = l > 0.f ? m_run + log2f(l) : NEG_INF;
    }
}

// ---------------------------------------------------------------- backward: dQ (and delta)
// The forward's layout. P = 2^(s - lse) is recomputed from the saved lse; dS = P * (dO.V - delta)
// with delta = dO.O per row (written to `delta` for sel_attn_bwd_dkv, which runs after this
// kernel on the same stream); dQ = scale * sum_c dS_c K_c.
extern "C" __global__ void __launch_bounds__(BLOCK_M * TPR)
sel_attn_bwd_dq(const elem_t* __restrict__ q, const elem_t* __restrict__ k, const elem_t* __restrict__ v,
                const elem_t* __restrict__ out, const elem_t* __restrict__ dout, const float* __restrict__ lse,
                const int* __restrict__ block_idx, elem_t* __restrict__ dq, float* __restrict__ delta,
                int H, int Hkv, int Tq, int Tk, int Qb, int n_sel, int block_size, float scale_log2, float scale) {
    constexpr int NT = BLOCK_M * TPR, SPT = DQ_BLOCK_N / TPR, LP = DQ_BLOCK_N + 1;
    __shared__ __align__(16) float sQ[BLOCK_M * LD];
    __shared__ __align__(16) float sdO[BLOCK_M * LD];
    __shared__ __align__(16) float sK[DQ_BLOCK_N * LD];
    __shared__ __align__(16) float sV[DQ_BLOCK_N * LD];
    __shared__ float sS[BLOCK_M * LP];

    const int G = H / Hkv, Lq = Tq / Qb, rows = Lq * G, tiles = (rows + BLOCK_M - 1) / BLOCK_M;
    const int bh = blockIdx.y, unit = blockIdx.x / tiles, row0 = (blockIdx.x % tiles) * BLOCK_M;
    const Rows m{bh / Hkv, bh % Hkv, unit, H, G, Lq, Tq, Tk - Tq, rows};
    const int r = threadIdx.x / TPR, j = threadIdx.x % TPR;
    const bool row_ok = m.valid(row0 + r);
    const size_t row = row_ok ? m.index(row0 + r) : 0;
    const int qpos = m.qpos(row0 + r);
    const int max_qpos = m.qpos(min(row0 + BLOCK_M, rows) - 1);

    load_query_rows<BLOCK_M, NT>(sQ, q, m, row0, scale_log2);
    load_query_rows<BLOCK_M, NT>(sdO, dout, m, row0, 1.f);
    __syncthreads();

    float d_part = 0.f;
    if (row_ok) {
#pragma unroll
        for (int cc = 0; cc < CPT; ++cc) {
            const int ch = j + cc * TPR;
            if (ch < NCH)
                d_part += dot4(load4(out + row * HEAD_DIM + 4 * ch), reinterpret_cast<const float4*>(sdO + r * LD)[ch]);
        }
    }
    const float dlt = row_sum(d_part);
    const float lse_r = row_ok ? lse[row] : NEG_INF;
    if (row_ok && j == 0) delta[row] = dlt;

    const int* sel = block_idx + ((size_t)bh * Qb + unit) * n_sel;
    const elem_t* kh = k + (size_t)bh * Tk * HEAD_DIM;
    const elem_t* vh = v + (size_t)bh * Tk * HEAD_DIM;
    float4 acc[CPT];
#pragma unroll
    for (int c = 0; c < CPT; ++c) acc[c] = make_float4(0.f, 0.f, 0.f, 0.f);

    for (int s = 0; s < n_sel; ++s) {
        const int blk = sel[s];
        if (blk < 0 || (long long)blk * block_size >= Tk || blk * block_size > max_qpos) continue;
        const int k_begin = blk * block_size, k_end = min(k_begin + block_size, Tk);
        for (int kt = k_begin; kt < k_end; kt += DQ_BLOCK_N) {
            const int nk = min(DQ_BLOCK_N, k_end - kt);
            __syncthreads();
            load_tile<DQ_BLOCK_N, NT>(sK, kh + (size_t)kt * HEAD_DIM, nk);
            load_tile<DQ_BLOCK_N, NT>(sV, vh + (size_t)kt * HEAD_DIM, nk);
            __syncthreads();
#pragma unroll
            for (int i = 0; i < SPT; ++i) {
                const int c = j + i * TPR;
                float ds = 0.f;
                if (c < nk && kt + c <= qpos && lse_r != NEG_INF) {
                    const float p = exp2f(row_dot(sQ + r * LD, sK + c * LD) - lse_r);
                    ds = p * (row_dot(sdO + r * LD, sV + c * LD) - dlt);
                }
                sS[r * LP + c] = ds;
            }
            __syncthreads();
            for (int c = 0; c < nk; ++c) {
                const float ds = sS[r * LP + c];
                const float4* krow = reinterpret_cast<const float4*>(sK + c * LD);
#pragma unroll
                for (int cc = 0; cc < CPT; ++cc) {
                    const int ch = j + cc * TPR;
                    if (ch < NCH) {
                        const float4 kk = krow[ch];
                        acc[cc].x += ds * kk.x; acc[cc].y += ds * kk.y; acc[cc].z += ds * kk.z; acc[cc].w += ds * kk.w;
                    }
                }
            }
        }
    }
    if (row_ok) {
#pragma unroll
        for (int cc = 0; cc < CPT; ++cc) {
            const int ch = j + cc * TPR;
            if (ch < NCH)
                store4(dq + row * HEAD_DIM + 4 * ch,
                       make_float4(acc[cc].x * scale, acc[cc].y * scale, acc[cc].z * scale, acc[cc].w * scale));
        }
    }
}

// ---------------------------------------------------------------- backward: dK, dV
// Work item w covers KV_KEYS keys (tile blockIdx.y) of key block kid = item_kid[w] (flattened
// (b*Hkv + hk) * n_blocks + blk) and the selection units units[item_start[w] ..
// item_start[w] + item_count[w]) that selected that block. Each key is owned by TPR lanes; lane j
// computes the pairs (key, row j + i*TPR) of each row tile and holds dK/dV dims of chunks j,
// j+TPR, ... dk, dv are float32 (B, Hkv, Tk, D), zeroed by the caller, added to atomically.
extern "C" __global__ void __launch_bounds__(KV_KEYS * TPR)
sel_attn_bwd_dkv(const elem_t* __restrict__ q, const elem_t* __restrict__ k, const elem_t* __restrict__ v,
                 const elem_t* __restrict__ dout, const float* __restrict__ lse, const float* __restrict__ delta,
                 const int* __restrict__ item_kid, const int* __restrict__ item_start, const int* __restrict__ item_count,
                 const int* __restrict__ units, float* __restrict__ dk, float* __restrict__ dv,
                 int H, int Hkv, int Tq, int Tk, int Qb, int n_blocks, int block_size, float scale_log2) {
    constexpr int NT = KV_KEYS * TPR, RPT = KV_ROWS / TPR, LP = KV_ROWS + 1;
    __shared__ __align__(16) float sK[KV_KEYS * LD];
    __shared__ __align__(16) float sV[KV_KEYS * LD];
    __shared__ __align__(16) float sQ[KV_ROWS * LD];
    __shared__ __align__(16) float sdO[KV_ROWS * LD];
    __shared__ float sP[KV_KEYS * LP];
    __shared__ float sdS[KV_KEYS * LP];
    __shared__ float sLse[KV_ROWS];
    __shared__ float sDelta[KV_ROWS];
    __shared__ int sQpos[KV_ROWS];

    const int kid = item_kid[blockIdx.x];
    const int bh = kid / n_blocks, blk = kid % n_blocks;
    const int k0 = blk * block_size + blockIdx.y * KV_KEYS;
    const int k_end = min(blk * block_size + block_size, Tk);
    const int nk = min(KV_KEYS, k_end - k0);
    if (nk <= 0) return;  // the whole CTA leaves together (tail tile of a short last block)

    const int G = H / Hkv, Lq = Tq / Qb, rows = Lq * G;
    const int c = threadIdx.x / TPR, j = threadIdx.x % TPR;
    load_tile<KV_KEYS, NT>(sK, k + ((size_t)bh * Tk + k0) * HEAD_DIM, nk);
    load_tile<KV_KEYS, NT>(sV, v + ((size_t)bh * Tk + k0) * HEAD_DIM, nk);

    float4 dk_acc[CPT], dv_acc[CPT];
#pragma unroll
    for (int cc = 0; cc < CPT; ++cc) { dk_acc[cc] = make_float4(0.f, 0.f, 0.f, 0.f); dv_acc[cc] = dk_acc[cc]; }

    const int start = item_start[blockIdx.x], count = item_count[blockIdx.x];
    for (int u = 0; u < count; ++u) {
        const Rows m{bh / Hkv, bh % Hkv, units[start + u], H, G, Lq, Tq, Tk - Tq, rows};
        for (int row0 = 0; row0 < rows; row0 += KV_ROWS) {
            if (m.qpos(min(row0 + KV_ROWS, rows) - 1) < k0) continue;  // every query of the tile precedes these keys
            __syncthreads();  // the previous tile is no longer read
            load_query_rows<KV_ROWS, NT>(sQ, q, m, row0, scale_log2);
            load_query_rows<KV_ROWS, NT>(sdO, dout, m, row0, 1.f);
            for (int rr = threadIdx.x; rr < KV_ROWS; rr += NT) {
                const bool ok = m.valid(row0 + rr);
                sLse[rr] = ok ? lse[m.index(row0 + rr)] : NEG_INF;
                sDelta[rr] = ok ? delta[m.index(row0 + rr)] : 0.f;
                sQpos[rr] = m.qpos(row0 + rr);
            }
            __syncthreads();
#pragma unroll
            for (int i = 0; i < RPT; ++i) {
                const int rr = j + i * TPR;
                float p = 0.f, ds = 0.f;
                if (c < nk && k0 + c <= sQpos[rr] && sLse[rr] != NEG_INF) {
                    p = exp2f(row_dot(sQ + rr * LD, sK + c * LD) - sLse[rr]);
                    ds = p * (row_dot(sdO + rr * LD, sV + c * LD) - sDelta[rr]);
                }
                sP[c * LP + rr] = p;
                sdS[c * LP + rr] = ds;
            }
            __syncthreads();
            for (int rr = 0; rr < KV_ROWS; ++rr) {
                const float p = sP[c * LP + rr], ds = sdS[c * LP + rr];
                const float4* qrow = reinterpret_cast<const float4*>(sQ + rr * LD);
                const float4* dorow = reinterpret_cast<const float4*>(sdO + rr * LD);
#pragma unroll
                for (int cc = 0; cc < CPT; ++cc) {
                    const int ch = j + cc * TPR;
                    if (ch < NCH) {
                        const float4 qq = qrow[ch], dd = dorow[ch];
                        dv_acc[cc].x += p * dd.x; dv_acc[cc].y += p * dd.y; dv_acc[cc].z += p * dd.z; dv_acc[cc].w += p * dd.w;
                        dk_acc[cc].x += ds * qq.x; dk_acc[cc].y += ds * qq.y; dk_acc[cc].z += ds * qq.z; dk_acc[cc].w += ds * qq.w;
                    }
                }
            }
        }
    }
    if (c < nk) {
        // sQ held q * scale * log2(e): dK = scale * sum dS q = ln(2) * sum dS sQ
        const size_t base = ((size_t)bh * Tk + k0 + c) * HEAD_DIM;
#pragma unroll
        for (int cc = 0; cc < CPT; ++cc) {
            const int ch = j + cc * TPR;
            if (ch < NCH) {
                float* dkp = dk + base + 4 * ch;
                float* dvp = dv + base + 4 * ch;
                atomicAdd(dkp, dk_acc[cc].x * LN2); atomicAdd(dkp + 1, dk_acc[cc].y * LN2);
                atomicAdd(dkp + 2, dk_acc[cc].z * LN2); atomicAdd(dkp + 3, dk_acc[cc].w * LN2);
                atomicAdd(dvp, dv_acc[cc].x); atomicAdd(dvp + 1, dv_acc[cc].y);
                atomicAdd(dvp + 2, dv_acc[cc].z); atomicAdd(dvp + 3, dv_acc[cc].w);
            }
        }
    }
}
