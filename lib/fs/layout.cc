#include "lib/fs/layout.h"

#include "absl/strings/str_cat.h"

namespace kmend::fs {

Layout::Layout(std::string root) : root_(std::move(root)) {
  // "/a/b/" and "/a/b" name the same root; keep "/" as is.
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string Layout::InstancePath() const { return absl::StrCat(root_, "/", kInstanceFileName); }
std::string Layout::LockPath() const { return absl::StrCat(root_, "/", kLockFileName); }
std::string Layout::DataDir() const { return absl::StrCat(root_, "/", kDataDirName); }
std::string Layout::BlockManagerInstancePath() const {
  return absl::StrCat(DataDir(), "/", kBlockManagerInstanceFileName);
}
std::string Layout::TabletMetaDir() const { return absl::StrCat(root_, "/", kTabletMetaDirName); }
std::string Layout::TabletMetaPath(absl::string_view tablet_id) const {
  return absl::StrCat(TabletMetaDir(), "/", tablet_id);
}
std::string Layout::ConsensusMetaDir() const {
  return absl::StrCat(root_, "/", kConsensusMetaDirName);
}
std::string Layout::ConsensusMetaPath(absl::string_view tablet_id) const {
  return absl::StrCat(ConsensusMetaDir(), "/", tablet_id);
}
std::string Layout::WalsDir() const { return absl::StrCat(root_, "/", kWalsDirName); }
std::string Layout::WalDir(absl::string_view tablet_id) const {
  return absl::StrCat(WalsDir(), "/", tablet_id);
}
std::string Layout::CatalogCopyDir() const {
  return absl::StrCat(root_, "/", kCatalogCopyDirName);
}
std::string Layout::CopyJournalPath(absl::string_view tablet_id) const {
  return absl::StrCat(TabletMetaPath(tablet_id), kCopyJournalSuffix);
}

bool IsCanonicalUuid(absl::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace kmend::fs
