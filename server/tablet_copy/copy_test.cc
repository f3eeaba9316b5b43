// Tablet copy end to end: a real source replica served over gRPC on
// 127.0.0.1:0, copied into a fresh root by CopyTablet.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/fs/layout.h"
#include "lib/io/file.h"
#include "lib/meta/cmeta.h"
#include "lib/tablet/column_block.h"
#include "lib/tablet/superblock.h"
#include "lib/tablet/tablet.h"
#include "lib/wal/format.h"
#include "lib/wal/log.h"
#include "proto/tablet_copy.grpc.pb.h"
#include "lib/copy/copy_limits.h"
#include "server/common/grpc_util.h"
#include "server/common/rpc_server.h"
#include "lib/tablet_copy/copy_client.h"
#include "server/tablet_copy/copy_service.h"
#include "server/tablet_copy/copy_source.h"
#include "server/tablet_copy/copy_test_util.h"

namespace kmend::tablet_copy {
namespace {

using testing::CopySource;
using testing::Root;
using tserver::DataIdPB;

class TabletCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::SourceSpec spec;
    spec.rows = 3000;
    spec.string_bytes = 40;
    spec.flushes = 2;
    ASSERT_TRUE(source_.Start(spec).ok());
    ASSERT_TRUE(dest_.Open(testing::FreshDir("copydst") + "/root").ok());
  }

  CopyOptions Options() {
    CopyOptions o;
    o.requestor_uuid = "dest-uuid";
    o.block_manager = dest_.bm.get();
    o.sync = false;
    o.chunk_size_bytes = 16 << 10;  // many chunks per block
    return o;
  }
  fs::Layout dest_layout() const { return fs::Layout(dest_.path); }
  tablet::TabletDataState DestState() {
    auto sb = tablet::LoadSuperBlock(dest_layout(), source_.tablet_id());
    EXPECT_TRUE(sb.ok()) << sb.status();
    return sb.ok() ? sb->tablet_data_state() : tablet::TABLET_DATA_UNKNOWN;
  }
  std::vector<std::string> DestWalFiles() {
    auto names = io::ListDir(dest_layout().WalDir(source_.tablet_id()));
    return names.ok() ? *names : std::vector<std::string>{};
  }
  // Entries of a WAL directory, opened read-write as a server would.
  std::vector<std::string> WalEntries(const std::string& dir) {
    wal::LogOptions lo;
    lo.sync = false;
    auto log = wal::Log::Open(dir, lo);
    EXPECT_TRUE(log.ok()) << log.status();
    if (!log.ok()) return {};
    std::vector<std::string> out;
    if ((*log)->LastOpId().index() == 0) return out;
    auto entries = (*log)->ReadEntries((*log)->FirstIndex(), (*log)->LastOpId().index());
    EXPECT_TRUE(entries.ok()) << entries.status();
    for (const auto& e : *entries) out.push_back(e.SerializeAsString());
    return out;
  }
  // A copy refused at BeginTabletCopySession: no superblock, WAL dir or
  // block was created, and the source's session was ended.
  void ExpectNothingWrittenAndSessionEnded() {
    EXPECT_FALSE(io::FileExists(dest_layout().TabletMetaPath(source_.tablet_id())));
    EXPECT_FALSE(io::FileExists(dest_layout().WalDir(source_.tablet_id())));
    EXPECT_TRUE(dest_.bm->ListBlocks().empty());
    EXPECT_EQ(source_.manager()->num_sessions(), 0);
  }
  std::unique_ptr<tserver::TabletCopyService::Stub> Stub() {
    return tserver::TabletCopyService::NewStub(server::NewChannel(source_.address()));
  }

  CopySource source_;
  Root dest_;
};

TEST_F(TabletCopyTest, FullCopyOpensWithSameRowsChecksumWalAndCmeta) {
  CopyOptions o = Options();
  int progress_calls = 0;
  CopyProgress last;
  o.progress = [&](const CopyProgress& p) {
    ++progress_calls;
    last = p;
  };
  auto r = CopyTablet(source_.address(), source_.tablet_id(), dest_.path, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->source_uuid, "source-uuid");
  EXPECT_EQ(r->blocks, 4);  // one rowset (the tablet keeps one), four columns
  EXPECT_GE(r->wal_segments, 3);
  EXPECT_GT(r->chunks, r->blocks + r->wal_segments);  // blocks span several chunks
  EXPECT_EQ(progress_calls, r->chunks);
  EXPECT_EQ(last.bytes_done, last.bytes_total);
  EXPECT_EQ(last.items_done, last.items_total);
  EXPECT_EQ(source_.manager()->num_sessions(), 0);  // ended

  EXPECT_EQ(DestState(), tablet::TABLET_DATA_READY);
  // A restart of the destination: new block manager, tablet opened (which
  // verifies every block) and compared.
  ASSERT_TRUE(dest_.Reopen().ok());
  auto copy = tablet::Tablet::Open(dest_layout(), dest_.bm.get(), source_.tablet_id());
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ((*copy)->Checksum().digest, source_.tablet()->Checksum().digest);
  EXPECT_EQ((*copy)->Checksum().row_count, 3000);
  EXPECT_EQ(testing::RowsAsText(**copy), testing::RowsAsText(*source_.tablet()));
  EXPECT_EQ((*copy)->last_flushed_op_index(), source_.tablet()->last_flushed_op_index());
  // Block ids are the destination's own.
  for (uint64_t id : tablet::RowSetBlockIds(r->superblock)) EXPECT_TRUE(dest_.bm->HasBlock(id));

  auto cmeta = meta::LoadConsensusMeta(dest_layout().ConsensusMetaPath(source_.tablet_id()));
  ASSERT_TRUE(cmeta.ok()) << cmeta.status();
  EXPECT_EQ(cmeta->current_term(), 7);
  EXPECT_FALSE(cmeta->has_voted_for());  // the source's vote is not ours
  EXPECT_EQ(cmeta->committed_config().peers_size(), 3);

  // The WAL: same entries as the source's.
  auto copied = WalEntries(dest_layout().WalDir(source_.tablet_id()));
  ASSERT_EQ(copied.size(), 200u);
  auto src_entries = source_.log()->ReadEntries(1, 200);
  ASSERT_TRUE(src_entries.ok()) << src_entries.status();
  for (size_t i = 0; i < copied.size(); ++i) {
    EXPECT_EQ(copied[i], (*src_entries)[i].SerializeAsString()) << "entry " << i + 1;
  }
}

// The source keeps appending to its WAL during the copy: the copied log is
// a prefix of the source's that opens cleanly (the active segment was
// snapshotted, possibly mid-batch).
TEST_F(TabletCopyTest, CopyWhileSourceAppendsGivesAPrefixOfTheLog) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> last{200};
  std::thread writer([&] {
    while (!stop.load() && last.load() < 5000) {
      consensus::ReplicateMsg msg;
      const int64_t index = last.load() + 1;
      msg.mutable_id()->set_term(7);
      msg.mutable_id()->set_index(index);
      msg.set_timestamp(index);
      msg.set_op_type(consensus::NO_OP);
      msg.set_write_request(std::string(300, static_cast<char>(index)));
      if (!source_.log()->Append({msg}).ok()) return;
      last.store(index);
    }
  });
  CopyOptions o = Options();
  // Begin only once the writer is busy; slow the copy down a little by
  // small chunks so appends overlap it.
  o.chunk_size_bytes = 4 << 10;
  while (last.load() < 300) std::this_thread::yield();
  auto r = CopyTablet(source_.address(), source_.tablet_id(), dest_.path, o);
  stop.store(true);
  writer.join();
  ASSERT_TRUE(r.ok()) << r.status();
  auto copied = WalEntries(dest_layout().WalDir(source_.tablet_id()));
  ASSERT_GE(copied.size(), 300u);
  auto src = source_.log()->ReadEntries(1, static_cast<int64_t>(copied.size()));
  ASSERT_TRUE(src.ok()) << src.status();
  ASSERT_EQ(src->size(), copied.size());
  for (size_t i = 0; i < copied.size(); ++i) {
    ASSERT_EQ(copied[i], (*src)[i].SerializeAsString()) << "entry " << i + 1;
  }
}

// The source crashed mid-append (or is appending): its active segment, 4 MiB
// preallocated, ends in a batch whose header reached the disk but only half
// its payload, then zeros. Only the written part travels, torn batch
// included (wal::SegmentWrittenLength), and the copied log opens with every
// entry before the tear: the receiver's WAL recovery cuts it off as after a
// crash of its own.
TEST_F(TabletCopyTest, ATornActiveSegmentIsServedTrimmedAndOpensUpToTheTear) {
  testing::SourceSpec spec;
  spec.rows = 300;
  spec.flushes = 1;
  spec.wal_segment_size_bytes = 4 << 20;  // one segment, active, preallocated
  CopySource torn_source;
  ASSERT_TRUE(torn_source.Start(spec).ok());
  const std::string wal_dir = fs::Layout(torn_source.root().path).WalDir(torn_source.tablet_id());
  auto names = io::ListDir(wal_dir);
  ASSERT_TRUE(names.ok()) << names.status();
  uint64_t active = 0;
  for (const std::string& n : *names) {
    if (auto seq = wal::ParseSegmentFileName(n)) active = std::max(active, *seq);
  }
  ASSERT_GT(active, 0u);
  const std::string path = io::JoinPath(wal_dir, wal::SegmentFileName(active));
  auto bytes = io::ReadFileToString(path);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  ASSERT_GE(bytes->size(), 4u << 20) << "the active segment is not preallocated";
  const uint64_t written = wal::SegmentWrittenLength(*bytes);
  ASSERT_LT(written, 1u << 20);
  std::string batch;
  wal::AppendBatch(std::string(4000, 'x'), 4000, &batch);
  const std::string torn = batch.substr(0, wal::kBatchHeaderBytesV2 + 2000);
  {
    int fd = ::open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, torn.data(), torn.size(), static_cast<off_t>(written)),
              static_cast<ssize_t>(torn.size()));
    ::close(fd);
  }

  auto r = CopyTablet(torn_source.address(), torn_source.tablet_id(), dest_.path, Options());
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string copied_path =
      io::JoinPath(dest_layout().WalDir(torn_source.tablet_id()), wal::SegmentFileName(active));
  auto copied = io::ReadFileToString(copied_path);
  ASSERT_TRUE(copied.ok()) << copied.status();
  // The torn batch as its header announces it (its missing half is zeros),
  // not the 4 MiB of preallocation.
  EXPECT_EQ(copied->size(), written + batch.size());
  EXPECT_EQ(copied->substr(0, written + torn.size()), bytes->substr(0, written) + torn);

  auto entries = WalEntries(dest_layout().WalDir(torn_source.tablet_id()));
  ASSERT_EQ(entries.size(), 200u);
  auto src = torn_source.log()->ReadEntries(1, 200);
  ASSERT_TRUE(src.ok()) << src.status();
  for (size_t i = 0; i < entries.size(); ++i) {
    ASSERT_EQ(entries[i], (*src)[i].SerializeAsString()) << "entry " << i + 1;
  }
}

TEST_F(TabletCopyTest, RefusesWhenReadyReplicaExists) {
  ASSERT_TRUE(CopyTablet(source_.address(), source_.tablet_id(), dest_.path, Options()).ok());
  auto again = CopyTablet(source_.address(), source_.tablet_id(), dest_.path, Options());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
  EXPECT_EQ(DestState(), tablet::TABLET_DATA_READY);
}

TEST_F(TabletCopyTest, ReplacesTombstonedReplicaKeepingHigherTermAndVote) {
  ASSERT_TRUE(CopyTablet(source_.address(), source_.tablet_id(), dest_.path, Options()).ok());
  const std::vector<blocks::BlockId> first_blocks = dest_.bm->ListBlocks();
  ASSERT_TRUE(tablet::Tablet::Tombstone(dest_layout(), dest_.bm.get(), source_.tablet_id()).ok());
  // The tombstoned replica had voted in a later term than the source's.
  const std::string cmeta_path = dest_layout().ConsensusMetaPath(source_.tablet_id());
  auto cmeta = meta::LoadConsensusMeta(cmeta_path);
  ASSERT_TRUE(cmeta.ok());
  cmeta->set_current_term(9);
  cmeta->set_voted_for("someone");
  ASSERT_TRUE(meta::StoreConsensusMeta(cmeta_path, *cmeta).ok());

  auto r = CopyTablet(source_.address(), source_.tablet_id(), dest_.path, Options());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(DestState(), tablet::TABLET_DATA_READY);
  for (blocks::BlockId id : first_blocks) EXPECT_FALSE(dest_.bm->HasBlock(id));
  EXPECT_EQ(dest_.bm->ListBlocks().size(), 4u);
  auto after = meta::LoadConsensusMeta(cmeta_path);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->current_term(), 9);
  EXPECT_EQ(after->voted_for(), "someone");
}

TEST_F(TabletCopyTest, CorruptChunkIsRejectedAndReplicaTombstoned) {
  CopyOptions o = Options();
  int seen = 0;
  o.test_mutate_chunk = [&](const DataIdPB& id, std::string* data) {
    if (id.type() == DataIdPB::BLOCK && ++seen == 3) (*data)[data->size() / 2] ^= 0x01;
  };
  auto r = CopyTablet(source_.address(), source_.tablet_id(), dest_.path, o);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find("crc mismatch"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("offset"), std::string::npos) << r.status();
  EXPECT_EQ(DestState(), tablet::TABLET_DATA_TOMBSTONED);
  EXPECT_TRUE(dest_.bm->ListBlocks().empty());
  EXPECT_TRUE(DestWalFiles().empty());
  EXPECT_EQ(source_.manager()->num_sessions(), 0);
}

// A block damaged on the source's disk travels with matching chunk CRCs;
// the block's own frame CRC rejects it before it is stored.
TEST_F(TabletCopyTest, CorruptSourceBlockIsRejected) {
  const tablet::TabletSuperBlockPB sb = source_.tablet()->superblock();
  const uint64_t victim = tablet::RowSetBlockIds(sb)[1];
  auto loc = source_.root().bm->Locate(victim);
  ASSERT_TRUE(loc.ok()) << loc.status();
  const std::string data_path =
      source_.root().bm->data_dir() + "/" + loc->container_id + ".data";
  int fd = ::open(data_path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char byte = 0;
  const off_t at = loc->offset + loc->length / 2;
  ASSERT_EQ(::pread(fd, &byte, 1, at), 1);
  byte ^= 0x10;
  ASSERT_EQ(::pwrite(fd, &byte, 1, at), 1);
  ::close(fd);

  auto r = CopyTablet(source_.address(), source_.tablet_id(), dest_.path, Options());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find(tablet::BlockIdToString(victim)), std::string::npos)
      << r.status();
  EXPECT_EQ(DestState(), tablet::TABLET_DATA_TOMBSTONED);
  EXPECT_TRUE(dest_.bm->ListBlocks().empty());
}

TEST_F(TabletCopyTest, CorruptWalChunkIsRejected) {
  CopyOptions o = Options();
  o.test_mutate_chunk = [&](const DataIdPB& id, std::string* data) {
    if (id.type() == DataIdPB::LOG_SEGMENT) (*data)[0] ^= 0x80;
  };
  auto r = CopyTablet(source_.address(), source_.tablet_id(), dest_.path, o);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_EQ(DestState(), tablet::TABLET_DATA_TOMBSTONED);
  EXPECT_TRUE(DestWalFiles().empty());  // the temp file too
}

// A crash after every interesting number of chunks: the replica is COPYING,
// never READY; recovery tombstones it and deletes what the copy wrote; a new
// copy then succeeds over the tombstone.
TEST_F(TabletCopyTest, CrashAfterNChunksLeavesCopyingAndRecoveryTombstones) {
  auto full = CopyTablet(source_.address(), source_.tablet_id(), dest_.path, Options());
  ASSERT_TRUE(full.ok()) << full.status();
  const int64_t total = full->chunks;
  ASSERT_TRUE(tablet::Tablet::Tombstone(dest_layout(), dest_.bm.get(), source_.tablet_id()).ok());

  for (int64_t n : {int64_t{0}, int64_t{1}, total / 2, total - 1, total}) {
    SCOPED_TRACE(n);
    CopyOptions o = Options();
    o.test_crash_after_chunks = n;
    auto r = CopyTablet(source_.address(), source_.tablet_id(), dest_.path, o);
    if (n == total) {
      // Every chunk arrived; nothing left to crash in.
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_TRUE(tablet::Tablet::Tombstone(dest_layout(), dest_.bm.get(), source_.tablet_id()).ok());
      continue;
    }
    ASSERT_EQ(r.status().code(), absl::StatusCode::kAborted) << r.status();
    EXPECT_EQ(DestState(), tablet::TABLET_DATA_COPYING);
    // A restart: the tablet refuses to open, a new copy refuses to start.
    ASSERT_TRUE(dest_.Reopen().ok());
    EXPECT_FALSE(tablet::Tablet::Open(dest_layout(), dest_.bm.get(), source_.tablet_id()).ok());
    auto refused = CopyTablet(source_.address(), source_.tablet_id(), dest_.path, Options());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();

    ASSERT_TRUE(RecoverInterruptedCopy(dest_.path, source_.tablet_id()).ok());
    ASSERT_TRUE(dest_.Reopen().ok());
    EXPECT_EQ(DestState(), tablet::TABLET_DATA_TOMBSTONED);
    EXPECT_TRUE(dest_.bm->ListBlocks().empty());
    EXPECT_TRUE(DestWalFiles().empty());
    // Recovery of a non-COPYING replica is refused.
    EXPECT_EQ(RecoverInterruptedCopy(dest_.path, source_.tablet_id(), dest_.bm.get()).code(),
              absl::StatusCode::kFailedPrecondition);
  }
  // The crashed sessions expire on the source; the copies still work.
  auto r = CopyTablet(source_.address(), source_.tablet_id(), dest_.path, Options());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(DestState(), tablet::TABLET_DATA_READY);
}

TEST_F(TabletCopyTest, FetchServesOnlyTheSessionsItems) {
  auto stub = Stub();
  tserver::BeginTabletCopySessionRequestPB breq;
  breq.set_requestor_uuid("dest-uuid");
  breq.set_tablet_id(source_.tablet_id());
  tserver::BeginTabletCopySessionResponsePB bresp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->BeginTabletCopySession(&ctx, breq, &bresp).ok());
  }
  auto fetch = [&](const DataIdPB& id, uint64_t offset, tserver::FetchDataResponsePB* out) {
    tserver::FetchDataRequestPB req;
    req.set_session_id(bresp.session_id());
    *req.mutable_data_id() = id;
    req.set_offset(offset);
    grpc::ClientContext ctx;
    return stub->FetchData(&ctx, req, out);
  };
  tserver::FetchDataResponsePB resp;

  DataIdPB block;
  block.set_type(DataIdPB::BLOCK);
  block.mutable_block_id()->set_id(987654321);
  grpc::Status s = fetch(block, 0, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("block 987654321"), std::string::npos) << s.error_message();

  DataIdPB seg;
  seg.set_type(DataIdPB::LOG_SEGMENT);
  seg.set_wal_segment_seqno(4242);
  s = fetch(seg, 0, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("WAL segment 4242"), std::string::npos) << s.error_message();

  DataIdPB unknown;
  unknown.set_type(DataIdPB::UNKNOWN);
  EXPECT_EQ(fetch(unknown, 0, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The superblock: the stored bytes, with a correct CRC; past the end is
  // OutOfRange.
  DataIdPB sb;
  sb.set_type(DataIdPB::SUPER_BLOCK);
  ASSERT_TRUE(fetch(sb, 0, &resp).ok());
  auto stored = io::ReadFileToString(
      fs::Layout(source_.root().path).TabletMetaPath(source_.tablet_id()));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(resp.chunk().data(), *stored);
  EXPECT_EQ(resp.chunk().total_data_length(), static_cast<int64_t>(stored->size()));
  EXPECT_EQ(fetch(sb, stored->size(), &resp).error_code(), grpc::StatusCode::OUT_OF_RANGE);

  // Another session's id, or none, is NotFound.
  tserver::FetchDataRequestPB bad;
  bad.set_session_id("no-such-session");
  *bad.mutable_data_id() = sb;
  grpc::ClientContext ctx;
  EXPECT_EQ(stub->FetchData(&ctx, bad, &resp).error_code(), grpc::StatusCode::NOT_FOUND);

  // Unknown tablet, self-copy.
  tserver::BeginTabletCopySessionRequestPB other = breq;
  other.set_tablet_id(std::string(32, 'a'));
  grpc::ClientContext c2;
  EXPECT_EQ(stub->BeginTabletCopySession(&c2, other, &bresp).error_code(),
            grpc::StatusCode::NOT_FOUND);
  other = breq;
  other.set_requestor_uuid("source-uuid");
  grpc::ClientContext c3;
  EXPECT_EQ(stub->BeginTabletCopySession(&c3, other, &bresp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// Hostile requests: ids that would become paths outside the data dir, and
// a WAL dir that is a symlink out of the root, are refused before any file
// is opened or served.
TEST_F(TabletCopyTest, PathTraversalIsRefused) {
  auto stub = Stub();
  tserver::BeginTabletCopySessionRequestPB breq;
  breq.set_requestor_uuid("dest-uuid");
  tserver::BeginTabletCopySessionResponsePB bresp;
  for (const std::string& evil :
       {std::string("../../../../etc"), std::string("/etc/passwd"),
        std::string("..%2f..%2fetc"), source_.tablet_id() + "/../" + source_.tablet_id(),
        std::string("0123456789abcdef0123456789abcde\0")}) {
    breq.set_tablet_id(evil);
    grpc::ClientContext ctx;
    grpc::Status s = stub->BeginTabletCopySession(&ctx, breq, &bresp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << evil;
    EXPECT_NE(s.error_message().find("tablet_id: expected 32 lowercase hex"), std::string::npos)
        << s.error_message();
  }
  // The client refuses the same ids before dialling.
  EXPECT_EQ(CopyTablet(source_.address(), "../x", dest_.path, Options()).status().code(),
            absl::StatusCode::kInvalidArgument);

  // The WAL dir moved out of the root and symlinked back: refused, the
  // files outside are not served.
  const std::string wal_dir = fs::Layout(source_.root().path).WalDir(source_.tablet_id());
  const std::string outside = dest_.path + "-outside-wal";
  ASSERT_EQ(::rename(wal_dir.c_str(), outside.c_str()), 0);
  ASSERT_EQ(::symlink(outside.c_str(), wal_dir.c_str()), 0);
  breq.set_tablet_id(source_.tablet_id());
  grpc::ClientContext ctx;
  grpc::Status s = stub->BeginTabletCopySession(&ctx, breq, &bresp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("outside"), std::string::npos) << s.error_message();
  ASSERT_EQ(::unlink(wal_dir.c_str()), 0);
  ASSERT_EQ(::rename(outside.c_str(), wal_dir.c_str()), 0);
}

TEST_F(TabletCopyTest, RefusesSourceReplicaThatIsNotReady) {
  source_.provider().replica.ready = false;
  auto r = CopyTablet(source_.address(), source_.tablet_id(), dest_.path, Options());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  // Nothing written locally.
  EXPECT_FALSE(io::FileExists(dest_layout().TabletMetaPath(source_.tablet_id())));
}

// The WAL anchor: a segment garbage-collected on the source after the
// session began is still served, through the session's descriptor.
TEST_F(TabletCopyTest, SessionKeepsGarbageCollectedSegmentsReadable) {
  tserver::BeginTabletCopySessionRequestPB breq;
  breq.set_requestor_uuid("dest-uuid");
  breq.set_tablet_id(source_.tablet_id());
  auto begin = source_.manager()->BeginSession(breq);
  ASSERT_TRUE(begin.ok()) << begin.status();
  ASSERT_GE(begin->wal_segment_seqnos_size(), 3);
  const uint64_t first = begin->wal_segment_seqnos(0);
  auto gc = source_.log()->GarbageCollect(1000);
  ASSERT_TRUE(gc.ok()) << gc.status();
  ASSERT_GE(*gc, 1);
  const std::string path = fs::Layout(source_.root().path).WalDir(source_.tablet_id()) + "/" +
                           wal::SegmentFileName(first);
  ASSERT_FALSE(io::FileExists(path));

  tserver::FetchDataRequestPB req;
  req.set_session_id(begin->session_id());
  req.mutable_data_id()->set_type(DataIdPB::LOG_SEGMENT);
  req.mutable_data_id()->set_wal_segment_seqno(first);
  auto chunk = source_.manager()->FetchData(req);
  ASSERT_TRUE(chunk.ok()) << chunk.status();
  EXPECT_EQ(chunk->data().substr(0, 8), "kudulogf");
  EXPECT_TRUE(source_.manager()->EndSession(begin->session_id(), true).ok());
  EXPECT_EQ(source_.manager()->EndSession(begin->session_id(), true).code(),
            absl::StatusCode::kNotFound);
}

// A block deleted by a flush during the session is refused, never served as
// zeros.
TEST_F(TabletCopyTest, BlockDeletedDuringSessionIsAborted) {
  tserver::BeginTabletCopySessionRequestPB breq;
  breq.set_requestor_uuid("dest-uuid");
  breq.set_tablet_id(source_.tablet_id());
  auto begin = source_.manager()->BeginSession(breq);
  ASSERT_TRUE(begin.ok()) << begin.status();
  kmend::WriteOpsPB batch;
  auto* op = batch.add_ops();
  op->set_type(kmend::RowOpPB::DELETE);
  op->add_cells()->set_int64_value(5);
  ASSERT_TRUE(source_.tablet()->Apply(batch, 1000).ok());
  ASSERT_TRUE(source_.tablet()->Flush().ok());  // replaces every block

  tserver::FetchDataRequestPB req;
  req.set_session_id(begin->session_id());
  for (const auto& item : begin->items()) {
    if (item.id().type() == DataIdPB::BLOCK) *req.mutable_data_id() = item.id();
  }
  ASSERT_EQ(req.data_id().type(), DataIdPB::BLOCK);
  auto chunk = source_.manager()->FetchData(req);
  EXPECT_EQ(chunk.status().code(), absl::StatusCode::kAborted) << chunk.status();
}

// A lying peer: an in-process TabletCopyService on 127.0.0.1:0 that serves
// a real source's sessions but lets the test rewrite what it announces in
// BeginTabletCopySession and what FetchData asks the real source for.
class TamperingCopyService final : public tserver::TabletCopyService::Service {
 public:
  using BeginTamper = std::function<void(tserver::BeginTabletCopySessionResponsePB*)>;
  using FetchTamper = std::function<void(tserver::FetchDataRequestPB*)>;

  TamperingCopyService(TabletCopySourceManager* manager, BeginTamper begin, FetchTamper fetch)
      : real_(manager), tamper_begin_(std::move(begin)), tamper_fetch_(std::move(fetch)) {}
  ~TamperingCopyService() override { rpc_.Shutdown(std::chrono::milliseconds(100)); }

  absl::Status Start() { return rpc_.Start("127.0.0.1:0", {this}, ""); }
  std::string address() const { return absl::StrCat("127.0.0.1:", rpc_.port()); }

  grpc::Status BeginTabletCopySession(grpc::ServerContext* ctx,
                                      const tserver::BeginTabletCopySessionRequestPB* req,
                                      tserver::BeginTabletCopySessionResponsePB* resp) override {
    grpc::Status s = real_.BeginTabletCopySession(ctx, req, resp);
    if (s.ok() && tamper_begin_) tamper_begin_(resp);
    return s;
  }
  grpc::Status FetchData(grpc::ServerContext* ctx, const tserver::FetchDataRequestPB* req,
                         tserver::FetchDataResponsePB* resp) override {
    tserver::FetchDataRequestPB forwarded = *req;
    if (tamper_fetch_) tamper_fetch_(&forwarded);
    return real_.FetchData(ctx, &forwarded, resp);
  }
  grpc::Status EndTabletCopySession(grpc::ServerContext* ctx,
                                    const tserver::EndTabletCopySessionRequestPB* req,
                                    tserver::EndTabletCopySessionResponsePB* resp) override {
    return real_.EndTabletCopySession(ctx, req, resp);
  }

 private:
  TabletCopyServiceImpl real_;
  const BeginTamper tamper_begin_;
  const FetchTamper tamper_fetch_;
  server::RpcServer rpc_;
};

// Sizes a peer announces are checked before anything is allocated or
// written: a 2^62-byte block used to reach std::string::reserve, whose
// exception aborted the whole tablet server.
TEST_F(TabletCopyTest, HugeAnnouncedBlockIsRefusedBeforeAnyAllocation) {
  constexpr int64_t kHuge = int64_t{1} << 62;
  std::string victim;
  TamperingCopyService liar(
      source_.manager(),
      [&](tserver::BeginTabletCopySessionResponsePB* resp) {
        for (tserver::CopyItemPB& item : *resp->mutable_items()) {
          if (item.id().type() != DataIdPB::BLOCK) continue;
          item.set_size_bytes(kHuge);
          victim = DataIdName(item.id());
          return;
        }
      },
      nullptr);
  ASSERT_TRUE(liar.Start().ok());
  auto r = CopyTablet(liar.address(), source_.tablet_id(), dest_.path, Options());
  ASSERT_FALSE(victim.empty());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  EXPECT_NE(r.status().message().find(victim), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find(absl::StrCat(kHuge)), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find(absl::StrCat(
                "limit ", copy::PeerCopyLimits::kMaxBlockBytes)),
            std::string::npos)
      << r.status();
  ExpectNothingWrittenAndSessionEnded();
}

// A session whose items each look sane but together need more than the
// destination's filesystem has free is refused before anything is written.
TEST_F(TabletCopyTest, MoreBytesThanTheDiskHasFreeIsRefused) {
  auto space = io::GetFilesystemSpace(dest_.path);
  ASSERT_TRUE(space.ok()) << space.status();
  constexpr int64_t kSegment = copy::PeerCopyLimits::kMaxWalSegmentBytes;
  // Two more segments than fit, so that the disk freeing up a little
  // meanwhile cannot make them fit.
  const int64_t extra_segments = static_cast<int64_t>(space->available_bytes) / kSegment + 2;
  ASSERT_LE(extra_segments, copy::PeerCopyLimits::kMaxItems - 100) << "disk too large";
  TamperingCopyService liar(
      source_.manager(),
      [&](tserver::BeginTabletCopySessionResponsePB* resp) {
        for (int64_t i = 0; i < extra_segments; ++i) {
          tserver::CopyItemPB* item = resp->add_items();
          item->mutable_id()->set_type(DataIdPB::LOG_SEGMENT);
          item->mutable_id()->set_wal_segment_seqno(1000000 + i);
          item->set_size_bytes(kSegment);
        }
      },
      nullptr);
  ASSERT_TRUE(liar.Start().ok());
  auto r = CopyTablet(liar.address(), source_.tablet_id(), dest_.path, Options());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  EXPECT_NE(r.status().message().find("available"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find(dest_.path), std::string::npos) << r.status();
  ExpectNothingWrittenAndSessionEnded();
}

// The copier asks for chunks of at most chunk_size_bytes; a source that
// sends more (here: the request's max_length dropped, so the source's 4 MiB
// default applies) is refused, and the replica ends tombstoned.
TEST_F(TabletCopyTest, ChunkLongerThanRequestedIsRefused) {
  TamperingCopyService liar(
      source_.manager(), nullptr,
      [](tserver::FetchDataRequestPB* req) { req->clear_max_length(); });
  ASSERT_TRUE(liar.Start().ok());
  CopyOptions o = Options();
  auto r = CopyTablet(liar.address(), source_.tablet_id(), dest_.path, o);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find(absl::StrCat("than the ", o.chunk_size_bytes, " bytes")),
            std::string::npos)
      << r.status();
  EXPECT_EQ(DestState(), tablet::TABLET_DATA_TOMBSTONED);
  EXPECT_TRUE(dest_.bm->ListBlocks().empty());
  EXPECT_TRUE(DestWalFiles().empty());
}

TEST(TabletCopySessionExpiryTest, IdleSessionsExpire) {
  absl::Time now = absl::FromUnixSeconds(1000);
  SourceOptions options;
  options.clock = [&now] { return now; };
  options.session_idle_timeout = absl::Seconds(30);
  options.reaper_interval = absl::ZeroDuration();
  CopySource source;
  ASSERT_TRUE(source.Start(testing::SourceSpec{}, options).ok());
  TabletCopySourceManager* m = source.manager();

  tserver::BeginTabletCopySessionRequestPB breq;
  breq.set_requestor_uuid("dest-uuid");
  breq.set_tablet_id(source.tablet_id());
  auto a = m->BeginSession(breq);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->session_idle_timeout_millis(), 30000u);
  now += absl::Seconds(20);
  auto b = m->BeginSession(breq);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(m->num_sessions(), 2);

  // Using a session keeps it alive.
  tserver::FetchDataRequestPB req;
  req.set_session_id(a->session_id());
  req.mutable_data_id()->set_type(DataIdPB::SUPER_BLOCK);
  now += absl::Seconds(5);  // t=25: a idle 25 s
  ASSERT_TRUE(m->FetchData(req).ok());
  EXPECT_EQ(m->ExpireIdleSessions(), 0);
  now += absl::Seconds(27);  // t=52: b idle 32 s, a idle 27 s
  EXPECT_EQ(m->ExpireIdleSessions(), 1);
  EXPECT_EQ(m->num_sessions(), 1);
  now += absl::Seconds(8);  // t=60: a idle 35 s: expired by the next call itself
  EXPECT_EQ(m->FetchData(req).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(m->num_sessions(), 0);
}

TEST(TabletCopySessionLimitTest, TooManySessionsIsUnavailable) {
  SourceOptions options;
  options.max_sessions = 2;
  options.reaper_interval = absl::ZeroDuration();
  CopySource source;
  ASSERT_TRUE(source.Start(testing::SourceSpec{}, options).ok());
  tserver::BeginTabletCopySessionRequestPB breq;
  breq.set_requestor_uuid("dest-uuid");
  breq.set_tablet_id(source.tablet_id());
  ASSERT_TRUE(source.manager()->BeginSession(breq).ok());
  ASSERT_TRUE(source.manager()->BeginSession(breq).ok());
  EXPECT_EQ(source.manager()->BeginSession(breq).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kmend::tablet_copy

namespace kmend::tablet_copy {
namespace {

// The reaper thread ends idle sessions with no RPC arriving. (Polls with a
// generous bound; the clock is injected, so nothing depends on timing.)
TEST(TabletCopySessionExpiryTest, ReaperEndsIdleSessionsByItself) {
  std::atomic<int64_t> now_s{1000};
  SourceOptions options;
  options.clock = [&now_s] { return absl::FromUnixSeconds(now_s.load()); };
  options.session_idle_timeout = absl::Seconds(30);
  options.reaper_interval = absl::Milliseconds(1);
  CopySource source;
  ASSERT_TRUE(source.Start(testing::SourceSpec{}, options).ok());
  tserver::BeginTabletCopySessionRequestPB breq;
  breq.set_requestor_uuid("dest-uuid");
  breq.set_tablet_id(source.tablet_id());
  ASSERT_TRUE(source.manager()->BeginSession(breq).ok());
  now_s += 31;
  for (int i = 0; i < 30000 && source.manager()->num_sessions() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(source.manager()->num_sessions(), 0);
}

}  // namespace
}  // namespace kmend::tablet_copy
