#include "moss/repo/driver.h"

#include <stdio.h>
#include <unistd.h>

#include <functional>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"
#include "moss/repo/config.h"
#include "moss/repo/files.h"
#include "moss/repo/index.h"
#include "moss/repo/report.h"
#include "moss/repo/repository.h"
#include "moss/repo/test_stones.h"
#include "tests/testing/temp_root.h"

namespace onix::moss::repo {
namespace {

// Captures what RunByName prints.
class Output {
 public:
  Output() : f_(open_memstream(&buf_, &len_)) {}
  ~Output() {
    if (f_) fclose(f_);
    free(buf_);
  }
  FILE* file() { return f_; }
  std::string Text() {
    fflush(f_);
    return std::string(buf_, len_);
  }

 private:
  char* buf_ = nullptr;
  size_t len_ = 0;
  FILE* f_;
};

class ByNameTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto repo = TempDir::Make("repo");
    ASSERT_TRUE(repo.ok());
    repo_.emplace(std::move(*repo));
    auto root = onix::testing::TempRoot::Make();
    ASSERT_TRUE(root.ok()) << root.status();
    root_.emplace(std::move(*root));
    ASSERT_TRUE(testing::MakeRepoStone(repo_->path(), "app", "1.0", {"name(lib)"}).ok());
    ASSERT_TRUE(testing::MakeRepoStone(repo_->path(), "lib", "2.0").ok());
    ASSERT_TRUE(testing::MakeRepoStone(repo_->path(), "tool", "1.0").ok());
    config_ = {"main", "file://" + repo_->path(), 0, true, ""};
    ASSERT_TRUE(AddRepo(root_->path(), config_).ok());
    Reindex();
  }

  void Reindex() {
    ASSERT_TRUE(BuildIndex(repo_->path()).ok());
    ASSERT_TRUE(UpdateRepo(root_->path(), config_).ok());
  }

  absl::Status Run(solver::Request request, bool dry_run = false) {
    ByNameOptions options;
    options.dry_run = dry_run;
    options.progress = out_.file();
    absl::StatusOr<ByNameResult> r = RunByName(root_->path(), request, options);
    if (r.ok()) std::fputs(FormatPlan(r->plan).c_str(), out_.file());
    return r.status();
  }

  // "name version explicit|dep" for every installed package.
  std::vector<std::string> Installed() {
    auto root = transaction::MachineRoot::Open(root_->path(), transaction::Access::kRead);
    if (!root.ok()) return {root.status().ToString()};
    auto sel = transaction::CurrentSelection(*root);
    if (!sel.ok()) return {sel.status().ToString()};
    std::vector<std::string> out;
    for (const auto& p : *sel) {
      out.push_back(p.meta.name + " " + p.meta.version + (p.is_explicit ? " explicit" : " dep"));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::optional<TempDir> repo_;
  std::optional<onix::testing::TempRoot> root_;
  RepoConfig config_;
  Output out_;
};

TEST_F(ByNameTest, InstallByNamePullsDependenciesAndKeepsExplicitFlags) {
  absl::Status st = Run({.install = {"app"}, .remove = {}, .debug_dir = ""});
  ASSERT_TRUE(st.ok()) << st << "\n" << out_.Text();
  EXPECT_EQ(Installed(), (std::vector<std::string>{"app 1.0 explicit", "lib 2.0 dep"}));
  auto content = ReadPath(root_->path() + "/usr/share/lib.txt");
  ASSERT_TRUE(content.ok()) << content.status();
  EXPECT_EQ(*content, "content of lib 2.0\n");
  EXPECT_NE(out_.Text().find("install:\n  app 1.0-1-1 (main"), std::string::npos) << out_.Text();
}

TEST_F(ByNameTest, DryRunPrintsTransactionAndChangesNothing) {
  absl::Status st = Run({.install = {"tool"}, .remove = {}, .debug_dir = ""}, true);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_NE(out_.Text().find("install:\n  tool 1.0-1-1 (main"), std::string::npos) << out_.Text();
  EXPECT_NE(out_.Text().find("download size: "), std::string::npos);
  EXPECT_TRUE(Installed().empty());
  auto usage = CacheSize(root_->path());
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->stones, 0u);
}

TEST_F(ByNameTest, UnsatisfiableRequestFailsWithProblemAndChangesNothing) {
  ASSERT_TRUE(Run({.install = {"tool"}, .remove = {}, .debug_dir = ""}).ok());
  absl::Status st = Run({.install = {"nosuch"}, .remove = {}, .debug_dir = ""});
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("nosuch"), std::string::npos) << st;
  EXPECT_EQ(Installed(), (std::vector<std::string>{"tool 1.0 explicit"}));
}

TEST_F(ByNameTest, SyncDowngradesWhenTheRepositoryGoesBack) {
  ASSERT_TRUE(Run({.install = {"app"}, .remove = {}, .debug_dir = ""}).ok());
  ASSERT_EQ(::unlink((repo_->path() + "/lib-2.0.stone").c_str()), 0);
  ASSERT_TRUE(testing::MakeRepoStone(repo_->path(), "lib", "1.5").ok());
  Reindex();
  absl::Status st = Run({.install = {}, .remove = {}, .sync = true, .debug_dir = ""});
  ASSERT_TRUE(st.ok()) << st << "\n" << out_.Text();
  EXPECT_NE(out_.Text().find("downgrade:\n  lib 2.0-1-1 -> 1.5-1-1"), std::string::npos)
      << out_.Text();
  EXPECT_EQ(Installed(), (std::vector<std::string>{"app 1.0 explicit", "lib 1.5 dep"}));
}

TEST_F(ByNameTest, RemoveWithAutoremoveDropsOrphans) {
  ASSERT_TRUE(Run({.install = {"app", "tool"}, .remove = {}, .debug_dir = ""}).ok());
  ASSERT_TRUE(Run({.install = {}, .remove = {"app"}, .autoremove = true, .debug_dir = ""}).ok());
  EXPECT_EQ(Installed(), (std::vector<std::string>{"tool 1.0 explicit"}));
}

// Issue 30 bug 6: an index record that lies about its stone (name, version, dependencies,
// providers) is caught when the stone is fetched, before anything is installed.
TEST_F(ByNameTest, AStoneWhoseMetaDiffersFromItsIndexRecordIsRefusedBeforeInstalling) {
  struct Lie {
    std::string what;
    std::function<void(stone::Meta&)> apply;
    std::string request;
  };
  const std::vector<Lie> lies = {
      {"name", [](stone::Meta& m) { m.name = "outsider"; }, "outsider"},
      {"version", [](stone::Meta& m) { m.version = "9.9"; }, "tool"},
      {"dependencies",
       [](stone::Meta& m) { m.depends.push_back(*stone::Dependency::Parse("name(lib)")); }, "tool"},
      {"providers",
       [](stone::Meta& m) { m.provides.push_back(*stone::Dependency::Parse("binary(sudo)")); },
       "tool"},
  };
  const std::string index = repo_->path() + "/" + kIndexFile;
  for (const Lie& lie : lies) {
    auto reader = stone::StoneReader::Open(index);
    ASSERT_TRUE(reader.ok()) << reader.status();
    std::vector<stone::IndexRecord> records = reader->index_records();
    for (auto& r : records) {
      if (r.meta.name == "tool") lie.apply(r.meta);
    }
    ASSERT_TRUE(stone::WriteIndexStone(records, index).ok());
    ASSERT_TRUE(UpdateRepo(root_->path(), config_).ok());
    absl::Status st = Run({.install = {lie.request}, .remove = {}, .debug_dir = ""});
    ASSERT_FALSE(st.ok()) << lie.what << "\n" << out_.Text();
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
    EXPECT_NE(st.message().find(
                  StrCat("is not the package its index record describes (", lie.what, " differ)")),
              std::string::npos)
        << st;
    EXPECT_TRUE(Installed().empty()) << lie.what;
    EXPECT_FALSE(*fs::ExistsAt(root_->fd(), "usr")) << lie.what << ": /usr was written";
    Reindex();
  }
  // The honest index installs the same stone.
  absl::Status st = Run({.install = {"tool"}, .remove = {}, .debug_dir = ""});
  EXPECT_TRUE(st.ok()) << st;
}

}  // namespace
}  // namespace onix::moss::repo
