#include "server/master/peer_discovery.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kmend::master {
namespace {

server::GetStatusResponsePB Running(int64_t term, std::vector<std::string> voters) {
  server::GetStatusResponsePB s;
  s.mutable_master()->set_catalog_on_disk(true);
  auto* c = s.mutable_master()->mutable_catalog_consensus_state();
  c->set_current_term(term);
  c->mutable_committed_config()->set_opid_index(12);
  for (const auto& v : voters) c->mutable_committed_config()->add_peers()->set_permanent_uuid(v);
  return s;
}

TEST(PeerDiscovery, AnEstablishedCatalogWithoutMeIsJoinedAtIndexMinusOne) {
  auto config = EstablishedConfigWithout(Running(3, {"a"}), "b");
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->opid_index(), -1);
  ASSERT_EQ(config->peers_size(), 1);
  EXPECT_EQ(config->peers(0).permanent_uuid(), "a");
  // Listing me, or never elected (term 0): not established for me.
  EXPECT_FALSE(EstablishedConfigWithout(Running(3, {"a", "b"}), "b").has_value());
  EXPECT_FALSE(EstablishedConfigWithout(Running(0, {"a"}), "b").has_value());
}

TEST(PeerDiscovery, ACatalogOnDiskNotYetOpenIsWaitedForNotTakenAsEmpty) {
  server::GetStatusResponsePB restarting;
  restarting.mutable_master()->set_catalog_on_disk(true);
  EXPECT_TRUE(CatalogNotOpenYet(restarting));
  EXPECT_FALSE(EstablishedConfigWithout(restarting, "b").has_value());
  server::GetStatusResponsePB empty;
  empty.mutable_master();
  EXPECT_FALSE(CatalogNotOpenYet(empty));
  EXPECT_FALSE(CatalogNotOpenYet(Running(3, {"a"})));
}

}  // namespace
}  // namespace kmend::master
