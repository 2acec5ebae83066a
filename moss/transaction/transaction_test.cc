#include "moss/transaction/transaction.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/status.h"
#include "moss/base/str_cat.h"
#include "moss/base/temp_dir.h"
#include "moss/state/tree.h"
#include "moss/stone/format.h"
#include "moss/stone/testing.h"
#include "moss/transaction/maintenance.h"
#include "moss/transaction/queries.h"
#include "tests/testing/stones.h"
#include "tests/testing/temp_root.h"

namespace onix::moss::transaction {
namespace {

using onix::testing::MakeStone;
using onix::testing::TempRoot;
using onix::testing::TestFile;

class TransactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = TempRoot::Make();
    ASSERT_TRUE(root.ok()) << root.status();
    root_.emplace(std::move(*root));
    auto stones =
        TempDir::Make("stones-", std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "");
    ASSERT_TRUE(stones.ok());
    stones_.emplace(std::move(*stones));
  }

  std::string Stone(const std::string& name, const std::string& version,
                    const std::vector<TestFile>& files, uint64_t release = 1) {
    auto path = MakeStone(stones_->path(), name, version, release, files);
    EXPECT_TRUE(path.ok()) << path.status();
    return path.ok() ? *path : "";
  }

  MachineRoot Open() {
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    EXPECT_TRUE(r.ok()) << r.status();
    return std::move(*r);
  }

  absl::StatusOr<Result> Install(const std::vector<std::string>& files,
                                 const Options& options = {}) {
    MachineRoot r = Open();
    ONIX_ASSIGN_OR_RETURN(Selection sel, InstallSelection(r, files));
    return Apply(r, sel, options);
  }

  absl::StatusOr<Result> Remove(const std::vector<std::string>& names) {
    MachineRoot r = Open();
    ONIX_ASSIGN_OR_RETURN(Selection sel, RemoveSelection(r, names));
    return Apply(r, sel, {});
  }

  std::string ActiveFstxFile() {
    auto usr = fs::OpenDirAt(root_->fd(), "usr");
    if (!usr.ok()) return "";
    auto id = state::ReadTreeId(usr->get());
    return id.ok() ? id->fstx : "";
  }

  std::vector<std::string> StateIds() {
    auto r = MachineRoot::Open(root_->path(), Access::kRead);
    EXPECT_TRUE(r.ok()) << r.status();
    auto states = r->RetainedStates();
    std::vector<std::string> out;
    for (const auto& s : *states) out.push_back(s.fstx);
    return out;
  }

  std::optional<TempRoot> root_;
  std::optional<TempDir> stones_;
};

TEST_F(TransactionTest, InstallInstallRemoveThenActivateFirstStateRestoresItExactly) {
  const std::string a = Stone("alpha", "1.2",
                              {{"bin/alpha", "#!alpha\n", 0755},
                               {"share/alpha/data", "alpha data\n"},
                               {"lib/libalpha.so", "", 0644, "libalpha.so.1"},
                               {"lib/libalpha.so.1", "ELF alpha"}});
  const std::string b = Stone("beta", "2.0", {{"bin/beta", "#!beta\n", 0755}}, 3);

  auto r1 = Install({a});
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->plan.message, "install alpha 1.2-1");
  const std::string s1 = r1->plan.to_fstx;
  EXPECT_EQ(s1.substr(0, 2), "1-");
  EXPECT_EQ(ActiveFstxFile(), s1);
  const auto tree1 = root_->HashTree("usr");
  EXPECT_EQ(tree1.at("bin/alpha").substr(0, 9), "file 0555");
  EXPECT_EQ(tree1.at("share/alpha/data").substr(0, 9), "file 0444");
  // Merged-usr links are made on the root.
  EXPECT_EQ(*fs::ReadLinkAt(root_->fd(), "bin"), "usr/bin");

  auto r2 = Install({b});
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->plan.message, "install beta 2.0-3");
  EXPECT_EQ(r2->plan.to_fstx.substr(0, 2), "2-");
  EXPECT_TRUE(*fs::ExistsAt(root_->fd(), ".moss/root/" + s1 + "/usr/bin/alpha"));

  auto r3 = Remove({"alpha"});
  ASSERT_TRUE(r3.ok()) << r3.status();
  EXPECT_EQ(r3->plan.message, "remove alpha");
  const std::string s3 = r3->plan.to_fstx;
  EXPECT_EQ(s3.substr(0, 2), "3-");
  EXPECT_FALSE(*fs::ExistsAt(root_->fd(), "usr/bin/alpha"));
  EXPECT_TRUE(*fs::ExistsAt(root_->fd(), "usr/bin/beta"));

  {
    MachineRoot r = Open();
    auto act = Activate(r, "1", {});  // without the suffix
    ASSERT_TRUE(act.ok()) << act.status();
    EXPECT_EQ(act->plan.to_fstx, s1);
  }
  EXPECT_EQ(root_->HashTree("usr"), tree1);
  EXPECT_EQ(ActiveFstxFile(), s1);
  EXPECT_EQ(StateIds().size(), 3u);
  EXPECT_TRUE(*fs::ExistsAt(root_->fd(), ".moss/root/" + s3 + "/usr/bin/beta"));

  const std::string git = StrCat("git --git-dir ", root_->path(), "/.moss/history.git ");
  const std::string log = onix::testing::RunCommand(git + "log --stat --all 2>&1");
  EXPECT_NE(log.find("install alpha 1.2-1"), std::string::npos) << log;
  EXPECT_NE(log.find("install beta 2.0-3"), std::string::npos) << log;
  EXPECT_NE(log.find("remove alpha"), std::string::npos) << log;
  EXPECT_NE(log.find("packages/beta"), std::string::npos) << log;
  // HEAD follows the active state, and state 3's parent is state 2.
  EXPECT_NE(onix::testing::RunCommand(git + "log -1 --format=%s").find("install alpha"),
            std::string::npos);
  EXPECT_EQ(onix::testing::RunCommand(git + "rev-list --count refs/states/" + s3), "3\n");
}

TEST_F(TransactionTest, DiffStatesFromChangedPackagesEqualsTheFullLayoutDiff) {
  ASSERT_TRUE(Install({Stone("alpha", "1", {{"bin/a", "a1"}, {"lib/alpha/x", "x1"}}),
                       Stone("beta", "1", {{"bin/b", "b"}, {"share/doc/beta/README", "r"}})})
                  .ok());
  ASSERT_TRUE(Install({Stone("gamma", "1", {{"bin/g", "g"}, {"lib/gamma/y", "y"}})}).ok());
  ASSERT_TRUE(Remove({"beta"}).ok());
  ASSERT_TRUE(
      Install({Stone("alpha", "2",
                     {{"bin/a", "a1"}, {"lib/alpha/x", "x2"}, {"lib/alpha/new", "n", 0755}})})
          .ok());
  // A directory two packages ship with different modes: its merged entry is the first
  // owner's by name, so adding "aaa" changes it and removing "aaa" changes it back.
  const TestFile odd_dir{"share/odd", "", 0750, "", true};
  ASSERT_TRUE(Install({Stone("delta", "1", {odd_dir, {"share/odd/d", "d"}})}).ok());
  ASSERT_TRUE(
      Install({Stone("aaa", "1", {{"share/odd", "", 0700, "", true}, {"share/odd/a", "a"}})}).ok());
  ASSERT_TRUE(Remove({"aaa"}).ok());
  // A file that moves to another package in one transaction (delta's update drops it, the new
  // zeta ships it): the same entry on both sides, so it is unchanged.
  ASSERT_TRUE(
      Install({Stone("delta", "2", {odd_dir}), Stone("zeta", "1", {{"share/odd/d", "d"}})}).ok());
  MachineRoot r = Open();
  auto states = r.RetainedStates();
  ASSERT_TRUE(states.ok());
  ASSERT_EQ(states->size(), 8u);
  auto full = [&](const std::optional<state::Manifest>& m) -> std::vector<stone::LayoutEntry> {
    if (!m) return {};
    auto l = r.LayoutOf(*m);
    EXPECT_TRUE(l.ok()) << l.status();
    return state::Entries(*l);
  };
  for (size_t j = 0; j < states->size(); ++j) {
    auto to_rec = r.ResolveState((*states)[j].fstx);
    ASSERT_TRUE(to_rec.ok());
    auto to = r.ManifestOf(*to_rec);
    ASSERT_TRUE(to.ok());
    for (size_t i = 0; i <= states->size(); ++i) {
      std::optional<uint64_t> from;
      std::optional<state::Manifest> from_manifest;
      if (i < states->size()) {
        auto rec = r.ResolveState((*states)[i].fstx);
        ASSERT_TRUE(rec.ok());
        auto m = r.ManifestOf(*rec);
        ASSERT_TRUE(m.ok());
        from = rec->number;
        from_manifest = *m;
      }
      auto packages = r.db().DiffPackageSets(from, to_rec->number);
      ASSERT_TRUE(packages.ok()) << packages.status();
      auto fast = r.DiffStates(from, to_rec->number, *packages);
      ASSERT_TRUE(fast.ok()) << fast.status();
      const state::LayoutDiff slow = state::DiffLayouts(full(from_manifest), full(*to));
      EXPECT_EQ(fast->added, slow.added) << i << " -> " << j;
      EXPECT_EQ(fast->removed, slow.removed) << i << " -> " << j;
      EXPECT_EQ(fast->changed, slow.changed) << i << " -> " << j;
      if (i == 4 && j == 5) {  // aaa sorts before delta: its mode wins
        EXPECT_NE(std::find(slow.changed.begin(), slow.changed.end(), "share/odd"),
                  slow.changed.end());
      }
      if (i == 6 && j == 7) {  // the moved file is no change
        EXPECT_TRUE(slow.added.empty() && slow.removed.empty() && slow.changed.empty());
      }
      if (i == 1 && j == 2) {  // beta's files and its own directories go, the shared bin stays
        EXPECT_NE(std::find(slow.removed.begin(), slow.removed.end(), "share/doc/beta"),
                  slow.removed.end());
        EXPECT_EQ(std::find(slow.removed.begin(), slow.removed.end(), "bin"), slow.removed.end());
      }
    }
  }
}

TEST_F(TransactionTest, ConflictingPackagesAreRefusedBeforeAnyWrite) {
  ASSERT_TRUE(Install({Stone("alpha", "1", {{"bin/tool", "alpha's tool"}})}).ok());
  const auto usr_before = root_->HashTree("usr");
  const auto moss_before = root_->HashTree(".moss/store");
  const std::string other = Stone("other", "1", {{"bin/tool", "other's tool"}});
  auto r = Install({other});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("/usr/bin/tool"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("alpha"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("other"), std::string::npos) << r.status();
  EXPECT_EQ(root_->HashTree("usr"), usr_before);
  EXPECT_EQ(root_->HashTree(".moss/store"), moss_before);
  EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/root/staging"));
  EXPECT_EQ(StateIds().size(), 1u);
}

// Issue 30: two stones, each valid alone, whose symlinks combine into an escape from /usr are
// refused on the merged layout of the candidate state, before anything is written; whichever
// of them is installed first.
TEST_F(TransactionTest, SymlinksEscapingOnlyInTheMergedTreeAreRefusedBeforeAnyWrite) {
  const std::string link = Stone("linker", "1", {{"lib/zz", "", 0777, "/usr"}});
  const std::string climber = Stone("climber", "1", {{"a/b/q", "", 0777, "../../lib/zz/../.."}});
  ASSERT_TRUE(Install({Stone("base", "1", {{"bin/base", "base"}})}).ok());
  for (const std::vector<std::string>& order :
       {std::vector<std::string>{link, climber}, std::vector<std::string>{climber}}) {
    if (order.size() == 1) {
      ASSERT_TRUE(Install({link}).ok());  // the other one first
    }
    const auto before = root_->HashTree("usr");
    auto r = Install(order);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
    EXPECT_NE(r.status().message().find("layout symlink 'a/b/q'"), std::string::npos) << r.status();
    EXPECT_NE(r.status().message().find("the packages' layouts combined"), std::string::npos)
        << r.status();
    EXPECT_EQ(root_->HashTree("usr"), before);
    EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/root/staging"));
  }
}

// Issue 30, disk before digest: stones declaring more content than the store has room for
// are refused before a byte is unpacked (the content here is 100 bytes of garbage declaring
// 60 GiB per stone; its digest would only fail after writing all of it).
TEST_F(TransactionTest, ContentLargerThanTheFreeSpaceIsRefusedBeforeUnpacking) {
  ASSERT_TRUE(Install({Stone("base", "1", {{"bin/base", "base"}})}).ok());
  const uint64_t kDeclared = 60ull << 30;
  std::vector<std::string> files;
  for (const char* name : {"huge-a", "huge-b", "huge-c"}) {
    stone::LayoutEntry e;
    e.path = StrCat("share/", name);
    e.size = kDeclared;
    e.digest = Sha256Of(name);
    stone::Meta m;
    m.name = name;
    m.version = "1";
    uint32_t meta_count = 0;
    const std::string meta = stone::internal::EncodeMeta(m, 0, &meta_count);
    stone::testing::RawStone raw;
    std::vector<stone::LayoutEntry> layout = {stone::testing::Dir("share"), e};
    raw.payloads.push_back(
        {stone::PayloadKind::kMeta, stone::Compression::kNone, meta_count, meta});
    raw.payloads.push_back({stone::PayloadKind::kContent, stone::Compression::kZstd, 1,
                            std::string(100, '\0'), static_cast<int64_t>(kDeclared)});
    raw.payloads.push_back({stone::PayloadKind::kLayout, stone::Compression::kNone, 2,
                            stone::internal::EncodeLayout(layout)});
    raw.payloads.push_back({stone::PayloadKind::kIndex, stone::Compression::kNone, 1,
                            stone::internal::EncodeIndex({{e.digest, 0, kDeclared}})});
    const std::string path = StrCat(stones_->path(), "/", name, ".stone");
    ASSERT_TRUE(fs::WriteFileAtomicAt(stones_->fd(), StrCat(name, ".stone"),
                                      stone::testing::Craft(raw), 0644, fs::Durability::kNone)
                    .ok());
    files.push_back(path);
  }
  struct statvfs st;
  ASSERT_EQ(::statvfs(root_->path().c_str(), &st), 0);
  if (static_cast<uint64_t>(st.f_bavail) * st.f_frsize >= files.size() * kDeclared) {
    GTEST_SKIP() << "more than " << files.size() * kDeclared << " bytes free";
  }
  const auto usr_before = root_->HashTree("usr");
  const auto store_before = root_->HashTree(".moss/store");
  auto r = Install(files);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("nothing was unpacked"), std::string::npos) << r.status();
  EXPECT_EQ(root_->HashTree("usr"), usr_before);
  EXPECT_EQ(root_->HashTree(".moss/store"), store_before);
  EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/root/staging"));
}

// Issue 30 bug 1: a package name that would be a path or a special git entry never reaches
// a transaction (it used to install, then wedge the root in the history commit).
TEST_F(TransactionTest, HostilePackageNamesAreRefusedBeforeAnyWrite) {
  ASSERT_TRUE(Install({Stone("base", "1", {{"bin/base", "base"}})}).ok());
  const auto usr_before = root_->HashTree("usr");
  for (const char* name : {"..", ".git", "../..", "/", "a/b", "a\nb", "x\x1b[2J"}) {
    stone::Meta m = stone::testing::TestMeta(name);
    const std::string file = StrCat("hostile-", usr_before.size(), "-", std::string(name).size(),
                                    "-", static_cast<int>(name[0]), ".stone");
    ASSERT_TRUE(fs::WriteFileAtomicAt(stones_->fd(), file,
                                      stone::testing::Craft(stone::testing::BinaryParts(
                                          m, {stone::testing::File("f", "x")}, {"x"})),
                                      0644, fs::Durability::kNone)
                    .ok());
    auto r = Install({StrCat(stones_->path(), "/", file)});
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
    EXPECT_NE(r.status().message().find("bad package name"), std::string::npos) << r.status();
    EXPECT_EQ(root_->HashTree("usr"), usr_before) << name;
    EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/journal")) << name;
  }
  EXPECT_EQ(StateIds().size(), 1u);
}

// Issue 30 bug 1: a history.git that cannot even be opened never locks the root: installs
// work with a warning, and once it is moved away the next command starts a new history with
// the active state.
TEST_F(TransactionTest, AnUnopenableHistoryIsAWarningNotAWedge) {
  ASSERT_TRUE(Install({Stone("base", "1", {{"bin/base", "base"}})}).ok());
  ASSERT_TRUE(fs::RemoveTreeAt(root_->fd(), ".moss/history.git").ok());
  {
    auto moss = fs::OpenDirAt(root_->fd(), ".moss");
    ASSERT_TRUE(moss.ok());
    ASSERT_TRUE(fs::WriteFileAtomicAt(moss->get(), "history.git", "not a repository\n", 0644,
                                      fs::Durability::kNone)
                    .ok());
  }
  auto r = Install({Stone("alpha", "1", {{"bin/alpha", "alpha"}})});
  ASSERT_TRUE(r.ok()) << r.status();
  bool warned = false;
  for (const auto& w : r->warnings)
    warned = warned || w.find("history is unavailable") != std::string::npos;
  EXPECT_TRUE(warned) << "no warning about the history";
  EXPECT_EQ(ActiveFstxFile(), r->plan.to_fstx);
  EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/journal"));
  auto again = Remove({"alpha"});
  ASSERT_TRUE(again.ok()) << again.status();

  ASSERT_TRUE(fs::UnlinkAt(root_->fd(), ".moss/history.git").ok());
  auto next = Install({Stone("gamma", "1", {{"bin/gamma", "gamma"}})});
  ASSERT_TRUE(next.ok()) << next.status();
  for (const auto& w : next->warnings) ADD_FAILURE() << "warning: " << w;
  EXPECT_NE(onix::testing::RunCommand(
                StrCat("git --git-dir ", root_->path(), "/.moss/history.git show HEAD:state"))
                .find("fstx " + next->plan.to_fstx + "\n"),
            std::string::npos);
}

TEST_F(TransactionTest, AFileSharedByTwoPackagesIsStoredOnce) {
  const std::string shared = "the same license text\n";
  ASSERT_TRUE(Install({Stone("alpha", "1", {{"share/alpha/COPYING", shared}}),
                       Stone("beta", "1", {{"share/beta/COPYING", shared}})})
                  .ok());
  MachineRoot r = Open();
  auto objects = r.store().List();
  ASSERT_TRUE(objects.ok());
  int copies = 0;
  for (const auto& k : *objects) copies += k.digest == Sha256Of(shared) ? 1 : 0;
  EXPECT_EQ(copies, 1);
  auto a = fs::StatAt(root_->fd(), "usr/share/alpha/COPYING");
  auto b = fs::StatAt(root_->fd(), "usr/share/beta/COPYING");
  EXPECT_EQ(a->st_ino, b->st_ino);
}

TEST_F(TransactionTest, VerifyDetectsACorruptStoreFileAndRepairFixesIt) {
  const std::string content = "precious bytes\n";
  ASSERT_TRUE(Install({Stone("alpha", "1", {{"share/alpha/file", content}})}).ok());
  ASSERT_TRUE(Install({Stone("beta", "1", {{"share/beta/file", "b"}})}).ok());
  const auto good = root_->HashTree("usr");
  {
    MachineRoot r = Open();
    auto clean = Verify(r, false);
    ASSERT_TRUE(clean.ok()) << clean.status();
    EXPECT_TRUE(clean->problems.empty());
    // Corrupt the object in place: every tree hardlinking it is corrupt too.
    const std::string rel = state::KeyOf({"x", stone::FileKind::kRegular, 0644, 0, 0, "",
                                          Sha256Of(content), content.size()})
                                .RelPath();
    ASSERT_EQ(::fchmodat(r.store().fd(), rel.c_str(), 0644, 0), 0);
    auto fd = fs::OpenAt(r.store().fd(), rel, O_WRONLY);
    ASSERT_TRUE(fd.ok());
    ASSERT_EQ(::pwrite(fd->get(), "X", 1, 0), 1);
  }
  {
    MachineRoot r = Open();
    auto report = Verify(r, false);
    ASSERT_TRUE(report.ok());
    EXPECT_FALSE(report->clean_after);
    std::set<std::string> where;
    for (const auto& p : report->problems) where.insert(p.where);
    EXPECT_TRUE(where.count("store"));
    EXPECT_EQ(where.size(), 3u);  // the store and both states' trees
    auto repaired = Verify(r, true);
    ASSERT_TRUE(repaired.ok()) << repaired.status();
    EXPECT_TRUE(repaired->clean_after);
    EXPECT_GT(repaired->repaired, 0u);
    auto again = Verify(r, false);
    EXPECT_TRUE(again->problems.empty());
  }
  EXPECT_EQ(root_->HashTree("usr"), good);
}

TEST_F(TransactionTest, VerifyReportsATreeThatClaimsAnotherState) {
  ASSERT_TRUE(Install({Stone("alpha", "1", {{"bin/a", "a"}})}).ok());
  ASSERT_TRUE(Install({Stone("beta", "1", {{"bin/b", "b"}})}).ok());
  const std::string first = StateIds()[0];
  ASSERT_TRUE(root_->WriteFile(".moss/root/" + first + "/usr/.fstx", "7-dead\ntoken\n", 0444).ok());
  MachineRoot r = Open();
  auto report = Verify(r, false);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->clean_after);
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_EQ(report->problems[0].path, ".fstx");
  EXPECT_EQ(report->problems[0].problem, "names state 7-dead");
  // Activating it is refused rather than guessed.
  EXPECT_TRUE(absl::IsFailedPrecondition(Activate(r, first, {}).status()));
}

TEST_F(TransactionTest, PruneKeepTwoLeavesExpectedStatesAndNoUnreferencedStoreFile) {
  ASSERT_TRUE(Install({Stone("alpha", "1", {{"bin/a", std::string(10000, 'a')}})}).ok());
  ASSERT_TRUE(Install({Stone("alpha", "2", {{"bin/a", std::string(10000, 'b')}})}).ok());
  ASSERT_TRUE(Install({Stone("alpha", "3", {{"bin/a", std::string(10000, 'c')}})}).ok());
  auto ids = StateIds();
  ASSERT_EQ(ids.size(), 3u);
  {
    MachineRoot r = Open();
    // Roll back to state 1: prune must keep it (active) plus the newest other one.
    ASSERT_TRUE(Activate(r, ids[0], {}).ok());
  }
  MachineRoot r = Open();
  const uint64_t size_before = *r.store().TotalSize();
  auto dry = Prune(r, 2, true);
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(dry->removed, std::vector<std::string>{ids[1]});
  EXPECT_EQ(StateIds().size(), 3u);
  auto pruned = Prune(r, 2, false);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(pruned->removed, std::vector<std::string>{ids[1]});
  EXPECT_EQ(StateIds(), (std::vector<std::string>{ids[0], ids[2]}));
  EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/root/" + ids[1]));
  EXPECT_EQ(*r.store().TotalSize(), size_before - 10000);  // state 2's bbbb... is gone
  // Every remaining object is used by a remaining state's tree.
  std::set<std::string> used;
  const std::vector<RetainedState> retained = *r.RetainedStates();
  for (const auto& s : retained) {
    auto m = r.ManifestOf(*r.ResolveState(s.fstx));
    const auto layout = *r.LayoutOf(*m);
    for (const auto& e : layout) {
      if (e.entry.kind == stone::FileKind::kRegular) used.insert(state::KeyOf(e.entry).Name());
    }
  }
  const auto objects = *r.store().List();
  for (const auto& k : objects) EXPECT_TRUE(used.count(k.Name())) << k.Name();
  EXPECT_EQ(r.store().List()->size(), used.size());
  EXPECT_TRUE(Verify(r, false)->problems.empty());
  // The boot hook hears about the remaining states after a removal.
  std::vector<RetainedState> seen;
  auto hook = [&](const std::string&, const std::vector<RetainedState>& states) {
    seen = states;
    return absl::OkStatus();
  };
  ASSERT_TRUE(RemoveStates(r, {ids[2]}, false, hook).ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].active);
  // The active state is never removed.
  EXPECT_TRUE(absl::IsFailedPrecondition(RemoveStates(r, {ids[0]}, false).status()));
}

TEST_F(TransactionTest, TransactionTriggersRunLdconfigAndDepmodStyleToolsInStaging) {
  auto tool = onix::testing::FakeTriggerTool();
  ASSERT_TRUE(tool.ok()) << tool.status();
  const std::string tools = Stone(
      "systools", "1",
      {{"bin/ldconfig", *tool, 0755},
       {"share/moss/triggers/tx.d/ldconfig.trigger",
        "name = ldconfig\nmatch = /usr/lib/*.so*\nrun = /usr/bin/ldconfig ldconfig\n"},
       {"share/moss/triggers/tx.d/depmod.trigger",
        "name = depmod\nmatch = /usr/lib/modules/*\nrun = /usr/bin/ldconfig depmod\norder = 20\n"},
       {"share/moss/triggers/sys.d/hello.trigger",
        "name = hello\nmatch = /usr/lib/*\nrun = /usr/bin/ldconfig write /etc/hello ran\n"}});
  ASSERT_TRUE(fs::MkdirAt(root_->fd(), "etc", 0755).ok());
  auto r = Install({tools, Stone("zlib", "1.3", {{"lib/libz.so.1", "zlib"}}),
                    Stone("linux", "6.1", {{"lib/modules/6.1.0/kernel/e1000.ko", "ko"}})});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->warnings.empty()) << r->warnings[0];
  EXPECT_EQ(*fs::ReadFileAt(root_->fd(), "usr/lib/ld.so.cache"), "libz.so.1\n");
  auto mods = fs::OpenDirAt(root_->fd(), "usr/lib/modules/6.1.0");
  EXPECT_EQ(*fs::ReadFileAt(mods->get(), "modules.dep"), "kernel/e1000.ko:\n");
  EXPECT_EQ(*fs::ReadFileAt(root_->fd(), "etc/hello"), "ran");

  // A new library re-runs ldconfig in the new state only; the old state keeps its cache.
  const std::string old = ActiveFstxFile();
  ASSERT_TRUE(Install({Stone("png", "1", {{"lib/libpng.so.16", "png"}})}).ok());
  EXPECT_EQ(*fs::ReadFileAt(root_->fd(), "usr/lib/ld.so.cache"), "libpng.so.16\nlibz.so.1\n");
  auto old_lib = fs::OpenDirAt(root_->fd(), ".moss/root/" + old + "/usr/lib");
  EXPECT_EQ(*fs::ReadFileAt(old_lib->get(), "ld.so.cache"), "libz.so.1\n");
}

TEST_F(TransactionTest, FailingTransactionTriggerAbortsAndLeavesUsrUntouched) {
  auto tool = onix::testing::FakeTriggerTool();
  ASSERT_TRUE(tool.ok());
  ASSERT_TRUE(Install({Stone("base", "1", {{"bin/base", "base"}})}).ok());
  const auto before = root_->HashTree("usr");
  auto r = Install({Stone("broken", "1",
                          {{"bin/tool", *tool, 0755},
                           {"share/moss/triggers/tx.d/broken.trigger",
                            "name = broken\nmatch = /usr/*\nrun = /usr/bin/tool fail\n"}})});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("transaction trigger broken"), std::string::npos)
      << r.status();
  EXPECT_NE(r.status().message().find("active state is unchanged"), std::string::npos);
  EXPECT_EQ(root_->HashTree("usr"), before);
  EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/root/staging"));
  EXPECT_EQ(StateIds().size(), 1u);
  // The failed candidate's number is not reused.
  auto next = Install({Stone("other", "1", {{"bin/other", "o"}})});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->plan.to_fstx.substr(0, 2), "3-");
}

TEST_F(TransactionTest, DryRunChangesNothingAndNoopIsReported) {
  const std::string a = Stone("alpha", "1", {{"bin/a", "a"}});
  Options dry;
  dry.dry_run = true;
  auto r = Install({a}, dry);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->plan.to_fstx.substr(0, 2), "1-");
  EXPECT_EQ(r->plan.files.added.size(), 2u);  // bin and bin/a
  EXPECT_FALSE(*fs::ExistsAt(root_->fd(), "usr"));
  ASSERT_TRUE(Install({a}).ok());
  auto again = Install({a});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->plan.noop);
  EXPECT_EQ(StateIds().size(), 1u);
}

TEST_F(TransactionTest, BootHookSeesEveryRetainedStateWithItsTree) {
  std::vector<RetainedState> seen;
  Options o;
  o.boot_hook = [&](const std::string& root, const std::vector<RetainedState>& states) {
    EXPECT_EQ(root, root_->path());
    seen = states;
    return absl::OkStatus();
  };
  ASSERT_TRUE(Install({Stone("alpha", "1", {{"bin/a", "a"}})}, o).ok());
  ASSERT_TRUE(Install({Stone("beta", "1", {{"bin/b", "b"}})}, o).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_FALSE(seen[0].active);
  EXPECT_TRUE(seen[1].active);
  EXPECT_EQ(seen[1].usr_dir, root_->Path("usr"));
  for (const auto& s : seen) {
    struct stat st;
    EXPECT_EQ(::stat((s.usr_dir + "/.fstx").c_str(), &st), 0) << s.usr_dir;
    EXPECT_GT(s.created_unix, 0);
  }
}

TEST_F(TransactionTest, SecondWriterIsRefusedWhileTheLockIsHeld) {
  MachineRoot first = Open();
  auto second = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
}

TEST_F(TransactionTest, QueriesAnswerFromTheActiveState) {
  ASSERT_TRUE(Install({Stone("alpha", "1", {{"bin/a", "a"}})}).ok());
  ASSERT_TRUE(Install({Stone("beta", "2", {{"bin/b", "b"}})}).ok());
  auto r = MachineRoot::Open(root_->path(), Access::kRead);
  ASSERT_TRUE(r.ok());
  auto pkgs = InstalledPackages(*r);
  ASSERT_EQ(pkgs->size(), 2u);
  EXPECT_EQ((*pkgs)[0].meta.name, "alpha");
  auto owners = SearchFile(*r, "/usr/bin/b");
  ASSERT_TRUE(owners.ok());
  EXPECT_EQ((*owners)[0].package, "beta");
  EXPECT_TRUE(absl::IsNotFound(SearchFile(*r, "/usr/bin/zzz").status()));
  EXPECT_TRUE(absl::IsNotFound(InstalledPackage(*r, "gamma").status()));
  auto diff = DiffStates(*r, "1", "2");
  ASSERT_TRUE(diff.ok()) << diff.status();
  ASSERT_EQ(diff->packages.size(), 1u);
  EXPECT_EQ(diff->packages[0].name, "beta");
  EXPECT_EQ(diff->files.added, std::vector<std::string>{"bin/b"});
  EXPECT_TRUE(absl::IsInvalidArgument(DiffStates(*r, "x", "1").status()));
  EXPECT_TRUE(absl::IsNotFound(DiffStates(*r, "9", "1").status()));
}

}  // namespace
}  // namespace onix::moss::transaction
