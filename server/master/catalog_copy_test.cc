// Catalog copy (catalog_copy_source.h, catalog_copy_client.h) without gRPC:
// staging and installation, CRC checks, refusal to go backwards, term
// safety, and crashes before and during installation.
#include <stdlib.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/format/pb_container.h"
#include "lib/fs/layout.h"
#include "lib/io/file.h"
#include "lib/meta/cmeta.h"
#include "lib/copy/copy_limits.h"
#include "server/master/catalog_copy_client.h"
#include "server/master/catalog_copy_source.h"
#include "server/master/catalog_store.h"
#include "server/master/raft_catalog_store.h"

namespace kmend::master {
namespace {

using copy::PeerCopyLimits;

std::string TempDir() {
  const char* tmp = getenv("TEST_TMPDIR");
  std::string tmpl = std::string(tmp != nullptr ? tmp : "/tmp") + "/catalog-copy.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return "";
  return tmpl;
}

// A CatalogCopySource called directly.
class DirectPeer : public CatalogCopyPeer {
 public:
  DirectPeer(CatalogCopySource* source, CatalogCopyState state)
      : source_(source), state_(std::move(state)) {}
  absl::StatusOr<BeginCatalogCopyResponsePB> Begin(const BeginCatalogCopyRequestPB& r) override {
    return source_->Begin(r.requestor_uuid(), state_);
  }
  absl::StatusOr<FetchCatalogCopyDataResponsePB> Fetch(
      const FetchCatalogCopyDataRequestPB& r) override {
    return source_->Fetch(r);
  }
  absl::Status End(const std::string& id) override { return source_->End(id); }

 private:
  CatalogCopySource* source_;
  CatalogCopyState state_;
};

// A lying peer: forwards to `real` but lets the test rewrite what Begin
// announces and what Fetch asks the real source for.
class TamperingPeer : public CatalogCopyPeer {
 public:
  using BeginTamper = std::function<void(BeginCatalogCopyResponsePB*)>;
  using FetchTamper = std::function<void(FetchCatalogCopyDataRequestPB*)>;
  TamperingPeer(CatalogCopyPeer* real, BeginTamper begin, FetchTamper fetch)
      : real_(real), tamper_begin_(std::move(begin)), tamper_fetch_(std::move(fetch)) {}
  absl::StatusOr<BeginCatalogCopyResponsePB> Begin(const BeginCatalogCopyRequestPB& r) override {
    auto resp = real_->Begin(r);
    if (resp.ok() && tamper_begin_) tamper_begin_(&*resp);
    return resp;
  }
  absl::StatusOr<FetchCatalogCopyDataResponsePB> Fetch(
      const FetchCatalogCopyDataRequestPB& r) override {
    FetchCatalogCopyDataRequestPB forwarded = r;
    if (tamper_fetch_) tamper_fetch_(&forwarded);
    return real_->Fetch(forwarded);
  }
  absl::Status End(const std::string& id) override { return real_->End(id); }

 private:
  CatalogCopyPeer* const real_;
  const BeginTamper tamper_begin_;
  const FetchTamper tamper_fetch_;
};

consensus::RaftConfigPB Config() {
  consensus::RaftConfigPB c;
  c.set_opid_index(-1);
  for (const char* u : {"L", "F", "G"}) {
    auto* p = c.add_peers();
    p->set_permanent_uuid(u);
    p->set_member_type(consensus::RaftPeerPB::VOTER);
  }
  return c;
}

class CatalogCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = TempDir();
    ASSERT_FALSE(base_.empty());
    source_wal_ = io::JoinPath(base_, "leader-wal");
    root_ = io::JoinPath(base_, "follower");
    ASSERT_TRUE(io::CreateDirs(source_wal_).ok());
    // The leader: two segments, the second bigger than a chunk.
    seg3_ = std::string(3000, 'a');
    seg4_.clear();
    for (int i = 0; i < 5000; ++i) seg4_.push_back(static_cast<char>('a' + i % 26));
    ASSERT_TRUE(io::WriteFileAtomically(io::JoinPath(source_wal_, "wal-000000003"), seg3_).ok());
    ASSERT_TRUE(io::WriteFileAtomically(io::JoinPath(source_wal_, "wal-000000004"), seg4_).ok());
    state_.catalog.set_version(42);
    state_.catalog.set_applied_index(120);
    state_.catalog.add_tables()->mutable_info()->set_name("copied");
    state_.cstate.set_current_term(5);
    *state_.cstate.mutable_committed_config() = Config();
    state_.wal_dir = source_wal_;

    // The lagging follower: old segments, an old snapshot, cmeta at term 3.
    fs::Layout layout(root_);
    wal_dir_ = layout.WalDir(kSysCatalogTabletId);
    cmeta_path_ = layout.ConsensusMetaPath(kSysCatalogTabletId);
    ASSERT_TRUE(io::CreateDirs(wal_dir_).ok());
    ASSERT_TRUE(io::CreateDirs(layout.ConsensusMetaDir()).ok());
    ASSERT_TRUE(io::WriteFileAtomically(io::JoinPath(wal_dir_, "wal-000000001"), "old1").ok());
    ASSERT_TRUE(io::WriteFileAtomically(io::JoinPath(wal_dir_, "wal-000000002"), "old2").ok());
    SysCatalogPB old;
    old.set_version(2);
    old.set_applied_index(4);
    ASSERT_TRUE(pbc::WriteSingleMessageFile(io::JoinPath(root_, fs::kMasterCatalogFileName), old).ok());
    SetLocalTerm(3, "G");
    options_.requestor_uuid = "F";
    options_.local_last_logged_index = 7;
    options_.chunk_size_bytes = 1024;
  }

  void SetLocalTerm(int64_t term, const std::string& vote) {
    consensus::ConsensusMetadataPB cmeta;
    cmeta.set_current_term(term);
    cmeta.set_voted_for(vote);
    *cmeta.mutable_committed_config() = Config();
    ASSERT_TRUE(meta::StoreConsensusMeta(cmeta_path_, cmeta).ok());
  }

  std::vector<std::string> WalFiles() {
    auto names = io::ListDir(wal_dir_);
    return names.ok() ? *names : std::vector<std::string>{"<error>"};
  }

  void ExpectUntouched() {
    EXPECT_EQ(WalFiles(), (std::vector<std::string>{"wal-000000001", "wal-000000002"}));
    SysCatalogPB c;
    ASSERT_TRUE(pbc::ReadSingleMessageFile(io::JoinPath(root_, fs::kMasterCatalogFileName), &c).ok());
    EXPECT_EQ(c.version(), 2);
    auto cmeta = meta::LoadConsensusMeta(cmeta_path_);
    ASSERT_TRUE(cmeta.ok());
    EXPECT_EQ(cmeta->current_term(), 3);
  }

  void ExpectInstalled() {
    EXPECT_EQ(WalFiles(), (std::vector<std::string>{"wal-000000003", "wal-000000004"}));
    auto s3 = io::ReadFileToString(io::JoinPath(wal_dir_, "wal-000000003"));
    auto s4 = io::ReadFileToString(io::JoinPath(wal_dir_, "wal-000000004"));
    ASSERT_TRUE(s3.ok() && s4.ok());
    EXPECT_EQ(*s3, seg3_);
    EXPECT_EQ(*s4, seg4_);
    auto store = RaftCatalogStore::Open(io::JoinPath(root_, fs::kMasterCatalogFileName));
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->snapshot_index(), 120);
    EXPECT_EQ((*store)->applied().version(), 42);
    ASSERT_EQ((*store)->applied().tables_size(), 1);
    EXPECT_EQ((*store)->applied().tables(0).info().name(), "copied");
    auto cmeta = meta::LoadConsensusMeta(cmeta_path_);
    ASSERT_TRUE(cmeta.ok());
    EXPECT_EQ(cmeta->current_term(), 5);
    EXPECT_FALSE(cmeta->has_voted_for());  // term 3's vote is not term 5's
    EXPECT_EQ(cmeta->committed_config().peers_size(), 3);
    EXPECT_FALSE(io::FileExists(CatalogCopyStagingDir(root_)));
  }

  std::string base_, source_wal_, root_, wal_dir_, cmeta_path_;
  std::string seg3_, seg4_;
  CatalogCopyState state_;
  CatalogCopyOptions options_;
};

TEST_F(CatalogCopyTest, FetchStagesAndInstallReplacesTheReplica) {
  CatalogCopySource source("L");
  DirectPeer peer(&source, state_);
  auto r = FetchCatalogCopy(&peer, root_, kSysCatalogTabletId, options_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->snapshot_index, 120);
  EXPECT_EQ(r->catalog_version, 42);
  EXPECT_EQ(r->wal_segments, 2);
  EXPECT_EQ(source.num_sessions(), 0);  // ended
  // Staged, not installed yet.
  ExpectUntouched();
  auto installed = RecoverOrInstallCatalogCopy(root_, kSysCatalogTabletId);
  ASSERT_TRUE(installed.ok()) << installed.status();
  EXPECT_TRUE(*installed);
  ExpectInstalled();
  // Nothing left to do on the next start.
  installed = RecoverOrInstallCatalogCopy(root_, kSysCatalogTabletId);
  ASSERT_TRUE(installed.ok());
  EXPECT_FALSE(*installed);
}

TEST_F(CatalogCopyTest, HigherLocalTermAndItsVoteAreKept) {
  SetLocalTerm(9, "G");
  CatalogCopySource source("L");
  DirectPeer peer(&source, state_);
  ASSERT_TRUE(FetchCatalogCopy(&peer, root_, kSysCatalogTabletId, options_).ok());
  ASSERT_TRUE(RecoverOrInstallCatalogCopy(root_, kSysCatalogTabletId).ok());
  auto cmeta = meta::LoadConsensusMeta(cmeta_path_);
  ASSERT_TRUE(cmeta.ok());
  EXPECT_EQ(cmeta->current_term(), 9);
  EXPECT_EQ(cmeta->voted_for(), "G");
}

TEST_F(CatalogCopyTest, SourceBehindTheLocalLogIsRefused) {
  options_.local_last_logged_index = 121;
  CatalogCopySource source("L");
  DirectPeer peer(&source, state_);
  auto r = FetchCatalogCopy(&peer, root_, kSysCatalogTabletId, options_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_FALSE(io::FileExists(CatalogCopyStagingDir(root_)));
  EXPECT_EQ(source.num_sessions(), 0);
  ExpectUntouched();
}

TEST_F(CatalogCopyTest, CorruptChunkIsDataLossAndLeavesTheReplicaAlone) {
  options_.test_mutate_chunk = [](const std::string& item, std::string* data) {
    if (item == "wal-000000004") (*data)[10] ^= 1;
  };
  CatalogCopySource source("L");
  DirectPeer peer(&source, state_);
  auto r = FetchCatalogCopy(&peer, root_, kSysCatalogTabletId, options_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find("wal-000000004"), std::string::npos) << r.status();
  EXPECT_FALSE(io::FileExists(CatalogCopyStagingDir(root_)));
  ExpectUntouched();
}

TEST_F(CatalogCopyTest, CrashBeforeTheMarkerIsDiscardedAtStart) {
  options_.test_crash_after_chunks = 3;
  CatalogCopySource source("L");
  DirectPeer peer(&source, state_);
  auto r = FetchCatalogCopy(&peer, root_, kSysCatalogTabletId, options_);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kAborted) << r.status();
  ASSERT_TRUE(io::FileExists(CatalogCopyStagingDir(root_)));  // as a crash leaves it
  auto installed = RecoverOrInstallCatalogCopy(root_, kSysCatalogTabletId);
  ASSERT_TRUE(installed.ok()) << installed.status();
  EXPECT_FALSE(*installed);
  EXPECT_FALSE(io::FileExists(CatalogCopyStagingDir(root_)));
  ExpectUntouched();
  // A new copy then works.
  options_.test_crash_after_chunks = -1;
  ASSERT_TRUE(FetchCatalogCopy(&peer, root_, kSysCatalogTabletId, options_).ok());
  ASSERT_TRUE(RecoverOrInstallCatalogCopy(root_, kSysCatalogTabletId).ok());
  ExpectInstalled();
}

TEST_F(CatalogCopyTest, CrashDuringInstallationIsFinishedAtStart) {
  CatalogCopySource source("L");
  DirectPeer peer(&source, state_);
  ASSERT_TRUE(FetchCatalogCopy(&peer, root_, kSysCatalogTabletId, options_).ok());
  // What a crash part-way through installation leaves: one old segment
  // deleted, one new segment moved in, cmeta and snapshot not yet.
  const std::string staged = io::JoinPath(CatalogCopyStagingDir(root_), "wal");
  ASSERT_EQ(::unlink(io::JoinPath(wal_dir_, "wal-000000001").c_str()), 0);
  ASSERT_EQ(::rename(io::JoinPath(staged, "wal-000000003").c_str(),
                     io::JoinPath(wal_dir_, "wal-000000003").c_str()),
            0);
  // A second fetch must not overwrite a complete copy waiting to install.
  auto again = FetchCatalogCopy(&peer, root_, kSysCatalogTabletId, options_);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition) << again.status();
  auto installed = RecoverOrInstallCatalogCopy(root_, kSysCatalogTabletId);
  ASSERT_TRUE(installed.ok()) << installed.status();
  EXPECT_TRUE(*installed);
  ExpectInstalled();
}

TEST_F(CatalogCopyTest, SourceSessionsServeSegmentsDeletedMeanwhileAndCheckRequests) {
  CatalogCopySource source("L");
  auto self = source.Begin("L", state_);
  EXPECT_EQ(self.status().code(), absl::StatusCode::kInvalidArgument);
  auto begin = source.Begin("F", state_);
  ASSERT_TRUE(begin.ok()) << begin.status();
  ASSERT_EQ(begin->items_size(), 3);
  EXPECT_EQ(begin->items(0).name(), kCatalogCopySnapshotItem);
  EXPECT_EQ(begin->items(1).name(), "wal-000000003");
  EXPECT_EQ(begin->snapshot_index(), 120);
  // GC deletes the closed segment during the session: still served.
  ASSERT_EQ(::unlink(io::JoinPath(source_wal_, "wal-000000003").c_str()), 0);
  FetchCatalogCopyDataRequestPB req;
  req.set_session_id(begin->session_id());
  req.set_name("wal-000000003");
  req.set_offset(100);
  req.set_max_length_bytes(50);
  auto chunk = source.Fetch(req);
  ASSERT_TRUE(chunk.ok()) << chunk.status();
  EXPECT_EQ(chunk->data(), seg3_.substr(100, 50));
  EXPECT_EQ(chunk->total_size_bytes(), 3000);
  req.set_offset(3001);
  EXPECT_EQ(source.Fetch(req).status().code(), absl::StatusCode::kOutOfRange);
  req.set_offset(0);
  req.set_name("../../etc/passwd");
  EXPECT_EQ(source.Fetch(req).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(source.End(begin->session_id()).ok());
  req.set_name("wal-000000003");
  EXPECT_EQ(source.Fetch(req).status().code(), absl::StatusCode::kNotFound);
}

// Sizes the source announces are checked before anything is allocated or
// staged: the snapshot (buffered whole) and each WAL segment against their
// limits, naming the item, the value and the limit.
TEST_F(CatalogCopyTest, HugeAnnouncedItemIsRefusedBeforeStaging) {
  constexpr int64_t kHuge = int64_t{1} << 62;
  const struct {
    int item;
    const char* name;
    int64_t limit;
  } cases[] = {
      {0, kCatalogCopySnapshotItem, PeerCopyLimits::kMaxCatalogSnapshotBytes},
      {1, "wal-000000003", PeerCopyLimits::kMaxWalSegmentBytes},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    CatalogCopySource source("L");
    DirectPeer real(&source, state_);
    TamperingPeer liar(
        &real, [&](BeginCatalogCopyResponsePB* resp) {
          resp->mutable_items(c.item)->set_size_bytes(kHuge);
        },
        nullptr);
    auto r = FetchCatalogCopy(&liar, root_, kSysCatalogTabletId, options_);
    ASSERT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
    const std::string message(r.status().message());
    EXPECT_NE(message.find(c.name), std::string::npos) << message;
    EXPECT_NE(message.find(absl::StrCat(kHuge)), std::string::npos) << message;
    EXPECT_NE(message.find(absl::StrCat("limit ", c.limit)), std::string::npos) << message;
    EXPECT_FALSE(io::FileExists(CatalogCopyStagingDir(root_)));
    EXPECT_EQ(source.num_sessions(), 0);
    ExpectUntouched();
  }
}

TEST_F(CatalogCopyTest, MoreBytesThanTheDiskHasFreeIsRefused) {
  auto space = io::GetFilesystemSpace(root_);
  ASSERT_TRUE(space.ok()) << space.status();
  constexpr int64_t kSegment = PeerCopyLimits::kMaxWalSegmentBytes;
  // Two more segments than fit, so that the disk freeing up a little
  // meanwhile cannot make them fit.
  const int64_t extra_segments = static_cast<int64_t>(space->available_bytes) / kSegment + 2;
  ASSERT_LE(extra_segments, PeerCopyLimits::kMaxItems - 100) << "disk too large";
  CatalogCopySource source("L");
  DirectPeer real(&source, state_);
  TamperingPeer liar(
      &real, [&](BeginCatalogCopyResponsePB* resp) {
        for (int64_t i = 0; i < extra_segments; ++i) {
          CatalogCopyItemPB* item = resp->add_items();
          item->set_name(absl::StrCat("wal-", 100000000 + i));
          item->set_size_bytes(kSegment);
        }
      },
      nullptr);
  auto r = FetchCatalogCopy(&liar, root_, kSysCatalogTabletId, options_);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  EXPECT_NE(r.status().message().find("available"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find(root_), std::string::npos) << r.status();
  EXPECT_FALSE(io::FileExists(CatalogCopyStagingDir(root_)));
  EXPECT_EQ(source.num_sessions(), 0);
  ExpectUntouched();
}

// A source sending more than the max_length_bytes asked for (here: the
// request's limit dropped, so the source's 1 MiB default applies) is refused.
TEST_F(CatalogCopyTest, ChunkLongerThanRequestedIsRefused) {
  CatalogCopySource source("L");
  DirectPeer real(&source, state_);
  TamperingPeer liar(&real, nullptr,
                     [](FetchCatalogCopyDataRequestPB* req) { req->clear_max_length_bytes(); });
  auto r = FetchCatalogCopy(&liar, root_, kSysCatalogTabletId, options_);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find(absl::StrCat("than the ", options_.chunk_size_bytes,
                                                   " bytes")),
            std::string::npos)
      << r.status();
  EXPECT_FALSE(io::FileExists(CatalogCopyStagingDir(root_)));
  ExpectUntouched();
}

}  // namespace
}  // namespace kmend::master
