// kmend-cmeta: print, verify and create consensus metadata files
// (<root>/consensus-meta/<tablet_id>), and offline surgery on a stopped
// server's replica (rewrite-raft-config, set-term). A thin front over
// lib/meta/cmeta.h and lib/recover/offline.h; see docs/cli.md "cmeta".
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/net/host_port.h"
#include "lib/fs/layout.h"
#include "lib/fs/safe_name.h"
#include "lib/io/dir_lock.h"
#include "lib/io/file.h"
#include "lib/meta/cmeta.h"
#include "lib/recover/cmeta_edit.h"
#include "lib/recover/offline.h"
#include "lib/util/status_macros.h"
#include "tools/common/cli.h"

namespace kmend::tools {
namespace {

constexpr char kTool[] = "kmend-cmeta";
constexpr int kSchemaVersion = 1;

using consensus::ConsensusMetadataPB;
using consensus::RaftPeerPB;

// PATH is the cmeta file itself, or with --tablet the server's data root.
// A --tablet that is not a plain name (e.g. "../x") is refused before it
// becomes a path (create accepts any plain name, so print and verify do too).
absl::StatusOr<std::string> ResolvePath(const std::string& path, const std::string& tablet) {
  if (tablet.empty()) return path;
  RETURN_IF_ERROR(fs::ValidateFileName(tablet, "--tablet"));
  return meta::ConsensusMetaPath(path, tablet);
}

nlohmann::json CmetaJson(const std::string& path, const ConsensusMetadataPB& c) {
  nlohmann::json peers = nlohmann::json::array();
  for (const RaftPeerPB& p : c.committed_config().peers()) {
    nlohmann::json peer = {{"uuid", p.permanent_uuid()},
                           {"member_type", RaftPeerPB::MemberType_Name(p.member_type())}};
    if (p.has_last_known_addr()) {
      peer["host"] = p.last_known_addr().host();
      peer["port"] = p.last_known_addr().port();
    }
    if (p.has_attrs()) {
      peer["promote"] = p.attrs().promote();
      peer["replace"] = p.attrs().replace();
    }
    peers.push_back(std::move(peer));
  }
  nlohmann::json doc = {
      {"schema_version", kSchemaVersion},
      {"file", path},
      {"current_term", c.current_term()},
      {"voted_for", c.has_voted_for() ? nlohmann::json(c.voted_for()) : nlohmann::json()},
      {"committed_config",
       {{"opid_index", c.committed_config().has_opid_index()
                           ? nlohmann::json(c.committed_config().opid_index())
                           : nlohmann::json()},
        {"unsafe_config_change", c.committed_config().unsafe_config_change()},
        {"peers", peers}}}};
  return doc;
}

void PrintCmeta(const std::string& path, const ConsensusMetadataPB& c) {
  std::cout << "file:          " << path << "\n"
            << "current_term:  " << c.current_term() << "\n"
            << "voted_for:     " << (c.has_voted_for() ? c.voted_for() : "(none)") << "\n"
            << "committed_config: opid_index "
            << (c.committed_config().has_opid_index()
                    ? absl::StrCat(c.committed_config().opid_index())
                    : "(unset)")
            << (c.committed_config().unsafe_config_change() ? ", unsafe_config_change" : "")
            << ", " << c.committed_config().peers_size() << " peers\n";
  for (const RaftPeerPB& p : c.committed_config().peers()) {
    std::cout << "  " << p.permanent_uuid() << "  "
              << RaftPeerPB::MemberType_Name(p.member_type()) << "  "
              << (p.has_last_known_addr()
                      ? net::HostPortToString(p.last_known_addr())
                      : "(no address)")
              << "\n";
  }
  std::cout << std::flush;
}

int Print(const std::string& path, OutputFormat format) {
  auto c = meta::LoadConsensusMeta(path);
  if (!c.ok()) {
    std::cerr << kTool << ": " << c.status().message() << std::endl;
    return c.status().code() == absl::StatusCode::kDataLoss ? kExitProblems : kExitError;
  }
  if (format == OutputFormat::kJson) {
    PrintJson(CmetaJson(path, *c));
  } else {
    PrintCmeta(path, *c);
  }
  return kExitOk;
}

int Verify(const std::string& path, OutputFormat format) {
  auto v = meta::VerifyConsensusMeta(path);
  if (!v.ok()) return ReportError(kTool, v.status());
  if (format == OutputFormat::kJson) {
    nlohmann::json doc = {{"schema_version", kSchemaVersion},
                          {"file", path},
                          {"ok", v->ok()},
                          {"state", pbc::StateName(v->file.state)},
                          {"problems", v->problems}};
    if (v->file.state != pbc::VerifyResult::State::kOk) {
      doc["problem_offset"] = v->file.problem_offset;
      doc["message"] = v->file.message;
    }
    PrintJson(doc);
  } else if (v->ok()) {
    std::cout << path << ": OK" << std::endl;
  } else if (v->file.state == pbc::VerifyResult::State::kTornTail) {
    std::cout << path << ": TORN TAIL at offset " << v->file.problem_offset << std::endl;
  } else if (v->file.state == pbc::VerifyResult::State::kCorrupt) {
    std::string prefix = path + ": ";
    const std::string& m = v->file.message;
    std::cout << path << ": CORRUPT: "
              << (m.compare(0, prefix.size(), prefix) == 0 ? m.substr(prefix.size()) : m)
              << std::endl;
  } else {
    for (const std::string& p : v->problems) std::cout << path << ": PROBLEM: " << p << "\n";
    std::cout << std::flush;
  }
  return v->ok() ? kExitOk : kExitProblems;
}

struct CreateArgs {
  std::string root, tablet, peers, voted_for;
  int64_t term = 0;
  bool force = false;
};

int Create(const CreateArgs& a) {
  if (absl::Status s = fs::ValidateFileName(a.tablet, "--tablet"); !s.ok()) {
    return ReportError(kTool, s);
  }
  if (a.term < 0) {
    return ReportError(kTool, absl::InvalidArgumentError("--term must be >= 0"));
  }
  auto config = meta::ParsePeerList(a.peers);
  if (!config.ok()) return ReportError(kTool, config.status());
  ConsensusMetadataPB c;
  c.set_current_term(a.term);
  if (!a.voted_for.empty()) c.set_voted_for(a.voted_for);
  *c.mutable_committed_config() = std::move(*config);

  // A mutating tool takes the data directory's lock: never write under a
  // running server.
  absl::Status s = io::CreateDirs(a.root);
  if (!s.ok()) return ReportError(kTool, s);
  auto lock = io::DirLock::Acquire(a.root);
  if (!lock.ok()) return ReportError(kTool, lock.status());
  std::string dir = io::JoinPath(a.root, fs::kConsensusMetaDirName);
  s = io::CreateDirs(dir);
  if (!s.ok()) return ReportError(kTool, s);
  std::string path = meta::ConsensusMetaPath(a.root, a.tablet);
  if (io::FileExists(path) && !a.force) {
    return ReportError(kTool, absl::AlreadyExistsError(absl::StrCat(
                                  path, ": exists; pass --force to overwrite it")));
  }
  s = meta::StoreConsensusMeta(path, c);
  if (!s.ok()) return ReportError(kTool, s);
  std::cout << "wrote " << path << " (term " << a.term << ", "
            << c.committed_config().peers_size() << " peers)" << std::endl;
  return kExitOk;
}

struct SurgeryArgs {
  std::string fs_root, tablet, backup_dir = ".";
  std::vector<std::string> peers;
  int64_t term = 0;
  bool yes = false;
};

// rewrite-raft-config and set-term: dry run unless --yes; the lock, the
// backup and the atomic replace are lib/recover/offline.h's.
int Surgery(const SurgeryArgs& a, const std::string& action, const recover::CmetaEditFn& edit) {
  const char* user = std::getenv("USER");
  absl::StatusOr<recover::CmetaChange> c = recover::EditConsensusMeta(
      a.fs_root, a.tablet, !a.yes, a.backup_dir, edit, action,
      absl::StrCat("kmend cmeta (", user ? user : "?", ")"));
  if (!c.ok()) return ReportError(kTool, c.status());
  std::cout << (a.yes ? "rewrote " : "DRY RUN (add --yes to write): would rewrite ") << c->path
            << "\nbefore:\n";
  PrintCmeta(c->path, c->before);
  std::cout << "after:\n";
  PrintCmeta(c->path, c->after);
  if (a.yes) std::cout << "previous file saved as " << c->backup << std::endl;
  return kExitOk;
}

int Run(int argc, char** argv) {
  CLI::App app{"kmend-cmeta: print, verify and create consensus metadata files", kTool};
  app.require_subcommand(1);
  OutputFormat format = OutputFormat::kPlain;
  std::string path, tablet;

  CLI::App* print = app.add_subcommand("print", "Show term, vote and committed config");
  print->add_option("path", path, "cmeta file, or data root with --tablet")->required();
  print->add_option("--tablet", tablet, "Tablet id: PATH is then the data root");
  AddFormatOption(print, &format);

  CLI::App* verify = app.add_subcommand(
      "verify", "Check framing, CRCs and content (unique voters...); exit 1 on problems");
  verify->add_option("path", path, "cmeta file, or data root with --tablet")->required();
  verify->add_option("--tablet", tablet, "Tablet id: PATH is then the data root");
  AddFormatOption(verify, &format);

  CreateArgs create_args;
  CLI::App* create = app.add_subcommand(
      "create", "Write <root>/consensus-meta/<tablet> (takes the data directory lock)");
  create->add_option("root", create_args.root, "Data root directory")->required();
  create->add_option("--tablet", create_args.tablet, "Tablet id")->required();
  create->add_option("--term", create_args.term, "current_term")->required();
  create->add_option("--peers", create_args.peers, "uuid@host:port,... (all VOTER)")
      ->required();
  create->add_option(FlagWithDashedAlias("voted_for"), create_args.voted_for, "voted_for uuid (default none)");
  create->add_flag("--force", create_args.force, "Overwrite an existing file");

  SurgeryArgs surgery;
  auto add_surgery = [&](CLI::App* cmd) {
    cmd->add_option("--fs_root", surgery.fs_root, "Data root of the STOPPED server")->required();
    cmd->add_option("--tablet", surgery.tablet, "Tablet id")->required();
    cmd->add_flag("--yes", surgery.yes, "Write it (default: only show the change)");
    cmd->add_option("--backup_dir", surgery.backup_dir,
                    "Where the replaced file is copied first (default .)");
  };
  CLI::App* rewrite = app.add_subcommand(
      "rewrite-raft-config",
      "UNSAFE: replace the committed config's peers (all VOTERs) of a stopped server's replica");
  add_surgery(rewrite);
  rewrite->add_option("peers", surgery.peers, "UUID:HOST:PORT of each peer")->required();
  CLI::App* set_term = app.add_subcommand(
      "set-term", "UNSAFE: raise a stopped server's replica's current term (the vote is dropped)");
  add_surgery(set_term);
  set_term->add_option("term", surgery.term, "The new term (above the current one)")->required();

  int rc = ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;
  if (print->parsed() || verify->parsed()) {
    absl::StatusOr<std::string> resolved = ResolvePath(path, tablet);
    if (!resolved.ok()) return ReportError(kTool, resolved.status());
    return print->parsed() ? Print(*resolved, format) : Verify(*resolved, format);
  }
  if (rewrite->parsed()) {
    std::vector<RaftPeerPB> peers;
    for (const std::string& spec : surgery.peers) {
      absl::StatusOr<RaftPeerPB> p = recover::ParsePeerSpec(spec);
      if (!p.ok()) return ReportError(kTool, p.status());
      peers.push_back(*p);
    }
    return Surgery(surgery, "rewrite_raft_config", [&](const ConsensusMetadataPB& c) {
      return recover::RewriteRaftConfig(c, peers);
    });
  }
  if (set_term->parsed()) {
    return Surgery(surgery, "set_term", [&](const ConsensusMetadataPB& c) {
      return recover::SetTerm(c, surgery.term);
    });
  }
  return Create(create_args);
}

}  // namespace
}  // namespace kmend::tools

int main(int argc, char** argv) { return kmend::tools::Run(argc, argv); }
