#include "boulder/buildroot/build_root.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boulder/util/util.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/repo/config.h"
#include "moss/repo/driver.h"
#include "moss/repo/repository.h"
#include "moss/solver/solver.h"
#include "moss/transaction/root.h"
#include "moss/transaction/selection.h"

namespace onix::boulder {

namespace {

// Makes `path` an entry of `kind` in the hardlink copy, removing whatever the build root
// had there. Removing only unlinks names in our copy: the moss store's objects stay intact.
absl::Status MakeMountPoint(const std::string& path, const HostEntry& e) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    const bool keep = (e.kind == HostEntry::Kind::kDir && S_ISDIR(st.st_mode)) ||
                      (e.kind == HostEntry::Kind::kFile && S_ISREG(st.st_mode));
    if (keep) return absl::OkStatus();
    ONIX_RETURN_IF_ERROR(RemoveTree(path));
  }
  ONIX_RETURN_IF_ERROR(MakeDirs(path.substr(0, path.rfind('/'))));
  switch (e.kind) {
    case HostEntry::Kind::kDir:
      return MakeDirs(path);
    case HostEntry::Kind::kFile:
      return WriteFile(path, "", 0644);
    case HostEntry::Kind::kSymlink:
      if (::symlink(e.link_target.c_str(), path.c_str()) != 0) {
        const int err = errno;
        return ErrnoError(err, StrCat("symlink ", path, " -> ", e.link_target));
      }
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> RepoUri(const std::string& repo) {
  for (const char* scheme : {"file://", "http://", "https://"}) {
    if (repo.rfind(scheme, 0) == 0) return repo;
  }
  char buf[PATH_MAX];
  if (::realpath(repo.c_str(), buf) == nullptr) {
    const int err = errno;
    return ErrnoError(err, StrCat("opening the build dependency repository ", repo));
  }
  if (::access(StrCat(buf, "/stone.index").c_str(), R_OK) != 0) {
    return absl::FailedPreconditionError(StrCat(
        repo, " is not a moss repository (no stone.index): index it with `moss index ", repo, "`"));
  }
  return StrCat("file://", buf);
}

absl::StatusOr<std::vector<BuildDepRecord>> InstallBuildRoot(const std::string& root,
                                                             const std::string& repo,
                                                             const std::vector<std::string>& deps) {
  std::vector<BuildDepRecord> out;
  if (deps.empty()) {
    ONIX_RETURN_IF_ERROR(MakeDirs(root + "/usr"));
    return out;
  }
  std::string list;
  for (const std::string& d : deps) list += StrCat(list.empty() ? "" : ", ", d);
  if (repo.empty()) {
    return absl::FailedPreconditionError(
        StrCat("build dependencies ", list, " need a repository (--repo DIR|URI)"));
  }
  ONIX_ASSIGN_OR_RETURN(std::string uri, RepoUri(repo));
  for (const char* d : {"/.moss", "/.moss/store", "/.moss/root", "/.moss/db", "/.moss/cache"}) {
    ONIX_RETURN_IF_ERROR(MakeDirs(root + d));
  }
  moss::repo::RepoConfig config;
  config.name = "builddeps";
  config.uri = uri;
  ONIX_RETURN_IF_ERROR(moss::repo::AddRepo(root, config));
  ONIX_RETURN_IF_ERROR_CTX(moss::repo::UpdateRepo(root, config),
                           StrCat("reading the index of ", uri));
  moss::solver::Request request;
  request.install = deps;
  moss::repo::ByNameOptions options;
  ONIX_RETURN_IF_ERROR_CTX(moss::repo::RunByName(root, request, options).status(),
                           StrCat("installing build dependencies ", list, " from ", uri));
  ONIX_ASSIGN_OR_RETURN(
      moss::transaction::MachineRoot machine,
      moss::transaction::MachineRoot::Open(root, moss::transaction::Access::kRead));
  ONIX_ASSIGN_OR_RETURN(moss::transaction::Selection selection,
                        moss::transaction::CurrentSelection(machine));
  for (const auto& p : selection) {
    const auto& m = p.meta;
    out.push_back({m.name,
                   StrCat(m.name, "-", m.version, "-", m.source_release, "-", m.build_release, "-",
                          m.architecture, ".stone"),
                   p.stone_digest.Hex()});
  }
  return out;
}

absl::Status AssembleSandboxUsr(const std::string& root_usr, const std::string& sandbox_usr,
                                const HostToolchain& toolchain, SandboxConfig* cfg) {
  struct stat st;
  if (::stat(root_usr.c_str(), &st) == 0) {
    // A hardlink copy costs one link per file and keeps the installed build root (which is
    // also %(depsroot)) free of the toolchain's mount points.
    ONIX_RETURN_IF_ERROR_CTX(RunCommandOk({"cp", "-al", root_usr, sandbox_usr}).status(),
                             "copying the build root");
  } else {
    ONIX_RETURN_IF_ERROR(MakeDirs(sandbox_usr));
  }
  cfg->binds.push_back({sandbox_usr, "/usr", false});
  for (const HostEntry& e : toolchain.entries) {
    const bool in_usr = e.path.rfind("/usr/", 0) == 0;
    if (in_usr) {
      ONIX_RETURN_IF_ERROR_CTX(MakeMountPoint(sandbox_usr + e.path.substr(4), e),
                               StrCat("placing host toolchain path ", e.path));
    }
    if (e.kind == HostEntry::Kind::kSymlink) {
      if (!in_usr) cfg->symlinks.push_back({e.path, e.link_target});
      continue;
    }
    cfg->binds.push_back({e.path, e.path, false});
  }
  return absl::OkStatus();
}

}  // namespace onix::boulder
