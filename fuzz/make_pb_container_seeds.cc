// Writes the seed corpus for pb_container_fuzzer into the directory given as
// argv[1] (testdata/fuzz/pb_container): small v1 and v2 containers, a
// multi-record file, a torn tail, a zero-filled tail, and a type whose
// embedded descriptor set is not topologically ordered.
#include <cstdio>
#include <fstream>
#include <string>

#include "lib/format/pb_container.h"
#include "lib/format/testdata/order_d.pb.h"
#include "proto/consensus_metadata.pb.h"

namespace {

void Write(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  using namespace kmend::pbc;  // NOLINT: a tiny generator
  std::string dir = argv[1];
  kmend::consensus::ConsensusMetadataPB c;
  c.set_current_term(2);
  c.set_voted_for("a");
  auto* peer = c.mutable_committed_config()->add_peers();
  peer->set_permanent_uuid("a");
  peer->set_member_type(kmend::consensus::RaftPeerPB::VOTER);
  peer->mutable_last_known_addr()->set_host("h");
  peer->mutable_last_known_addr()->set_port(1);
  std::string v2 = *EncodeSingleMessageFile(c, kVersion2);
  Write(dir, "cmeta_v2", v2);
  Write(dir, "cmeta_v1", *EncodeSingleMessageFile(c, kVersion1));
  std::string multi = v2;
  for (int i = 0; i < 3; ++i) {
    c.set_current_term(3 + i);
    multi += EncodeRecord(kVersion2, c.SerializeAsString());
  }
  Write(dir, "cmeta_multi", multi);
  Write(dir, "cmeta_torn", multi.substr(0, multi.size() - 5));
  Write(dir, "cmeta_zero_tail", v2 + std::string(64, '\0'));
  kmend::testing::D d;
  d.set_name("d");
  d.mutable_b()->mutable_a()->set_a(1);
  Write(dir, "order_d_v2", *EncodeSingleMessageFile(d));
  return 0;
}
