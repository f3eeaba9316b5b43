// Hand-built ClusterSnapshots for the recover tests and benchmark: one
// master, `servers` tablet servers s0..s{n-1}, one table "t" whose tablets
// are placed round robin (tablet k on servers k, k+1, ..., k+rf-1 mod n), all
// healthy, the first replica leading in term 2 with last logged 2.10. Tests
// then kill servers and move logs. Header-only, test use only.
#ifndef KMEND_LIB_RECOVER_SNAPSHOT_BUILDER_H_
#define KMEND_LIB_RECOVER_SNAPSHOT_BUILDER_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/check/cluster_snapshot.h"

namespace kmend::recover::testing {

class SnapshotBuilder {
 public:
  SnapshotBuilder(int servers, int tablets, int rf = 3) {
    check::MasterFacts m;
    m.address = "127.0.0.1:7051";
    m.reachable = true;
    m.uuid = "master0";
    m.is_leader = true;
    snap_.masters.push_back(m);
    snap_.catalog_read = true;
    for (int i = 0; i < servers; ++i) {
      check::TabletServerFacts ts;
      ts.uuid = Uuid(i);
      ts.address = absl::StrCat("127.0.0.1:", 7100 + i);
      ts.live_per_master = true;
      ts.reachable = true;
      ts.reported_uuid = ts.uuid;
      snap_.tablet_servers.push_back(ts);
    }
    check::TableFacts table;
    table.name = "t";
    table.id = "tableid";
    table.replication_factor = rf;
    for (int k = 0; k < tablets; ++k) {
      check::TabletFacts tablet;
      tablet.tablet_id = TabletId(k);
      tablet.table_name = "t";
      for (int j = 0; j < rf; ++j) {
        auto* p = tablet.master_config.add_peers();
        p->set_permanent_uuid(Uuid((k + j) % servers));
        p->set_member_type(consensus::RaftPeerPB::VOTER);
      }
      tablet.master_config.set_opid_index(1);
      tablet.master_config.set_opid_term(1);
      for (int j = 0; j < rf; ++j) {
        check::ReplicaFacts r;
        r.data_state = check::DataState::kReady;
        r.role = j == 0 ? check::Role::kLeader : check::Role::kFollower;
        r.term = 2;
        r.leader_uuid = Uuid(k % servers);
        r.committed_config = tablet.master_config;
        r.last_logged = {2, 10};
        r.last_committed = {2, 10};
        r.last_applied = {2, 10};
        snap_.replicas[Uuid((k + j) % servers)][tablet.tablet_id] = r;
      }
      table.tablets.push_back(tablet);
    }
    snap_.tables.push_back(table);
  }

  static std::string Uuid(int i) { return absl::StrFormat("s%d", i); }
  static std::string TabletId(int k) { return absl::StrFormat("tablet%05d", k); }

  // The server is gone: unreachable, no heartbeats, and the leaders it had
  // are gone with it (every surviving replica of its tablets is a leaderless
  // follower).
  SnapshotBuilder& Kill(int i) {
    auto& ts = snap_.tablet_servers[i];
    ts.reachable = false;
    ts.live_per_master = false;
    ts.unreachable_reason = "connection refused";
    ts.reported_uuid.clear();
    auto dead = snap_.replicas.find(Uuid(i));
    if (dead != snap_.replicas.end()) {
      for (const auto& [tablet, r] : dead->second) {
        for (auto& [uuid, by_tablet] : snap_.replicas) {
          auto it = by_tablet.find(tablet);
          if (it != by_tablet.end() && it->second.leader_uuid == Uuid(i)) {
            it->second.role = check::Role::kFollower;
            it->second.leader_uuid.clear();
          }
        }
      }
      snap_.replicas.erase(dead);
    }
    return *this;
  }

  // ksck cannot reach it although the master still hears from it.
  SnapshotBuilder& Unreachable(int i) {
    snap_.tablet_servers[i].reachable = false;
    snap_.tablet_servers[i].unreachable_reason = "deadline exceeded";
    snap_.replicas.erase(Uuid(i));
    return *this;
  }

  check::ReplicaFacts& Replica(int server, int tablet) {
    return snap_.replicas.at(Uuid(server)).at(TabletId(tablet));
  }
  check::TabletFacts& Tablet(int k) { return snap_.tables[0].tablets[k]; }
  check::TabletServerFacts& Server(int i) { return snap_.tablet_servers[i]; }

  const check::ClusterSnapshot& snapshot() const { return snap_; }
  check::ClusterSnapshot& mutable_snapshot() { return snap_; }

 private:
  check::ClusterSnapshot snap_;
};

}  // namespace kmend::recover::testing

#endif  // KMEND_LIB_RECOVER_SNAPSHOT_BUILDER_H_
