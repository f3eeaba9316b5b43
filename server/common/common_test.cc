#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/common/config_change_request.h"
#include "server/common/grpc_util.h"

namespace kmend::server {
namespace {

TEST(GrpcUtilTest, StatusRoundTripKeepsCodeAndMessage) {
  absl::Status s = absl::NotFoundError("tablet abc");
  absl::Status back = FromGrpcStatus(ToGrpcStatus(s), "ctx");
  EXPECT_EQ(back.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(back.message(), "ctx: tablet abc");
  EXPECT_TRUE(FromGrpcStatus(ToGrpcStatus(absl::OkStatus())).ok());
}

tserver::ChangeConfigRequestPB AddRequest(const std::string& uuid) {
  tserver::ChangeConfigRequestPB req;
  req.set_type(tserver::ADD_PEER);
  req.mutable_peer()->set_permanent_uuid(uuid);
  return req;
}

TEST(ConfigChangeRequestTest, AddReadsTypeUuidAndCas) {
  tserver::ChangeConfigRequestPB req = AddRequest("u1");
  req.mutable_peer()->set_member_type(consensus::RaftPeerPB::NON_VOTER);
  req.set_cas_config_opid_index(7);
  absl::StatusOr<raft::ConfigChange> c = ConfigChangeFromRequest(req, PeerAddress::kOptional);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->type, raft::ChangeType::kAddNonVoter);
  EXPECT_EQ(c->uuid, "u1");
  EXPECT_EQ(c->cas_config_opid_index, 7);
}

TEST(ConfigChangeRequestTest, RefusesWhatTheCoreCannotDoNamingTheField) {
  // A master's added peer needs its address; a tablet's may omit it.
  absl::StatusOr<raft::ConfigChange> c =
      ConfigChangeFromRequest(AddRequest("u1"), PeerAddress::kRequired);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("last_known_addr"), std::string::npos);
  EXPECT_TRUE(ConfigChangeFromRequest(AddRequest("u1"), PeerAddress::kOptional).ok());

  EXPECT_NE(ConfigChangeFromRequest(AddRequest(""), PeerAddress::kOptional)
                .status().message().find("permanent_uuid"),
            std::string::npos);
  tserver::ChangeConfigRequestPB demote = AddRequest("u1");
  demote.set_type(tserver::MODIFY_PEER);
  demote.mutable_peer()->set_member_type(consensus::RaftPeerPB::NON_VOTER);
  EXPECT_NE(ConfigChangeFromRequest(demote, PeerAddress::kOptional)
                .status().message().find("only promotion"),
            std::string::npos);
  tserver::ChangeConfigRequestPB untyped;
  untyped.mutable_peer()->set_permanent_uuid("u1");
  EXPECT_NE(ConfigChangeFromRequest(untyped, PeerAddress::kOptional)
                .status().message().find("type is required"),
            std::string::npos);
}

}  // namespace
}  // namespace kmend::server
