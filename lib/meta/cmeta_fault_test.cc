// Storing consensus metadata (term, vote, config) under every failure of
// every system call it makes (EIO and ENOSPC): a store that reports an error
// leaves the old file, a store that reports success left the new one, and the
// file always loads and verifies clean: never half of each, never a stray
// temp file counted as the metadata.
#include <cerrno>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/io/fault_injection.h"
#include "lib/io/file.h"
#include "lib/io/syscalls.h"
#include "lib/meta/cmeta.h"

namespace kmend::meta {
namespace {

using io::ScopedFaultInjector;
using io::sys::Op;

consensus::ConsensusMetadataPB CmetaAtTerm(int64_t term) {
  absl::StatusOr<consensus::RaftConfigPB> config =
      ParsePeerList("aaaa@127.0.0.1:7050,bbbb@127.0.0.1:7051,cccc@127.0.0.1:7052");
  EXPECT_TRUE(config.ok()) << config.status();
  consensus::ConsensusMetadataPB c;
  *c.mutable_committed_config() = *config;
  c.mutable_committed_config()->set_opid_index(term * 10);
  c.set_current_term(term);
  c.set_voted_for(term % 2 == 0 ? "aaaa" : "bbbb");
  return c;
}

TEST(CmetaFaultTest, EveryFailureOfAStoreLeavesTheOldOrTheNewFile) {
  const std::string dir = io::JoinPath(::testing::TempDir(), "cmeta-faults");
  ASSERT_TRUE(io::CreateDirs(dir).ok());
  const std::string path = io::JoinPath(dir, "tablet");
  std::vector<io::SeenCall> calls;
  {
    ASSERT_TRUE(StoreConsensusMeta(path, CmetaAtTerm(1)).ok());
    ScopedFaultInjector record;
    ASSERT_TRUE(StoreConsensusMeta(path, CmetaAtTerm(2)).ok());
    calls = record.calls();
  }
  const std::vector<Op> ops = {Op::kOpen, Op::kWrite, Op::kSync, Op::kRename};
  int cases = 0, failed_stores = 0;
  for (int err : {EIO, ENOSPC}) {
    for (const io::FaultRule& rule : io::RulesFailingEachCall(calls, ops, {err})) {
      SCOPED_TRACE(absl::StrCat(io::sys::OpName(rule.op), " #", rule.skip, " errno ", err));
      ++cases;
      ASSERT_TRUE(StoreConsensusMeta(path, CmetaAtTerm(1)).ok());
      absl::Status stored;
      {
        ScopedFaultInjector faults;
        faults.Add(rule);
        stored = StoreConsensusMeta(path, CmetaAtTerm(2));
        EXPECT_EQ(faults.faults_injected(), 1);
      }
      failed_stores += stored.ok() ? 0 : 1;
      absl::StatusOr<consensus::ConsensusMetadataPB> loaded = LoadConsensusMeta(path);
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      absl::StatusOr<CmetaVerifyResult> verified = VerifyConsensusMeta(path);
      ASSERT_TRUE(verified.ok() && verified->ok());
      if (stored.ok()) {
        EXPECT_EQ(loaded->current_term(), 2);
      } else {
        // The directory fsync after the rename can fail with the new file
        // already in place: either is a consistent file, never a mix.
        EXPECT_TRUE(loaded->current_term() == 1 || loaded->current_term() == 2);
        EXPECT_EQ(loaded->voted_for(), loaded->current_term() == 1 ? "bbbb" : "aaaa");
      }
      absl::StatusOr<std::vector<std::string>> names = io::ListDir(dir);
      ASSERT_TRUE(names.ok());
      EXPECT_EQ(names->size(), 1u) << "a failed store left a temp file";
    }
  }
  EXPECT_GE(cases, 8);
  EXPECT_EQ(failed_stores, cases);  // every fault reaches the caller
}

}  // namespace
}  // namespace kmend::meta
