// The fsck collector (see scan.h).
#include "lib/fsck/scan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/blocks/container.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/format/crc32c.h"
#include "lib/format/pb_container.h"
#include "lib/format/pb_container_verify.h"
#include "lib/fs/fs_manager.h"
#include "lib/fs/layout.h"
#include "lib/fsck/bootstrap.h"
#include "lib/io/file.h"
#include "lib/meta/cmeta.h"
#include "lib/tablet/column_block.h"
#include "lib/tablet/rowset.h"
#include "lib/tablet/schema.h"
#include "lib/tablet/superblock.h"
#include "lib/tablet/verify.h"
#include "lib/util/status_macros.h"
#include "lib/wal/format.h"
#include "lib/wal/log_reader.h"
#include "proto/fs.pb.h"

namespace kmend::fsck {

namespace {

constexpr size_t kReadChunkBytes = 8 << 20;

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Empty when `path` opens for reading; otherwise why not.
std::string OpenError(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::StrCat("cannot open for reading: ", std::strerror(errno));
  ::close(fd);
  return "";
}

uint64_t SizeOf(const std::string& path) {
  auto s = io::FileSize(path);
  return s.ok() ? *s : 0;
}

// Canonical-uuid entries of a directory (tablet ids), and its temp files.
void ListIds(const std::string& dir, std::set<std::string>* ids, std::vector<std::string>* temps) {
  auto names = io::ListDir(dir);
  if (!names.ok()) return;
  for (const std::string& n : *names) {
    if (io::IsTempFileName(n)) {
      temps->push_back(io::JoinPath(dir, n));
    } else if (fs::IsCanonicalUuid(n)) {
      ids->insert(n);
    }
  }
}

FileReport NewFile(const std::string& path, FileKind kind, const std::string& tablet = "") {
  FileReport f;
  f.path = path;
  f.kind = kind;
  f.tablet_id = tablet;
  f.size_bytes = SizeOf(path);
  return f;
}

void AddProblem(FileReport* f, FileStatus status, uint64_t offset, std::string what) {
  // CORRUPT wins over TORN_TAIL: a file with both is damaged mid-way.
  if (f->status == FileStatus::kOk || status == FileStatus::kCorrupt ||
      status == FileStatus::kUnreadable) {
    if (!(f->status == FileStatus::kUnreadable)) f->status = status;
  }
  Problem p;
  p.offset = offset;
  p.what = std::move(what);
  f->problems.push_back(std::move(p));
}

// Applies pbc::VerifyFile's verdict to *f.
void ApplyPbcVerify(const pbc::VerifyResult& v, FileReport* f) {
  switch (v.state) {
    case pbc::VerifyResult::State::kOk:
      return;
    case pbc::VerifyResult::State::kTornTail:
      AddProblem(f, FileStatus::kTornTail, v.problem_offset, v.message);
      return;
    case pbc::VerifyResult::State::kCorrupt:
      AddProblem(f, FileStatus::kCorrupt, v.problem_offset, v.message);
      return;
  }
}

// Verifies a single-message PB container file (instance, superblock, cmeta
// framing). Returns false when the file is missing or unreadable.
bool VerifyPbcFile(FileReport* f) {
  if (!io::FileExists(f->path)) {
    f->status = FileStatus::kMissing;
    f->problems.push_back({0, "file does not exist"});
    return false;
  }
  std::string err = OpenError(f->path);
  if (!err.empty()) {
    AddProblem(f, FileStatus::kUnreadable, 0, err);
    return false;
  }
  auto v = pbc::VerifyFile(f->path);
  if (!v.ok()) {
    AddProblem(
        f, absl::IsPermissionDenied(v.status()) ? FileStatus::kUnreadable : FileStatus::kCorrupt, 0,
        std::string(v.status().message()));
    return true;
  }
  ApplyPbcVerify(*v, f);
  // A single-message file holds exactly one record: a torn tail in it means
  // the message itself is incomplete.
  if (v->state == pbc::VerifyResult::State::kOk && v->records != 1) {
    AddProblem(f, FileStatus::kCorrupt, 0,
               absl::StrCat("holds ", v->records, " records, expected exactly 1"));
  }
  return true;
}

class Scanner {
 public:
  Scanner(std::string root, const ScanOptions& options)
      : layout_(std::move(root)), options_(options) {}

  absl::StatusOr<ScanResult> Run();

 private:
  struct TabletState {
    TabletReport* report = nullptr;
    std::optional<tablet::TabletSuperBlockPB> superblock;
    std::optional<consensus::ConsensusMetadataPB> cmeta;
    BootstrapLog log;
  };

  bool Wanted(const std::string& tablet) const {
    return options_.tablets.empty() || options_.tablets.count(tablet) > 0;
  }
  void Progress(int files, uint64_t bytes) {
    std::lock_guard<std::mutex> l(progress_mu_);
    progress_.files_done += files;
    progress_.bytes_done += bytes;
    report().bytes_read += bytes;
    if (!options_.progress) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_progress_ < std::chrono::milliseconds(100) &&
        progress_.files_done < progress_.files_total) {
      return;
    }
    last_progress_ = now;
    options_.progress(progress_);
  }
  FsckReport& report() { return result_.report; }

  void CheckInstanceFiles();
  void CheckTablet(const std::string& id, TabletState* t);
  void CheckWal(const std::string& id, TabletState* t);
  void CheckContainers();
  void CheckBlocks();
  void ChecksumBlocks(const std::vector<std::pair<uint64_t, blocks::BlockLocation>>& todo);
  void DecodeTablets(std::set<uint64_t>* decoded);
  void BlockCorrupt(uint64_t id, const blocks::BlockLocation& loc, Problem p);
  FileReport* DataFileReport(const std::string& container_id);

  fs::Layout layout_;
  const ScanOptions options_;
  ScanResult result_;
  std::map<std::string, TabletState> tablets_;
  std::map<uint64_t, std::string> block_owner_;  // rowset block -> tablet
  std::unique_ptr<blocks::LogBlockManager> bm_;
  std::map<std::string, size_t> data_file_index_;  // container id -> files index
  bool all_superblocks_loaded_ = true;
  std::mutex progress_mu_;
  std::mutex report_mu_;  // blocks/files during parallel decode
  ScanProgress progress_;
  std::chrono::steady_clock::time_point last_progress_{};
};

void Scanner::CheckInstanceFiles() {
  FileReport inst = NewFile(layout_.InstancePath(), FileKind::kInstance);
  if (VerifyPbcFile(&inst) && inst.status == FileStatus::kOk) {
    InstanceMetadataPB pb;
    if (pbc::ReadSingleMessageFile(inst.path, &pb).ok()) report().server_uuid = pb.uuid();
  }
  Progress(1, inst.size_bytes);
  FileReport bmi = NewFile(layout_.BlockManagerInstancePath(), FileKind::kBlockManagerInstance);
  if (VerifyPbcFile(&bmi) && bmi.status == FileStatus::kOk) {
    DirInstanceMetadataPB pb;
    if (pbc::ReadSingleMessageFile(bmi.path, &pb).ok()) {
      result_.facts.filesystem_block_size_bytes = pb.filesystem_block_size_bytes();
    }
  }
  Progress(1, bmi.size_bytes);
  // Their agreement, as the server checks it at start-up.
  if (inst.status == FileStatus::kOk && bmi.status == FileStatus::kOk) {
    auto opened = fs::Open(layout_.root());
    if (!opened.ok()) {
      const std::string msg(opened.status().message());
      FileReport& target = absl::StrContains(msg, fs::kBlockManagerInstanceFileName) ? bmi : inst;
      AddProblem(&target, FileStatus::kCorrupt, 0, absl::StrCat("fs::Open refuses: ", msg));
    }
  }
  for (FileReport* f : {&inst, &bmi}) {
    if (f->status != FileStatus::kOk) {
      report().server_problems.push_back(
          absl::StrCat(f->path, " is ", FileStatusName(f->status),
                       ": the server will not start on this directory"));
    }
  }
  report().files.push_back(std::move(inst));
  report().files.push_back(std::move(bmi));
}

void Scanner::CheckTablet(const std::string& id, TabletState* t) {
  TabletReport& tr = *t->report;
  // Superblock.
  FileReport sb = NewFile(layout_.TabletMetaPath(id), FileKind::kSuperblock, id);
  if (VerifyPbcFile(&sb) && sb.status == FileStatus::kOk) {
    auto loaded = tablet::LoadSuperBlock(layout_, id);
    if (!loaded.ok()) {
      AddProblem(&sb, FileStatus::kCorrupt, 0, std::string(loaded.status().message()));
    } else if (loaded->tablet_id() != id) {
      AddProblem(
          &sb, FileStatus::kCorrupt, 0,
          absl::StrCat("field tablet_id is '", loaded->tablet_id(), "', expected the file name"));
    } else {
      t->superblock = *std::move(loaded);
      tr.table_name = t->superblock->table_name();
      tr.data_state = tablet::DataStateName(t->superblock->tablet_data_state());
      tr.blocks = static_cast<int64_t>(tablet::RowSetBlockIds(*t->superblock).size());
    }
  }
  if (!t->superblock) all_superblocks_loaded_ = false;
  Progress(1, sb.size_bytes);
  report().files.push_back(std::move(sb));

  // Consensus metadata. A tablet without one that never got data (no
  // superblock either) is not a tablet.
  FileReport cm = NewFile(layout_.ConsensusMetaPath(id), FileKind::kConsensusMeta, id);
  if (VerifyPbcFile(&cm) && cm.status == FileStatus::kOk) {
    auto v = meta::VerifyConsensusMeta(cm.path);
    if (!v.ok()) {
      AddProblem(&cm, FileStatus::kCorrupt, 0, std::string(v.status().message()));
    } else {
      for (const std::string& p : v->problems) AddProblem(&cm, FileStatus::kCorrupt, 0, p);
      if (v->ok()) {
        auto c = meta::LoadConsensusMeta(cm.path);
        if (c.ok()) {
          t->cmeta = *std::move(c);
          for (const auto& peer : t->cmeta->committed_config().peers()) {
            std::string addr;
            if (peer.has_last_known_addr()) {
              addr =
                  absl::StrCat(peer.last_known_addr().host(), ":", peer.last_known_addr().port());
            }
            tr.peers.push_back(absl::StrCat(peer.permanent_uuid(), "@", addr));
          }
        } else {
          AddProblem(&cm, FileStatus::kCorrupt, 0, std::string(c.status().message()));
        }
      }
    }
  }
  Progress(1, cm.size_bytes);
  report().files.push_back(std::move(cm));

  CheckWal(id, t);
}

// Empty when both schemas have the same columns (name, type, key, nullable),
// which a WAL segment header and its superblock must agree on; the writer
// fills other column fields (ids, defaults) in one place only.
std::string SchemaDifference(const kmend::SchemaPB& a, const kmend::SchemaPB& b) {
  if (a.columns_size() != b.columns_size()) {
    return absl::StrCat(a.columns_size(), " columns vs ", b.columns_size());
  }
  for (int i = 0; i < a.columns_size(); ++i) {
    const auto& x = a.columns(i);
    const auto& y = b.columns(i);
    if (x.name() != y.name() || x.type() != y.type() || x.is_key() != y.is_key() ||
        x.is_nullable() != y.is_nullable()) {
      return absl::StrCat("column ", i, " is '", x.name(), "' type ", x.type(), " key ", x.is_key(),
                          " nullable ", x.is_nullable(), " vs '", y.name(), "' type ", y.type(),
                          " key ", y.is_key(), " nullable ", y.is_nullable());
    }
  }
  return "";
}

// Collects what the report and the bootstrap check need from one ReadLog,
// and checks what the framing leaves unchecksummed: Kudu's segment header
// and footer are bare protobufs, so their fields are checked against what
// they must say (the directory's tablet, the file name's sequence number,
// the superblock's schema, the entries the segment holds).
class WalVisitor : public wal::LogVisitor {
 public:
  WalVisitor(std::string tablet_id, const tablet::TabletSuperBlockPB* superblock, BootstrapLog* log,
             std::function<void(uint64_t)> on_bytes)
      : tablet_id_(std::move(tablet_id)),
        superblock_(superblock),
        log_(log),
        on_bytes_(std::move(on_bytes)) {}

  absl::Status OnSegmentStart(const wal::SegmentReader& s) override {
    const log::LogSegmentHeaderPB& h = s.header();
    auto bad = [&](const std::string& what) {
      problems[s.path()].push_back({12, absl::StrCat("segment header: ", what)});
    };
    if (h.tablet_id() != tablet_id_) {
      bad(absl::StrCat("tablet_id '", h.tablet_id(), "', expected '", tablet_id_,
                       "' (the directory's)"));
    }
    const std::string name = io::Basename(s.path());
    uint64_t seq = 0;
    if (absl::StartsWith(name, wal::kSegmentFilePrefix) &&
        absl::SimpleAtoi(name.substr(wal::kSegmentFilePrefix.size()), &seq) &&
        seq != h.sequence_number()) {
      bad(absl::StrCat("sequence_number ", h.sequence_number(), ", the file name says ", seq));
    }
    signatures[s.path()] =
        absl::StrCat("codec ", h.compression_codec(), h.has_compression_codec() ? "" : " (default)",
                     h.has_deprecated_major_version()
                         ? absl::StrCat(", major_version ", h.deprecated_major_version())
                         : "",
                     h.has_deprecated_minor_version()
                         ? absl::StrCat(", minor_version ", h.deprecated_minor_version())
                         : "");
    // Kudu <= 1.2 wrote the version fields (and then v1 batch headers); a
    // segment in kmend's own codec never has them.
    if ((h.has_deprecated_major_version() || h.has_deprecated_minor_version()) &&
        h.compression_codec() == kmend::ZSTD) {
      bad("DEPRECATED_major/minor_version set in a ZSTD (kmend-written) segment");
    }
    // A writer's protobuf encoding is canonical: a field repeated or moved
    // by damaged bytes still parses, but no longer re-encodes to its size.
    if (h.ByteSizeLong() + wal::kSegmentHeaderPrefixBytes != s.first_batch_offset()) {
      bad(absl::StrCat("header of ", s.first_batch_offset() - wal::kSegmentHeaderPrefixBytes,
                       " bytes re-encodes to ", h.ByteSizeLong(),
                       ": not what a writer produces (damaged bytes that still parse)"));
    }
    if (!h.unknown_fields().empty() || !h.schema().unknown_fields().empty()) {
      bad("holds fields no writer sets (damaged bytes that still parse)");
    }
    if (superblock_ != nullptr && h.schema_version() > superblock_->schema_version()) {
      bad(absl::StrCat("schema_version ", h.schema_version(), " is newer than the superblock's ",
                       superblock_->schema_version()));
    }
    // kmend's server leaves the header's schema empty (required by Kudu's
    // format, unused by kmend): compare only when it was filled in.
    if (superblock_ != nullptr && h.schema().columns_size() > 0 &&
        h.schema_version() == superblock_->schema_version()) {
      std::string diff = SchemaDifference(h.schema(), superblock_->schema());
      if (!diff.empty()) {
        bad(absl::StrCat("schema differs from the superblock's (same schema_version ",
                         h.schema_version(), "): ", diff));
      }
    }
    return absl::OkStatus();
  }
  absl::Status OnBatch(const wal::SegmentReader&, const wal::Batch& batch) override {
    for (const log::LogEntryPB& e : batch.batch.entry()) {
      if (e.type() == log::REPLICATE && e.has_replicate()) log_->Add(e.replicate());
    }
    pending_ += batch.size_bytes;
    if (pending_ >= (4u << 20)) {
      on_bytes_(pending_);
      pending_ = 0;
    }
    return absl::OkStatus();
  }
  absl::Status OnSegmentEnd(const wal::SegmentReader& s,
                            const wal::SegmentSummary& summary) override {
    if (!s.has_footer()) return absl::OkStatus();
    const log::LogSegmentFooterPB& f = s.footer();
    const uint64_t at = s.file_size() > 12 ? s.file_size() - 12 : 0;
    if (!f.unknown_fields().empty()) {
      problems[s.path()].push_back({at, "footer holds fields no writer sets"});
    }
    if (f.min_replicate_index() != summary.min_replicate_index ||
        f.max_replicate_index() != summary.max_replicate_index) {
      problems[s.path()].push_back(
          {at, absl::StrCat("footer says replicate indexes ", f.min_replicate_index(), "..",
                            f.max_replicate_index(), ", the segment holds ",
                            summary.min_replicate_index, "..", summary.max_replicate_index)});
    }
    return absl::OkStatus();
  }
  uint64_t pending() const { return pending_; }

  std::map<std::string, std::vector<Problem>> problems;
  // Per segment: the header fields one writer sets alike in every segment.
  std::map<std::string, std::string> signatures;

 private:
  const std::string tablet_id_;
  const tablet::TabletSuperBlockPB* superblock_;
  BootstrapLog* log_;
  std::function<void(uint64_t)> on_bytes_;
  uint64_t pending_ = 0;
};

void Scanner::CheckWal(const std::string& id, TabletState* t) {
  const std::string dir = layout_.WalDir(id);
  const bool ready =
      t->superblock && t->superblock->tablet_data_state() == tablet::TABLET_DATA_READY;
  if (!IsDir(dir)) {
    if (ready) {
      FileReport f = NewFile(dir, FileKind::kWalSegment, id);
      f.status = FileStatus::kMissing;
      f.problems.push_back({0, "the tablet's WAL directory does not exist"});
      report().files.push_back(std::move(f));
    }
    t->log.readable = ready ? false : true;
    if (ready) t->log.first_problem = absl::StrCat(dir, " does not exist");
    return;
  }
  auto names = io::ListDir(dir);
  std::vector<std::string> segments;
  if (names.ok()) {
    for (const std::string& n : *names) {
      const std::string p = io::JoinPath(dir, n);
      if (io::IsTempFileName(n)) {
        FileReport f = NewFile(p, FileKind::kTempFile, id);
        AddProblem(&f, FileStatus::kOrphaned, 0,
                   "temp file left by a crash (the server deletes it at start-up)");
        report().files.push_back(std::move(f));
      } else if (absl::StartsWith(n, "wal")) {
        segments.push_back(p);
      }
    }
  }
  // An unreadable segment makes ReadLog of the directory fail as a whole; read
  // the readable ones one by one then (continuity across them is not checked).
  std::map<std::string, FileReport> files;
  std::vector<std::string> readable;
  for (const std::string& p : segments) {
    FileReport f = NewFile(p, FileKind::kWalSegment, id);
    std::string err = OpenError(p);
    if (!err.empty()) {
      AddProblem(&f, FileStatus::kUnreadable, 0, err);
    } else {
      readable.push_back(p);
    }
    files.emplace(p, std::move(f));
  }
  std::vector<std::string> targets;
  if (readable.size() == segments.size()) {
    targets.push_back(dir);
  } else {
    targets = readable;
    t->log.readable = false;
    t->log.first_problem = "a segment is unreadable";
  }
  wal::ReadLogOptions ro;
  ro.continue_after_problem = true;
  for (const std::string& target : targets) {
    WalVisitor visitor(id, t->superblock ? &*t->superblock : nullptr, &t->log,
                       [this](uint64_t b) { Progress(0, b); });
    auto summary = wal::ReadLog(target, ro, &visitor);
    Progress(0, visitor.pending());
    // One writer sets codec and version fields alike in every segment of a
    // tablet: a segment that differs from the most common header is damaged.
    std::map<std::string, int> counts;
    for (const auto& [path, sig] : visitor.signatures) ++counts[sig];
    if (counts.size() > 1) {
      auto common =
          std::max_element(counts.begin(), counts.end(),
                           [](const auto& a, const auto& b) { return a.second < b.second; });
      const bool tie = std::count_if(counts.begin(), counts.end(),
                                     [&](const auto& c) { return c.second == common->second; }) > 1;
      for (const auto& [path, sig] : visitor.signatures) {
        if (sig == common->first && !tie) continue;
        visitor.problems[path].push_back(
            {12, absl::StrCat("segment header: ", sig, ", the tablet's other segments say ",
                              common->first)});
      }
    }
    for (auto& [path, ps] : visitor.problems) {
      auto it = files.find(path);
      if (it == files.end()) continue;
      for (Problem& p : ps) {
        // Not a bootstrap problem: WAL recovery does not look at these.
        AddProblem(&it->second, FileStatus::kCorrupt, p.offset, p.what);
      }
    }
    if (!summary.ok()) {
      // An I/O error stops ReadLog: every file of the target is suspect.
      for (auto& [p, f] : files) {
        if (target == dir || target == p) {
          AddProblem(&f, FileStatus::kUnreadable, 0, std::string(summary.status().message()));
        }
      }
      t->log.readable = false;
      t->log.first_problem = std::string(summary.status().message());
      continue;
    }
    for (const wal::Problem& p : summary->problems) {
      auto it = files.find(p.segment);
      if (it == files.end()) continue;
      AddProblem(&it->second, FileStatus::kCorrupt, p.offset,
                 absl::StrCat(p.kind == wal::ProblemKind::kSequence ? "sequence: " : "",
                              p.status.message()));
      if (t->log.first_problem.empty()) t->log.first_problem = std::string(p.status.message());
    }
    // The last segment holding entries may lack a footer (a crash); an
    // earlier one was closed by a roll, which always writes it.
    std::string last_path;
    for (const wal::SegmentSummary& s : summary->segments) {
      if (s.readable && !s.uninitialized) last_path = s.path;
    }
    for (const wal::SegmentSummary& s : summary->segments) {
      auto it = files.find(s.path);
      if (it == files.end() || !s.readable || s.uninitialized) continue;
      if (s.tail.kind != wal::TailKind::kTorn && !s.has_footer && s.path != last_path) {
        AddProblem(&it->second, FileStatus::kTornTail, s.tail.offset,
                   absl::StrCat("no footer, but a later segment exists (a roll always closes "
                                "the segment first): footer lost, entries end at offset ",
                                s.tail.offset));
        if (target == dir) {
          result_.facts.wal_tails.push_back({id, s.path, s.tail.offset, s.file_size, s.entries,
                                             s.min_replicate_index, s.max_replicate_index, false});
        }
      }
      if (s.tail.kind == wal::TailKind::kTorn) {
        const bool last = summary->torn_tail && summary->torn_segment == s.path;
        AddProblem(&it->second, FileStatus::kTornTail, s.tail.offset,
                   absl::StrCat("torn tail: ", s.tail.dropped_bytes, " bytes from offset ",
                                s.tail.offset, " hold no complete batch (", s.tail.reason, ")",
                                last ? "" : "; not the last segment, the footer is missing"));
        if (target == dir) {
          result_.facts.wal_tails.push_back({id, s.path, s.tail.offset, s.file_size, s.entries,
                                             s.min_replicate_index, s.max_replicate_index, last});
        }
      }
    }
  }
  for (auto& [p, f] : files) {
    Progress(1, 0);
    report().files.push_back(std::move(f));
  }
}

FileReport* Scanner::DataFileReport(const std::string& container_id) {
  auto it = data_file_index_.find(container_id);
  if (it == data_file_index_.end()) return nullptr;
  return &report().files[it->second];
}

void Scanner::CheckContainers() {
  const std::string data_dir = layout_.DataDir();
  if (!IsDir(data_dir)) {
    report().server_problems.push_back(absl::StrCat(data_dir, " does not exist"));
    return;
  }
  auto names = io::ListDir(data_dir);
  std::map<std::string, std::string> unreadable;  // path -> why
  if (names.ok()) {
    for (const std::string& n : *names) {
      const std::string p = io::JoinPath(data_dir, n);
      if (io::IsTempFileName(n)) {
        FileReport f = NewFile(p, FileKind::kTempFile);
        AddProblem(&f, FileStatus::kOrphaned, 0, "temp file left by a crash");
        report().files.push_back(std::move(f));
        continue;
      }
      if (absl::EndsWith(n, blocks::kDataSuffix) || absl::EndsWith(n, blocks::kMetadataSuffix)) {
        std::string err = OpenError(p);
        if (!err.empty()) unreadable[p] = err;
      }
    }
  }
  blocks::BlockManagerOptions bo;
  bo.read_only = true;
  auto bm = blocks::LogBlockManager::Open(data_dir, bo);
  auto ids = blocks::ListContainerIds(data_dir);
  std::map<std::string, const blocks::ContainerIssue*> none;
  if (!bm.ok()) {
    report().server_problems.push_back(absl::StrCat("the block manager cannot open ", data_dir,
                                                    ": ", bm.status().message(),
                                                    "; no block was checked"));
  } else {
    bm_ = *std::move(bm);
  }
  if (!ids.ok()) return;
  const blocks::LoadReport* load = bm_ ? &bm_->load_report() : nullptr;
  for (const std::string& cid : *ids) {
    FileReport md = NewFile(io::JoinPath(data_dir, cid + blocks::kMetadataSuffix),
                            FileKind::kContainerMetadata);
    FileReport dt =
        NewFile(io::JoinPath(data_dir, cid + blocks::kDataSuffix), FileKind::kContainerData);
    for (FileReport* f : {&md, &dt}) {
      auto u = unreadable.find(f->path);
      if (u != unreadable.end()) AddProblem(f, FileStatus::kUnreadable, 0, u->second);
    }
    if (load != nullptr) {
      for (const blocks::ContainerIssue& is : load->issues) {
        if (is.container_id != cid) continue;
        using blocks::IssueKind;
        std::string what = absl::StrCat(blocks::IssueKindName(is.kind), ": ", is.detail);
        if (is.block_id != 0) {
          what = absl::StrCat("block ", tablet::BlockIdToString(is.block_id), ": ", what);
        }
        switch (is.kind) {
          case IssueKind::kTornMetadataTail:
            AddProblem(&md, FileStatus::kTornTail, is.offset, what);
            break;
          case IssueKind::kOrphanContainer:
            AddProblem(&md, FileStatus::kOrphaned, 0, what);
            if (io::FileExists(dt.path)) AddProblem(&dt, FileStatus::kOrphaned, 0, what);
            break;
          case IssueKind::kMissingDataFile:
            AddProblem(&dt, FileStatus::kMissing, 0, what);
            break;
          case IssueKind::kMissingMetadataFile:
            AddProblem(&md, FileStatus::kMissing, 0, what);
            break;
          case IssueKind::kBlockPastEndOfData:
            AddProblem(&dt, FileStatus::kCorrupt, dt.size_bytes, what);
            AddProblem(&md, FileStatus::kCorrupt, is.offset, what);
            break;
          default:
            AddProblem(&md, FileStatus::kCorrupt, is.offset, what);
            break;
        }
      }
    }
    // Bytes no record names: lost records (a .metadata cut at a record
    // boundary reads as complete) or a crash between data and record.
    if (result_.facts.filesystem_block_size_bytes > 0 && md.status == FileStatus::kOk) {
      auto lc = blocks::LoadContainer(data_dir, cid, result_.facts.filesystem_block_size_bytes);
      if (lc.ok() && lc->data_exists && lc->data_size_bytes > lc->recorded_data_end) {
        AddProblem(&md, FileStatus::kTornTail, md.size_bytes,
                   absl::StrCat("records end before the data: ", dt.path, " holds ",
                                lc->data_size_bytes - lc->recorded_data_end, " bytes past offset ",
                                lc->recorded_data_end,
                                ", the end of the last block any record names (records lost, "
                                "or a crash between a block's write and its record)"));
        result_.facts.unrecorded_data.push_back(
            {dt.path, lc->recorded_data_end, lc->data_size_bytes});
      }
    }
    Progress(1, md.size_bytes);
    if (md.status != FileStatus::kOk || dt.status == FileStatus::kCorrupt ||
        dt.status == FileStatus::kMissing) {
      report().server_problems.push_back(absl::StrCat(
          "container ", cid, ": ", md.status != FileStatus::kOk ? md.path : dt.path, " is ",
          FileStatusName(md.status != FileStatus::kOk ? md.status : dt.status)));
    }
    report().files.push_back(std::move(md));
    if (io::FileExists(dt.path) || dt.status != FileStatus::kOk) {
      data_file_index_[cid] = report().files.size();
      report().files.push_back(std::move(dt));
    }
  }
}

void Scanner::BlockCorrupt(uint64_t id, const blocks::BlockLocation& loc, Problem p) {
  std::lock_guard<std::mutex> l(report_mu_);
  BlockReport b;
  b.block_id = id;
  auto owner = block_owner_.find(id);
  if (owner != block_owner_.end()) b.tablet_id = owner->second;
  b.status = BlockStatus::kCorrupt;
  b.container_id = loc.container_id;
  b.offset = loc.offset;
  b.length = loc.length;
  FileReport* f = DataFileReport(loc.container_id);
  if (f != nullptr) {
    b.path = f->path;
    Problem fp = p;
    fp.what = absl::StrCat("block ", tablet::BlockIdToString(id), " (extent ", loc.offset, "+",
                           loc.length, "): ", p.what);
    f->problems.push_back(fp);
    if (f->status == FileStatus::kOk) f->status = FileStatus::kCorrupt;
  }
  b.problem = std::move(p);
  report().blocks.push_back(std::move(b));
}

// Streams each block's bytes once, in file order, through CRC32C: the
// column block's CRC covers every byte but its last four, which hold it.
void Scanner::ChecksumBlocks(const std::vector<std::pair<uint64_t, blocks::BlockLocation>>& todo) {
  std::string buf(kReadChunkBytes, '\0');
  std::string open_path;
  int fd = -1;
  for (const auto& [id, loc] : todo) {
    FileReport* f = DataFileReport(loc.container_id);
    if (f == nullptr || f->status == FileStatus::kUnreadable) continue;
    if (f->path != open_path) {
      if (fd >= 0) ::close(fd);
      fd = ::open(f->path.c_str(), O_RDONLY | O_CLOEXEC);
      open_path = f->path;
      if (fd >= 0) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    if (fd < 0) {
      AddProblem(f, FileStatus::kUnreadable, 0, std::strerror(errno));
      continue;
    }
    ++report().blocks_checked;
    const uint64_t len = static_cast<uint64_t>(loc.length);
    const uint64_t off = static_cast<uint64_t>(loc.offset);
    if (len < tablet::kColumnBlockHeaderBytes + tablet::kColumnBlockTrailerBytes) {
      BlockCorrupt(id, loc,
                   {off, absl::StrCat("column block of ", len,
                                      " bytes is shorter than its header and CRC")});
      continue;
    }
    uint32_t crc = 0;
    char stored_bytes[4];
    char header[8];
    uint64_t done = 0;
    absl::Status err;
    while (done < len) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), len - done));
      err = io::PreadFully(fd, f->path, off + done, n, buf.data());
      if (!err.ok()) break;
      if (done == 0) std::memcpy(header, buf.data(), 8);
      const uint64_t crc_end = len - 4;  // CRC'd bytes are [0, crc_end)
      if (done < crc_end) {
        const size_t c = static_cast<size_t>(std::min<uint64_t>(n, crc_end - done));
        crc = crc32c::Extend(crc, buf.data(), c);
      }
      // The last 4 bytes may straddle two chunks.
      for (uint64_t i = std::max(done, crc_end); i < done + n; ++i) {
        stored_bytes[i - crc_end] = buf[i - done];
      }
      done += n;
      Progress(0, n);
    }
    report().block_bytes_checked += done;
    if (!err.ok()) {
      BlockCorrupt(id, loc, {off, std::string(err.message())});
      continue;
    }
    uint32_t stored = 0;
    for (int i = 3; i >= 0; --i)
      stored = (stored << 8) | static_cast<unsigned char>(stored_bytes[i]);
    if (stored != crc) {
      Problem p;
      p.offset = off + len - 4;
      p.what = absl::StrFormat(
          "CRC32C mismatch over bytes %d-%d of the block (stored 0x%08x, "
          "computed 0x%08x)",
          0, len - 5, stored, crc);
      p.has_crc = true;
      p.stored_crc = stored;
      p.computed_crc = crc;
      BlockCorrupt(id, loc, p);
    } else if (std::memcmp(header, tablet::kColumnBlockMagic, 8) != 0) {
      // Sound CRC over a foreign format: a Kudu CFile.
      FileReport* df = DataFileReport(loc.container_id);
      if (df != nullptr && df->note.empty()) {
        df->note =
            "blocks are not kmend column blocks (Kudu CFiles?): their contents are "
            "not checked";
      }
    }
  }
  if (fd >= 0) ::close(fd);
}

// Reads every rowset of every READY tablet through tablet::ReadRowSet (CRC,
// decompression, decoding, cross-column checks), tablets in parallel.
void Scanner::DecodeTablets(std::set<uint64_t>* decoded) {
  std::vector<std::pair<std::string, TabletState*>> work;
  for (auto& [id, t] : tablets_) {
    if (!t.superblock || t.superblock->tablet_data_state() != tablet::TABLET_DATA_READY) continue;
    bool all_present = true;
    for (uint64_t b : tablet::RowSetBlockIds(*t.superblock)) {
      if (!bm_->HasBlock(b)) all_present = false;
    }
    if (!all_present) continue;  // MISSING already reported; checksum the rest
    for (uint64_t b : tablet::RowSetBlockIds(*t.superblock)) decoded->insert(b);
    work.emplace_back(id, &t);
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < work.size(); i = next++) {
      TabletState& t = *work[i].second;
      auto schema = tablet::Schema::FromPB(t.superblock->schema());
      if (!schema.ok()) continue;
      int64_t rows = 0;
      for (const tablet::RowSetDataPB& rs : t.superblock->rowsets()) {
        uint64_t bytes = 0;
        for (const auto& c : rs.columns()) {
          auto loc = bm_->Locate(c.block().id());
          if (loc.ok()) bytes += static_cast<uint64_t>(loc->length);
        }
        auto read = tablet::ReadRowSet(*schema, rs, *bm_);
        Progress(0, bytes);
        {
          std::lock_guard<std::mutex> l(report_mu_);
          report().blocks_checked += rs.columns_size();
          report().block_bytes_checked += bytes;
        }
        if (read.ok()) {
          rows += static_cast<int64_t>(read->size());
          continue;
        }
        // Pinpoint the block: decode each on its own.
        bool found = false;
        for (const auto& c : rs.columns()) {
          const uint64_t bid = c.block().id();
          auto loc = bm_->Locate(bid);
          auto bytes_or = bm_->ReadBlock(bid);
          if (!loc.ok()) continue;
          absl::Status s = bytes_or.ok() ? tablet::DecodeColumnBlock(bid, *bytes_or).status()
                                         : bytes_or.status();
          if (!s.ok()) {
            found = true;
            BlockCorrupt(bid, *loc, {static_cast<uint64_t>(loc->offset), std::string(s.message())});
          }
        }
        if (!found && rs.columns_size() > 0) {
          const uint64_t bid = rs.columns(0).block().id();
          auto loc = bm_->Locate(bid);
          if (loc.ok()) {
            BlockCorrupt(bid, *loc,
                         {static_cast<uint64_t>(loc->offset),
                          absl::StrCat("rowset ", rs.id(), ": ", read.status().message())});
          }
        }
      }
      std::lock_guard<std::mutex> l(report_mu_);
      t.report->rows = rows;
    }
  };
  int n = options_.threads > 0 ? options_.threads
                               : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<std::thread> threads;
  for (int i = 1; i < n; ++i) threads.emplace_back(worker);
  worker();
  for (auto& th : threads) th.join();
}

void Scanner::CheckBlocks() {
  if (bm_ == nullptr) {
    for (auto& [id, t] : tablets_) {
      if (!t.superblock) continue;
      for (uint64_t b : tablet::RowSetBlockIds(*t.superblock)) {
        BlockReport r;
        r.block_id = b;
        r.tablet_id = id;
        r.status = BlockStatus::kUnchecked;
        r.problem.what = "the block manager could not be opened";
        report().blocks.push_back(std::move(r));
      }
    }
    return;
  }
  // MISSING: named by a superblock, unknown to the block manager.
  for (auto& [id, t] : tablets_) {
    if (!t.superblock) continue;
    for (uint64_t b : tablet::RowSetBlockIds(*t.superblock)) {
      block_owner_[b] = id;
      if (bm_->HasBlock(b)) continue;
      BlockReport r;
      r.block_id = b;
      r.tablet_id = id;
      r.status = BlockStatus::kMissing;
      r.problem.what = absl::StrCat("block ", tablet::BlockIdToString(b),
                                    " is named by the superblock but no container holds it");
      report().blocks.push_back(std::move(r));
    }
  }
  // ORPHANED: live, named by no superblock. Only knowable when every
  // superblock loaded and every tablet is in scope.
  if (options_.tablets.empty() && all_superblocks_loaded_) {
    auto unref = tablet::FindUnreferencedBlocks(layout_.root(), bm_.get());
    if (unref.ok()) {
      result_.facts.orphans_known = true;
      for (uint64_t b : *unref) {
        auto loc = bm_->Locate(b);
        if (!loc.ok()) continue;
        BlockReport r;
        r.block_id = b;
        r.status = BlockStatus::kOrphaned;
        r.container_id = loc->container_id;
        r.offset = loc->offset;
        r.length = loc->length;
        FileReport* f = DataFileReport(loc->container_id);
        if (f != nullptr) r.path = f->path;
        r.problem.offset = static_cast<uint64_t>(loc->offset);
        r.problem.what =
            "live block that no superblock names (left by a crash mid-flush or "
            "mid-copy); repair deletes it";
        report().blocks.push_back(r);
        result_.facts.orphan_blocks.push_back(
            {b, loc->container_id, r.path,
             io::JoinPath(layout_.DataDir(), loc->container_id + blocks::kMetadataSuffix),
             loc->offset, loc->length});
      }
    }
  }
  if (options_.checks == Checks::kFraming) return;
  std::set<uint64_t> decoded;
  if (options_.checks == Checks::kDecode) DecodeTablets(&decoded);
  // Checksum the rest, in container and offset order (sequential reads).
  std::vector<std::pair<uint64_t, blocks::BlockLocation>> todo;
  for (uint64_t b : bm_->ListBlocks()) {
    if (decoded.count(b)) continue;
    if (!options_.tablets.empty() && !block_owner_.count(b)) continue;
    auto loc = bm_->Locate(b);
    if (loc.ok()) todo.emplace_back(b, *loc);
  }
  std::sort(todo.begin(), todo.end(), [](const auto& a, const auto& b) {
    if (a.second.container_id != b.second.container_id) {
      return a.second.container_id < b.second.container_id;
    }
    return a.second.offset < b.second.offset;
  });
  ChecksumBlocks(todo);
}

absl::StatusOr<ScanResult> Scanner::Run() {
  const auto start = std::chrono::steady_clock::now();
  const std::string& root = layout_.root();
  if (!IsDir(root)) {
    return absl::NotFoundError(absl::StrCat(root, ": not a directory"));
  }
  if (!io::FileExists(layout_.InstancePath()) && !IsDir(layout_.DataDir()) &&
      !IsDir(layout_.TabletMetaDir()) && !IsDir(layout_.WalsDir()) &&
      !IsDir(layout_.ConsensusMetaDir())) {
    return absl::NotFoundError(
        absl::StrCat(root,
                     ": not a tablet server data directory (no instance file, no data/, "
                     "tablet-meta/, consensus-meta/ or wals/)"));
  }
  report().fs_root = root;
  report().checks = options_.checks;

  // Totals for progress: every file's size, block bytes counted as read.
  std::set<std::string> ids;
  std::vector<std::string> temps;
  ListIds(layout_.TabletMetaDir(), &ids, &temps);
  ListIds(layout_.ConsensusMetaDir(), &ids, &temps);
  {
    std::set<std::string> wal_ids;
    ListIds(layout_.WalsDir(), &wal_ids, &temps);
    ids.insert(wal_ids.begin(), wal_ids.end());
  }
  {
    progress_.files_total = 2;
    auto add_dir = [&](const std::string& dir) {
      auto names = io::ListDir(dir);
      if (!names.ok()) return;
      for (const std::string& n : *names) {
        ++progress_.files_total;
        if (options_.checks != Checks::kFraming || !absl::EndsWith(n, blocks::kDataSuffix)) {
          progress_.bytes_total += SizeOf(io::JoinPath(dir, n));
        }
      }
    };
    add_dir(layout_.TabletMetaDir());
    add_dir(layout_.ConsensusMetaDir());
    add_dir(layout_.DataDir());
    for (const std::string& id : ids) add_dir(layout_.WalDir(id));
  }

  CheckInstanceFiles();
  for (const std::string& p : temps) {
    FileReport f = NewFile(p, FileKind::kTempFile);
    AddProblem(&f, FileStatus::kOrphaned, 0, "temp file left by a crash");
    report().files.push_back(std::move(f));
  }
  // Reserve first: TabletState keeps a pointer into report().tablets.
  for (const std::string& id : ids) {
    if (!Wanted(id)) continue;
    TabletReport tr;
    tr.tablet_id = id;
    report().tablets.push_back(std::move(tr));
  }
  size_t i = 0;
  for (const std::string& id : ids) {
    if (!Wanted(id)) continue;
    tablets_[id].report = &report().tablets[i++];
  }
  for (auto& [id, t] : tablets_) CheckTablet(id, &t);
  // Superblocks of tablets outside --tablets matter for orphan detection.
  for (const std::string& id : ids) {
    if (!Wanted(id) && !tablet::LoadSuperBlock(layout_, id).ok()) all_superblocks_loaded_ = false;
  }
  CheckContainers();
  CheckBlocks();
  for (auto& [id, t] : tablets_) {
    if (!t.superblock) {
      t.report->bootstrap.reason = "the superblock does not load";
      continue;
    }
    t.report->bootstrap = CheckBootstrap(id, report().server_uuid, *t.superblock, t.cmeta, t.log);
  }
  report().files_checked = static_cast<int64_t>(report().files.size());
  result_.facts.data_dir_fully_understood =
      all_superblocks_loaded_ && bm_ != nullptr && result_.facts.orphans_known;
  report().seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (options_.progress) {
    progress_.files_done = progress_.files_total;
    options_.progress(progress_);
  }
  return std::move(result_);
}

}  // namespace

absl::StatusOr<ScanResult> Scan(const std::string& root, const ScanOptions& options) {
  Scanner s(root, options);
  return s.Run();
}

}  // namespace kmend::fsck
