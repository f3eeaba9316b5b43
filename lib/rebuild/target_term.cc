#include "lib/rebuild/target_term.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kmend::rebuild {
namespace {

std::string Text(const consensus::OpId& id) { return absl::StrCat(id.term(), ".", id.index()); }

// The superblock says the replica holds no log of its own.
bool NeverLogged(const TargetFiles& t) {
  return t.superblock_state == "NONE" || t.superblock_state == "COPYING" ||
         (t.superblock_state == "TOMBSTONED" && !t.tombstone_last_logged);
}

}  // namespace

TermJudgement JudgeTargetTerm(const TargetFiles& t, const consensus::OpId& source, bool force) {
  TermJudgement j;
  auto refuse = [&](Refusal why, const std::string& message) {
    if (force) {
      j.warnings.push_back(absl::StrCat("--force: ", message));
    } else {
      j.refusal = why;
      j.message = message;
    }
  };
  if (t.superblock_state == "UNREADABLE") {
    j.warnings.push_back(absl::StrCat(
        "the target's superblock cannot be read (", t.superblock_error,
        "): it is set aside and replaced; the blocks it named are left for `kmend fsck`"));
  }
  if (t.cmeta_present && !t.cmeta_readable) {
    j.warnings.push_back(absl::StrCat(
        "the target's consensus metadata cannot be read (", t.cmeta_error,
        "): it is replaced by the source's config and term (at least the target's last logged "
        "term), without a vote; a vote it cast in a later term is forgotten"));
  }

  // Where the last logged op id comes from (file comment, in order).
  bool unknown = false;
  if (t.running_last_logged) {
    j.last_logged = t.running_last_logged;
    j.last_logged_from = "raft";
  } else if (t.tombstone_last_logged) {
    j.last_logged = t.tombstone_last_logged;
    j.last_logged_from = "tombstone";
  } else if (t.wal_present && t.wal_clean) {
    if (t.wal_last_logged) {
      j.last_logged = t.wal_last_logged;
      j.last_logged_from = "wal";
    }
  } else if (!t.wal_present && NeverLogged(t)) {
    // Nothing logged: nothing to compare.
  } else if (t.cmeta_readable) {
    // No log to read (damaged, or missing where the superblock says there
    // should be one): the current term bounds every logged term.
    consensus::OpId bound;
    bound.set_term(t.cmeta_term);
    bound.set_index(t.wal_last_logged ? t.wal_last_logged->index() : 0);
    if (t.wal_last_logged && t.wal_last_logged->term() > bound.term()) {
      bound.set_term(t.wal_last_logged->term());
    }
    j.last_logged = bound;
    j.last_logged_from = "cmeta term";
  } else {
    unknown = true;
  }
  if (j.last_logged) j.term_floor = j.last_logged->term();
  if (t.wal_last_logged) j.term_floor = std::max(j.term_floor, t.wal_last_logged->term());

  if (unknown) {
    // A damaged log may still show a later term before its damage.
    if (t.wal_last_logged && t.wal_last_logged->term() > source.term()) {
      refuse(Refusal::kTargetTermAhead,
             absl::StrCat("the target's WAL (damaged: ", t.wal_error, ") holds op ",
                          Text(*t.wal_last_logged), ", a later term than the source's last logged ",
                          Text(source), ": it may hold entries the source lacks"));
      return j;
    }
    refuse(Refusal::kTargetTermUnknown,
           absl::StrCat("the target's last logged term cannot be learned: its WAL ",
                        t.wal_present ? absl::StrCat("is damaged (", t.wal_error, ")")
                                      : std::string("is missing"),
                        " and its consensus metadata ",
                        t.cmeta_present ? absl::StrCat("cannot be read (", t.cmeta_error, ")")
                                        : std::string("is missing"),
                        "; it may hold entries the source lacks"));
    return j;
  }
  if (j.last_logged && j.last_logged->term() > source.term()) {
    const bool bound = j.last_logged_from == "cmeta term";
    refuse(Refusal::kTargetTermAhead,
           absl::StrCat("the target's last logged ",
                        bound ? absl::StrCat("term is at most ", j.last_logged->term(),
                                             " (its consensus metadata's current term; the WAL ",
                                             t.wal_present ? "is damaged: " + t.wal_error
                                                           : std::string("is missing"),
                                             ")")
                              : absl::StrCat("op ", Text(*j.last_logged), " (from its ",
                                             j.last_logged_from, ")"),
                        bound ? ", possibly" : "", " a later term than the source's ",
                        Text(source), ": it may hold entries the source lacks"));
  }
  return j;
}

}  // namespace kmend::rebuild
