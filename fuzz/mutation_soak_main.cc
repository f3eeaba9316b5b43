// main() for the deterministic mutation soaks (fuzz/BUILD, tag "soak"): takes
// a fuzz target's seed corpus and runs seeded mutations of each seed through
// its LLVMFuzzerTestOneInput with the ordinary toolchain, so the soak
// configuration exercises the targets without libFuzzer. A crash, abort or
// sanitizer report fails the run; the seed and iteration are printed first,
// so a failure replays exactly (KMEND_SOAK_SEED, KMEND_SOAK_ITERATIONS).
// KMEND_SOAK_SECONDS bounds the wall time: the run stops after the
// iteration that crosses it and says how many ran (the first N iterations
// of a seed are the same whatever the budget, so N replays them). A
// progress line every 60 s shows a slow run is not a hung one, and one
// input running longer than KMEND_SOAK_INPUT_TIMEOUT seconds (default 20)
// is a hang: the run aborts naming the iteration.
//
// Mutations (the raw output of std::mt19937_64 mapped by hand: std
// distributions differ across standard libraries): flip a bit, set a byte
// to 0x00/0xff/random, overwrite 4 bytes with a hostile length
// (0xffffffff, 0x80000000, the input's size + 1), truncate, duplicate a
// range, insert random bytes. One to four per iteration.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

uint64_t Below(std::mt19937_64& rng, uint64_t n) { return n == 0 ? 0 : rng() % n; }

// The iteration under way (-1: a seed of the corpus), for the hang report.
volatile int64_t g_iteration = -1;

void OnInputTimeout(int) {
  char buf[160];
  const int n = std::snprintf(buf, sizeof(buf),
                              "HANG: input of iteration %lld ran past KMEND_SOAK_INPUT_TIMEOUT "
                              "(-1: a corpus seed)\n",
                              static_cast<long long>(g_iteration));
  if (n > 0) (void)!::write(2, buf, static_cast<size_t>(n));
  std::abort();
}

void Mutate(std::mt19937_64& rng, std::string* s) {
  const int n = 1 + static_cast<int>(Below(rng, 4));
  for (int k = 0; k < n; ++k) {
    switch (Below(rng, 7)) {
      case 0:
        if (!s->empty()) (*s)[Below(rng, s->size())] ^= static_cast<char>(1u << Below(rng, 8));
        break;
      case 1: {
        static const char kBytes[] = {'\x00', '\xff'};
        if (!s->empty()) {
          (*s)[Below(rng, s->size())] =
              Below(rng, 3) == 2 ? static_cast<char>(rng()) : kBytes[Below(rng, 2)];
        }
        break;
      }
      case 2: {
        if (s->size() < 4) break;
        const uint32_t lens[] = {0xffffffffu, 0x80000000u, static_cast<uint32_t>(s->size() + 1),
                                 static_cast<uint32_t>(rng())};
        const uint32_t v = lens[Below(rng, 4)];
        const size_t at = Below(rng, s->size() - 3);
        for (int i = 0; i < 4; ++i) (*s)[at + i] = static_cast<char>(v >> (8 * i));
        break;
      }
      case 3:
        s->resize(Below(rng, s->size() + 1));
        break;
      case 4: {
        if (s->empty() || s->size() > (1 << 20)) break;
        const size_t from = Below(rng, s->size());
        const size_t len = 1 + Below(rng, s->size() - from);
        s->insert(Below(rng, s->size() + 1), s->substr(from, len));
        break;
      }
      case 5: {
        const size_t len = 1 + Below(rng, 16);
        std::string junk;
        for (size_t i = 0; i < len; ++i) junk.push_back(static_cast<char>(rng()));
        s->insert(Below(rng, s->size() + 1), junk);
        break;
      }
      default:
        if (!s->empty()) s->erase(Below(rng, s->size()), 1 + Below(rng, 8));
    }
  }
}

std::vector<std::string> ReadCorpus(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());  // deterministic order
  for (const std::string& n : names) {
    std::ifstream in(dir + "/" + n, std::ios::binary);
    out.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  return out;
}

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::strtoull(v, nullptr, 10);
}

}  // namespace

int main(int argc, char** argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [ITERATIONS]\n", argv[0]);
    return 2;
  }
  const std::vector<std::string> corpus = ReadCorpus(argv[1]);
  if (corpus.empty()) {
    std::fprintf(stderr, "%s: empty corpus\n", argv[1]);
    return 2;
  }
  const uint64_t seed = EnvOr("KMEND_SOAK_SEED", 18);
  const uint64_t iterations =
      EnvOr("KMEND_SOAK_ITERATIONS", argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 20000);
  const uint64_t budget_s = EnvOr("KMEND_SOAK_SECONDS", 0);  // 0: no time bound
  const unsigned input_timeout_s = static_cast<unsigned>(EnvOr("KMEND_SOAK_INPUT_TIMEOUT", 20));
  ::signal(SIGALRM, OnInputTimeout);
  std::fprintf(stderr, "SEED=%llu ITERATIONS=%llu seeds=%zu SECONDS=%llu\n",
               static_cast<unsigned long long>(seed), static_cast<unsigned long long>(iterations),
               corpus.size(), static_cast<unsigned long long>(budget_s));
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  Clock::time_point next_report = start + std::chrono::seconds(60);
  auto elapsed_s = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  std::mt19937_64 rng(seed);
  for (const std::string& s : corpus) {
    ::alarm(input_timeout_s);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  uint64_t ran = 0;
  bool out_of_time = false;
  while (ran < iterations) {
    std::string input = corpus[Below(rng, corpus.size())];
    Mutate(rng, &input);
    g_iteration = static_cast<int64_t>(ran);
    ::alarm(input_timeout_s);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    ++ran;
    if ((ran & 255) == 0) {
      const Clock::time_point now = Clock::now();
      if (now >= next_report) {
        std::fprintf(stderr, "progress: %llu mutated input(s) in %.0f s\n",
                     static_cast<unsigned long long>(ran), elapsed_s());
        next_report = now + std::chrono::seconds(60);
      }
      if (budget_s > 0 && now - start >= std::chrono::seconds(budget_s)) {
        out_of_time = true;
        break;
      }
    }
  }
  ::alarm(0);
  std::fprintf(stderr, "ran %llu mutated input(s) in %.1f s (%s), no crash\n",
               static_cast<unsigned long long>(ran), elapsed_s(),
               out_of_time ? "time budget reached; KMEND_SOAK_ITERATIONS=<ran> replays them"
                           : "all iterations");
  return 0;
}
