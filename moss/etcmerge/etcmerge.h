// The three-way merge of /etc factory defaults that runs on every switch of /usr (the OSTree
// rule): ROOT/etc follows the defaults in /usr/share/defaults/etc wherever the admin has not
// changed it, and is never overwritten where the admin has.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace onix::moss::etcmerge {

inline constexpr std::string_view kDefaultsDir = "share/defaults/etc";  // below a usr tree

struct EtcChange {
  enum class Action {
    kAdded,      // a default the old tree did not have, no local file: written to /etc
    kUpdated,    // the local file equalled the old default: replaced by the new one
    kRemoved,    // the default is gone and the local file equalled it: removed
    kKeptLocal,  // the admin's file differs from the old default: left alone
  };
  std::string path;  // relative to /etc
  Action action;
};

// "added", "updated", "removed", "kept-local".
std::string_view ActionWord(EtcChange::Action action);

// For every regular file whose factory default differs between the usr tree `old_usr_fd`
// (-1: there was none, every default is new) and `new_usr_fd`, applies the rules above to
// ROOT/etc (`root_fd`). Files whose default did not change are not looked at. Each write is
// atomic and durable (temp + fsync + rename + directory fsync), so a crash leaves every file
// old or new; rerunning the merge converges. Sorted by path.
absl::StatusOr<std::vector<EtcChange>> MergeEtcDefaults(int root_fd, int old_usr_fd,
                                                        int new_usr_fd);

}  // namespace onix::moss::etcmerge
