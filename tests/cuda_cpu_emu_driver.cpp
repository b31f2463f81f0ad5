// main() for a kernel file compiled with cuda_cpu_emu.h (ELEM_KIND 0 or 2; float16 needs PTX): runs one
// kernel with the arguments of a qtk.ops.cupy_loader.launch call, for tests/test_kernels.py.
//   prog KERNEL DIR GRID_X GRID_Y THREADS ARG...
// ARG i is "@" for a pointer argument, whose array is DIR/a<i>.bin (written back after the run,
// so outputs come back in the same files), else a scalar as text.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <new>
#include <string>

struct Args {
    std::string dir;
    std::vector<std::string> tok;
    std::vector<char*> buf;  // exact-size, 16-byte aligned: AddressSanitizer sees any overrun
    std::vector<size_t> size;

    Args(const std::string& d, int n, char** argv) : dir(d), tok(argv, argv + n), buf(n, nullptr), size(n, 0) {
        for (int i = 0; i < n; ++i) {
            if (tok[i] != "@") continue;
            std::ifstream f(path(i), std::ios::binary);
            std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
            size[i] = bytes.size();
            buf[i] = static_cast<char*>(::operator new(bytes.size() ? bytes.size() : 1, std::align_val_t(16)));
            std::memcpy(buf[i], bytes.data(), bytes.size());
        }
    }
    ~Args() {
        for (char* b : buf)
            if (b) ::operator delete(b, std::align_val_t(16));
    }
    std::string path(int i) const { return dir + "/a" + std::to_string(i) + ".bin"; }
    template <class T>
    T* p(int i) const { return reinterpret_cast<T*>(buf[i]); }
    int i32(int i) const { return std::atoi(tok[i].c_str()); }
    long long i64(int i) const { return std::atoll(tok[i].c_str()); }
    float f32(int i) const { return (float)std::atof(tok[i].c_str()); }
    void save() const {
        for (size_t i = 0; i < buf.size(); ++i)
            if (buf[i]) std::ofstream(path((int)i), std::ios::binary).write(buf[i], (std::streamsize)size[i]);
    }
};

int main(int argc, char** argv) {
    if (argc < 6) return 2;
    const std::string kernel = argv[1];
    const dim3 grid{(unsigned)std::atoi(argv[3]), (unsigned)std::atoi(argv[4]), 1};
    const unsigned threads = (unsigned)std::atoi(argv[5]);
    const Args a(argv[2], argc - 6, argv + 6);
    std::function<void()> run;
#ifdef EMU_ATTENTION
    if (kernel == "sel_attn_fwd")
        run = [&] {
            sel_attn_fwd(a.p<elem_t>(0), a.p<elem_t>(1), a.p<elem_t>(2), a.p<int>(3), a.p<elem_t>(4), a.p<float>(5),
                         a.i32(6), a.i32(7), a.i32(8), a.i32(9), a.i32(10), a.i32(11), a.i32(12), a.f32(13));
        };
    if (kernel == "sel_attn_bwd_dq")
        run = [&] {
            sel_attn_bwd_dq(a.p<elem_t>(0), a.p<elem_t>(1), a.p<elem_t>(2), a.p<elem_t>(3), a.p<elem_t>(4),
                            a.p<float>(5), a.p<int>(6), a.p<elem_t>(7), a.p<float>(8), a.i32(9), a.i32(10), a.i32(11), a.i32(12),
                            a.i32(13), a.i32(14), a.i32(15), a.f32(16), a.f32(17));
        };
    if (kernel == "sel_attn_bwd_dkv")
        run = [&] {
            sel_attn_bwd_dkv(a.p<elem_t>(0), a.p<elem_t>(1), a.p<elem_t>(2), a.p<elem_t>(3), a.p<float>(4), a.p<float>(5),
                             a.p<int>(6), a.p<int>(7), a.p<int>(8), a.p<int>(9), a.p<float>(10), a.p<float>(11),
                             a.i32(12), a.i32(13), a.i32(14), a.i32(15), a.i32(16), a.i32(17), a.i32(18), a.f32(19));
        };
#endif
#ifdef EMU_HASHING
    if (kernel == "ngram_hash")
        run = [&] {
            ngram_hash(a.p<long long>(0), a.p<long long>(1), a.p<int>(2), a.p<long long>(3),
                       a.p<unsigned long long>(4), a.p<long long>(5), a.i32(6), a.i32(7), a.i32(8), a.i64(9));
        };
    if (kernel == "simhash")
        run = [&] { simhash(a.p<elem_t>(0), a.p<elem_t>(1), a.p<long long>(2), a.i64(3), a.i32(4), a.i32(5)); };
#endif
    if (!run) {
        std::fprintf(stderr, "unknown kernel %s\n", kernel.c_str());
        return 2;
    }
    emu::launch(grid, threads, run);
    a.save();
    return 0;
}
