// Rollback's guard for the Nix plane on throw-away roots: states carrying a `nix` package of
// a given version, a /nix whose DB schema file says who wrote it last.
#include "onix-cli/machine/rollback.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/transaction/root.h"
#include "moss/transaction/selection.h"
#include "moss/transaction/transaction.h"
#include "tests/testing/stones.h"
#include "tests/testing/temp_root.h"

namespace onix::cli {
namespace {

using moss::transaction::Access;
using moss::transaction::MachineRoot;
using onix::testing::TestFile;

class RollbackNixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = onix::testing::TempRoot::Make();
    ASSERT_TRUE(root.ok()) << root.status();
    root_ = std::make_unique<onix::testing::TempRoot>(std::move(root).value());
    ASSERT_TRUE(fs::MkdirAllAt(root_->fd(), "stones", 0755).ok());
    ASSERT_TRUE(fs::MkdirAllAt(root_->fd(), "run", 0755).ok());
  }

  // A state with `base` and, when `nix_version` is set, a `nix` package of that version.
  std::string State(const std::string& base_version, const std::string& nix_version) {
    std::vector<std::string> stones;
    auto base = onix::testing::MakeStone(root_->Path("stones"), "base", base_version, 1,
                                         {{"share/base-version", base_version, 0644, ""}});
    EXPECT_TRUE(base.ok()) << base.status();
    stones.push_back(*base);
    if (!nix_version.empty()) {
      auto nix = onix::testing::MakeStone(root_->Path("stones"), "nix", nix_version, 1,
                                          {{"bin/nix", "nix " + nix_version, 0755, ""}});
      EXPECT_TRUE(nix.ok()) << nix.status();
      stones.push_back(*nix);
    }
    auto m = MachineRoot::Open(root_->path(), Access::kWrite);
    EXPECT_TRUE(m.ok()) << m.status();
    auto sel = moss::transaction::InstallSelection(*m, stones);
    EXPECT_TRUE(sel.ok()) << sel.status();
    // Replace the whole selection: a state without nix must not inherit the previous one.
    std::vector<moss::transaction::SelectedPackage> only;
    for (auto& p : *sel) {
      if (p.meta.name == "base" || (!nix_version.empty() && p.meta.name == "nix")) {
        only.push_back(p);
      }
    }
    auto r = moss::transaction::Apply(*m, only, {});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->plan.to_fstx : "";
  }

  void NixDbSchema(const std::string& schema) {
    ASSERT_TRUE(fs::MkdirAllAt(root_->fd(), "nix/var/nix/db", 0755).ok());
    ASSERT_TRUE(root_->WriteFile("nix/var/nix/db/schema", schema).ok());
  }

  std::string UsrNix() {
    auto bytes = fs::ReadFileAt(root_->fd(), "usr/bin/nix");
    return bytes.ok() ? *bytes : "(none)";
  }

  RollbackRequest Request(bool force = false) {
    RollbackRequest req;
    req.root = root_->path();
    req.run_dir = root_->Path("run/opengl-driver");
    req.force = force;
    return req;
  }

  std::unique_ptr<onix::testing::TempRoot> root_;
};

TEST_F(RollbackNixTest, TargetNixReadingAnOlderDbSchemaIsRefusedAndNothingMoves) {
  const std::string old_state = State("1", "1.11.16");
  const std::string new_state = State("2", "2.8.0");
  NixDbSchema("10");
  auto r = Rollback(Request());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string msg(r.status().message());
  EXPECT_NE(msg.find("state " + old_state + " carries Nix 1.11.16, which reads store DB schema 7"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("was last written with schema 10"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--force"), std::string::npos) << msg;
  EXPECT_EQ(UsrNix(), "nix 2.8.0");
  auto m = MachineRoot::Open(root_->path(), Access::kRead);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*m->ActiveFstx(), new_state);
}

TEST_F(RollbackNixTest, OlderNixReleaseThanTheActiveOneIsRefusedEvenWithTheSameSchema) {
  const std::string old_state = State("1", "2.3.16");
  State("2", "2.8.0");
  NixDbSchema("10");
  auto r = Rollback(Request());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string msg(r.status().message());
  EXPECT_NE(msg.find("state " + old_state +
                     " carries Nix 2.3.16, older than Nix 2.8.0 of the "
                     "active state"),
            std::string::npos)
      << msg;
  EXPECT_EQ(UsrNix(), "nix 2.8.0");
  // A dry run says the same before anything would move.
  RollbackRequest dry = Request();
  dry.dry_run = true;
  EXPECT_EQ(Rollback(dry).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(RollbackNixTest, ForceRollsBackToTheOlderNixAndNixStaysUntouched) {
  const std::string old_state = State("1", "2.3.16");
  State("2", "2.8.0");
  NixDbSchema("10");
  auto r = Rollback(Request(/*force=*/true));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->to_fstx, old_state);
  EXPECT_TRUE(r->nix_changes.empty());
  EXPECT_EQ(UsrNix(), "nix 2.3.16");
}

TEST_F(RollbackNixTest, SamePatchOlderNixOrNoNixOrNoDbIsAllowed) {
  // A patch release back keeps the on-disk formats.
  State("1", "2.8.0");
  State("2", "2.8.1");
  NixDbSchema("10");
  auto patch = Rollback(Request());
  ASSERT_TRUE(patch.ok()) << patch.status();
  EXPECT_EQ(UsrNix(), "nix 2.8.0");
  // A state without Nix cannot misread the store.
  State("3", "");
  State("4", "2.8.0");
  auto r = Rollback(Request());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(UsrNix(), "(none)");
}

TEST_F(RollbackNixTest, NoNixDbMeansNothingToProtect) {
  const std::string old_state = State("1", "1.11.16");
  State("2", "2.8.0");
  auto r = Rollback(Request());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->to_fstx, old_state);
}

}  // namespace
}  // namespace onix::cli
