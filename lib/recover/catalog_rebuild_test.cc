// BuildCatalog's rules on hand-made tablet server reports, and
// WriteRebuiltCatalog's refusal of a non-empty directory.
#include "lib/recover/catalog_rebuild.h"

#include <filesystem>

#include "gtest/gtest.h"
#include "lib/format/pb_container.h"
#include "lib/io/file.h"

namespace kmend::recover {
namespace {

server::ReplicaStatusPB Replica(const std::string& table, const std::string& tablet, int bucket,
                                int buckets, int64_t config_term, int64_t config_index,
                                std::vector<std::string> voters) {
  server::ReplicaStatusPB r;
  r.set_tablet_id(tablet);
  r.set_table_id(table);
  r.set_table_name("name-" + table);
  r.set_data_state(server::TABLET_DATA_READY);
  auto* col = r.mutable_schema()->add_columns();
  col->set_name("id");
  col->set_type(INT64);
  auto* hash = r.mutable_partition_schema()->add_hash_schema();
  hash->add_columns()->set_name("id");
  hash->set_num_buckets(buckets);
  r.set_num_replicas(static_cast<int>(voters.size()));
  r.mutable_partition()->add_hash_buckets(bucket);
  auto* c = r.mutable_consensus_state()->mutable_committed_config();
  c->set_opid_term(config_term);
  c->set_opid_index(config_index);
  for (const auto& v : voters) {
    auto* p = c->add_peers();
    p->set_permanent_uuid(v);
    p->set_member_type(consensus::RaftPeerPB::VOTER);
  }
  return r;
}

ServerReport Server(const std::string& uuid, std::vector<server::ReplicaStatusPB> replicas) {
  ServerReport s;
  s.address = uuid + ":1";
  s.uuid = uuid;
  s.replicas = std::move(replicas);
  return s;
}

TEST(BuildCatalog, TablesTabletsAndTheNewestConfig) {
  auto result = BuildCatalog(
      {Server("a", {Replica("t1", "x0", 0, 2, 1, 5, {"a", "b", "c"}),
                    Replica("t1", "x1", 1, 2, 1, 3, {"a", "b", "c"})}),
       Server("b", {Replica("t1", "x0", 0, 2, 2, 2, {"a", "b", "d"})})},
      42);
  ASSERT_TRUE(result.lost.empty());
  ASSERT_EQ(result.catalog.tables_size(), 1);
  const auto& t = result.catalog.tables(0);
  EXPECT_EQ(t.info().name(), "name-t1");
  EXPECT_EQ(t.info().num_tablets(), 2);
  EXPECT_EQ(t.info().num_replicas(), 3);
  EXPECT_EQ(t.info().created_time_us(), 42);
  EXPECT_EQ(t.tablet_ids(0), "x0");
  EXPECT_EQ(t.tablet_ids(1), "x1");
  ASSERT_EQ(result.catalog.tablets_size(), 2);
  // Term 2 beats the higher index at term 1.
  EXPECT_EQ(result.catalog.tablets(0).config().peers(2).permanent_uuid(), "d");
  EXPECT_EQ(result.catalog.version(), 1);
}

TEST(BuildCatalog, AMissingBucketLosesTheTableNamingIt) {
  auto result = BuildCatalog({Server("a", {Replica("t1", "x0", 0, 3, 1, 1, {"a"}),
                                            Replica("t2", "y0", 0, 1, 1, 1, {"a"})})},
                             1);
  ASSERT_EQ(result.lost.size(), 1u);
  EXPECT_EQ(result.lost[0].table_id, "t1");
  EXPECT_NE(result.lost[0].reason.find("hash bucket(s) 1,2 of 3"), std::string::npos)
      << result.lost[0].reason;
  ASSERT_EQ(result.catalog.tables_size(), 1);
  EXPECT_EQ(result.catalog.tables(0).info().table_id(), "t2");
}

TEST(BuildCatalog, TombstonedFailedAndSilentAreNotCounted) {
  auto tomb = Replica("t1", "x0", 0, 1, 1, 1, {"a"});
  tomb.set_data_state(server::TABLET_DATA_TOMBSTONED);
  auto failed = Replica("t2", "y0", 0, 1, 1, 1, {"a"});
  failed.set_data_state(server::TABLET_DATA_FAILED);
  ServerReport silent;
  silent.address = "gone:1";
  silent.error = "refused";
  auto result = BuildCatalog({Server("a", {tomb, failed}), silent}, 1);
  EXPECT_EQ(result.catalog.tables_size(), 0);
  EXPECT_EQ(result.warnings.size(), 2u);
}

TEST(BuildCatalog, ReplicasDisagreeingOnTheSchemaAreNotGuessedBetween) {
  auto other = Replica("t1", "x1", 1, 2, 1, 1, {"b"});
  auto* extra = other.mutable_schema()->add_columns();
  extra->set_name("extra");
  extra->set_type(STRING);
  auto result = BuildCatalog({Server("a", {Replica("t1", "x0", 0, 2, 1, 1, {"a"})}),
                              Server("b", {other})},
                             1);
  ASSERT_EQ(result.lost.size(), 1u);
  EXPECT_NE(result.lost[0].reason.find("schema differs on b"), std::string::npos);
}

// A dropped table whose replicas were never tombstoned and a newer table
// of the same name both report in: the rebuild does not guess which is live.
TEST(BuildCatalog, TwoTablesOfOneNameAreBothLostUntilOneIsExcluded) {
  auto old_table = Replica("t-old", "x0", 0, 1, 1, 1, {"a"});
  old_table.set_table_name("orders");
  auto new_table = Replica("t-new", "y0", 0, 1, 1, 1, {"b"});
  new_table.set_table_name("orders");
  std::vector<ServerReport> reports = {Server("a", {old_table}), Server("b", {new_table})};

  auto result = BuildCatalog(reports, 1);
  EXPECT_EQ(result.catalog.tables_size(), 0);
  ASSERT_EQ(result.lost.size(), 2u);
  for (const auto& lost : result.lost) {
    const std::string other = lost.table_id == "t-old" ? "t-new" : "t-old";
    EXPECT_NE(lost.reason.find(other), std::string::npos) << lost.reason;
  }

  result = BuildCatalog(reports, 1, {"t-old"});
  ASSERT_EQ(result.catalog.tables_size(), 1);
  EXPECT_EQ(result.catalog.tables(0).info().table_id(), "t-new");
  ASSERT_EQ(result.lost.size(), 1u);
  EXPECT_EQ(result.lost[0].table_id, "t-old");
  EXPECT_NE(result.lost[0].reason.find("excluded"), std::string::npos) << result.lost[0].reason;
  // The excluded table's tablet is not in the catalog either.
  ASSERT_EQ(result.catalog.tablets_size(), 1);
  EXPECT_EQ(result.catalog.tablets(0).tablet_id(), "y0");
}

TEST(WriteRebuiltCatalog, WritesIntoAnEmptyDirectoryOnly) {
  std::string dir = std::string(getenv("TEST_TMPDIR")) + "/rebuilt";
  master::SysCatalogPB c;
  c.set_version(1);
  auto uuid = WriteRebuiltCatalog(dir, c);
  ASSERT_TRUE(uuid.ok()) << uuid.status();
  master::SysCatalogPB back;
  ASSERT_TRUE(pbc::ReadSingleMessageFile(dir + "/master-catalog", &back).ok());
  EXPECT_EQ(back.master_uuid(), *uuid);
  EXPECT_FALSE(back.has_applied_index());
  auto again = WriteRebuiltCatalog(dir, c);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace kmend::recover
