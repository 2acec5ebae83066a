#include "moss/transaction/journal.h"

#include "gtest/gtest.h"
#include "moss/base/fs_at.h"
#include "moss/transaction/recover.h"
#include "moss/transaction/root.h"
#include "tests/testing/temp_root.h"

namespace onix::moss::transaction {
namespace {

const JournalRecord kRecord{"rootid", "install", "usr-exchanged", "1-aaaa", "2-bbbb", "tok"};

TEST(Journal, RoundTripsAndRejectsCorruptionAndUnknownVersions) {
  const std::string bytes = EncodeJournal(kRecord);
  auto back = DecodeJournal(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, kRecord);

  std::string flipped = bytes;
  flipped.back() ^= 1;
  EXPECT_TRUE(absl::IsDataLoss(DecodeJournal(flipped).status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeJournal(bytes.substr(0, bytes.size() - 1)).status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeJournal("garbage").status()));
  std::string future = bytes;
  future[8] = 9;  // version field
  auto v = DecodeJournal(future);
  EXPECT_TRUE(absl::IsFailedPrecondition(v.status()));
  EXPECT_NE(v.status().message().find("version 9"), std::string::npos);
}

TEST(Journal, RoundTripsEveryFieldOfVersionTwo) {
  JournalRecord r = kRecord;
  r.done = "usr-exchanged";
  r.phase = "root-links";
  r.from_token = "0011223344556677";
  r.state_number = 42;
  auto back = DecodeJournal(EncodeJournal(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
}

TEST(Journal, WriteReadClear) {
  auto root = onix::testing::TempRoot::Make();
  ASSERT_TRUE(root.ok());
  auto moss = fs::OpenDirAt(root->fd(), ".moss");
  EXPECT_FALSE(ReadJournal(moss->get())->has_value());
  ASSERT_TRUE(WriteJournal(moss->get(), kRecord).ok());
  EXPECT_EQ(**ReadJournal(moss->get()), kRecord);
  ASSERT_TRUE(ClearJournal(moss->get()).ok());
  EXPECT_FALSE(ReadJournal(moss->get())->has_value());
  const std::string id = *RootId(moss->get());
  EXPECT_EQ(*RootId(moss->get()), id);  // stable once created
}

TEST(Recover, RefusesACorruptJournalOneOfAnUnknownVersionAndOneFromAnotherRoot) {
  auto root = onix::testing::TempRoot::Make();
  ASSERT_TRUE(root.ok());
  auto r = MachineRoot::Open(root->path(), Access::kWrite, LockWait::kFail);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(root->WriteFile(".moss/journal", "MOSSJRNL broken").ok());
  auto s = Recover(*r);
  ASSERT_TRUE(absl::IsFailedPrecondition(s.status())) << s.status();
  EXPECT_NE(s.status().message().find("will not guess"), std::string::npos);
  EXPECT_TRUE(*fs::ExistsAt(root->fd(), ".moss/journal"));  // never "repaired" away

  ASSERT_TRUE(WriteJournal(r->moss_fd(), kRecord).ok());  // root id "rootid" is not ours
  s = Recover(*r);
  ASSERT_TRUE(absl::IsFailedPrecondition(s.status()));
  EXPECT_NE(s.status().message().find("another machine root"), std::string::npos);

  // A journal of another version (an older or newer moss wrote it): refused, kept.
  std::string future = EncodeJournal(kRecord);
  future[8] = 7;
  ASSERT_TRUE(root->WriteFile(".moss/journal", future).ok());
  s = Recover(*r);
  ASSERT_TRUE(absl::IsFailedPrecondition(s.status())) << s.status();
  EXPECT_NE(s.status().message().find("journal version 7 is unknown"), std::string::npos)
      << s.status();
  EXPECT_TRUE(*fs::ExistsAt(root->fd(), ".moss/journal"));

  JournalRecord ours = kRecord;
  ours.root_id = *RootId(r->moss_fd());
  ASSERT_TRUE(WriteJournal(r->moss_fd(), ours).ok());
  s = Recover(*r);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_NE(s->actions[0].find("interrupted install of state 2-bbbb"), std::string::npos);
  EXPECT_FALSE(*fs::ExistsAt(root->fd(), ".moss/journal"));
}

}  // namespace
}  // namespace onix::moss::transaction
