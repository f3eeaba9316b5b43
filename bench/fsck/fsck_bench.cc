// fsck's read rate against the disk's (issue 12): on one data directory of
// at least 2 GiB (argv[1] GiB, default 2), in the same run and each from a
// cold page cache (echo 3 > /proc/sys/vm/drop_caches; needs root), three
// rounds of
//   plain   sequential read of every file of the directory, 8 MiB reads;
//   fsck    lib/fsck's Scan with --checks=checksums;
//   decode  the same with --checks=decode (every value decoded, one thread
//           per core).
// Prints GB/s per round, the median and spread (min..max) per mode, the
// ratio checksums / plain (goal >= 0.7), and the load average before and
// after. The directory: 32 tablets, each one rowset of ~64 MiB of random
// (incompressible) values written by Tablet::Flush, plus a WAL tail.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/fsck/render.h"
#include "lib/fsck/scan.h"
#include "lib/fsck/test_data_dir.h"
#include "lib/fsck/verdict.h"

namespace {

namespace stdfs = std::filesystem;

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return absl::StrCat(a, " ", b, " ", c);
}

bool DropCaches() {
  ::sync();
  std::ofstream out("/proc/sys/vm/drop_caches");
  out << "3" << std::endl;
  return out.good();
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) n += e.file_size();
  }
  return n;
}

// Reads every regular file under `dir` once, sequentially.
uint64_t PlainRead(const std::string& dir) {
  std::vector<char> buf(8 << 20);
  uint64_t total = 0;
  for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    int fd = ::open(e.path().c_str(), O_RDONLY);
    if (fd < 0) continue;
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    ssize_t n;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0) total += static_cast<uint64_t>(n);
    ::close(fd);
  }
  return total;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const double gib = argc > 1 ? std::atof(argv[1]) : 2.0;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/fsck_bench_", ::getpid());
  std::cout << "load average at start: " << LoadAverage() << std::endl;

  kmend::fsck::TestDataDirOptions o;
  o.tablets = 32;
  o.value_bytes = 8192;
  o.random_values = true;
  o.rows_per_op = 128;
  // ops per tablet so that the blocks hold `gib` GiB in all.
  o.ops =
      std::max(1, static_cast<int>(gib * (1ull << 30) / o.tablets / o.value_bytes / o.rows_per_op));
  o.flush_after_op = o.ops;
  o.wal_gc = true;
  o.wal_segment_size_bytes = 1 << 20;
  auto t0 = std::chrono::steady_clock::now();
  auto made = kmend::fsck::MakeTestDataDir(dir + "/ts", o);
  if (!made.ok()) {
    std::cerr << made.status() << std::endl;
    return 1;
  }
  const uint64_t bytes = DirBytes(dir + "/ts");
  std::cout << absl::StrFormat(
                   "data directory: %.2f GiB (%d tablets x %d rows of %d random bytes), made in "
                   "%.1f s",
                   bytes / double(1ull << 30), o.tablets, o.ops * o.rows_per_op, o.value_bytes,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count())
            << std::endl;
  if (!DropCaches()) std::cout << "WARNING: cannot drop caches (not root?): reads are warm\n";

  std::map<std::string, std::vector<double>> rates;  // GB/s
  for (int r = 0; r < rounds; ++r) {
    for (const char* mode : {"plain", "checksums", "decode"}) {
      DropCaches();
      auto start = std::chrono::steady_clock::now();
      uint64_t read = 0;
      if (std::string(mode) == "plain") {
        read = PlainRead(dir + "/ts");
      } else {
        kmend::fsck::ScanOptions so;
        so.checks = std::string(mode) == "decode" ? kmend::fsck::Checks::kDecode
                                                  : kmend::fsck::Checks::kChecksums;
        auto s = kmend::fsck::Scan(dir + "/ts", so);
        if (!s.ok()) {
          std::cerr << s.status() << std::endl;
          return 1;
        }
        kmend::fsck::Judge(&s->report);
        if (!s->report.clean()) {
          std::cerr << "the benchmark directory is not clean:\n"
                    << kmend::fsck::ReportText(s->report, nullptr, false) << std::endl;
          return 1;
        }
        read = s->report.bytes_read;
      }
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      rates[mode].push_back(read / secs / 1e9);
      std::cout << absl::StrFormat("round %d %-9s %.2f GB in %.2f s: %.2f GB/s", r + 1, mode,
                                   read / 1e9, secs, read / secs / 1e9)
                << std::endl;
    }
  }
  for (const char* mode : {"plain", "checksums", "decode"}) {
    const auto& v = rates[mode];
    std::cout << absl::StrFormat("%-9s median %.2f GB/s (min %.2f, max %.2f, %d rounds)", mode,
                                 Median(v), *std::min_element(v.begin(), v.end()),
                                 *std::max_element(v.begin(), v.end()), static_cast<int>(v.size()))
              << std::endl;
  }
  std::cout << absl::StrFormat("checksums / plain = %.2f (goal >= 0.70); decode / plain = %.2f",
                               Median(rates["checksums"]) / Median(rates["plain"]),
                               Median(rates["decode"]) / Median(rates["plain"]))
            << std::endl;
  std::cout << "load average at end: " << LoadAverage() << std::endl;
  stdfs::remove_all(dir);
  return 0;
}
