// Tablet copy under every storage failure of the destination (issue 19): a
// clean copy is recorded (lib/io/fault_injection.h), then repeated once per
// write, fsync, fallocate, truncate and rename it made, with exactly that call
// failing (EIO, then ENOSPC). Whatever fails, the destination never holds a
// READY replica that is not a full copy: either the copy reports success and
// the replica is the source's, or it reports the error and the replica is
// absent, TOMBSTONED or COPYING; after a restart (COPYING recovered to
// TOMBSTONED, as the server does) a copy without faults succeeds and matches.
#include <cerrno>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/fs/layout.h"
#include "lib/io/fault_injection.h"
#include "lib/io/file.h"
#include "lib/tablet/superblock.h"
#include "lib/tablet/tablet.h"
#include "lib/tablet_copy/copy_client.h"
#include "server/tablet_copy/copy_test_util.h"

namespace kmend::tablet_copy {
namespace {

using testing::CopySource;
using testing::Root;

class TabletCopyFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::SourceSpec spec;
    spec.rows = 400;
    spec.string_bytes = 40;
    spec.flushes = 1;
    spec.wal_entries = 40;
    spec.wal_segment_size_bytes = 4 << 10;
    ASSERT_TRUE(source_.Start(spec).ok());
    source_digest_ = source_.tablet()->Checksum().digest;
  }

  CopyOptions Options(Root& dest) {
    CopyOptions o;
    o.requestor_uuid = "dest-uuid";
    o.block_manager = dest.bm.get();
    o.sync = true;  // the fsyncs are among the calls that fail
    o.chunk_size_bytes = 4 << 10;
    return o;
  }

  absl::StatusOr<CopyResult> Copy(Root& dest) {
    return CopyTablet(source_.address(), source_.tablet_id(), dest.path, Options(dest));
  }

  // The replica in `dest` opens with the source's rows.
  void ExpectTheSourcesRows(Root& dest) {
    ASSERT_TRUE(dest.Reopen().ok());
    auto copy = tablet::Tablet::Open(fs::Layout(dest.path), dest.bm.get(), source_.tablet_id());
    ASSERT_TRUE(copy.ok()) << copy.status();
    EXPECT_EQ((*copy)->Checksum().digest, source_digest_);
  }

  CopySource source_;
  uint64_t source_digest_ = 0;
};

TEST_F(TabletCopyFaultTest, EveryFailedPersistLeavesNoHalfReadyReplicaAndARetryMatches) {
  // The clean run, recorded.
  std::vector<io::SeenCall> calls;
  {
    Root dest;
    ASSERT_TRUE(dest.Open(testing::FreshDir("clean") + "/root").ok());
    io::ScopedFaultInjector record;
    auto r = Copy(dest);
    ASSERT_TRUE(r.ok()) << r.status();
    calls = record.calls();
  }
  const std::vector<io::sys::Op> ops = {io::sys::Op::kWrite, io::sys::Op::kSync,
                                        io::sys::Op::kAllocate, io::sys::Op::kTruncate,
                                        io::sys::Op::kRename};
  int cases = 0, failed_copies = 0, absorbed = 0;
  for (int err : {EIO, ENOSPC}) {
    for (const io::FaultRule& rule : io::RulesFailingEachCall(calls, ops, io::sys::Fault{err})) {
      SCOPED_TRACE(absl::StrCat(io::sys::OpName(rule.op), " #", rule.skip, " fails with ",
                                strerror(err)));
      ++cases;
      Root dest;
      ASSERT_TRUE(dest.Open(testing::FreshDir("faulty") + "/root").ok());
      absl::StatusOr<CopyResult> r = absl::UnknownError("not run");
      {
        io::ScopedFaultInjector faults;
        faults.Add(rule);
        r = Copy(dest);
      }
      const fs::Layout layout(dest.path);
      absl::StatusOr<tablet::TabletSuperBlockPB> sb =
          tablet::LoadSuperBlock(layout, source_.tablet_id());
      if (r.ok()) {
        // The failed call was best effort (e.g. removing a temp file): the
        // copy is whole.
        ++absorbed;
        ASSERT_TRUE(sb.ok()) << sb.status();
        EXPECT_EQ(sb->tablet_data_state(), tablet::TABLET_DATA_READY);
        ASSERT_NO_FATAL_FAILURE(ExpectTheSourcesRows(dest));
        continue;
      }
      ++failed_copies;
      // Never READY after a reported failure.
      if (sb.ok()) {
        EXPECT_NE(sb->tablet_data_state(), tablet::TABLET_DATA_READY) << r.status();
      }
      // Restart; an interrupted copy recovers to TOMBSTONED (server start-up).
      ASSERT_TRUE(dest.Reopen().ok());
      if (sb.ok() && sb->tablet_data_state() == tablet::TABLET_DATA_COPYING) {
        ASSERT_TRUE(RecoverInterruptedCopy(dest.path, source_.tablet_id(), dest.bm.get()).ok());
      }
      auto retry = Copy(dest);
      ASSERT_TRUE(retry.ok()) << "after " << r.status() << ": " << retry.status();
      ASSERT_NO_FATAL_FAILURE(ExpectTheSourcesRows(dest));
    }
  }
  std::cout << "TABLET_COPY_FAULT_FIGURE " << cases << " cases: " << failed_copies
            << " failed copies recovered and retried, " << absorbed << " absorbed" << std::endl;
  EXPECT_GT(failed_copies, 0);
}

}  // namespace
}  // namespace kmend::tablet_copy
