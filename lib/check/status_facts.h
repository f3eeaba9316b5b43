// The bridge from a tablet server's status report (proto/status.proto
// ReplicaStatusPB) to the facts ksck and rebuild-replica judge
// (cluster_snapshot.h). One conversion, used by every collector.
#ifndef KMEND_LIB_CHECK_STATUS_FACTS_H_
#define KMEND_LIB_CHECK_STATUS_FACTS_H_

#include "lib/check/cluster_snapshot.h"
#include "proto/status.pb.h"

namespace kmend::check {

DataState ToDataState(server::ReplicaDataState s);
Role ToRole(consensus::RaftPeerPB::Role r);
OpId ToOpId(const consensus::OpId& id);
DataDirFacts ToDataDirFacts(const server::DataDirSpacePB& d);
ReplicaFacts ToReplicaFacts(const server::ReplicaStatusPB& r);

}  // namespace kmend::check

#endif  // KMEND_LIB_CHECK_STATUS_FACTS_H_
