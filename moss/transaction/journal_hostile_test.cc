// A journal whose checksum is valid but whose fields are hostile: recovery trusts the
// checksum to mean "moss wrote this", so no field may lead it outside the state trees. For
// every case: whatever a hostile state id resolves to (.moss/root/../../victim, ...) is left
// untouched, and a hostile journal is refused ("moss will not guess", naming the field) and
// kept byte for byte, never cleared. The well-formed base record is accepted and consumed, so
// the refusals are the fields' doing.

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/base/str_cat.h"
#include "moss/transaction/journal.h"
#include "moss/transaction/recover.h"
#include "moss/transaction/root.h"
#include "tests/testing/temp_root.h"

namespace onix::moss::transaction {
namespace {

struct Case {
  std::string what;
  JournalRecord record;
};

class HostileJournal : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = onix::testing::TempRoot::Make();
    ASSERT_TRUE(root.ok()) << root.status();
    root_ = std::make_unique<onix::testing::TempRoot>(std::move(*root));
    // A victim inside the root but outside the state trees, where "../" from .moss/root
    // leads: it must survive every record.
    for (const char* dir : {"victim", ".moss/victim", "etc"}) {
      ASSERT_TRUE(fs::MkdirAt(root_->fd(), dir, 0755).ok() || *fs::ExistsAt(root_->fd(), dir));
      ASSERT_TRUE(root_->WriteFile(std::string(dir) + "/keep", "precious").ok());
    }
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    ASSERT_TRUE(r.ok()) << r.status();
    root_id_ = *RootId(r->moss_fd());
  }

  JournalRecord Base() const {
    return JournalRecord{root_id_, "install", "usr-exchanged", "1-aaaa", "2-bbbb", "tok"};
  }

  // Writes `record`, runs recovery and checks what every case must hold: a hostile record
  // (`field` names the hostile field) is refused, naming it, and kept byte for byte; the
  // base record is accepted and consumed.
  void Expect(const Case& c, std::string_view field) {
    SCOPED_TRACE(c.what);
    auto r = MachineRoot::Open(root_->path(), Access::kWrite, LockWait::kFail);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(WriteJournal(r->moss_fd(), c.record).ok());
    const std::string written = *fs::ReadFileAt(root_->fd(), ".moss/journal", 1 << 20);
    const auto tree_before = root_->HashTree(".");
    auto report = Recover(*r);
    if (field.empty()) {
      ASSERT_TRUE(report.ok()) << report.status();
      EXPECT_FALSE(*fs::ExistsAt(root_->fd(), ".moss/journal"))
          << "an accepted journal is consumed";
      std::printf("accepted: %s\n", c.what.c_str());
    } else {
      ASSERT_FALSE(report.ok()) << "a hostile journal was accepted";
      const std::string msg(report.status().message());
      EXPECT_TRUE(absl::IsFailedPrecondition(report.status())) << report.status();
      EXPECT_NE(msg.find(StrCat("journal field '", field, "'")), std::string::npos) << msg;
      EXPECT_NE(msg.find("moss will not guess"), std::string::npos) << msg;
      EXPECT_EQ(fs::ReadFileAt(root_->fd(), ".moss/journal", 1 << 20).value_or("gone"), written)
          << "a refused journal is kept as it was";
      EXPECT_EQ(root_->HashTree("."), tree_before) << "a refused journal changes nothing";
      EXPECT_EQ(msg.find('\n'), std::string::npos) << "control characters are escaped: " << msg;
      std::printf("refused: %s: %s\n", c.what.c_str(), msg.c_str());
    }
    for (const char* victim : {"victim/keep", ".moss/victim/keep", "etc/keep"}) {
      EXPECT_EQ(fs::ReadFileAt(root_->fd(), victim, 64).value_or("gone"), "precious") << victim;
    }
    EXPECT_TRUE(ClearJournal(r->moss_fd()).ok());
  }

  std::unique_ptr<onix::testing::TempRoot> root_;
  std::string root_id_;
};

TEST_F(HostileJournal, TheBaseRecordIsAccepted) {
  Expect({"base record", Base()}, "");
  JournalRecord j = Base();
  j.from_fstx = "";  // a first install
  Expect({"first install", j}, "");
}

TEST_F(HostileJournal, AnUnknownPhaseLeadsNowhere) {
  JournalRecord j = Base();
  j.phase = "no-such-phase";
  Expect({"unknown phase", j}, "phase");
  j = Base();
  j.phase = "";
  Expect({"empty phase", j}, "phase");
  j = Base();
  j.done = "../complete";
  Expect({"unknown done phase", j}, "done");
}

TEST_F(HostileJournal, AnUnknownOperationLeadsNowhere) {
  JournalRecord j = Base();
  j.operation = "format-disk";
  Expect({"unknown operation", j}, "operation");
  j = Base();
  j.operation = "";
  Expect({"empty operation", j}, "operation");
}

TEST_F(HostileJournal, AStateIdThatIsAPathLeadsNowhere) {
  for (const std::string& fstx : std::vector<std::string>{
           "../../victim", "../victim", "/", "/etc", "a/b", "2-bbbb/../../victim", ".", "..",
           "2-bbbb\n3-cccc", "2-bb\x1b[2J", "2-BBBB", "2", "2-bbbb,3-cccc", "",
           "2-bbbb" + std::string(300, 'b'), std::string(300, '9') + "-bbbb"}) {
    JournalRecord j = Base();
    j.to_fstx = fstx;
    Expect({"to_fstx '" + fstx + "'", j}, "to");
    if (fstx.empty()) continue;  // an empty from_fstx is a first install, legitimately
    j = Base();
    j.from_fstx = fstx;
    Expect({"from_fstx '" + fstx + "'", j}, "from");
  }
}

TEST_F(HostileJournal, ARemovalNamingAPathLeadsNowhere) {
  JournalRecord j = Base();
  j.operation = "remove";
  j.phase = "remove-trashed";
  for (const std::string& names :
       std::vector<std::string>{"1-aaaa,../../victim", "1-aaaa,", ",1-aaaa", "../victim"}) {
    j.to_fstx = names;
    Expect({"remove of '" + names + "'", j}, "to");
  }
}

}  // namespace
}  // namespace onix::moss::transaction
