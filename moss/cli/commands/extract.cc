// `moss extract FILE.stone DIR`: the stone's layout as a plain tree at DIR, every digest
// verified. DIR must not exist; it appears complete or not at all.
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/cli/commands.h"
#include "moss/stone/stone.h"

namespace onix::moss_cli {
namespace {

struct ExtractRequest {
  std::string file;
  std::string dir;
};

// Commit point: the RENAME_NOREPLACE of the temporary sibling to DIR. Before it, DIR does not
// exist (a crash leaves a ".<DIR>.extract-*" sibling); after it, DIR is the whole tree.
absl::Status RunExtract(const ExtractRequest& req) {
  auto run = [&]() -> absl::Status {
    std::string dir = req.dir;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    const size_t slash = dir.rfind('/');
    const std::string parent =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : dir.substr(0, slash));
    const std::string name = slash == std::string::npos ? dir : dir.substr(slash + 1);
    if (name.empty() || name == "." || name == "..") {
      return InvalidArgument(StrCat("'", req.dir, "' is not a directory name to create"));
    }
    ONIX_ASSIGN_OR_RETURN(UniqueFd parent_fd, fs::OpenDir(parent));
    ONIX_ASSIGN_OR_RETURN(bool exists, fs::ExistsAt(parent_fd.get(), name));
    if (exists) return absl::AlreadyExistsError(StrCat(req.dir, " already exists"));
    // Open (and so validate) the stone before creating anything.
    ONIX_ASSIGN_OR_RETURN(stone::StoneReader r, stone::StoneReader::Open(req.file));
    std::string tmpl = StrCat(parent, "/.", name, ".extract-XXXXXX");
    if (::mkdtemp(tmpl.data()) == nullptr) {
      const int err = errno;
      return ErrnoError(err, StrCat("mkdtemp(", tmpl, ")"));
    }
    const std::string tmp_name = tmpl.substr(tmpl.rfind('/') + 1);
    absl::Status s = [&]() -> absl::Status {
      ONIX_ASSIGN_OR_RETURN(UniqueFd tmp_fd, fs::OpenDirAt(parent_fd.get(), tmp_name));
      ONIX_RETURN_IF_ERROR(r.ExtractTo(tmp_fd.get()));
      // The tree root takes the usual directory mode rather than mkdtemp's 0700.
      (void)::fchmod(tmp_fd.get(), 0755);
      return fs::RenameNoReplaceAt(parent_fd.get(), tmp_name, parent_fd.get(), name);
    }();
    if (!s.ok()) {
      (void)fs::RemoveTreeAt(parent_fd.get(), tmp_name);
      return s;
    }
    return absl::OkStatus();
  };
  ONIX_RETURN_IF_ERROR_CTX(run(), StrCat("extracting ", req.file, " into ", req.dir));
  std::printf("extracted %s into %s\n", req.file.c_str(), req.dir.c_str());
  return absl::OkStatus();
}

}  // namespace

void AddExtractCommand(CLI::App& app, Context& ctx) {
  auto req = std::make_shared<ExtractRequest>();
  CLI::App* cmd =
      app.add_subcommand("extract", "Materialise a stone's layout as a plain tree in a new DIR");
  cmd->add_option("file", req->file, "The .stone file")->required();
  cmd->add_option("dir", req->dir, "Directory to create (must not exist)")->required();
  cmd->callback([&ctx, req] { ctx.action = [req] { return RunExtract(*req); }; });
}

}  // namespace onix::moss_cli
